// tests/unit/test_notice.cpp — notices from the mail system (smtp/notice): the plain and the
// multipart layout, each attachment kind, a boundary that the attachments hold, line limits.
#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "smtp/notice.hpp"

namespace mk::smtp {
namespace {

constexpr std::time_t kNow = 1704164645;   // Tue, 02 Jan 2024 03:04:05 +0000

NoticeInput base() {
    NoticeInput in;
    in.reporting_mta = "mail.home.arpa";
    in.postmaster = "postmaster@home.arpa";
    in.to = "postmaster@home.arpa";
    in.subject = "Damaged queue entry Q1 moved aside";
    in.paragraphs = {"This is the mail system at mail.home.arpa.", "Second paragraph."};
    in.id = "N1";
    in.now = kNow;
    return in;
}

TEST(Notice, PlainText) {
    EXPECT_EQ(build_notice(base()),
              "From: Mail Delivery System <postmaster@home.arpa>\r\n"
              "To: <postmaster@home.arpa>\r\n"
              "Subject: Damaged queue entry Q1 moved aside\r\n"
              "Date: Tue, 02 Jan 2024 03:04:05 +0000\r\n"
              "Message-ID: <notice.N1@mail.home.arpa>\r\n"
              "Auto-Submitted: auto-generated\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=us-ascii\r\n"
              "\r\n"
              "This is the mail system at mail.home.arpa.\r\n"
              "\r\n"
              "Second paragraph.\r\n"
              "\r\n");
}

TEST(Notice, AttachmentsOfEachKindBehindABoundaryTheyDoNotHold) {
    NoticeInput in = base();
    // The message holds the boundary the notice would choose first.
    const std::string message = "Subject: hi\r\n\r\n--=_mailkeep-notice-N1\r\nbody\r\n";
    const std::string utf8_header = "Subject: Grüße\r\n\r\nbody\r\n";
    const std::string envelope = std::string("{\"id\":\"\xff\0 torn", 15);
    in.attachments = {{NoticeAttachment::Kind::message, "Queued message Q1", "", message},
                      {NoticeAttachment::Kind::headers, "Header of Q2", "", utf8_header},
                      {NoticeAttachment::Kind::octets, "Queue envelope Q1", "Q1.env", envelope}};
    std::string out = build_notice(in);
    std::size_t ct = out.find("Content-Type: multipart/mixed; boundary=\"");
    ASSERT_NE(ct, std::string::npos);
    std::size_t start = ct + 41;
    std::string boundary = out.substr(start, out.find('"', start) - start);
    EXPECT_NE(boundary, "=_mailkeep-notice-N1");
    EXPECT_EQ(message.find("--" + boundary), std::string::npos);
    EXPECT_NE(out.find("\r\n--" + boundary + "\r\nContent-Description: Queued message Q1\r\n"
                       "Content-Type: message/rfc822\r\n\r\n" + message),
              std::string::npos);
    // RFC 6532 3.7: a header with UTF-8 travels as message/global-headers, labelled 8bit.
    EXPECT_NE(out.find("Content-Type: message/global-headers\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                       "Subject: Grüße\r\n\r\n--"),
              std::string::npos);
    std::size_t b64 = out.find("Content-Transfer-Encoding: base64\r\n\r\n");
    ASSERT_NE(b64, std::string::npos);
    EXPECT_NE(out.find("Content-Disposition: attachment; filename=\"Q1.env\"\r\n"), std::string::npos);
    std::size_t from = b64 + 37;
    std::string encoded = out.substr(from, out.find("\r\n--", from) - from);
    std::erase(encoded, '\r');
    std::erase(encoded, '\n');
    EXPECT_EQ(base64_decode(encoded), envelope);
    EXPECT_TRUE(out.ends_with("\r\n--" + boundary + "--\r\n"));
    for (std::size_t i = 0; i < out.size(); ++i)
        ASSERT_FALSE(out[i] == '\n' && (i == 0 || out[i - 1] != '\r')) << "bare LF at " << i;
}

}  // namespace
}  // namespace mk::smtp
