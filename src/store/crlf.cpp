// store/crlf.cpp — one pass, remembering only whether the previous byte was a CR.
#include "store/crlf.hpp"

namespace mk {

void CrlfNormalizer::feed(std::string_view piece, std::string& out) {
    out.reserve(out.size() + piece.size() + piece.size() / 64);
    for (char c : piece) {
        if (c == '\n' && !after_cr_) out += '\r';
        out += c;
        after_cr_ = c == '\r';
    }
}

}  // namespace mk
