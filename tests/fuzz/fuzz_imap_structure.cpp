// tests/fuzz/fuzz_imap_structure.cpp — libFuzzer target: imap/structure on a stranger's message bytes
// must never crash or loop, must stay within kMaxPartDepth and kMaxParts, must give ranges inside the
// message (each part's header before its body, children inside their parent's body), find() must name
// every part by its number, and what it formats must be IMAP the response parser reads back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imap/response.hpp"
#include "imap/structure.hpp"

namespace {

using mk::imap::BodyPart;

bool is_message(const BodyPart& p) { return p.type == "message" && p.parts.size() == 1; }

// check - the invariants of part (reached as path) and its descendants; returns how many parts.
std::size_t check(const BodyPart& root, const BodyPart& p, std::vector<std::uint32_t> path, std::string_view m,
                  std::size_t depth) {
    if (depth > mk::imap::kMaxPartDepth) __builtin_trap();
    if (p.header.offset + p.header.length > m.size() || p.body.offset + p.body.length > m.size()) __builtin_trap();
    if (p.header.offset + p.header.length > p.body.offset) __builtin_trap();
    std::string_view body = p.body.of(m);
    std::uint64_t lf = 0;
    for (char c : body) lf += c == '\n';
    if (lf != p.lines) __builtin_trap();
    (void)mk::imap::decoded(p, m);
    std::size_t n = 1;
    for (std::size_t i = 0; i < p.parts.size(); ++i) {
        const BodyPart& c = p.parts[i];
        if (c.header.offset < p.body.offset || c.body.offset + c.body.length > p.body.offset + p.body.length)
            __builtin_trap();
        auto cp = path;
        if (is_message(p)) {
            // the enclosed message: numbered through, as its parts or as "1"
            if (!path.empty()) {
                if (c.type == "multipart" && c.has_content_type) {
                    for (std::uint32_t k = 1; k <= c.parts.size(); ++k) {
                        auto gp = cp;
                        gp.push_back(k);
                        if (mk::imap::find(root, gp) != &c.parts[k - 1]) __builtin_trap();
                    }
                } else {
                    cp.push_back(1);
                    if (mk::imap::find(root, cp) != &c) __builtin_trap();
                }
            }
            n += check(root, c, path, m, depth + 1);
            continue;
        }
        cp.push_back(static_cast<std::uint32_t>(i + 1));
        if (mk::imap::find(root, cp) != &c) __builtin_trap();
        n += check(root, c, cp, m, depth + 1);
    }
    return n;
}

// readable - "* 1 FETCH (ITEM value)" parses, unless it is past the response parser's own bounds.
void readable(const std::string& item, const std::string& value) {
    std::string response = "* 1 FETCH (" + item + " " + value + ")\r\n";
    auto r = mk::imap::parse_response(response, 1 << 20);
    using E = mk::imap::ParseError;
    if (r.error == E::too_deep || r.error == E::line_too_long || r.error == E::bad_literal ||
        r.error == E::literal_too_large)
        return;
    if (r.error != E::none || !r.complete || r.consumed != response.size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view m(reinterpret_cast<const char*>(data), size);
    BodyPart root = mk::imap::parse(m);
    std::size_t parts = check(root, root, {}, m, 0);
    if (parts > mk::imap::kMaxParts) __builtin_trap();
    std::string_view header = root.header.of(m);
    readable("ENVELOPE", mk::imap::envelope(header));
    readable("BODYSTRUCTURE", mk::imap::body_structure(root, m, true));
    readable("BODY", mk::imap::body_structure(root, m, false));
    (void)mk::imap::header_fields(header, {"From", "subject"}, false);
    (void)mk::imap::header_fields(header, {"received"}, true);
    (void)mk::imap::header_value(header, "subject");
    (void)mk::imap::param(root.params, "boundary");
    (void)mk::imap::find(root, {1, 1, 1});
    readable("X", mk::imap::imap_string(std::string(header.substr(0, 100))));
    return 0;
}
