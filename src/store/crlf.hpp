// store/crlf.hpp — Maildir files hold CRLF line ends (a POP3 client is told their exact size), so
// what the fetcher takes from a provider is normalised on its way to the spool: a bare LF becomes
// CRLF, as the SMTP intake does for DATA. A lone CR is left as it is.
#pragma once

#include <string>
#include <string_view>

namespace mk {

class CrlfNormalizer {
public:
    // feed - piece appended to out, every LF without its CR given one; pieces may split anywhere
    // (a CR at the end of one and the LF at the start of the next stay one line end).
    void feed(std::string_view piece, std::string& out);

private:
    bool after_cr_ = false;
};

}  // namespace mk
