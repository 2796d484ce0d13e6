// tests/unit/test_sasl_client.cpp — the shared SASL client (net/sasl_client) over a scripted framing:
// which mechanism for which secret, the messages each mechanism sends, the one token refresh, the
// cancel of a challenge too many, and the secrets it will not send. No network: the framing records
// what the protocol would have sent and answers from a script.
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "core/base64.hpp"
#include "net/sasl.hpp"
#include "net/sasl_client.hpp"

namespace mk {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using Kind = SaslStep::Kind;

SaslStep ok() { return SaslStep{Kind::success}; }
SaslStep challenge(std::string data = {}) { return SaslStep{Kind::challenge, std::move(data)}; }
SaslStep refusal(int code, bool credentials, bool temporary = false) {
    return SaslStep{Kind::failure, {}, code, temporary, credentials, fmt::format("{} no", code)};
}

// ScriptedFraming - answers each step from replies in order and records what the protocol would
// send: "start MECH [initial]", "respond R", "cancel".
class ScriptedFraming : public SaslFraming {
public:
    explicit ScriptedFraming(std::vector<SaslStep> replies) : replies_(std::move(replies)) {}
    std::vector<std::string> sent;

    awaitable<SaslStep> sasl_start(std::string_view mechanism, const std::optional<std::string>& initial) override {
        sent.push_back(initial ? fmt::format("start {} {}", mechanism, *initial) : fmt::format("start {}", mechanism));
        co_return next();
    }
    awaitable<SaslStep> sasl_respond(std::string_view response) override {
        sent.push_back(fmt::format("respond {}", response));
        co_return next();
    }
    awaitable<SaslStep> sasl_cancel() override {
        sent.push_back("cancel");
        co_return next();
    }

private:
    SaslStep next() {
        if (used_ == replies_.size()) throw std::runtime_error("the client sent more than the script answers");
        return replies_[used_++];
    }
    std::vector<SaslStep> replies_;
    std::size_t used_ = 0;
};

// Outcome - what one login came to.
struct Outcome {
    std::optional<std::string> own_password;   // returned for the protocol's own login
    std::optional<ClientError> error;
};

// login - run SaslClient::login over framing with options, to the end (bounded).
Outcome login(ScriptedFraming& framing, const ClientOptions& options, const std::vector<std::string>& offered,
              bool login_allowed = true, bool own_login = false, bool encrypted = true) {
    asio::io_context io;
    Outcome out;
    bool done = false;
    std::exception_ptr other;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
            SaslClient sasl(framing, options, SaslContext{"AUTH", "peer[127.0.0.1]:25", "test client", encrypted});
            try {
                out.own_password = co_await sasl.login(offered, login_allowed, own_login);
            } catch (const ClientError& e) {
                out.error = e;
            }
        },
        [&](std::exception_ptr e) {
            other = e;
            done = true;
        });
    io.run_for(10s);
    EXPECT_TRUE(done) << "login did not finish";
    if (other) std::rethrow_exception(other);
    return out;
}

ClientOptions with_password(std::string password = "s3cret") {
    ClientOptions o;
    o.username = "anna";
    o.password = [password] { return password; };
    return o;
}

// with_tokens - a token source handing out tokens[0] first and tokens[1] when asked to refresh;
// every call is recorded in calls.
ClientOptions with_tokens(std::vector<bool>& calls, std::string first = "old", std::string refreshed = "new") {
    ClientOptions o;
    o.username = "anna";
    o.oauth_token = [&calls, first, refreshed](bool refresh) {
        calls.push_back(refresh);
        return refresh ? refreshed : first;
    };
    return o;
}

std::string plain(std::string_view user, std::string_view password) { return plain_response(user, password); }

TEST(SaslMechanism, ChoiceByKindOfSecretAndOffer) {
    using M = SaslMechanism;
    struct Row {
        std::vector<std::string> offered;
        bool token;
        bool login_allowed;
        std::optional<M> want;
        bool encrypted = true;
    };
    const std::vector<Row> rows = {
        {{"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"}, true, true, M::oauthbearer},
        {{"PLAIN", "XOAUTH2"}, true, true, M::xoauth2},
        {{"PLAIN", "LOGIN"}, true, true, std::nullopt},   // a token never goes out as a password
        {{"LOGIN", "PLAIN", "OAUTHBEARER"}, false, true, M::plain},
        {{"LOGIN"}, false, true, M::login},
        {{"LOGIN"}, false, false, std::nullopt},
        {{"CRAM-MD5", "GSSAPI"}, false, true, M::cram_md5},      // the last resort (RFC 2645 providers)
        {{"CRAM-MD5", "PLAIN"}, false, true, M::plain},          // under TLS: PLAIN first
        {{"CRAM-MD5", "PLAIN"}, false, true, M::cram_md5, false},  // in the clear: the password stays home
        {{"CRAM-MD5"}, true, true, std::nullopt},                // a token is no CRAM-MD5 secret
        {{"GSSAPI"}, false, true, std::nullopt},
        {{}, false, true, std::nullopt},
    };
    for (const Row& r : rows) {
        SCOPED_TRACE(::testing::PrintToString(r.offered));
        EXPECT_EQ(choose_mechanism(r.offered, r.token, r.login_allowed, r.encrypted), r.want);
    }
}

TEST(SaslMechanism, ListsFromServersAreUpperCasedAndUnique) {
    std::vector<std::string> into{"PLAIN"};
    add_mechanisms("login Plain  XOAUTH2 login", into);
    EXPECT_EQ(into, (std::vector<std::string>{"PLAIN", "LOGIN", "XOAUTH2"}));
}

TEST(SaslClient, PlainSendsTheInitialResponse) {
    ScriptedFraming f({ok()});
    Outcome o = login(f, with_password(), {"LOGIN", "PLAIN"});
    EXPECT_FALSE(o.error) << o.error->what();
    EXPECT_FALSE(o.own_password);
    EXPECT_EQ(f.sent, (std::vector<std::string>{"start PLAIN " + plain("anna", "s3cret")}));
}

TEST(SaslClient, LoginAnswersTwoChallenges) {
    ScriptedFraming f({challenge("VXNlcm5hbWU6"), challenge("UGFzc3dvcmQ6"), ok()});
    Outcome o = login(f, with_password(), {"LOGIN"});
    EXPECT_FALSE(o.error) << o.error->what();
    EXPECT_EQ(f.sent, (std::vector<std::string>{"start LOGIN", "respond anna", "respond s3cret"}));
}

TEST(SaslClient, CramMd5AnswersTheChallengeWithoutThePassword) {
    // RFC 2195 2's example: the digest of "tanstaaftanstaaf" over this challenge.
    const std::string challenge_text = "<1896.697170952@postoffice.reston.mci.net>";
    ScriptedFraming f({challenge(base64_encode(challenge_text)), ok()});
    ClientOptions o = with_password("tanstaaftanstaaf");
    o.username = "tim";
    Outcome out = login(f, o, {"PLAIN", "CRAM-MD5"}, true, false, false);
    EXPECT_FALSE(out.error) << out.error->what();
    EXPECT_EQ(f.sent, (std::vector<std::string>{"start CRAM-MD5", "respond tim b913a602c7eda7a495b4e6e7334d3890"}));
}

TEST(SaslClient, CramMd5ChallengeThatIsNotBase64BreaksTheSession) {
    ScriptedFraming f({challenge("not base64!")});
    Outcome out = login(f, with_password(), {"CRAM-MD5"}, true, false, false);
    ASSERT_TRUE(out.error);
    EXPECT_EQ(out.error->cause(), ClientCause::policy);
    EXPECT_FALSE(out.error->login());
    EXPECT_EQ(f.sent, (std::vector<std::string>{"start CRAM-MD5"}));
}

TEST(SaslClient, RefusedPasswordIsALoginFailureWithTheServersCode) {
    ScriptedFraming f({refusal(535, true)});
    Outcome o = login(f, with_password(), {"PLAIN"});
    ASSERT_TRUE(o.error);
    EXPECT_TRUE(o.error->login());
    EXPECT_TRUE(o.error->auth());
    EXPECT_EQ(o.error->cause(), ClientCause::reply);
    EXPECT_EQ(o.error->code(), 535);
    EXPECT_FALSE(o.error->temporary());
    EXPECT_EQ(std::string(o.error->what()), "peer[127.0.0.1]:25: AUTH PLAIN as anna failed: 535 no");
    EXPECT_EQ(std::string(o.error->what()).find("s3cret"), std::string::npos);
}

TEST(SaslClient, TokenRefreshedOnceAfterARefusal) {
    // The refused token gets the server's JSON error challenge, answered as RFC 7628 3.2.3 says;
    // then the same exchange again with a fresh token.
    std::vector<bool> calls;
    ScriptedFraming f({challenge("eyJzdGF0dXMiOiI0MDEifQ=="), refusal(535, true), ok()});
    Outcome o = login(f, with_tokens(calls), {"PLAIN", "OAUTHBEARER"});
    EXPECT_FALSE(o.error) << o.error->what();
    EXPECT_EQ(calls, (std::vector<bool>{false, true}));
    EXPECT_EQ(f.sent, (std::vector<std::string>{"start OAUTHBEARER " + oauth_response("OAUTHBEARER", "anna", "old"),
                                                "respond \x01",
                                                "start OAUTHBEARER " + oauth_response("OAUTHBEARER", "anna", "new")}));
}

TEST(SaslClient, TokenRefusedTwiceFailsWithoutAThirdTry) {
    std::vector<bool> calls;
    ScriptedFraming f({challenge(), refusal(535, true), challenge(), refusal(535, true)});
    Outcome o = login(f, with_tokens(calls), {"XOAUTH2"});
    ASSERT_TRUE(o.error);
    EXPECT_TRUE(o.error->login());
    EXPECT_EQ(calls, (std::vector<bool>{false, true}));
    // XOAUTH2 answers the error challenge with an empty response, as Google documents.
    EXPECT_EQ(f.sent[1], "respond ");
    EXPECT_EQ(f.sent.size(), 4u);
}

TEST(SaslClient, NoRefreshWhenTheRefusalIsNotTheTokens) {
    // SMTP 454, POP3 [SYS/TEMP]: a new token would not help.
    std::vector<bool> calls;
    ScriptedFraming f({refusal(454, false, true)});
    Outcome o = login(f, with_tokens(calls), {"OAUTHBEARER"});
    ASSERT_TRUE(o.error);
    EXPECT_TRUE(o.error->temporary());
    EXPECT_FALSE(o.error->auth());
    EXPECT_TRUE(o.error->login());
    EXPECT_EQ(calls, (std::vector<bool>{false}));
}

TEST(SaslClient, AChallengeTooManyIsCancelled) {
    // PLAIN has one message: a challenge after it is cancelled, and the server's answer decides.
    ScriptedFraming refused({challenge(), refusal(501, true)});
    Outcome o = login(refused, with_password(), {"PLAIN"});
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->code(), 501);
    EXPECT_EQ(refused.sent.back(), "cancel");
    // A server that lets the login succeed after the cancel, or goes on challenging, breaks SASL.
    for (const SaslStep& after : {ok(), challenge()}) {
        ScriptedFraming f({challenge(), after});
        Outcome broken = login(f, with_password(), {"PLAIN"});
        ASSERT_TRUE(broken.error);
        EXPECT_EQ(broken.error->cause(), ClientCause::policy);
        EXPECT_FALSE(broken.error->login());
    }
    // OAuth: the error challenge is answered once; a second challenge is cancelled.
    std::vector<bool> calls;
    ScriptedFraming oauth({challenge(), challenge(), refusal(535, true), challenge(), challenge(), refusal(535, true)});
    Outcome twice = login(oauth, with_tokens(calls), {"OAUTHBEARER"});
    ASSERT_TRUE(twice.error);
    EXPECT_EQ(oauth.sent[2], "cancel");
}

TEST(SaslClient, NothingFitsOrTheProtocolLogsInItsOwnWay) {
    // A token and no OAuth mechanism: nothing is sent.
    std::vector<bool> calls;
    ScriptedFraming none({});
    Outcome o = login(none, with_tokens(calls), {"PLAIN", "LOGIN"});
    ASSERT_TRUE(o.error);
    EXPECT_TRUE(o.error->login());
    EXPECT_TRUE(o.error->auth());
    EXPECT_NE(std::string(o.error->what()).find("neither OAUTHBEARER nor XOAUTH2"), std::string::npos);
    EXPECT_TRUE(calls.empty());
    EXPECT_TRUE(none.sent.empty());
    // A password and no PLAIN: the protocol's own login gets the password (POP3 USER/PASS, IMAP LOGIN) ...
    ScriptedFraming own({});
    Outcome p = login(own, with_password(), {"GSSAPI"}, false, true);
    EXPECT_FALSE(p.error);
    EXPECT_EQ(p.own_password, "s3cret");
    EXPECT_TRUE(own.sent.empty());
    // ... or, without one, the login fails before any secret is fetched.
    bool fetched = false;
    ClientOptions counted = with_password();
    counted.password = [&] {
        fetched = true;
        return std::string("s3cret");
    };
    ScriptedFraming nothing({});
    Outcome q = login(nothing, counted, {"GSSAPI"}, true, false);
    ASSERT_TRUE(q.error);
    EXPECT_NE(std::string(q.error->what()).find("none of AUTH PLAIN, LOGIN, CRAM-MD5"), std::string::npos);
    EXPECT_FALSE(fetched);
}

TEST(SaslClient, SecretsThatAreNotSent) {
    struct Row {
        std::string name;
        ClientOptions options;
        std::string message_part;
    };
    ClientOptions crlf = with_password("sec\r\nA1 LOGOUT");
    ClientOptions nul = with_password(std::string("sec\0ret", 7));
    ClientOptions user = with_password();
    user.username = "anna\r\nQUIT";
    ClientOptions unset = with_password();
    unset.password = nullptr;
    ClientOptions failing = with_password();
    failing.password = []() -> std::string { throw std::runtime_error("password_command: exit status 3"); };
    ClientOptions control_token;
    control_token.username = "anna";
    control_token.oauth_token = [](bool) { return std::string("tok\x01en"); };
    ClientOptions empty_token;
    empty_token.username = "anna";
    empty_token.oauth_token = [](bool) { return std::string(); };
    const std::vector<Row> rows = {
        {"line break in the password", crlf, "CR, LF or NUL"},
        {"NUL in the password", nul, "CR, LF or NUL"},
        {"line break in the user name", user, "user name"},
        {"no password", unset, "no password: none configured"},
        {"password command fails", failing, "no password: password_command: exit status 3"},
        {"control character in the token", control_token, "no OAuth token: control character"},
        {"empty token", empty_token, "no OAuth token: empty"},
    };
    for (const Row& r : rows) {
        SCOPED_TRACE(r.name);
        ScriptedFraming f({});
        Outcome o = login(f, r.options, {"PLAIN", "OAUTHBEARER"});
        ASSERT_TRUE(o.error);
        EXPECT_NE(std::string(o.error->what()).find(r.message_part), std::string::npos) << o.error->what();
        EXPECT_TRUE(o.error->login());
        EXPECT_TRUE(o.error->auth());
        EXPECT_EQ(o.error->cause(), ClientCause::policy);
        EXPECT_TRUE(f.sent.empty());
    }
}

}  // namespace
}  // namespace mk
