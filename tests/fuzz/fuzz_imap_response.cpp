// tests/fuzz/fuzz_imap_response.cpp — libFuzzer target: the IMAP response parser on untrusted server
// bytes must never crash, must stay within its bounds, and must not depend on how the bytes are split.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imap/response.hpp"

namespace {

// Everything the parser produced from one input: the responses, the body bytes, how it ended.
struct Outcome {
    std::vector<mk::imap::Response> responses;
    std::string body;
    mk::imap::ParseError error = mk::imap::ParseError::none;
    std::size_t consumed = 0;
    bool operator==(const Outcome&) const = default;
};

// run - parse responses one after another, feeding chunk bytes at a time (0: all at once).
Outcome run(std::string_view in, std::size_t chunk, std::uint64_t max_literal) {
    Outcome o;
    mk::imap::ResponseParser p(max_literal);
    auto sink = [&](const mk::imap::BodyPiece& piece) {
        if (piece.data.empty() || piece.offset + piece.data.size() > piece.size) __builtin_trap();
        if (piece.size > max_literal) __builtin_trap();
        o.body.append(piece.data);
    };
    std::size_t pos = 0;
    while (pos < in.size()) {
        std::size_t n = chunk == 0 ? in.size() - pos : std::min(chunk, in.size() - pos);
        std::size_t used = p.feed(in.substr(pos, n), sink);
        if (used > n) __builtin_trap();
        pos += used;
        if (p.done()) {
            o.responses.push_back(p.take());
            continue;
        }
        if (p.failed()) break;
        if (used != n) __builtin_trap();   // neither done nor failed: everything must be taken
    }
    o.error = p.error();
    o.consumed = pos;
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    std::size_t chunk = data[0] % 17 + 1;
    std::uint64_t max_literal = static_cast<std::uint64_t>(data[1]) * 8;
    std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
    Outcome whole = run(in, 0, max_literal);
    Outcome parts = run(in, chunk, max_literal);
    if (!(whole == parts)) __builtin_trap();
    for (const auto& r : whole.responses)
        if (r.tag.size() + r.text.size() > mk::imap::kMaxLine) __builtin_trap();
    // The encoders take anything too.
    std::string_view s = in.substr(0, std::min<std::size_t>(in.size(), 256));
    auto q = mk::imap::quote(s);
    if (q && q->find_first_of("\r\n") != std::string::npos) __builtin_trap();
    auto m = mk::imap::encode_mailbox(s);
    if (m)
        for (char c : *m)
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) __builtin_trap();
    return 0;
}
