// store/crlf.hpp — Maildir files hold CRLF line ends (a POP3 client is told their exact size), so
// what the fetcher takes from a provider is normalised on its way to the spool: a bare LF becomes
// CRLF, as the SMTP intake does for DATA. A lone CR is left as it is. Files other programs wrote
// into a Maildir may have LF line ends: their POP3 size is measured by the same rule.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mk {

class CrlfNormalizer {
public:
    // feed - piece appended to out, every LF without its CR given one; pieces may split anywhere
    // (a CR at the end of one and the LF at the start of the next stay one line end).
    void feed(std::string_view piece, std::string& out);
    // measure - how many octets feed would append for piece, without making them; the state moves
    // on as feed's does, so the pieces of a file may be measured one after another.
    std::uint64_t measure(std::string_view piece);

private:
    bool after_cr_ = false;
};

}  // namespace mk
