// tests/unit/test_dsn.cpp — DSN messages: the exact layout, line limits, hostile remote replies, boundary
// collisions, RET=HDRS, xtext; and the result read back by Python's email package, a parser nobody here wrote.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "smtp/dsn.hpp"

namespace mk::smtp {
namespace {

constexpr std::time_t kArrival = 1704164645;   // Tue, 02 Jan 2024 03:04:05 +0000
constexpr std::string_view kOriginal = "From: anna@home.arpa\r\nTo: bob@example.com\r\nSubject: Hello\r\n\r\nHi Bob.\r\n";

// crlf - text written with \n in a test, as the CRLF message it stands for.
std::string crlf(std::string_view text) {
    std::string out;
    for (char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
    return out;
}

// lines - s split at CRLF (the last, empty piece after the final CRLF dropped).
std::vector<std::string> lines(std::string_view s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t end; (end = s.find("\r\n", start)) != std::string_view::npos; start = end + 2)
        out.emplace_back(s.substr(start, end - start));
    if (start < s.size()) out.emplace_back(s.substr(start));
    return out;
}

// has_bare_line_end - a CR not before LF, or an LF not after CR.
bool has_bare_line_end(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return true;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
    }
    return false;
}

// base - a report about one failed and one delayed recipient, with every optional field set.
DsnInput base() {
    DsnInput in;
    in.reporting_mta = "mail.home.arpa";
    in.postmaster = "postmaster@home.arpa";
    in.to = "anna@home.arpa";
    in.queue_id = "0123456789ABCDEF";
    in.envid = "QQ+2B1";
    in.arrival = kArrival;
    in.now = kArrival + 3600;
    in.boundary = "=_b1";
    in.recipients = {
        {"bob@example.com", "rfc822;Bob+2Bx@example.com", "failed", "5.1.1", "dns;mx.example.com",
         "smtp;550 5.1.1 <bob@example.com>: no such user", kArrival + 3000, 0},
        {"carol@example.net", "", "delayed", "4.4.1", "", "X-Mailkeep;connection refused", kArrival + 3000,
         kArrival + 5 * 86400},
    };
    in.original = kOriginal;
    return in;
}

TEST(Dsn, ExactLayout) {
    const std::string want = crlf(R"(From: Mail Delivery System <postmaster@home.arpa>
To: <anna@home.arpa>
Subject: Undelivered Mail Returned to Sender
Date: Tue, 02 Jan 2024 04:04:05 +0000
Message-ID: <dsn.1704168245.0123456789ABCDEF.F31ab1f666b953a89@mail.home.arpa>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="=_b1"

This is a MIME-encapsulated message.

--=_b1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at mail.home.arpa.

Your message could not be delivered to the recipients below. The mail system
has stopped trying; the reason is shown with each of them.

  <bob@example.com>
    (originally sent to <Bob+x@example.com>)
    The server mx.example.com said: 550 5.1.1 <bob@example.com>: no such user
    Status: 5.1.1 (the mailbox does not exist)

Your message has not been delivered yet to the recipients below. This is only
a warning: the mail system keeps trying, and you do not need to send the
message again. You will be told if it gives up.

  <carol@example.net>
    Reason: connection refused
    The mail system keeps trying until Sun, 07 Jan 2024 03:04:05 +0000.
    Status: 4.4.1 (the receiving server did not answer)

Your message is attached below.
If you need help, write to <postmaster@home.arpa> and include this report
(queue id 0123456789ABCDEF).

--=_b1
Content-Description: Delivery report
Content-Type: message/delivery-status

Original-Envelope-Id: QQ+2B1
Reporting-MTA: dns;mail.home.arpa
Arrival-Date: Tue, 02 Jan 2024 03:04:05 +0000
X-Mailkeep-Queue-ID: 0123456789ABCDEF

Original-Recipient: rfc822;Bob+2Bx@example.com
Final-Recipient: rfc822;bob@example.com
Action: failed
Status: 5.1.1
Remote-MTA: dns;mx.example.com
Diagnostic-Code: smtp;550 5.1.1 <bob@example.com>: no such user
Last-Attempt-Date: Tue, 02 Jan 2024 03:54:05 +0000

Final-Recipient: rfc822;carol@example.net
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Mailkeep;connection refused
Last-Attempt-Date: Tue, 02 Jan 2024 03:54:05 +0000
Will-Retry-Until: Sun, 07 Jan 2024 03:04:05 +0000

--=_b1
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: anna@home.arpa
To: bob@example.com
Subject: Hello

Hi Bob.

--=_b1--
)");
    EXPECT_EQ(build_dsn(base()), want);
}

TEST(Dsn, SubjectFollowsTheWorstOutcome) {
    struct Case {
        std::vector<std::string> actions;
        std::string subject, returned;
    };
    const Case cases[] = {
        {{"failed"}, "Undelivered Mail Returned to Sender", "Undelivered Message"},
        {{"delivered", "failed", "delayed"}, "Undelivered Mail Returned to Sender", "Undelivered Message"},
        {{"delayed"}, "Delayed Mail (still being retried)", "Delayed Message"},
        {{"delivered", "delayed"}, "Delayed Mail (still being retried)", "Delayed Message"},
        {{"delivered"}, "Successful Mail Delivery Report", "Delivered Message"},
        {{"relayed", "expanded"}, "Successful Mail Delivery Report", "Delivered Message"},
    };
    for (const Case& c : cases) {
        DsnInput in = base();
        in.recipients.clear();
        for (const std::string& a : c.actions)
            in.recipients.push_back({a + "@example.com", "", a, a == "failed" ? "5.0.0" : a == "delayed" ? "4.0.0" : "2.0.0"});
        std::string dsn = build_dsn(in);
        EXPECT_NE(dsn.find("\r\nSubject: " + c.subject + "\r\n"), std::string::npos) << c.subject;
        EXPECT_NE(dsn.find("\r\nContent-Description: " + c.returned + "\r\n"), std::string::npos) << c.subject;
        for (const std::string& a : c.actions) {
            EXPECT_NE(dsn.find("\r\nFinal-Recipient: rfc822;" + a + "@example.com\r\nAction: " + a + "\r\n"),
                      std::string::npos) << a;
            EXPECT_NE(dsn.find("  <" + a + "@example.com>\r\n"), std::string::npos) << a;   // named for people
        }
    }
}

// The human part explains the common problem codes (RFC 3463) and names the others as they are.
TEST(Dsn, StatusExplainedForPeople) {
    struct Case {
        std::string action, status, want;
    };
    const Case cases[] = {
        {"failed", "5.1.1", "    Status: 5.1.1 (the mailbox does not exist)\r\n"},
        {"failed", "5.2.2", "    Status: 5.2.2 (the mailbox is full)\r\n"},
        {"failed", "4.4.7", "    Status: 4.4.7 (the message waited too long and expired)\r\n"},
        {"delayed", "4.4.1", "    Status: 4.4.1 (the receiving server did not answer)\r\n"},
        {"failed", "5.9.9", "    Status: 5.9.9\r\n"},
        {"delivered", "2.4.1", "    Status: 2.4.1\r\n"},   // success: no problem text
    };
    for (const Case& c : cases) {
        DsnInput in = base();
        in.recipients = {{"bob@example.com", "", c.action, c.status}};
        EXPECT_NE(build_dsn(in).find("  <bob@example.com>\r\n" + c.want), std::string::npos) << c.status;
    }
}

// Several recipients of one outcome: one intro, an empty line before each.
TEST(Dsn, RecipientsOfAGroupAreSeparated) {
    DsnInput in = base();
    in.recipients = {{"a@example.com", "", "failed", "5.0.0"}, {"b@example.com", "", "failed", "5.0.0"}};
    EXPECT_NE(build_dsn(in).find("each of them.\r\n\r\n  <a@example.com>\r\n    Status: 5.0.0\r\n\r\n"
                                 "  <b@example.com>\r\n    Status: 5.0.0\r\n\r\nYour message is attached below."),
              std::string::npos);
}

TEST(Dsn, WillRetryUntilOnlyForDelayed) {
    DsnInput in = base();
    in.recipients[0].will_retry_until = kArrival + 86400;   // failed: has no use for it
    std::string dsn = build_dsn(in);
    std::size_t first = dsn.find("Will-Retry-Until:");
    EXPECT_NE(first, std::string::npos);
    EXPECT_EQ(dsn.find("Will-Retry-Until:", first + 1), std::string::npos);
}

TEST(Dsn, OptionalFieldsLeftOutWhenUnknown) {
    DsnInput in = base();
    in.envid.clear();
    in.arrival = 0;
    in.queue_id.clear();
    in.recipients = {{"bob@example.com", "", "failed", "5.0.0", "", "", 0, 0}};
    std::string dsn = build_dsn(in);
    for (const char* name : {"Original-Envelope-Id:", "Arrival-Date:", "X-Mailkeep-Queue-ID:", "Original-Recipient:",
                             "Remote-MTA:", "Diagnostic-Code:", "Last-Attempt-Date:", "Will-Retry-Until:", "queue id"})
        EXPECT_EQ(dsn.find(name), std::string::npos) << name;
    EXPECT_NE(dsn.find("\r\nReporting-MTA: dns;mail.home.arpa\r\n\r\nFinal-Recipient: rfc822;bob@example.com\r\n"
                       "Action: failed\r\nStatus: 5.0.0\r\n"),
              std::string::npos);
}

// Values without their RFC 3464 type get the usual one.
TEST(Dsn, UntypedRemoteMtaAndDiagnostic) {
    DsnInput in = base();
    in.recipients = {{"bob@example.com", "", "failed", "5.1.1", "mx.example.com", "550 5.1.1 no; such user", 0, 0}};
    std::string dsn = build_dsn(in);
    EXPECT_NE(dsn.find("\r\nRemote-MTA: dns;mx.example.com\r\n"), std::string::npos);
    EXPECT_NE(dsn.find("\r\nDiagnostic-Code: smtp;550 5.1.1 no; such user\r\n"), std::string::npos);
    EXPECT_NE(dsn.find("The server mx.example.com said: 550 5.1.1 no; such user\r\n"), std::string::npos);
}

TEST(Dsn, LinesAreCrlfAndWithinLimits) {
    DsnInput in = base();
    // A remote reply of 3000 octets: words, and one word longer than a line may be.
    std::string words;
    for (int i = 0; i < 300; ++i) words += "word" + std::to_string(i) + " ";
    in.recipients[0].diagnostic = "smtp;550 5.7.1 " + words + std::string(2500, 'x');
    in.recipients[0].address = "bob@" + std::string(200, 'd') + ".example";
    std::string dsn = build_dsn(in);
    EXPECT_FALSE(has_bare_line_end(dsn));
    std::size_t longest = 0;
    for (const std::string& l : lines(dsn)) longest = std::max(longest, l.size());
    EXPECT_LE(longest, 998u);   // RFC 5322 2.1.1
    // The folded field unfolds to the reply (RFC 5322 2.2.3): words intact and in order.
    std::size_t at = dsn.find("Diagnostic-Code: ");
    std::string folded = dsn.substr(at, dsn.find("\r\nLast-Attempt-Date:", at) - at);
    std::string unfolded;
    for (std::size_t i = 0; i < folded.size(); ++i) {
        if (folded.compare(i, 3, "\r\n ") == 0) {
            i += 1;   // drop CRLF, keep the space
            continue;
        }
        unfolded += folded[i];
    }
    const std::string want = "Diagnostic-Code: smtp;550 5.7.1 " + words + std::string(2500, 'x');
    EXPECT_EQ(unfolded.substr(0, want.size() - 2500), want.substr(0, want.size() - 2500));
    EXPECT_EQ(unfolded.size(), want.size() + 2);   // the 2500-octet word was cut twice: two spaces more
    for (const std::string& l : lines(folded)) EXPECT_TRUE(l.size() <= 78 || l.find(' ', 1) == std::string::npos) << l;
}

TEST(Dsn, LongOriginalLinesAreReturnedAsTheyAre) {
    DsnInput in = base();
    std::string original = "Subject: long\r\n\r\n" + std::string(5000, 'a') + "\r\n";
    in.original = original;
    std::string dsn = build_dsn(in);
    EXPECT_NE(dsn.find("Content-Type: message/rfc822\r\n\r\n" + original + "\r\n--=_b1--\r\n"), std::string::npos);
}

// A remote reply is untrusted: CR, LF and controls in it must not start a header, a field or a part.
TEST(Dsn, HostileRemoteReplyStaysOneValue) {
    DsnInput in = base();
    in.recipients[0].diagnostic = "smtp;550 no\r\nSubject: injected\r\n\r\n--=_b1\r\nContent-Type: text/html\x01\x7f";
    in.recipients[0].remote_mta = "dns;mx.example.com\r\nAction: delivered";
    std::string dsn = build_dsn(in);
    EXPECT_FALSE(has_bare_line_end(dsn));
    for (const std::string& l : lines(dsn)) {
        EXPECT_FALSE(l.starts_with("Subject: injected")) << l;
        EXPECT_FALSE(l.starts_with("Action: delivered")) << l;
        EXPECT_FALSE(l.starts_with("Content-Type: text/html")) << l;
        EXPECT_EQ(l.find('\x01'), std::string::npos);
        EXPECT_EQ(l.find('\x7f'), std::string::npos);
    }
    EXPECT_NE(dsn.find("\r\nDiagnostic-Code: smtp;550 no Subject: injected --=_b1 Content-Type: text/html\r\n"),
              std::string::npos);
    // The boundary appears in the reply, so the report uses another one.
    EXPECT_NE(dsn.find("boundary=\"=_b1=1\""), std::string::npos);
}

TEST(Dsn, BoundaryNeverOccursInTheContent) {
    struct Case {
        std::string boundary, original, want;
    };
    const Case cases[] = {
        {"=_b1", std::string(kOriginal), "=_b1"},
        {"=_b1", "Subject: x\r\n\r\n--=_b1\r\n", "=_b1=1"},
        {"=_b1", "Subject: x\r\n\r\n--=_b1\r\n--=_b1=1--\r\n", "=_b1=2"},
        {"", std::string(kOriginal), "=_mailkeep-dsn-0123456789ABCDEF-1704168245"},   // made when not given
        {"bad \"boundary\"\r\n", std::string(kOriginal), "badboundary"},                // only RFC 2046 bchars
        {std::string(100, 'b'), std::string(kOriginal), std::string(62, 'b')},          // room for a suffix, <= 70
    };
    for (const Case& c : cases) {
        DsnInput in = base();
        in.boundary = c.boundary;
        in.original = c.original;
        std::string dsn = build_dsn(in);
        EXPECT_NE(dsn.find("boundary=\"" + c.want + "\"\r\n"), std::string::npos) << c.boundary;
        EXPECT_NE(dsn.find("\r\n--" + c.want + "--\r\n"), std::string::npos) << c.boundary;
    }
}

TEST(Dsn, HeadersOnly) {
    struct Case {
        std::string original, want;   // the text/rfc822-headers part's content
    };
    const Case cases[] = {
        {std::string(kOriginal), "From: anna@home.arpa\r\nTo: bob@example.com\r\nSubject: Hello\r\n"},
        {"Subject: no body\r\n", "Subject: no body\r\n"},
        {"Subject: x\r\n\r\n", "Subject: x\r\n"},
        {"\r\nbody without a header\r\n", ""},
    };
    for (const Case& c : cases) {
        DsnInput in = base();
        in.headers_only = true;
        in.original = c.original;
        std::string dsn = build_dsn(in);
        EXPECT_NE(dsn.find("Content-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n" +
                           c.want + "\r\n--=_b1--\r\n"),
                  std::string::npos)
            << c.original;
        EXPECT_EQ(dsn.find("Hi Bob."), std::string::npos);
        EXPECT_EQ(dsn.find("body without"), std::string::npos);
        EXPECT_NE(dsn.find("The header of your message is attached below."), std::string::npos);
    }
}

TEST(Dsn, EightBitPartsAreLabelled) {
    DsnInput in = base();
    in.original = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n";
    in.recipients[0].diagnostic = "smtp;550 n\xc3\xa4 user";
    std::string dsn = build_dsn(in);
    EXPECT_NE(dsn.find("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"), std::string::npos);
    EXPECT_NE(dsn.find("Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 8bit\r\n"), std::string::npos);
    // 8-bit in the header: SMTPUTF8 mail, returned as message/global (RFC 6532 3.7).
    EXPECT_NE(dsn.find("Content-Type: message/global\r\nContent-Transfer-Encoding: 8bit\r\n"), std::string::npos);
    in.original = "Subject: cafe\r\n\r\ncaf\xc3\xa9\r\n";   // 8-bit in the body only
    EXPECT_NE(build_dsn(in).find("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n"), std::string::npos);
    EXPECT_EQ(build_dsn(base()).find("Content-Transfer-Encoding"), std::string::npos);   // all 7bit: no label
}

TEST(Dsn, MessageIdDiffersPerReport) {
    DsnInput a = base();
    DsnInput later = base();
    later.now += 1;
    DsnInput other = base();
    other.recipients[0].status = "5.1.2";
    DsnInput delay = base();
    delay.recipients.erase(delay.recipients.begin());
    auto id = [](const DsnInput& in) {
        std::string d = build_dsn(in);
        std::size_t at = d.find("Message-ID: ");
        return d.substr(at, d.find("\r\n", at) - at);
    };
    EXPECT_EQ(id(a), id(base()));   // reproducible
    EXPECT_NE(id(a), id(later));
    EXPECT_NE(id(a), id(other));
    EXPECT_NE(id(a), id(delay));
    EXPECT_TRUE(id(delay).starts_with("Message-ID: <dsn.1704168245.0123456789ABCDEF.D")) << id(delay);
    EXPECT_TRUE(id(a).ends_with("@mail.home.arpa>"));
}

TEST(Dsn, XtextDecode) {
    struct Case {
        std::string input, want;
    };
    const Case cases[] = {
        {"", ""},
        {"bob@example.com", "bob@example.com"},
        {"a+2Bb@example.com", "a+b@example.com"},            // RFC 3461 4: "+" is always encoded
        {"+3D+2B", "=+"},
        {"caf+C3+A9@example.com", "caf\xc3\xa9@example.com"},   // octets, shown as UTF-8
        // invalid: unchanged
        {"a+2b@example.com", "a+2b@example.com"},             // hex digits are upper case
        {"a+2", "a+2"},
        {"a+", "a+"},
        {"a+ZZ", "a+ZZ"},
        {"a=b", "a=b"},                                       // "=" is not an xchar
        {"a b", "a b"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"x+0D+0ASubject: y", "x+0D+0ASubject: y"},           // a decoded control would break its line
        {"+7F", "+7F"},
        {"+00", "+00"},
    };
    for (const Case& c : cases) EXPECT_EQ(xtext_decode(c.input), c.want) << c.input;
}

// tmp_file - a file under /tmp holding text, removed with the object.
struct TmpFile {
    std::string path;
    explicit TmpFile(const std::string& text) {
        char tmpl[] = "/tmp/mk-dsn-XXXXXX";
        int fd = ::mkstemp(tmpl);
        path = tmpl;
        ::close(fd);
        std::ofstream(path, std::ios::binary) << text;
    }
    ~TmpFile() { std::remove(path.c_str()); }
};

// run - a command's standard output.
std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
    return out;
}

// Python's email package, from Debian's /usr/bin/python3, parses the DSN and reports what it sees.
constexpr const char* kPythonReader = R"PY(
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
assert m.get_content_type() == 'multipart/report', m.get_content_type()
assert m.get_param('report-type') == 'delivery-status'
parts = m.get_payload()
print('parts', ' '.join(p.get_content_type() for p in parts))
print('subject', m['Subject'])
status = parts[1].get_payload()
print('reporting-mta', status[0]['Reporting-MTA'])
for r in status[1:]:
    print('recipient', r['Final-Recipient'], '|', r['Action'], '|', r['Status'], '|', r['Diagnostic-Code'])
if parts[2].get_content_type() == 'message/rfc822':
    print('returned subject', parts[2].get_payload()[0]['Subject'])
else:
    print('returned headers', 'Subject: Hello' in parts[2].get_content())
print('text names bob', '<bob@example.com>' in parts[0].get_content())
print('defects', sum(len(p.defects) for p in m.walk()))
)PY";

TEST(Dsn, PythonEmailPackageReadsIt) {
    struct Case {
        bool headers_only;
        std::string long_reply;   // appended to bob's diagnostic
        std::string want;
    };
    std::string words;
    for (int i = 0; i < 150; ++i) words += " w" + std::to_string(i);
    const Case cases[] = {
        {false, "",
         "parts text/plain message/delivery-status message/rfc822\n"
         "subject Undelivered Mail Returned to Sender\n"
         "reporting-mta dns;mail.home.arpa\n"
         "recipient rfc822;bob@example.com | failed | 5.1.1 | smtp;550 5.1.1 <bob@example.com>: no such user\n"
         "recipient rfc822;carol@example.net | delayed | 4.4.1 | X-Mailkeep;connection refused\n"
         "returned subject Hello\n"
         "text names bob True\n"
         "defects 0\n"},
        {true, words,
         "parts text/plain message/delivery-status text/rfc822-headers\n"
         "subject Undelivered Mail Returned to Sender\n"
         "reporting-mta dns;mail.home.arpa\n"
         "recipient rfc822;bob@example.com | failed | 5.1.1 | smtp;550 5.1.1 <bob@example.com>: no such user" +
             words + "\n"
             "recipient rfc822;carol@example.net | delayed | 4.4.1 | X-Mailkeep;connection refused\n"
             "returned headers True\n"
             "text names bob True\n"
             "defects 0\n"},
    };
    for (const Case& c : cases) {
        DsnInput in = base();
        in.headers_only = c.headers_only;
        in.recipients[0].diagnostic += c.long_reply;
        TmpFile dsn(build_dsn(in));
        TmpFile script(kPythonReader);
        EXPECT_EQ(run("/usr/bin/python3 " + script.path + " " + dsn.path + " 2>&1"), c.want);
    }
}

TEST(Dsn, InternationalisedMailUsesTheGlobalTypes) {
    // RFC 6533: a UTF-8 address is of type utf-8 in message/global-delivery-status; an original
    // with UTF-8 in its header goes back as message/global (message/global-headers for RET=HDRS).
    DsnInput in = base();
    in.recipients.resize(1);
    in.recipients[0].address = "j\xc3\xb6rg@b\xc3\xbccher.example";
    in.recipients[0].orcpt = "";
    in.original = "From: anna@home.arpa\r\nSubject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nbody\r\n";
    std::string dsn = build_dsn(in);
    EXPECT_NE(dsn.find("Content-Type: message/global-delivery-status\r\n"), std::string::npos) << dsn;
    EXPECT_NE(dsn.find("Final-Recipient: utf-8;j\xc3\xb6rg@b\xc3\xbccher.example\r\n"), std::string::npos) << dsn;
    EXPECT_NE(dsn.find("Content-Type: message/global\r\n"), std::string::npos) << dsn;
    in.headers_only = true;
    EXPECT_NE(build_dsn(in).find("Content-Type: message/global-headers\r\n"), std::string::npos);
    // ASCII mail keeps the RFC 3464 types.
    std::string plain = build_dsn(base());
    EXPECT_NE(plain.find("Content-Type: message/delivery-status\r\n"), std::string::npos);
    EXPECT_NE(plain.find("Content-Type: message/rfc822\r\n"), std::string::npos);
    EXPECT_EQ(plain.find("global"), std::string::npos);
}

}  // namespace
}  // namespace mk::smtp
