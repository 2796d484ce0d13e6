// tests/unit/test_secret.cpp — password_command / oauth2_token_command: first line, failures with
// their exit status, bounded output, the deadline (and the killed process group).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/secret.hpp"

namespace mk {
namespace {

using namespace std::chrono_literals;

struct OkCase {
    std::string command;
    std::string want;
};

TEST(SecretCommand, FirstLine) {
    const std::vector<OkCase> cases = {
        {"echo hello", "hello"},
        {"printf 'first\\nsecond\\n'", "first"},
        {"printf 'no-newline'", "no-newline"},
        {"printf 'crlf\\r\\n'", "crlf"},
        {"printf '  spaces kept  \\n'", "  spaces kept  "},
        {"echo 'pa$$ w0rd;|&'", "pa$$ w0rd;|&"},
        {"echo out; echo err >&2", "out"},
        {"read x; echo \"stdin:$x:\"", "stdin::"},   // stdin is /dev/null: no prompt can hang
        {"head -c 4095 /dev/zero | tr '\\0' a", std::string(4095, 'a')},
        {"sleep 5 & echo quick", "quick"},   // a background child holding stdout does not stall us
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.command);
        auto start = std::chrono::steady_clock::now();
        EXPECT_EQ(run_secret_command(c.command), c.want);
        EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    }
}

struct FailCase {
    std::string command;
    std::string message_part;
};

TEST(SecretCommand, Failures) {
    const std::vector<FailCase> cases = {
        {"exit 3", "exit status 3"},
        {"echo secret; exit 2", "exit status 2"},
        {"true", "printed nothing"},
        {"echo", "printed nothing"},
        {"printf '\\nsecond\\n'", "printed nothing"},
        {"kill -TERM $$", "killed by signal 15"},
        {"/nonexistent/command", "exit status 127"},
        {"head -c 4097 /dev/zero | tr '\\0' a", "more than 4096 bytes"},
        {"yes", "more than 4096 bytes"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.command);
        try {
            std::string got = run_secret_command(c.command);
            ADD_FAILURE() << "no error, got a line of " << got.size() << " bytes";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos) << e.what();
            // The secret itself never appears in the error.
            EXPECT_EQ(std::string(e.what()).find("secret\n"), std::string::npos);
        }
    }
}

TEST(SecretCommand, TimeoutKillsTheProcessGroup) {
    char tmpl[] = "/tmp/mk-secret-XXXXXX";
    std::filesystem::path dir = ::mkdtemp(tmpl);
    std::filesystem::path marker = dir / "survived";
    // The grandchild would create the marker after 2 s unless the whole group was killed.
    std::string command = "(sleep 2; touch " + marker.string() + ") & sleep 30";
    auto start = std::chrono::steady_clock::now();
    try {
        run_secret_command(command, 300ms);
        ADD_FAILURE() << "no timeout";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    std::this_thread::sleep_for(2500ms);
    EXPECT_FALSE(std::filesystem::exists(marker));
    std::filesystem::remove_all(dir);
}

TEST(SecretCommand, DeadlineCoversAQuietCommandThatStaysAlive) {
    // Output complete, stdout closed, but the command does not exit.
    auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(run_secret_command("echo tok; exec >&-; sleep 30", 300ms), std::runtime_error);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(SecretCommand, Limits) {
    EXPECT_EQ(kMaxSecretOutput, 4096u);
    EXPECT_EQ(kSecretTimeout, 10s);
}

}  // namespace
}  // namespace mk
