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

std::uint64_t CrlfNormalizer::measure(std::string_view piece) {
    if (piece.empty()) return 0;
    std::uint64_t added = 0;
    for (std::size_t lf = piece.find('\n'); lf != std::string_view::npos; lf = piece.find('\n', lf + 1)) {
        const bool after_cr = lf == 0 ? after_cr_ : piece[lf - 1] == '\r';
        if (!after_cr) ++added;
    }
    after_cr_ = piece.back() == '\r';
    return piece.size() + added;
}

}  // namespace mk
