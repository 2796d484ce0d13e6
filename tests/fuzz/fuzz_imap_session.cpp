// tests/fuzz/fuzz_imap_session.cpp — libFuzzer target: a whole IMAP server session (imap/server_session)
// over the in-memory pipe, with a real mail index and Maildir: logged in and with INBOX selected by a
// fixed prefix (LOGIN from the loopback client), then hostile bytes, one line per write, so that FETCH,
// STORE, SEARCH, COPY/MOVE, EXPUNGE, APPEND with its literals, folder commands and IDLE are reached.
// INBOX holds three messages (plain, multipart with an attachment, a forwarded message/rfc822), made
// afresh for each input. No crash, no hang past kHangBound, bounded memory.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "imap/server_session.hpp"
#include "session_fuzz.hpp"
#include "store/maildir.hpp"

namespace {

constexpr std::string_view kLogin = "a LOGIN anna anna-secret\r\n";
constexpr std::string_view kSelect = "b SELECT INBOX\r\n";

constexpr std::string_view kMessages[] = {
    "From: Ben <ben@home.arpa>\r\nTo: anna@home.arpa\r\nSubject: plain\r\nDate: Mon, 1 Jan 2024 10:00:00 +0100\r\n"
    "Message-ID: <1@home.arpa>\r\n\r\nhello anna\r\n",
    "From: ben@home.arpa\r\nTo: anna@home.arpa\r\nSubject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain; "
    "charset=utf-8\r\n\r\nsee attached\r\n--b1\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n--b1--\r\n",
    "From: carl@example.org\r\nTo: anna@home.arpa\r\nSubject: fwd\r\nContent-Type: message/rfc822\r\n\r\n"
    "From: dora@example.org\r\nSubject: inner\r\n\r\ninner body\r\n",
};

// reset - anna's Maildir as each input finds it: the three messages, no index, no other folder.
void reset(const std::filesystem::path& data) {
    const std::filesystem::path md = mk::maildir_path(data, "anna");
    std::error_code ec;
    std::filesystem::remove_all(md, ec);
    for (const char* sub : {"tmp", "new", "cur"}) std::filesystem::create_directories(md / sub);
    int n = 0;
    for (std::string_view m : kMessages) {
        std::ofstream out(md / "new" / ("170000000" + std::to_string(n) + ".M1P1I" + std::to_string(n) + ".fuzz"),
                          std::ios::binary);
        out << m;
        ++n;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mk::test::Household& h = mk::fuzz::quiet_household();
    reset(h.dir.path);
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string_view> writes{kLogin, kSelect};
    for (std::size_t at = 0; at < input.size();) {
        std::size_t end = input.find('\n', at);
        end = end == std::string_view::npos ? input.size() : end + 1;
        writes.push_back(input.substr(at, end - at));
        at = end;
    }
    mk::fuzz::drive_writes([&](mk::Connection& c) { return mk::imap_session(c, h.services); }, false, writes);
    return 0;
}
