// core/enhanced_status.hpp — enhanced mail system status codes (RFC 3463, RFC 2034): the ones we
// send, as subject.detail constants, and the typed class.subject.detail a peer's reply carries.
// Pure: below every module that speaks or decides SMTP (route, smtp, relay).
#pragma once

#include <string>
#include <string_view>

namespace mk {

// The subject.detail of the codes mailkeep sends; the class is taken from the reply code
// (smtp::Reply, route::RouteResult), so one constant serves 4xx and 5xx alike.
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
constexpr std::string_view kRoutingLoop = "4.6";      // X.4.6 routing loop detected
constexpr std::string_view kTimeout = "4.2";
constexpr std::string_view kSecurity = "7.0";         // X.7.0 other security status
constexpr std::string_view kAuthRequired = "7.0";     // RFC 4954 530 5.7.0
constexpr std::string_view kRelayDenied = "7.1";      // X.7.1 delivery not authorized
constexpr std::string_view kNotAuthorized = "7.1";    // X.7.1 the same, for a request (ATRN for a domain not the user's)
constexpr std::string_view kAuthFailed = "7.8";       // RFC 4954 535 5.7.8
constexpr std::string_view kAuthSucceeded = "7.0";    // RFC 4954 235 2.7.0
constexpr std::string_view kAuthLineTooLong = "5.6";  // RFC 4954 4: 500 5.5.6 exchange line too long
constexpr std::string_view kEncryptionRequired = "7.11";  // RFC 5248 (5.7.11 encryption required)
constexpr std::string_view kTls = "7.0";
constexpr std::string_view kContent = "6.0";          // X.6.0 other media error
constexpr std::string_view kSmtpUtf8Required = "6.7"; // RFC 6531 553 5.6.7
}  // namespace esc

// An enhanced status code (RFC 3463 2: class.subject.detail), as a reply carried it (RFC 2034 4).
struct EnhancedStatus {
    int klass = 0;                           // 2, 4 or 5; 0: the reply had none
    int subject = 0;                         // 0-999
    int detail = 0;                          // 0-999
    explicit operator bool() const { return klass != 0; }
    bool operator==(const EnhancedStatus&) const = default;
    std::string str() const;                 // "5.1.1"; empty when there is none
};

// parse_enhanced_status - the status code at the start of a reply's text (RFC 2034 4: after the
// reply code and one space, followed by a space or nothing), when its class agrees with the reply
// code's first digit (RFC 3463 2); none otherwise.
EnhancedStatus parse_enhanced_status(int code, std::string_view text);

}  // namespace mk
