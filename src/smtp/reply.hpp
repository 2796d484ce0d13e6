// smtp/reply.hpp — SMTP replies as typed values with enhanced status codes (RFC 3463, RFC 2034).
#pragma once

#include <string>
#include <string_view>

namespace mk::smtp {

// Enhanced status codes: class is taken from the reply code, these are subject.detail.
namespace esc {
constexpr std::string_view kOther = "0.0";
constexpr std::string_view kOk = "0.0";
constexpr std::string_view kDestValid = "1.5";        // RFC 3463 X.1.5 destination address valid
constexpr std::string_view kSenderValid = "1.0";      // X.1.0 other address status (sender ok)
constexpr std::string_view kBadMailbox = "1.1";       // X.1.1 bad destination mailbox address
constexpr std::string_view kBadDestSyntax = "1.3";    // X.1.3 bad destination mailbox address syntax
constexpr std::string_view kBadSenderSyntax = "1.7";  // X.1.7 bad sender's mailbox address syntax
constexpr std::string_view kMailboxFull = "2.2";
constexpr std::string_view kSystemStorage = "3.1";    // X.3.1 mail system full / storage problem
constexpr std::string_view kTooBig = "3.4";           // X.3.4 message too big for system
constexpr std::string_view kSystemError = "3.0";
constexpr std::string_view kTooManyRecipients = "5.3";
constexpr std::string_view kInvalidCommand = "5.1";
constexpr std::string_view kSyntax = "5.2";
constexpr std::string_view kBadArgs = "5.4";
constexpr std::string_view kBadSequence = "5.1";      // 5.5.1 invalid command (out of sequence)
constexpr std::string_view kNetwork = "4.2";          // X.4.2 bad connection
constexpr std::string_view kTimeout = "4.2";
constexpr std::string_view kSecurity = "7.0";         // X.7.0 other security status
constexpr std::string_view kAuthRequired = "7.0";     // RFC 4954 530 5.7.0
constexpr std::string_view kRelayDenied = "7.1";      // X.7.1 delivery not authorized
constexpr std::string_view kAuthFailed = "7.8";       // RFC 4954 535 5.7.8
constexpr std::string_view kAuthSucceeded = "7.0";    // RFC 4954 235 2.7.0
constexpr std::string_view kAuthLineTooLong = "5.6";  // RFC 4954 4: 500 5.5.6 exchange line too long
constexpr std::string_view kEncryptionRequired = "7.11";  // RFC 5248 (5.7.11 encryption required)
constexpr std::string_view kTls = "7.0";
constexpr std::string_view kContent = "6.0";          // X.6.0 other media error
constexpr std::string_view kSmtpUtf8Required = "6.7"; // RFC 6531 553 5.6.7
}  // namespace esc

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
