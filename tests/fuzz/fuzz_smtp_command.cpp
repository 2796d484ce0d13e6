// tests/fuzz/fuzz_smtp_command.cpp — libFuzzer target: the SMTP command line, MAIL/RCPT arguments and
// the EHLO name check and ATRN's domain list. What the session accepts must be safe to write into
// Received:, the queue envelope and the log: a valid EHLO name, every accepted address and every ATRN
// domain is well-formed UTF-8 without controls (an ATRN domain also a valid name, lowercase, once).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/text.hpp"
#include "smtp/command.hpp"

namespace {

bool safe(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return mk::valid_utf8(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view line(reinterpret_cast<const char*>(data), size);
    mk::smtp::Command c = mk::smtp::parse_command(line);
    if (mk::smtp::valid_helo_name(c.args) && !safe(c.args)) __builtin_trap();
    auto mail = mk::smtp::parse_mail_args(c.args);
    if (mail.ok() && !safe(mail.value->sender.str())) __builtin_trap();
    for (bool utf8 : {true, false}) {
        auto rcpt = mk::smtp::parse_rcpt_args(c.args, utf8);
        if (rcpt.ok() && (!safe(rcpt.value->recipient.str()) || !safe(rcpt.value->orcpt))) __builtin_trap();
    }
    if (auto domains = mk::smtp::parse_atrn_domains(c.args)) {
        for (std::size_t i = 0; i < domains->size(); ++i) {
            const std::string& d = (*domains)[i];
            if (!safe(d) || !mk::smtp::valid_helo_name(d) || d != mk::lowercase_ascii(d) || d.ends_with('.'))
                __builtin_trap();
            for (std::size_t j = 0; j < i; ++j)
                if ((*domains)[j] == d) __builtin_trap();
        }
    }
    return 0;
}
