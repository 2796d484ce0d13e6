// tests/fuzz/fuzz_dot_decoder.cpp — libFuzzer target: DATA decoding must not depend on how the
// input is split into reads, and must never end anywhere but at CRLF.CRLF.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/dot_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::size_t split = data[0] % size;
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    split = split > in.size() ? in.size() : split;

    mk::smtp::DotDecoder whole;
    std::string out_whole;
    std::size_t used_whole = whole.feed(in, out_whole);

    mk::smtp::DotDecoder parts;
    std::string out_parts;
    std::size_t used = parts.feed(in.substr(0, split), out_parts);
    if (!parts.done() && used == split) used += parts.feed(in.substr(split), out_parts);

    if (whole.done() != parts.done() || used != used_whole || out_whole != out_parts) __builtin_trap();
    if (whole.smuggling() != parts.smuggling() || whole.line_too_long() != parts.line_too_long()) __builtin_trap();
    if (whole.done()) {
        std::string_view consumed = in.substr(0, used_whole);
        if (!consumed.ends_with("\r\n.\r\n") && consumed != ".\r\n") __builtin_trap();
    }
    return 0;
}
