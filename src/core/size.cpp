// core/size.cpp — size and duration values from the trusted config; still strict, so typos are errors.
#include "core/size.hpp"

#include <charconv>
#include <limits>

namespace mk {

namespace {

constexpr std::uint64_t kKiB = 1024;

// split_number - leading decimal digits and the one-character unit after them ('\0' if none).
std::optional<std::pair<std::uint64_t, char>> split_number(std::string_view text) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end == text.data()) return std::nullopt;   // empty, sign, or overflow
    std::string_view rest(end, static_cast<std::size_t>(text.data() + text.size() - end));
    if (rest.size() > 1) return std::nullopt;
    return std::pair{n, rest.empty() ? '\0' : rest[0]};
}

// times - n * factor, or nullopt when it does not fit in max.
std::optional<std::uint64_t> times(std::uint64_t n, std::uint64_t factor, std::uint64_t max) {
    if (n > max / factor) return std::nullopt;
    return n * factor;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
    auto parsed = split_number(text);
    if (!parsed) return std::nullopt;
    auto [n, unit] = *parsed;
    std::uint64_t factor = 0;
    // Both cases are accepted: in a size "25m" cannot mean anything but mebibytes.
    switch (unit) {
        case '\0': factor = 1; break;
        case 'K': case 'k': factor = kKiB; break;
        case 'M': case 'm': factor = kKiB * kKiB; break;
        case 'G': case 'g': factor = kKiB * kKiB * kKiB; break;
        default: return std::nullopt;
    }
    return times(n, factor, std::numeric_limits<std::uint64_t>::max());
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
    auto parsed = split_number(text);
    if (!parsed) return std::nullopt;
    auto [n, unit] = *parsed;
    std::uint64_t factor = 0;
    // Lowercase only: an uppercase "M" could be read as months.
    switch (unit) {
        case '\0': case 's': factor = 1; break;
        case 'm': factor = 60; break;
        case 'h': factor = 60 * 60; break;
        case 'd': factor = 24 * 60 * 60; break;
        default: return std::nullopt;
    }
    auto max = static_cast<std::uint64_t>(std::numeric_limits<std::chrono::seconds::rep>::max());
    auto secs = times(n, factor, max);
    if (!secs) return std::nullopt;
    return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(*secs));
}

}  // namespace mk
