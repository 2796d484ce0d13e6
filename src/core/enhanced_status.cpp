// core/enhanced_status.cpp — reading an enhanced status code off a peer's reply.
#include "core/enhanced_status.hpp"

#include <fmt/format.h>

namespace mk {

std::string EnhancedStatus::str() const {
    return klass == 0 ? std::string() : fmt::format("{}.{}.{}", klass, subject, detail);
}

EnhancedStatus parse_enhanced_status(int code, std::string_view text) {
    // RFC 3463 2: status-code = class "." subject "." detail; class = "2" / "4" / "5";
    // subject = 1*3digit; detail = 1*3digit.
    auto number = [&](std::size_t& pos, int& out) {
        std::size_t start = pos;
        out = 0;
        while (pos < text.size() && pos - start < 3 && text[pos] >= '0' && text[pos] <= '9') out = out * 10 + (text[pos++] - '0');
        return pos > start && (pos == text.size() || text[pos] < '0' || text[pos] > '9');
    };
    if (text.size() < 5 || text[1] != '.' || text[0] - '0' != code / 100) return {};
    EnhancedStatus s;
    s.klass = text[0] - '0';
    if (s.klass != 2 && s.klass != 4 && s.klass != 5) return {};
    std::size_t pos = 2;
    if (!number(pos, s.subject) || pos == text.size() || text[pos] != '.') return {};
    ++pos;
    if (!number(pos, s.detail)) return {};
    // RFC 2034 4: the code is followed by a space and the text (or is the whole text).
    if (pos != text.size() && text[pos] != ' ') return {};
    return s;
}

}  // namespace mk
