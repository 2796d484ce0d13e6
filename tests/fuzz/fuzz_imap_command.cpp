// tests/fuzz/fuzz_imap_command.cpp — libFuzzer target for the IMAP server's command parser
// (imap/command): parse_command, append_head and append_next, literal_at_end, and the mailbox name
// codecs on arbitrary bytes. Nothing crashes, the parser is deterministic, what it accepts is within
// its bounds, and a name that decodes re-encodes to something that decodes to it again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "imap/command.hpp"

namespace {

using namespace mk::imap;

// check - abort (a crash libFuzzer reports) when an invariant breaks; assert() vanishes under NDEBUG.
void check(bool ok) {
    if (!ok) std::abort();
}

std::size_t depth(const SearchKey& k) {
    std::size_t d = 0;
    for (const SearchKey& c : k.keys) d = std::max(d, depth(c));
    return d + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Parsed p = parse_command(text);
    Parsed again = parse_command(text);
    check(p.error == again.error && p.tag == again.tag && p.command.has_value() == again.command.has_value());
    check(p.command.has_value() == p.error.empty());
    if (p.command) {
        const Command& c = *p.command;
        check(c.tag == p.tag && !c.tag.empty());
        check(c.set.size() <= kMaxSetRanges);
        check(depth(c.search) <= kMaxNesting + 2);
        for (const SeqRange& r : c.set) check(r.first != 0 && r.last != 0);
        for (const FetchAtt& a : c.fetch) check(!a.name.empty());
    }
    if (auto head = append_head(text)) check(head->verb == Verb::append && head->append.size() == 1);
    AppendNext next = append_next(text);
    check(!(next.message && !next.error.empty()));
    if (auto mark = literal_at_end(text)) check(text.ends_with("}"));
    for (bool utf8 : {false, true}) {
        if (auto name = mailbox_name(text, utf8)) {
            std::string encoded = encode_mailbox(*name, utf8);
            auto back = mailbox_name(encoded, utf8);
            check(back.has_value() && *back == *name);
        }
    }
    return 0;
}
