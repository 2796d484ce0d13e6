// smtp/reply.cpp — formatting of typed SMTP replies.
#include "smtp/reply.hpp"

#include <fmt/format.h>

namespace mk::smtp {

std::string Reply::format(bool enhanced) const {
    std::string out;
    std::string prefix;
    if (enhanced && !esc.empty()) prefix = fmt::format("{}.{} ", code / 100, esc);
    std::string_view rest = text;
    for (;;) {
        auto nl = rest.find('\n');
        bool last = nl == std::string_view::npos;
        fmt::format_to(std::back_inserter(out), "{}{}{}{}\r\n", code, last ? ' ' : '-', prefix,
                       last ? rest : rest.substr(0, nl));
        if (last) break;
        rest.remove_prefix(nl + 1);
    }
    return out;
}

}  // namespace mk::smtp
