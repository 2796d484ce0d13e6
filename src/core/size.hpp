// core/size.hpp — sizes ("25M") and durations ("5m", "4h", "30s") as written in the config.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mk {

// parse_size - "1024", "64K", "25M", "1G" (binary multiples); nullopt on anything else or overflow.
std::optional<std::uint64_t> parse_size(std::string_view text);
// parse_duration - "30s", "5m", "4h", "5d"; a bare number is seconds.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace mk
