// tests/fuzz/fuzz_pop3_unstuff.cpp — libFuzzer target for the POP3 client's side of the parser: the
// chunked dot-unstuffer and the response, CAPA, LIST and UIDL line parsers; the input is arbitrary bytes
// standing for what a provider's server sends. Depends on the parsers (scripts/fuzz.sh).
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     src/pop3/command.cpp src/net/dot_stuffer.cpp src/net/sasl.cpp \
//     src/core/text.cpp src/core/base64.cpp tests/fuzz/fuzz_pop3_unstuff.cpp -o fuzz_pop3_unstuff
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

// check - abort (a crash libFuzzer reports) when an invariant breaks; assert() vanishes under NDEBUG.
void check(bool ok) {
    if (!ok) std::abort();
}

struct Run {
    std::string out;
    std::size_t used = 0;
    DotUnstuffer::Status status = DotUnstuffer::Status::more;
};

// run_whole - the wire fed in one piece.
Run run_whole(std::string_view wire, std::size_t max_line) {
    Run r;
    DotUnstuffer u(max_line);
    r.used = u.feed(wire, r.out);
    r.status = u.status();
    return r;
}

// run_pieces - the wire fed in pieces of step bytes, stopping where the decoder stops.
Run run_pieces(std::string_view wire, std::size_t max_line, std::size_t step) {
    Run r;
    DotUnstuffer u(max_line);
    std::size_t pos = 0;
    while (pos < wire.size() && u.status() == DotUnstuffer::Status::more) {
        std::string_view piece = wire.substr(pos, step);
        std::size_t used = u.feed(piece, r.out);
        check(used <= piece.size());
        if (u.status() == DotUnstuffer::Status::more) check(used == piece.size());
        r.used += used;
        pos += piece.size();
    }
    // Once finished, the decoder takes nothing more.
    std::string ignored;
    if (u.status() != DotUnstuffer::Status::more) check(u.feed("x\r\n.\r\n", ignored) == 0 && ignored.empty());
    r.status = u.status();
    return r;
}

// check_unstuff - the result depends neither on how the wire is cut nor on the line limit (below it).
void check_unstuff(std::string_view wire, std::size_t max_line, std::size_t step) {
    Run whole = run_whole(wire, max_line);
    check(whole.out.size() <= whole.used);
    check(whole.used <= wire.size());
    if (whole.status == DotUnstuffer::Status::more) check(whole.used == wire.size());
    if (whole.status == DotUnstuffer::Status::done) {
        // The terminator is CRLF "." CRLF, the status line's CRLF standing for the first.
        std::string_view head = wire.substr(0, whole.used);
        check(head.ends_with(".\r\n"));
        check(head.size() == 3 || head.substr(0, head.size() - 3).ends_with("\r\n"));
    }
    Run bytes = run_pieces(wire, max_line, 1);
    Run split = run_pieces(wire, max_line, step);
    for (const Run* r : {&bytes, &split}) {
        check(r->out == whole.out);
        check(r->used == whole.used);
        check(r->status == whole.status);
    }
}

// normalized - what the client must get back from the server's DotStuffer: CRLF lines, last one closed.
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

// check_round_trip - what the server's stuffer sends, the client's unstuffer gives back, ending exactly
// at the terminator even with a next response already behind it.
void check_round_trip(std::string_view message) {
    std::string wire = dot_stuff(message);
    const std::size_t end = wire.size();
    wire += "+OK next\r\n";
    DotUnstuffer u(wire.size());
    std::string out;
    check(u.feed(wire, out) == end);
    check(u.status() == DotUnstuffer::Status::done);
    check(out == normalized(message));
}

// check_lines - the line parsers never crash and what they accept is well-formed.
void check_lines(std::string_view line) {
    for (bool continuation : {false, true}) {
        if (auto r = parse_response(line, continuation)) {
            check(line.starts_with("+OK") || line.starts_with("-ERR") || (continuation && line.starts_with("+")));
            if (r->indicator == Indicator::more) check(continuation);
            for (char c : r->text) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
        }
    }
    Capabilities caps;
    add_capability(caps, line);
    for (const auto& m : caps.sasl) check(!m.empty() && m.find(' ') == std::string::npos);
    std::uint64_t msg = 0, size = 0;
    if (parse_scan_listing(line, msg, size)) check(msg >= 1);
    std::string uid;
    if (parse_uid_listing(line, msg, uid)) {
        check(msg >= 1);
        check(!uid.empty() && uid.size() <= kMaxUniqueId);
        for (char c : uid) check(c > 0x20 && c < 0x7f);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        check_round_trip({});
        return 0;
    }
    // The first byte chooses the piece size and a small line limit; the rest is the input.
    const std::uint8_t control = data[0];
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t step = control % 17 + 1;
    const std::size_t small_limit = control % 64 + 1;

    check_unstuff(input, kMaxMessageLine, step);
    check_unstuff(input, small_limit, step);
    check_round_trip(input);

    // As response lines: the whole input, and each CRLF-separated line of it.
    check_lines(input);
    std::size_t pos = 0;
    while (pos <= input.size()) {
        std::size_t end = input.find("\r\n", pos);
        check_lines(input.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
        if (end == std::string_view::npos) break;
        pos = end + 2;
    }
    return 0;
}
