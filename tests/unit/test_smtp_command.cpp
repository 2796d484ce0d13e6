// tests/unit/test_smtp_command.cpp — SMTP verbs and MAIL/RCPT arguments, as tables.
#include <gtest/gtest.h>

#include "smtp/command.hpp"
#include "smtp/reply.hpp"

namespace mk::smtp {
namespace {

TEST(SmtpCommand, Verbs) {
    const std::pair<const char*, Verb> cases[] = {
        {"EHLO client.example", Verb::ehlo}, {"ehlo x", Verb::ehlo}, {"HeLo x", Verb::helo},
        {"MAIL FROM:<a@b>", Verb::mail}, {"RCPT TO:<a@b>", Verb::rcpt}, {"DATA", Verb::data},
        {"RSET", Verb::rset}, {"NOOP", Verb::noop}, {"QUIT", Verb::quit}, {"VRFY x", Verb::vrfy},
        {"HELP", Verb::help}, {"STARTTLS", Verb::starttls}, {"AUTH PLAIN", Verb::auth},
        {"ATRN", Verb::atrn}, {"atrn a.example,b.example", Verb::atrn},
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
        {"TO:<jörg@home.arpa>", 553}, {"TO:<a@b> ORCPT=rfc\xff" "822;a", 501}, {"TO:<a@b> ORCPT=rfc 822;a", 501},
        {"TO:<\xff@home.arpa>", 501},
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

TEST(SmtpCommand, Utf8AddressesMustBeWellFormed) {
    EXPECT_TRUE(parse_mail_args("FROM:<grüße@bücher.example> SMTPUTF8").ok());
    for (const char* bad : {"FROM:<\xff@example.org> SMTPUTF8", "FROM:<a@caf\xc3" ".example> SMTPUTF8",
                            "FROM:<\xed\xa0\x80@example.org> SMTPUTF8", "FROM:<\xc0\xaf@example.org>"}) {
        SCOPED_TRACE(bad);
        auto r = parse_mail_args(bad);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error.code, 501);
        EXPECT_EQ(r.error.esc, esc::kBadSenderSyntax);
    }
}

TEST(SmtpCommand, HeloNames) {
    const std::pair<std::string_view, bool> rows[] = {
        {"client.test", true}, {"localhost", true}, {"DESKTOP-7H2K3L", true}, {"my_laptop.lan", true},
        {"host.example.", true}, {"bücher.example", true}, {"[127.0.0.1]", true}, {"[IPv6:::1]", true},
        {"", false}, {".", false}, {"a..b", false}, {"-lead.example", false}, {"trail-.example", false},
        {"bad\xffhelo", false}, {"caf\xc3", false}, {"evil\rX-Injected:\x01yes", false},
        {std::string_view("nul\0byte", 8), false}, {"tab\there", false}, {"[127.0.0.1", false},
        {"a(b)", false}, {"semi;colon", false}, {"quote\"d", false},
    };
    for (auto [name, want] : rows) EXPECT_EQ(valid_helo_name(name), want) << testing::PrintToString(std::string(name));
    std::string label63(kMaxLabel, 'x'), label64(kMaxLabel + 1, 'x');
    EXPECT_TRUE(valid_helo_name(label63 + ".example"));
    EXPECT_FALSE(valid_helo_name(label64 + ".example"));
    std::string long_name;
    while (long_name.size() + 4 <= kMaxHostname) long_name += "abc.";
    long_name.append(kMaxHostname - long_name.size(), 'x');
    EXPECT_EQ(long_name.size(), kMaxHostname);
    EXPECT_TRUE(valid_helo_name(long_name));
    EXPECT_FALSE(valid_helo_name(long_name + "y"));
}

TEST(SmtpCommand, AtrnDomains) {
    using List = std::vector<std::string>;
    // RFC 2645 5.2.1: "ATRN" [SP domain *("," domain)].
    const std::pair<const char*, std::optional<List>> cases[] = {
        {"", List{}},
        {"customer.example", List{"customer.example"}},
        {"A.Example,b.example", List{"a.example", "b.example"}},
        {"a.example,A.EXAMPLE,a.example.", List{"a.example"}},   // each once, the root dot dropped
        {"b.example,a.example", List{"b.example", "a.example"}},   // in the order asked
        {"a.example,", std::nullopt},
        {",a.example", std::nullopt},
        {"a.example,,b.example", std::nullopt},
        {"a.example, b.example", std::nullopt},
        {"a.example b.example", std::nullopt},
        {"[192.0.2.1]", std::nullopt},
        {"a..example", std::nullopt},
        {"-a.example", std::nullopt},
        {"a.example\x01", std::nullopt},
    };
    for (const auto& [args, want] : cases) {
        SCOPED_TRACE(args);
        EXPECT_EQ(parse_atrn_domains(args), want);
    }
}

TEST(SmtpCommand, MaxLineConstantIsRfc5321) { EXPECT_EQ(kMaxCommandLine + 2, 512u); }

}  // namespace
}  // namespace mk::smtp
