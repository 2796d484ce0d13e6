// tests/fuzz/fuzz_pop3_command.cpp — libFuzzer target for the POP3 command parser, the chunked dot-stuffer
// and the TOP filter; the input is arbitrary bytes. Depends on the parsers (scripts/fuzz.sh).
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     src/pop3/command.cpp src/net/dot_stuffer.cpp src/net/sasl.cpp \
//     src/core/text.cpp src/core/base64.cpp tests/fuzz/fuzz_pop3_command.cpp -o fuzz_pop3_command
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/dot_stuffer.hpp"
#include "pop3/command.hpp"

namespace {

using namespace mk::pop3;
using mk::dot_stuff;
using mk::DotStuffer;

// check - abort (a crash libFuzzer reports) when an invariant breaks; assert() vanishes under NDEBUG.
void check(bool ok) {
    if (!ok) std::abort();
}

// check_parse - whatever the line, the result is well-formed and the parser is deterministic.
void check_parse(std::string_view line) {
    ParseResult r = parse_command(line);
    ParseResult again = parse_command(line);
    check(r.error == again.error);
    if (line.size() > kMaxCommandText) check(r.error == ParseError::too_long);
    if (!r.ok()) {
        check(!error_text(r.error).empty());
        return;
    }
    const Command& c = r.command;
    check(c.args.size() <= kMaxArgs);
    check(c.args == again.command.args && c.verb == again.command.verb);
    check(!verb_name(c.verb).empty());
    if (c.msg) check(*c.msg >= 1);
    for (const auto& a : c.args) {
        check(!a.empty());
        check(a.size() < line.size());
        for (char ch : a) check(ch != '\r' && ch != '\n' && ch != '\0');
    }
    switch (c.verb) {
    case Verb::retr:
    case Verb::dele:
    case Verb::top:
        check(c.msg.has_value());
        break;
    default:
        break;
    }
    // The reply never carries a second line, whatever text it is given.
    std::string reply = format_reply(Reply::failure(std::string(line), RespCode::auth));
    check(reply.find('\n') == reply.size() - 1);
}

// normalized - what the client must see once it undoes the stuffing: CRLF lines, a last line closed.
std::string normalized(std::string_view in) {
    std::string out;
    char prev = '\n';
    for (char c : in) {
        if (c == '\n' && prev != '\r') out += '\r';
        out += c;
        prev = c;
    }
    if (!in.empty() && prev != '\n') out += prev == '\r' ? "\n" : "\r\n";
    return out;
}

// unstuffed - the client side of RFC 1939 3: read CRLF lines up to "." and strip one leading dot.
// Checks on the way that every LF follows a CR and that "." appears only as the last line.
std::string unstuffed(std::string_view wire) {
    std::string out;
    std::size_t pos = 0;
    for (;;) {
        std::size_t end = wire.find("\r\n", pos);
        check(end != std::string_view::npos);
        std::string_view line = wire.substr(pos, end - pos);
        check(line.find('\n') == std::string_view::npos);
        pos = end + 2;
        if (line == ".") {
            check(pos == wire.size());   // the terminator is the end, never earlier
            return out;
        }
        if (!line.empty() && line[0] == '.') line.remove_prefix(1);
        out += line;
        out += "\r\n";
    }
}

// check_stuffing - whole, split at cut, and one byte at a time give the same bytes, and they decode
// back to the (normalized) message.
void check_stuffing(std::string_view msg, std::size_t cut) {
    std::string whole = dot_stuff(msg);

    std::string split;
    DotStuffer s;
    s.feed(msg.substr(0, cut), split);
    s.feed(msg.substr(cut), split);
    s.finish(split);
    check(split == whole);

    std::string bytes;
    DotStuffer b;
    for (char c : msg) b.feed(std::string_view(&c, 1), bytes);
    b.finish(bytes);
    check(bytes == whole);

    check(unstuffed(whole) == normalized(msg));
}

// check_top - TOP fed whole and in two pieces agrees, and is a prefix of the whole message.
void check_top(std::string_view msg, std::size_t cut, std::uint64_t n) {
    TopFilter whole_filter(n);
    std::string_view part = whole_filter.feed(msg);
    check(msg.substr(0, part.size()) == part);

    TopFilter f(n);
    std::string pieces(f.feed(msg.substr(0, cut)));
    if (!f.done()) pieces += f.feed(msg.substr(cut));
    check(pieces == part);
    check(top_of(msg, n) == dot_stuff(part));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        check_stuffing({}, 0);
        return 0;
    }
    // The first byte chooses the split point and the TOP line count; the rest is the input.
    const std::uint8_t control = data[0];
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    std::size_t cut = input.empty() ? 0 : control % (input.size() + 1);

    // As a command: the whole input, and each LF-separated line of it (as a line reader would cut it).
    check_parse(input);
    std::size_t pos = 0;
    while (pos <= input.size()) {
        std::size_t nl = input.find('\n', pos);
        std::string_view line = input.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        check_parse(line);
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    NumberResult n = parse_number(input);
    check(n.error == ParseError::none || n.error == ParseError::bad_number || n.error == ParseError::number_too_large);

    // As a message.
    check_stuffing(input, cut);
    check_top(input, cut, control % 8);
    check(unique_id(input).size() <= kMaxUniqueId);
    return 0;
}
