// tests/fuzz/fuzz_smtp_command.cpp — libFuzzer target: the SMTP command line and MAIL/RCPT arguments.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smtp/command.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view line(reinterpret_cast<const char*>(data), size);
    mk::smtp::Command c = mk::smtp::parse_command(line);
    (void)mk::smtp::parse_mail_args(c.args);
    (void)mk::smtp::parse_rcpt_args(c.args, true);
    (void)mk::smtp::parse_rcpt_args(c.args, false);
    return 0;
}
