// tests/fuzz/fuzz_address.cpp — libFuzzer target: RFC 5321 paths and bare mailboxes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view s(reinterpret_cast<const char*>(data), size);
    for (bool utf8 : {false, true}) {
        mk::PathResult r = mk::parse_path(s, true, utf8);
        if (r.error == mk::PathError::none && r.consumed > s.size()) __builtin_trap();
        if (auto a = mk::parse_mailbox(s, utf8)) {
            // What parses must re-parse to itself: the canonical form is stable.
            auto again = mk::parse_mailbox(a->str(), utf8);
            if (!again || !(*again == *a)) __builtin_trap();
        }
    }
    return 0;
}
