// tests/unit/test_smtp_command.cpp — SMTP verbs and MAIL/RCPT arguments, as tables.
#include <gtest/gtest.h>

#include "smtp/command.hpp"

namespace mk::smtp {
namespace {

TEST(SmtpCommand, Verbs) {
    const std::pair<const char*, Verb> cases[] = {
        {"EHLO client.example", Verb::ehlo}, {"ehlo x", Verb::ehlo}, {"HeLo x", Verb::helo},
        {"MAIL FROM:<a@b>", Verb::mail}, {"RCPT TO:<a@b>", Verb::rcpt}, {"DATA", Verb::data},
        {"RSET", Verb::rset}, {"NOOP", Verb::noop}, {"QUIT", Verb::quit}, {"VRFY x", Verb::vrfy},
        {"HELP", Verb::help}, {"STARTTLS", Verb::starttls}, {"AUTH PLAIN", Verb::auth},
        {"MAILX FROM:<a@b>", Verb::unknown}, {"", Verb::unknown}, {" EHLO x", Verb::unknown},
        {"DATA\x01", Verb::unknown},
    };
    for (auto& [line, verb] : cases) {
        SCOPED_TRACE(line);
        EXPECT_EQ(parse_command(line).verb, verb);
    }
    EXPECT_EQ(parse_command("EHLO  client.example  ").args, " client.example");
    EXPECT_EQ(parse_command("NOOP").args, "");
}

TEST(SmtpCommand, MailArgs) {
    auto ok = parse_mail_args("FROM:<anna@home.arpa> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=abc+2Bd");
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok.value->sender.str(), "anna@home.arpa");
    EXPECT_EQ(*ok.value->size, 1000u);
    EXPECT_TRUE(ok.value->body_8bit);
    EXPECT_EQ(ok.value->ret, "HDRS");
    EXPECT_EQ(ok.value->envid, "abc+2Bd");

    EXPECT_TRUE(parse_mail_args("FROM:<>").ok());
    EXPECT_TRUE(parse_mail_args("from: <a@b.example>").ok());   // a space after the colon is tolerated
    EXPECT_TRUE(parse_mail_args("FROM:<jörg@home.arpa> SMTPUTF8").ok());

    const std::pair<const char*, int> bad[] = {
        {"FROM:", 501}, {"FROM a@b", 501}, {"TO:<a@b>", 501}, {"FROM:<a@b> SIZE=x", 501},
        {"FROM:<a@b> SIZE=99999999999999999999999", 501}, {"FROM:<a@b> BODY=BINARYMIME", 501},
        {"FROM:<a@b> RET=ALL", 501}, {"FROM:<a@b> ENVID=a=b", 501}, {"FROM:<a@b> XFOO=1", 555},
        {"FROM:<a@b>SIZE=1", 501}, {"FROM:<jörg@home.arpa>", 553},
    };
    for (auto& [args, code] : bad) {
        SCOPED_TRACE(args);
        auto r = parse_mail_args(args);
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.error.code, code);
    }
}

TEST(SmtpCommand, RcptArgs) {
    auto ok = parse_rcpt_args("TO:<ben@home.arpa> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;ben+40home.arpa", false);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok.value->recipient.str(), "ben@home.arpa");
    EXPECT_EQ(ok.value->notify, kNotifySuccess | kNotifyFailure);
    EXPECT_EQ(ok.value->orcpt, "rfc822;ben+40home.arpa");

    const std::pair<const char*, int> bad[] = {
        {"TO:<>", 501}, {"TO:<a@b> NOTIFY=NEVER,SUCCESS", 501}, {"TO:<a@b> NOTIFY=SOMETIMES", 501},
        {"TO:<a@b> ORCPT=nosemicolon", 501}, {"TO:<a@b> ORCPT=rfc822;a b", 555}, {"TO:<a@b> FOO", 555},
        {"TO:<jörg@home.arpa>", 553},
    };
    for (auto& [args, code] : bad) {
        SCOPED_TRACE(args);
        auto r = parse_rcpt_args(args, false);
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.error.code, code);
    }
}

TEST(SmtpCommand, Xtext) {
    EXPECT_TRUE(xtext_valid("abc+2B+3D"));
    EXPECT_FALSE(xtext_valid("abc+2"));
    EXPECT_FALSE(xtext_valid("abc+"));
    EXPECT_FALSE(xtext_valid("a=b"));
    EXPECT_FALSE(xtext_valid("a+zz"));
}

TEST(SmtpCommand, MaxLineConstantIsRfc5321) { EXPECT_EQ(kMaxCommandLine + 2, 512u); }

}  // namespace
}  // namespace mk::smtp
