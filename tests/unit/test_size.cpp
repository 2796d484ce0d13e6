// tests/unit/test_size.cpp — parse_size and parse_duration: accepted forms, units, overflow.
#include <gtest/gtest.h>

#include "core/size.hpp"

namespace mk {
namespace {

TEST(Size, Parse) {
    struct Case {
        const char* input;
        std::optional<std::uint64_t> want;
    };
    const Case cases[] = {
        {"0", 0},
        {"1024", 1024},
        {"64K", 64ull * 1024},
        {"64k", 64ull * 1024},
        {"25M", 25ull * 1024 * 1024},
        {"25m", 25ull * 1024 * 1024},
        {"1G", 1024ull * 1024 * 1024},
        {"18446744073709551615", 18446744073709551615ull},
        {"17179869183G", 17179869183ull * 1024 * 1024 * 1024},   // largest that fits
        {"17179869184G", std::nullopt},                           // 2^64: overflow
        {"18446744073709551616", std::nullopt},
        {"", std::nullopt},
        {"M", std::nullopt},
        {"-1", std::nullopt},
        {"+1", std::nullopt},
        {"1.5M", std::nullopt},
        {"25MB", std::nullopt},
        {"25 M", std::nullopt},
        {" 25M", std::nullopt},
        {"25T", std::nullopt},
        {"25s", std::nullopt},
    };
    for (const Case& c : cases) EXPECT_EQ(parse_size(c.input), c.want) << c.input;
}

TEST(Duration, Parse) {
    using std::chrono::seconds;
    struct Case {
        const char* input;
        std::optional<seconds> want;
    };
    const Case cases[] = {
        {"0", seconds(0)},
        {"30", seconds(30)},
        {"30s", seconds(30)},
        {"5m", seconds(300)},
        {"4h", seconds(4 * 3600)},
        {"5d", seconds(5 * 86400)},
        {"9223372036854775807", seconds(9223372036854775807LL)},
        {"9223372036854775808", std::nullopt},     // beyond seconds::rep
        {"106751991167301d", std::nullopt},        // overflows after the unit
        {"5M", std::nullopt},                      // uppercase refused: months?
        {"5H", std::nullopt},
        {"", std::nullopt},
        {"s", std::nullopt},
        {"-5m", std::nullopt},
        {"5 m", std::nullopt},
        {"5ms", std::nullopt},
        {"1w", std::nullopt},
    };
    for (const Case& c : cases) EXPECT_EQ(parse_duration(c.input), c.want) << c.input;
}

}  // namespace
}  // namespace mk
