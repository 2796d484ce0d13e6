// smtp/reply.hpp — SMTP replies as typed values with enhanced status codes (RFC 3463, RFC 2034).
#pragma once

#include <string>
#include <string_view>

#include "core/enhanced_status.hpp"

namespace mk::smtp {

struct Reply {
    int code = 250;
    std::string_view esc = esc::kOk;   // subject.detail; empty for greeting-like replies
    std::string text;

    bool positive() const { return code < 400; }
    bool temporary() const { return code >= 400 && code < 500; }
    // format - "250 2.1.0 text\r\n"; multi-line text (separated by '\n') uses "250-" continuations.
    std::string format(bool enhanced = true) const;
};

}  // namespace mk::smtp
