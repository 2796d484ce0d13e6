// tests/unit/test_imap_transcript.cpp — the IMAP server session over the in-memory pipe: every command
// in every state, LOGIN and AUTHENTICATE, STARTTLS, SELECT, FETCH, STORE, COPY/MOVE, EXPUNGE, APPEND,
// SEARCH/ESEARCH, the mailbox commands and the names that must not leave the Maildir, every limit,
// IDLE, and two sessions on one mailbox; each table fed whole and one byte at a time, over Maildirs
// filled through a real Intake. Where the session once answered against an RFC, the test says which
// section and what it did.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/base64.hpp"
#include "imap/command.hpp"
#include "imap/server_session.hpp"
#include "store/mail_index.hpp"
#include "transcript.hpp"

namespace mk {
namespace {

using test::expect_transcript;
using test::Feed;
using test::SessionDriver;
using test::Step;
namespace ip = boost::asio::ip;

// What the tables' config sets, so that APPENDLIMIT is reached in a few lines.
constexpr std::uint64_t kMessageLimit = 2048;   // [limits] max_message_size, bytes
// The session's cap on BADs in a row (server_session.cpp kMaxBadCommands).
constexpr unsigned kBadCommandCap = 20;

const ip::address kRemoteClient = ip::make_address("192.0.2.7");   // RFC 5737 documentation address

// anna's INBOX: three messages, the third with an RFC 2047 subject and 8-bit text.
const std::string kLunch =
    "From: Ben <ben@home.arpa>\r\nTo: anna@home.arpa\r\nSubject: lunch\r\n"
    "Date: Mon, 07 Feb 2022 12:00:00 +0000\r\n\r\nShall we meet at noon?\r\n";
const std::string kInvoice =
    "From: Carl <carl@example.org>\r\nTo: anna@home.arpa\r\nCc: ben@home.arpa\r\nSubject: invoice\r\n"
    "Date: Tue, 08 Feb 2022 09:30:00 +0100\r\n\r\nPlease find the invoice attached. It is a long one.\r\n";
const std::string kCafe =
    "From: Ben <ben@home.arpa>\r\nTo: anna@home.arpa\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n"
    "Date: Wed, 09 Feb 2022 08:00:00 +0000\r\n\r\nBonjour, un caf\xC3\xA9?\r\n";
// What clients APPEND.
const std::string kNote = "Subject: note\r\n\r\nremember the milk\r\n";
const std::string kDraft = "Subject: draft\r\n\r\nhalf a thought\r\n";

using test::plain;

// The household behind an IMAP session, with three messages in anna's INBOX.
struct World : test::Household {
    explicit World(bool offer_tls = true) : Household(offer_tls) {
        config->limits.max_message_size = kMessageLimit;
        deliver("anna", kLunch);
        deliver("anna", kInvoice);
        deliver("anna", kCafe);
        seen_by_an_earlier_session("anna");
    }
    // seen_by_an_earlier_session - the user's INBOX as after a session that has gone: its messages
    // are no longer \Recent (RFC 3501 2.3.2), so that a table reads the same whichever feed runs first.
    void seen_by_an_earlier_session(const std::string& user) {
        MailIndex index(maildir_path(dir.path, user));
        FolderState s = index.sync("INBOX");
        index.claim_recent("INBOX", s.uidnext - 1, false);
    }
    SessionDriver::Session session() {
        return [this](Connection& c) { return imap_session(c, services); };
    }
};

// caps - the CAPABILITY list; before login STARTTLS where it would be accepted, then AUTH=PLAIN, or
// LOGINDISABLED where no password may cross (off loopback without TLS).
enum class Auth { none, plain, disabled };
std::string caps(bool starttls, Auth auth) {
    std::string s = fmt::format(
        "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE ID IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE "
        "CONDSTORE QRESYNC STATUS=SIZE ESEARCH SEARCHRES BINARY MULTIAPPEND LIST-EXTENDED LIST-STATUS UTF8=ACCEPT "
        "APPENDLIMIT={}",
        kMessageLimit);
    if (starttls) s += " STARTTLS";
    if (auth == Auth::plain) s += " AUTH=PLAIN";
    if (auth == Auth::disabled) s += " LOGINDISABLED";
    return s;
}

const std::string kGreeting = "* OK [CAPABILITY " + caps(true, Auth::plain) + "] mx.test IMAP mailkeep ready\r\n";
const std::string kLoggedIn = "[CAPABILITY " + caps(false, Auth::none) + "] logged in\r\n";

const Step kLogin{"l LOGIN anna anna-secret\r\n", "l OK " + kLoggedIn};

// The folders every Maildir has from the first login (RFC 6154 special-use), subscribed, as LIST
// shows them after INBOX, and as LSUB does (without the special-use attributes).
const std::string kSpecialList =
    "* LIST (\\HasNoChildren \\Archive) \".\" \"Archive\"\r\n* LIST (\\HasNoChildren \\Drafts) \".\" \"Drafts\"\r\n"
    "* LIST (\\HasNoChildren \\Junk) \".\" \"Junk\"\r\n* LIST (\\HasNoChildren \\Sent) \".\" \"Sent\"\r\n"
    "* LIST (\\HasNoChildren \\Trash) \".\" \"Trash\"\r\n";
const std::string kInboxList = "* LIST (\\HasNoChildren) \".\" \"INBOX\"\r\n";
const std::string kSubscribed =
    "* LSUB (\\HasNoChildren) \".\" \"INBOX\"\r\n* LSUB (\\HasNoChildren) \".\" \"Archive\"\r\n"
    "* LSUB (\\HasNoChildren) \".\" \"Drafts\"\r\n* LSUB (\\HasNoChildren) \".\" \"Junk\"\r\n"
    "* LSUB (\\HasNoChildren) \".\" \"Sent\"\r\n* LSUB (\\HasNoChildren) \".\" \"Trash\"\r\n";

// selected - SELECT's (or EXAMINE's) untagged answer and tagged OK for a folder of n messages, the
// first unseen being unseen (0: none), uidnext next, recent of them new to this session (RFC 3501
// \Recent); UIDVALIDITY and HIGHESTMODSEQ vary.
std::string selected(std::string_view tag, std::size_t n, std::size_t unseen, std::uint32_t uidnext,
                     bool examine = false, std::string_view keywords = "", std::size_t recent = 0) {
    std::string s = fmt::format("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{})\r\n", keywords);
    if (examine) s += "* OK [PERMANENTFLAGS ()] flags and keywords may be stored\r\n";
    else s += fmt::format("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{} \\*)] flags and keywords may be stored\r\n", keywords);
    s += fmt::format("* {} EXISTS\r\n* {} RECENT\r\n", n, recent);
    if (unseen) s += fmt::format("* OK [UNSEEN {}] first unseen\r\n", unseen);
    s += fmt::format("* OK [UIDVALIDITY *] UIDs valid\r\n* OK [UIDNEXT {}] predicted next UID\r\n", uidnext);
    s += "* OK [HIGHESTMODSEQ *] highest\r\n";
    s += fmt::format("{} OK [{}] {} completed\r\n", tag, examine ? "READ-ONLY" : "READ-WRITE", examine ? "EXAMINE" : "SELECT");
    return s;
}

const Step kSelect{"s SELECT INBOX\r\n", selected("s", 3, 1, 4)};

// logged_in / in_inbox - the greeting and login (and SELECT INBOX) before the steps.
std::vector<Step> logged_in(std::vector<Step> steps) {
    steps.insert(steps.begin(), {{"", kGreeting}, kLogin});
    return steps;
}
std::vector<Step> in_inbox(std::vector<Step> steps) {
    steps.insert(steps.begin(), {{"", kGreeting}, kLogin, kSelect});
    return steps;
}

// expect_changing - the steps fed whole, then one byte at a time, each feed over a household of its
// own: for tables that change the mailbox.
void expect_changing(const std::vector<Step>& steps) {
    for (Feed f : {Feed::whole, Feed::bytewise}) {
        World w;
        test::run_transcript(w.session(), steps, f);
    }
}

// literal - "{n}" (or "{n+}") for data.
std::string literal(std::string_view data, bool plus = false) {
    return fmt::format("{{{}{}}}", data.size(), plus ? "+" : "");
}

// ---- greeting and states ------------------------------------------------------------------------

TEST(ImapTranscript, GreetingCarriesCapabilities) {
    World w;
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"c CAPABILITY\r\n", "* CAPABILITY " + caps(true, Auth::plain) + "\r\nc OK CAPABILITY completed\r\n"},
                                       {"n NOOP\r\n", "n OK NOOP completed\r\n"},
                                       {"i ID (\"name\" \"test\")\r\n", "* ID (\"name\" \"mailkeep\")\r\ni OK ID completed\r\n"},
                                       {"o LOGOUT\r\n", "* BYE logging out\r\no OK LOGOUT completed\r\n"},
                                       {"n NOOP\r\n", ""},
                                   });
}

TEST(ImapTranscript, CapabilitiesAfterLoginOfferNoLogin) {
    World w;
    expect_transcript(w.session(), logged_in({
                                       {"c CAPABILITY\r\n", "* CAPABILITY " + caps(false, Auth::none) + "\r\nc OK CAPABILITY completed\r\n"},
                                       {"e ENABLE CONDSTORE\r\n", "* ENABLED CONDSTORE\r\ne OK ENABLE completed\r\n"},
                                       {"e ENABLE CONDSTORE X-UNKNOWN\r\n", "* ENABLED\r\ne OK ENABLE completed\r\n"},
                                       {"n NAMESPACE\r\n", "* NAMESPACE ((\"\" \".\")) NIL NIL\r\nn OK NAMESPACE completed\r\n"},
                                   }));
}

// Each command once in a state where it is not allowed: a tagged BAD, and nothing done.
struct StateRow {
    std::string send;
    unsigned legal;   // bits: 1 not authenticated, 2 authenticated, 4 selected
};

TEST(ImapTranscript, EveryCommandInTheWrongStateIsBad) {
    World w;
    constexpr unsigned kNotAuth = 1, kAuthOnly = 2, kSelected = 4, kAuth = kAuthOnly | kSelected;
    const StateRow rows[] = {
        {"t STARTTLS\r\n", kNotAuth},
        {"t AUTHENTICATE PLAIN " + plain("", "anna", "anna-secret") + "\r\n", kNotAuth},
        {"t LOGIN anna anna-secret\r\n", kNotAuth},
        {"t ENABLE CONDSTORE\r\n", kAuth},
        {"t SELECT INBOX\r\n", kAuth},
        {"t EXAMINE INBOX\r\n", kAuth},
        {"t CREATE Work\r\n", kAuth},
        {"t DELETE Work\r\n", kAuth},
        {"t RENAME Work Play\r\n", kAuth},
        {"t SUBSCRIBE INBOX\r\n", kAuth},
        {"t UNSUBSCRIBE INBOX\r\n", kAuth},
        {"t LIST \"\" *\r\n", kAuth},
        {"t LSUB \"\" *\r\n", kAuth},
        {"t NAMESPACE\r\n", kAuth},
        {"t STATUS INBOX (MESSAGES)\r\n", kAuth},
        {"t APPEND INBOX {5}\r\n", kAuth},
        {"t IDLE\r\n", kAuth},
        {"t CHECK\r\n", kSelected},
        {"t CLOSE\r\n", kSelected},
        {"t UNSELECT\r\n", kSelected},
        {"t EXPUNGE\r\n", kSelected},
        {"t UID EXPUNGE 1\r\n", kSelected},
        {"t SEARCH ALL\r\n", kSelected},
        {"t UID SEARCH ALL\r\n", kSelected},
        {"t FETCH 1 FLAGS\r\n", kSelected},
        {"t UID FETCH 1 FLAGS\r\n", kSelected},
        {"t STORE 1 +FLAGS (\\Seen)\r\n", kSelected},
        {"t UID STORE 1 +FLAGS (\\Seen)\r\n", kSelected},
        {"t COPY 1 INBOX\r\n", kSelected},
        {"t UID COPY 1 INBOX\r\n", kSelected},
        {"t MOVE 1 INBOX\r\n", kSelected},
        {"t UID MOVE 1 INBOX\r\n", kSelected},
    };
    for (const StateRow& row : rows) {
        const std::string& send = row.send;
        for (unsigned state : {1u, 2u, 4u}) {
            if (row.legal & state) continue;
            SCOPED_TRACE(testing::Message() << "state " << state << ", " << send);
            std::vector<Step> steps{{"", kGreeting}};
            if (state >= 2) steps.push_back(kLogin);
            if (state == 4) steps.push_back(kSelect);
            steps.push_back({send, state == 1 ? "t BAD log in first\r\n" : "t BAD not allowed now\r\n"});
            // The session goes on in the state it was in.
            steps.push_back({"n NOOP\r\n", "n OK NOOP completed\r\n"});
            expect_transcript(w.session(), steps);
        }
    }
    // Nothing was created, renamed or stored.
    expect_transcript(w.session(), logged_in({
                                       {"l LIST \"\" *\r\n", kInboxList + kSpecialList + "l OK LIST completed\r\n"},
                                       {"s STATUS INBOX (MESSAGES UNSEEN)\r\n", "* STATUS \"INBOX\" (MESSAGES 3 UNSEEN 3)\r\ns OK STATUS completed\r\n"},
                                   }));
}

// RFC 9051 4.3 / RFC 7888: the octets of a literal are part of the command, even of a command that is
// refused; bytes that look like a command inside one are never run as one. The session returns an APPEND
// to its loop as soon as its message literal is announced (read_command, for cmd_append to stream it);
// when the state check refuses the APPEND (before login), the LITERAL+ message is read and dropped
// (skip_append). It once was not: "x LOGIN ..." inside it logged in.
TEST(ImapTranscript, LiteralOfARefusedCommandIsNotACommand) {
    World w;
    const std::string inside = "x LOGIN anna anna-secret\r\n";
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"t APPEND INBOX " + literal(inside, true) + "\r\n" + inside + "\r\n", "t BAD log in first\r\n"},
                                       {"n NOOP\r\n", "n OK NOOP completed\r\n"},
                                   });
}

// ---- LOGIN and AUTHENTICATE ---------------------------------------------------------------------

TEST(ImapTranscript, LoginForms) {
    World w;
    const std::vector<std::vector<Step>> cases = {
        {kLogin},
        {{"l LOGIN \"anna\" \"anna-secret\"\r\n", "l OK " + kLoggedIn}},
        {{"l LOGIN anna@home.arpa anna-secret\r\n", "l OK " + kLoggedIn}},
        // RFC 9051 4.3: a synchronizing literal is sent after the server's "+".
        {{"l LOGIN anna {11}\r\n", "+ go ahead\r\n"}, {"anna-secret\r\n", "l OK " + kLoggedIn}},
        // RFC 7888 LITERAL+: no "+" to wait for.
        {{"l LOGIN {4+}\r\nanna {11+}\r\nanna-secret\r\n", "l OK " + kLoggedIn}},
        {{"l LOGIN anna wrong\r\n", "l NO [AUTHENTICATIONFAILED] invalid credentials\r\n"},
         {"l LOGIN nobody anna-secret\r\n", "l NO [AUTHENTICATIONFAILED] invalid credentials\r\n"},
         {"l LOGIN anna \"\"\r\n", "l NO [AUTHENTICATIONFAILED] invalid credentials\r\n"},
         kLogin},
        {{"l LOGIN anna\r\n", "l BAD *\r\n"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.front().send);
        std::vector<Step> steps{{"", kGreeting}};
        steps.insert(steps.end(), c.begin(), c.end());
        expect_transcript(w.session(), steps);
    }
}

TEST(ImapTranscript, AuthenticatePlain) {
    World w;
    const std::string ok = "a OK " + kLoggedIn;
    const std::vector<std::vector<Step>> cases = {
        // RFC 4959 SASL-IR: the initial response on the command line.
        {{"a AUTHENTICATE PLAIN " + plain("", "anna", "anna-secret") + "\r\n", ok}},
        // RFC 9051 6.2.2: without it, an empty challenge and the response on a line of its own.
        {{"a AUTHENTICATE PLAIN\r\n", "+ \r\n"}, {plain("", "anna", "anna-secret") + "\r\n", ok}},
        {{"a authenticate plain\r\n", "+ \r\n"}, {plain("anna", "anna", "anna-secret") + "\r\n", ok}},
        // RFC 9051 6.2.2: "*" cancels, and a cancelled or malformed exchange is BAD.
        {{"a AUTHENTICATE PLAIN\r\n", "+ \r\n"}, {"*\r\n", "a BAD AUTHENTICATE cancelled\r\n"}, kLogin},
        // RFC 4959: an initial response is base64 or "=", never "*".
        {{"a AUTHENTICATE PLAIN *\r\n", "a BAD *\r\n"}, kLogin},
        // "=" is the empty initial response, which PLAIN cannot be.
        {{"a AUTHENTICATE PLAIN =\r\n", "a BAD malformed PLAIN response\r\n"}},
        {{"a AUTHENTICATE PLAIN\r\n", "+ \r\n"}, {"not base64!\r\n", "a BAD malformed PLAIN response\r\n"}},
        {{"a AUTHENTICATE PLAIN " + plain("", "anna", "wrong") + "\r\n", "a NO [AUTHENTICATIONFAILED] invalid credentials\r\n"}},
        // No one logs in as someone else.
        {{"a AUTHENTICATE PLAIN " + plain("ben", "anna", "anna-secret") + "\r\n",
          "a NO [AUTHORIZATIONFAILED] no proxy logins\r\n"}},
        {{"a AUTHENTICATE LOGIN\r\n", "a NO [CANNOT] unsupported authentication mechanism\r\n"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.front().send);
        std::vector<Step> steps{{"", kGreeting}};
        steps.insert(steps.end(), c.begin(), c.end());
        expect_transcript(w.session(), steps);
    }
}

TEST(ImapTranscript, PasswordsNeedTlsFromARemoteClient) {
    World w;
    // RFC 9051 6.2.3 and 7.1: LOGINDISABLED before TLS; LOGIN and AUTHENTICATE refused with
    // PRIVACYREQUIRED; after STARTTLS both work.
    const std::string remote_greeting =
        "* OK [CAPABILITY " + caps(true, Auth::disabled) + "] mx.test IMAP mailkeep ready\r\n";
    expect_transcript(w.session(),
                      {
                          {"", remote_greeting},
                          {"l LOGIN anna anna-secret\r\n", "l NO [PRIVACYREQUIRED] LOGIN only over TLS\r\n"},
                          {"a AUTHENTICATE PLAIN " + plain("", "anna", "anna-secret") + "\r\n",
                           "a NO [PRIVACYREQUIRED] AUTHENTICATE only over TLS\r\n"},
                          {"a AUTHENTICATE PLAIN\r\n", "a NO [PRIVACYREQUIRED] AUTHENTICATE only over TLS\r\n"},
                          {"t STARTTLS\r\n", "t OK begin TLS negotiation now\r\n", false, true},
                          {"c CAPABILITY\r\n", "* CAPABILITY " + caps(false, Auth::plain) + "\r\nc OK CAPABILITY completed\r\n"},
                          {"t STARTTLS\r\n", "t BAD TLS is on already\r\n"},
                          kLogin,
                      },
                      kRemoteClient, &w.tls.client);
}

TEST(ImapTranscript, StartTlsWithPipelinedCommandsIsRefused) {
    World w;
    // Bytes behind STARTTLS would be read as if they had come over TLS (CVE-2011-0411): the session
    // says BYE and ends instead.
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {"t STARTTLS\r\nl LOGIN anna anna-secret\r\n", "* BYE data after STARTTLS\r\n", true},
                                   });
}

TEST(ImapTranscript, StartTlsWithoutCertificateIsUnavailable) {
    World w(false);
    expect_transcript(w.session(), {
                                       {"", "* OK [CAPABILITY " + caps(false, Auth::plain) + "] mx.test IMAP mailkeep ready\r\n"},
                                       {"t STARTTLS\r\n", "t NO TLS is not available\r\n"},
                                       kLogin,
                                   });
}

// ---- SELECT and EXAMINE -------------------------------------------------------------------------

TEST(ImapTranscript, SelectAndExamine) {
    World w;
    expect_transcript(w.session(), logged_in({
                                       kSelect,
                                       // RFC 7162 3.2.11 / RFC 9051 7.1: a SELECT while selected closes the first.
                                       {"e EXAMINE INBOX\r\n", "* OK [CLOSED] previous mailbox closed\r\n" + selected("e", 3, 1, 4, true)},
                                       {"s SELECT inbox\r\n", "* OK [CLOSED] previous mailbox closed\r\n" + selected("s", 3, 1, 4)},
                                       // A failed SELECT leaves no mailbox selected (RFC 9051 6.3.2).
                                       {"s SELECT Nowhere\r\n", "* OK [CLOSED] previous mailbox closed\r\ns NO [NONEXISTENT] *\r\n"},
                                       {"f FETCH 1 FLAGS\r\n", "f BAD not allowed now\r\n"},
                                       {"s SELECT &Jjo\r\n", "s BAD mailbox name is not valid modified UTF-7\r\n"},
                                       {"s SELECT INBOX (CONDSTORE)\r\n", selected("s", 3, 1, 4)},
                                       // RFC 7162 3.1.4: MODSEQ where asked for (and in unsolicited FETCHes).
                                       {"f FETCH 1 (FLAGS)\r\n", "* 1 FETCH (FLAGS ())\r\nf OK FETCH completed\r\n"},
                                       {"f FETCH 1 (FLAGS MODSEQ)\r\n", "* 1 FETCH (FLAGS () MODSEQ (*))\r\nf OK FETCH completed\r\n"},
                                       {"u UNSELECT\r\n", "u OK UNSELECT completed\r\n"},
                                       {"f FETCH 1 FLAGS\r\n", "f BAD not allowed now\r\n"},
                                   }));
}

// ---- FETCH --------------------------------------------------------------------------------------

TEST(ImapTranscript, Fetch) {
    const std::string lunch_header = kLunch.substr(0, kLunch.find("\r\n\r\n") + 4);
    const std::string lunch_text = kLunch.substr(kLunch.find("\r\n\r\n") + 4);
    const std::string invoice_header = kInvoice.substr(0, kInvoice.find("\r\n\r\n") + 4);
    const std::vector<Step> steps = in_inbox({
        {"f FETCH 1 (FLAGS UID)\r\n", "* 1 FETCH (FLAGS () UID 1)\r\nf OK FETCH completed\r\n"},
        {"f FETCH 1:* UID\r\n", "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\nf OK FETCH completed\r\n"},
        {"f FETCH 2,1 RFC822.SIZE\r\n", fmt::format("* 1 FETCH (RFC822.SIZE {})\r\n* 2 FETCH (RFC822.SIZE {})\r\nf OK FETCH completed\r\n",
                                                   kLunch.size(), kInvoice.size())},
        {"f FETCH 1 INTERNALDATE\r\n", "* 1 FETCH (INTERNALDATE \"*\")\r\nf OK FETCH completed\r\n"},
        // .PEEK leaves \Seen alone; HEADER.FIELDS ends with the blank line (RFC 9051 6.4.5).
        {"f FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject FROM)]\r\n",
         "* 1 FETCH (BODY[HEADER.FIELDS (Subject FROM)] {45}\r\nFrom: Ben <ben@home.arpa>\r\nSubject: lunch\r\n\r\n)\r\n"
         "f OK FETCH completed\r\n"},
        {"f FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Date To From)]\r\n",
         "* 1 FETCH (BODY[HEADER.FIELDS.NOT (Date To From)] {18}\r\nSubject: lunch\r\n\r\n)\r\nf OK FETCH completed\r\n"},
        {"f FETCH 1 BODY.PEEK[HEADER]\r\n",
         fmt::format("* 1 FETCH (BODY[HEADER] {{{}}}\r\n{})\r\nf OK FETCH completed\r\n", lunch_header.size(), lunch_header)},
        // A partial: its origin in the name, the bytes from there.
        {"f FETCH 1 BODY.PEEK[TEXT]<6.8>\r\n", "* 1 FETCH (BODY[TEXT]<6> {8}\r\nwe meet )\r\nf OK FETCH completed\r\n"},
        {"f FETCH 1 BODY.PEEK[TEXT]<20.100>\r\n", "* 1 FETCH (BODY[TEXT]<20> {4}\r\nn?\r\n)\r\nf OK FETCH completed\r\n"},
        {"f FETCH 1 BODY.PEEK[]<500.10>\r\n", "* 1 FETCH (BODY[]<500> {0}\r\n)\r\nf OK FETCH completed\r\n"},
        {"f FETCH 1 FLAGS\r\n", "* 1 FETCH (FLAGS ())\r\nf OK FETCH completed\r\n"},
        // BODY[] sets \Seen, and the new flags come with it (RFC 9051 6.4.5).
        {"f FETCH 1 BODY[]\r\n",
         fmt::format("* 1 FETCH (BODY[] {{{}}}\r\n{} FLAGS (\\Seen))\r\nf OK FETCH completed\r\n", kLunch.size(), kLunch)},
        // RFC822.HEADER does not set \Seen; RFC822 does.
        {"f FETCH 2 RFC822.HEADER\r\n", fmt::format("* 2 FETCH (RFC822.HEADER {{{}}}\r\n{})\r\nf OK FETCH completed\r\n",
                                                     invoice_header.size(), invoice_header)},
        {"f FETCH 2 RFC822\r\n",
         fmt::format("* 2 FETCH (RFC822 {{{}}}\r\n{} FLAGS (\\Seen))\r\nf OK FETCH completed\r\n", kInvoice.size(), kInvoice)},
        {"f FETCH 1 BODY[TEXT]\r\n",
         fmt::format("* 1 FETCH (BODY[TEXT] {{{}}}\r\n{})\r\nf OK FETCH completed\r\n", lunch_text.size(), lunch_text)},
        // A message that is not multipart is its own part 1 (RFC 9051 6.4.5).
        {"f UID FETCH 2 BODY.PEEK[1]\r\n", "* 2 FETCH (BODY[1] {53}\r\nPlease find the invoice attached. It is a long one.\r\n UID 2)\r\n"
                                           "f OK FETCH completed\r\n"},
        {"f UID FETCH 1:* FLAGS\r\n", "* 1 FETCH (FLAGS (\\Seen) UID 1)\r\n* 2 FETCH (FLAGS (\\Seen) UID 2)\r\n* 3 FETCH (FLAGS () UID 3)\r\n"
                                      "f OK FETCH completed\r\n"},
        // UIDs may name nothing (RFC 9051 6.4.9).
        {"f UID FETCH 7:9 FLAGS\r\n", "f OK FETCH completed\r\n"},
        {"f FETCH 1 (FLAGS BOGUS)\r\n", "f BAD unknown FETCH item\r\n"},
        {"f FETCH 1 BODY[HEADER]<0.0>\r\n", "f BAD a partial of length 0\r\n"},
    });
    expect_changing(steps);
}

TEST(ImapTranscript, ExamineFetchesWithoutSettingSeen) {
    World w;
    expect_transcript(w.session(), logged_in({
                                       {"e EXAMINE INBOX\r\n", selected("e", 3, 1, 4, true)},
                                       {"f FETCH 3 RFC822.TEXT\r\n", "* 3 FETCH (RFC822.TEXT {20}\r\nBonjour, un caf\xC3\xA9?\r\n)\r\nf OK FETCH completed\r\n"},
                                       {"f FETCH 3 FLAGS\r\n", "* 3 FETCH (FLAGS ())\r\nf OK FETCH completed\r\n"},
                                       {"s STORE 3 +FLAGS (\\Seen)\r\n", "s NO [READ-ONLY] mailbox is read-only\r\n"},
                                       {"e EXPUNGE\r\n", "e NO [READ-ONLY] mailbox is read-only\r\n"},
                                       {"m MOVE 1 INBOX\r\n", "m NO [READ-ONLY] mailbox is read-only\r\n"},
                                       {"c CLOSE\r\n", "c OK CLOSE completed\r\n"},
                                   }));
}

TEST(ImapTranscript, BadSequenceNumbers) {
    World w;
    // RFC 9051 9 (seq-number): a message number past the mailbox is the client's error, BAD.
    expect_transcript(w.session(), in_inbox({
                                       {"f FETCH 4 FLAGS\r\n", "f BAD invalid message sequence number\r\n"},
                                       {"f FETCH 1:4 FLAGS\r\n", "f BAD invalid message sequence number\r\n"},
                                       {"f FETCH 0 FLAGS\r\n", "f BAD *\r\n"},
                                       {"f FETCH 4294967296 FLAGS\r\n", "f BAD *\r\n"},
                                       {"f FETCH 1:x FLAGS\r\n", "f BAD *\r\n"},
                                       {"f FETCH , FLAGS\r\n", "f BAD *\r\n"},
                                       {"s STORE 9 +FLAGS (\\Seen)\r\n", "s BAD invalid message sequence number\r\n"},
                                       {"c COPY 9 INBOX\r\n", "c BAD invalid message sequence number\r\n"},
                                       {"m MOVE 4:* INBOX\r\n", "m BAD invalid message sequence number\r\n"},
                                       {"s SEARCH 4\r\n", "s BAD invalid message sequence number\r\n"},
                                       {"s SEARCH NOT 2:5\r\n", "s BAD invalid message sequence number\r\n"},
                                       // "*:3" is "3:*" ("*" the last message), and "3:2" is "2:3" (RFC 9051 9, seq-range).
                                       {"f FETCH *:3 UID\r\n", "* 3 FETCH (UID 3)\r\nf OK FETCH completed\r\n"},
                                       {"f FETCH 3:2 UID\r\n", "* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\nf OK FETCH completed\r\n"},
                                       // UIDs that name nothing are no error.
                                       {"s UID STORE 9 +FLAGS (\\Seen)\r\n", "s OK STORE completed\r\n"},
                                       {"c UID COPY 9 INBOX\r\n", "c OK COPY completed\r\n"},
                                   }));
    // "*" in an empty mailbox names no message.
    expect_changing(logged_in({
                                       {"c CREATE Empty\r\n", "c OK CREATE completed\r\n"},
                                       {"s SELECT Empty\r\n", selected("s", 0, 0, 1)},
                                       {"f FETCH * FLAGS\r\n", "f BAD invalid message sequence number\r\n"},
                                       {"f UID FETCH * FLAGS\r\n", "f OK FETCH completed\r\n"},
                                       {"s SEARCH ALL\r\n", "* SEARCH\r\ns OK SEARCH completed\r\n"},
                                   }));
}

// ---- STORE --------------------------------------------------------------------------------------

TEST(ImapTranscript, Store) {
    const std::vector<Step> steps = in_inbox({
        {"s STORE 1 +FLAGS (\\Flagged)\r\n", "* 1 FETCH (FLAGS (\\Flagged))\r\ns OK STORE completed\r\n"},
        {"s STORE 1:2 +FLAGS (\\Seen $Work)\r\n",
         "* 1 FETCH (FLAGS (\\Flagged \\Seen $Work))\r\n* 2 FETCH (FLAGS (\\Seen $Work))\r\ns OK STORE completed\r\n"},
        {"s STORE 1 -FLAGS (\\Flagged $Work)\r\n", "* 1 FETCH (FLAGS (\\Seen))\r\ns OK STORE completed\r\n"},
        {"s STORE 2 FLAGS (\\Answered)\r\n", "* 2 FETCH (FLAGS (\\Answered))\r\ns OK STORE completed\r\n"},
        {"s STORE 1:3 +FLAGS.SILENT (\\Draft)\r\n", "s OK STORE completed\r\n"},
        {"s STORE 3 -FLAGS.SILENT \\Draft\r\n", "s OK STORE completed\r\n"},
        {"s UID STORE 3 +FLAGS (\\Deleted)\r\n", "* 3 FETCH (FLAGS (\\Deleted) UID 3)\r\ns OK STORE completed\r\n"},
        {"f FETCH 1:* FLAGS\r\n", "* 1 FETCH (FLAGS (\\Seen \\Draft))\r\n* 2 FETCH (FLAGS (\\Answered \\Draft))\r\n"
                                  "* 3 FETCH (FLAGS (\\Deleted))\r\nf OK FETCH completed\r\n"},
        // \Recent is the server's (RFC 9051 2.3.2): dropped; an unknown system flag is an error.
        {"s STORE 2 +FLAGS (\\Recent)\r\n", "* 2 FETCH (FLAGS (\\Answered \\Draft))\r\ns OK STORE completed\r\n"},
        {"s STORE 2 +FLAGS (\\Bogus)\r\n", "s BAD unknown system flag\r\n"},
        {"s STORE 2 FLAG (\\Seen)\r\n", "s BAD expected FLAGS\r\n"},
        // RFC 7162 3.1.3: UNCHANGEDSINCE 0 always fails, and the failures are listed in [MODIFIED].
        {"s STORE 1:2 (UNCHANGEDSINCE 0) +FLAGS (\\Flagged)\r\n", "s OK [MODIFIED 1:2] conditional STORE failed\r\n"},
        // An update that passes is told with its MODSEQ, even .SILENT.
        {"s STORE 2 (UNCHANGEDSINCE 1000000) +FLAGS.SILENT (\\Flagged)\r\n",
         "* 2 FETCH (FLAGS (\\Answered \\Flagged \\Draft) MODSEQ (*))\r\ns OK STORE completed\r\n"},
        {"s UID STORE 1:2 (UNCHANGEDSINCE 0) -FLAGS (\\Draft)\r\n", "s OK [MODIFIED 1:2] conditional STORE failed\r\n"},
    });
    expect_changing(steps);
}

// RFC 9051 6.4.6 (and RFC 3501 6.4.6): without .SILENT, "the new value of the flags is returned as if
// a FETCH of those flags was done" for every message of the set, whether or not the STORE changed it
// (the RFC's own example answers for all three messages). The session once answered only for the
// messages whose flags changed.
TEST(ImapTranscript, StoreAnswersEveryMessageEvenUnchanged) {
    expect_changing(in_inbox({
                                       {"s STORE 1 +FLAGS (\\Seen)\r\n", "* 1 FETCH (FLAGS (\\Seen))\r\ns OK STORE completed\r\n"},
                                       {"s STORE 1:2 +FLAGS (\\Seen)\r\n",
                                        "* 1 FETCH (FLAGS (\\Seen))\r\n* 2 FETCH (FLAGS (\\Seen))\r\ns OK STORE completed\r\n"},
                                       {"s STORE 3 -FLAGS (\\Flagged)\r\n", "* 3 FETCH (FLAGS ())\r\ns OK STORE completed\r\n"},
                                   }));
}

// ---- COPY, MOVE, EXPUNGE ------------------------------------------------------------------------

TEST(ImapTranscript, CopyMoveAndExpunge) {
    const std::vector<Step> steps = in_inbox({
        // RFC 4315 UIDPLUS: COPYUID says the folder's UIDVALIDITY, the source UIDs and the new ones.
        {"c COPY 1 Archive\r\n", "c OK [COPYUID * 1 1] COPY completed\r\n"},
        {"c UID COPY 2:3 Archive\r\n", "c OK [COPYUID * 2:3 2:3] COPY completed\r\n"},
        {"c COPY 1 Nowhere\r\n", "c NO [TRYCREATE] no such mailbox\r\n"},
        {"c COPY 1 &Jjo\r\n", "c BAD mailbox name is not valid modified UTF-7\r\n"},
        // RFC 6851 3.3: MOVE's COPYUID in an untagged OK before the EXPUNGEs.
        {"m MOVE 2 Archive\r\n", "* OK [COPYUID * 2 4] moved\r\n* 2 EXPUNGE\r\nm OK MOVE completed\r\n"},
        {"m UID MOVE 1,3 Archive\r\n", "* OK [COPYUID * 1,3 5:6] moved\r\n* 2 EXPUNGE\r\n* 1 EXPUNGE\r\nm OK MOVE completed\r\n"},
        {"m MOVE 1 Nowhere\r\n", "m BAD invalid message sequence number\r\n"},
        // Copies are new to the folder: \Recent to the first session that selects it.
        {"s SELECT Archive\r\n", "* OK [CLOSED] previous mailbox closed\r\n" + selected("s", 6, 1, 7, false, "", 6)},
        {"f FETCH 1:* UID\r\n", "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\n* 4 FETCH (UID 4)\r\n"
                                "* 5 FETCH (UID 5)\r\n* 6 FETCH (UID 6)\r\nf OK FETCH completed\r\n"},
        {"s STORE 2,4,6 +FLAGS.SILENT (\\Deleted)\r\n", "s OK STORE completed\r\n"},
        // RFC 4315 2.1: UID EXPUNGE removes only the \Deleted messages it names.
        {"e UID EXPUNGE 1:4\r\n", "* 4 EXPUNGE\r\n* 2 EXPUNGE\r\ne OK EXPUNGE completed\r\n"},
        {"f FETCH 1:* UID\r\n", "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\n* 3 FETCH (UID 5)\r\n* 4 FETCH (UID 6)\r\nf OK FETCH completed\r\n"},
        {"e EXPUNGE\r\n", "* 4 EXPUNGE\r\ne OK EXPUNGE completed\r\n"},
        {"e EXPUNGE\r\n", "e OK EXPUNGE completed\r\n"},
        // CLOSE expunges silently (RFC 9051 6.4.1).
        {"s STORE 1 +FLAGS.SILENT (\\Deleted)\r\n", "s OK STORE completed\r\n"},
        {"c CLOSE\r\n", "c OK CLOSE completed\r\n"},
        {"s STATUS Archive (MESSAGES UIDNEXT)\r\n", "* STATUS \"Archive\" (MESSAGES 2 UIDNEXT 7)\r\ns OK STATUS completed\r\n"},
        {"s STATUS INBOX (MESSAGES)\r\n", "* STATUS \"INBOX\" (MESSAGES 0)\r\ns OK STATUS completed\r\n"},
    });
    expect_changing(steps);
}

// ---- APPEND -------------------------------------------------------------------------------------

TEST(ImapTranscript, Append) {
    const std::string big(kMessageLimit + 1, 'x');
    const std::vector<Step> steps = logged_in({
        // The delivered messages are given their UIDs when the folder is first looked at: here, so that
        // the appended ones follow them.
        {"e EXAMINE INBOX\r\n", selected("e", 3, 1, 4, true)},
        {"u UNSELECT\r\n", "u OK UNSELECT completed\r\n"},
        // Synchronizing: the "+" first, then the message and the end of the command.
        {"a APPEND INBOX " + literal(kNote) + "\r\n", "+ go ahead\r\n"},
        {kNote + "\r\n", "a OK [APPENDUID * 4] APPEND completed\r\n"},
        // LITERAL+, with flags and a date.
        {"a APPEND INBOX (\\Seen $Work) \"07-Feb-2022 12:00:00 +0100\" " + literal(kDraft, true) + "\r\n" + kDraft + "\r\n",
         "a OK [APPENDUID * 5] APPEND completed\r\n"},
        // RFC 9051 6.3.12: no such mailbox: TRYCREATE, before the message is sent.
        {"a APPEND Nowhere " + literal(kNote) + "\r\n", "a NO [TRYCREATE] no such mailbox\r\n"},
        {"a APPEND &Jjo " + literal(kNote) + "\r\n", "a BAD mailbox name is not valid modified UTF-7\r\n"},
        // RFC 7889 APPENDLIMIT: over the limit, refused before the message is sent.
        {"a APPEND INBOX " + literal(big) + "\r\n", "a NO [TOOBIG] message larger than APPENDLIMIT\r\n"},
        {"a APPEND INBOX (\\Bogus) " + literal(kNote) + "\r\n", "+ go ahead\r\n"},
        {kNote + "\r\n", "a BAD unknown system flag\r\n"},
        // RFC 3502 MULTIAPPEND: one command, several messages, all or none.
        {"a APPEND INBOX " + literal(kNote) + "\r\n", "+ go ahead\r\n"},
        {kNote + " (\\Flagged) " + literal(kDraft) + "\r\n", "+ go ahead\r\n"},
        {kDraft + " " + literal(kNote, true) + "\r\n" + kNote + "\r\n", "a OK [APPENDUID * 6:8] APPEND completed\r\n"},
        {"a APPEND INBOX " + literal(kNote) + "\r\n", "+ go ahead\r\n"},
        {kNote + " " + literal(big) + "\r\n", "a NO [TOOBIG] message larger than APPENDLIMIT\r\n"},
        {"a APPEND INBOX " + literal(kNote) + "\r\n", "+ go ahead\r\n"},
        {kNote + " junk\r\n", "a BAD *\r\n"},
        // The appended messages are \Recent to the first session that selects the folder.
        {"s SELECT INBOX\r\n", selected("s", 8, 1, 9, false, " $Work", 5)},
        {"f FETCH 4:* (UID FLAGS)\r\n", "* 4 FETCH (UID 4 FLAGS (\\Recent))\r\n* 5 FETCH (UID 5 FLAGS (\\Seen \\Recent $Work))\r\n"
                                        "* 6 FETCH (UID 6 FLAGS (\\Recent))\r\n* 7 FETCH (UID 7 FLAGS (\\Flagged \\Recent))\r\n"
                                        "* 8 FETCH (UID 8 FLAGS (\\Recent))\r\nf OK FETCH completed\r\n"},
        {"f FETCH 5 (INTERNALDATE BODY.PEEK[])\r\n",
         // The date as given, told in UTC.
         fmt::format("* 5 FETCH (INTERNALDATE \"07-Feb-2022 11:00:00 +0000\" BODY[] {{{}}}\r\n{})\r\nf OK FETCH completed\r\n",
                     kDraft.size(), kDraft)},
        // Into the selected folder: the new message is told before the OK.
        {"a APPEND INBOX " + literal(kNote, true) + "\r\n" + kNote + "\r\n", "* 9 EXISTS\r\n* 6 RECENT\r\na OK [APPENDUID * 9] APPEND completed\r\n"},
    });
    expect_changing(steps);
}

TEST(ImapTranscript, AppendLiteralPlusOverTheLimitEndsTheSession) {
    World w;
    // RFC 7888 4: a non-synchronizing literal larger than the server takes cannot be refused before
    // it is sent; the server may say BYE.
    const std::string big(kMessageLimit + 1, 'x');
    expect_transcript(w.session(), logged_in({
                                       {"a APPEND INBOX " + literal(big, true) + "\r\n", "* BYE [TOOBIG] cannot take this APPEND\r\n", true},
                                       {"n NOOP\r\n", ""},
                                   }));
}

// RFC 3501 6.3.11 / RFC 9051 6.3.12: for a mailbox that does not exist the server "MUST send the
// response code [TRYCREATE]" in a tagged NO. A LITERAL+ message within APPENDLIMIT is read and dropped
// first (RFC 7888 allows BYE only for a literal too large to take); the session once hung up here.
TEST(ImapTranscript, AppendLiteralPlusToAMissingMailboxSaysTryCreate) {
    World w;
    expect_transcript(w.session(), logged_in({
                                       {"a APPEND Nowhere " + literal(kNote, true) + "\r\n" + kNote + "\r\n",
                                        "a NO [TRYCREATE] no such mailbox\r\n"},
                                       {"n NOOP\r\n", "n OK NOOP completed\r\n"},
                                   }));
}

// ---- SEARCH and ESEARCH -------------------------------------------------------------------------

TEST(ImapTranscript, Search) {
    World w;
    auto found = [](std::string_view numbers) { return fmt::format("* SEARCH{}\r\ns OK SEARCH completed\r\n", numbers); };
    expect_transcript(w.session(), in_inbox({
                                       {"s SEARCH ALL\r\n", found(" 1 2 3")},
                                       {"s SEARCH FROM ben\r\n", found(" 1 3")},
                                       {"s SEARCH from BEN subject LUNCH\r\n", found(" 1")},
                                       {"s SEARCH CC ben@home.arpa\r\n", found(" 2")},
                                       {"s SEARCH OR SUBJECT lunch SUBJECT invoice\r\n", found(" 1 2")},
                                       {"s SEARCH NOT FROM ben\r\n", found(" 2")},
                                       {"s SEARCH (OR 1 3) NOT 3\r\n", found(" 1")},
                                       {"s SEARCH BODY attached\r\n", found(" 2")},
                                       {"s SEARCH TEXT carl\r\n", found(" 2")},
                                       {"s SEARCH HEADER Date \"+0100\"\r\n", found(" 2")},
                                       {"s SEARCH SENTBEFORE 8-Feb-2022\r\n", found(" 1")},
                                       {"s SEARCH SENTON 8-Feb-2022\r\n", found(" 2")},
                                       {"s SEARCH SENTSINCE 8-Feb-2022\r\n", found(" 2 3")},
                                       {"s SEARCH LARGER 180\r\n", found(" 2")},
                                       {"s SEARCH SMALLER 180\r\n", found(" 1 3")},
                                       {"s SEARCH UNSEEN\r\n", found(" 1 2 3")},
                                       {"s SEARCH SEEN\r\n", found("")},
                                       {"s SEARCH NEW\r\n", found("")},   // no message is \Recent
                                       {"s UID SEARCH 2:*\r\n", found(" 2 3")},
                                       {"s UID SEARCH UID 3:1\r\n", found(" 1 2 3")},
                                       // RFC 2047 subjects are searched decoded, in the charset given.
                                       // RFC 3501 9: atoms and quoted strings are 7-bit; 8-bit text goes in a literal.
                                       {"s SEARCH CHARSET UTF-8 SUBJECT caf\xC3\xA9\r\n", "s BAD unexpected characters after the command\r\n"},
                                       {"s SEARCH CHARSET UTF-8 SUBJECT {5}\r\n", "+ go ahead\r\n"},
                                       {"caf\xC3\xA9\r\n", found(" 3")},
                                       {"s SEARCH CHARSET UTF-8 BODY {5+}\r\ncaf\xC3\xA9\r\n", found(" 3")},
                                       {"s SEARCH CHARSET KOI8-R ALL\r\n", "s NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset\r\n"},
                                       {"s SEARCH BOGUS\r\n", "s BAD unknown search key\r\n"},
                                       {"s SEARCH\r\n", "s BAD *\r\n"},
                                       {"s SEARCH SINCE 1-Foo-2022\r\n", "s BAD *\r\n"},
                                   }));
}

// RFC 3501 6.4.4 (RFC 9051 6.4.4 alike): SENTBEFORE, SENTON and SENTSINCE compare the Date: field
// "disregarding time and timezone", that is the date as written: a message written on the evening of
// 7-Feb-2022 west of UTC was sent on 7-Feb-2022 (the session once converted the field to UTC first).
TEST(ImapTranscript, SentDatesDisregardTheTimeZone) {
    World w;
    w.deliver("anna", "From: carl@example.org\r\nSubject: late\r\nDate: Mon, 07 Feb 2022 23:30:00 -0500\r\n\r\nlate\r\n");
    w.seen_by_an_earlier_session("anna");
    auto found = [](std::string_view numbers) { return fmt::format("* SEARCH{}\r\ns OK SEARCH completed\r\n", numbers); };
    expect_transcript(w.session(), logged_in({
                                       {"s SELECT INBOX\r\n", selected("s", 4, 1, 5)},
                                       {"s SEARCH SENTON 7-Feb-2022\r\n", found(" 1 4")},
                                       {"s SEARCH SENTON 8-Feb-2022\r\n", found(" 2")},
                                       {"s SEARCH SENTBEFORE 8-Feb-2022\r\n", found(" 1 4")},
                                   }));
}

// RFC 3501 6.4.4: "[MIME-IMB] content transfer encodings ... MUST be decoded before comparing text in a
// [CHARSET] other than US-ASCII". (The session once compared BODY and TEXT with the encoded octets.)
TEST(ImapTranscript, SearchDecodesTransferEncodings) {
    const std::string gruesse = "Gr\xC3\xBC\xC3\x9F" "e";   // UTF-8
    World w;
    w.deliver("anna", "Subject: qp\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n");
    w.deliver("anna", "Subject: b64\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n" + base64_encode(gruesse + "\r\n") + "\r\n");
    w.seen_by_an_earlier_session("anna");
    auto found = [](std::string_view numbers) { return fmt::format("* SEARCH{}\r\ns OK SEARCH completed\r\n", numbers); };
    expect_transcript(w.session(), logged_in({
                                       {"s SELECT INBOX\r\n", selected("s", 5, 1, 6)},
                                       {"s SEARCH CHARSET UTF-8 BODY " + literal(gruesse, true) + "\r\n" + gruesse + "\r\n", found(" 4 5")},
                                       {"s SEARCH CHARSET UTF-8 TEXT " + literal(gruesse, true) + "\r\n" + gruesse + "\r\n", found(" 4 5")},
                                   }));
}

TEST(ImapTranscript, Esearch) {
    World w;
    // RFC 4731: one ESEARCH response tagged with the command; MIN, MAX and ALL only when something
    // matched; RETURN () is RETURN (ALL).
    expect_transcript(w.session(), in_inbox({
                                       {"s SEARCH RETURN (MIN MAX COUNT ALL) FROM ben\r\n",
                                        "* ESEARCH (TAG \"s\") MIN 1 MAX 3 COUNT 2 ALL 1,3\r\ns OK SEARCH completed\r\n"},
                                       {"s UID SEARCH RETURN () ALL\r\n", "* ESEARCH (TAG \"s\") UID ALL 1:3\r\ns OK SEARCH completed\r\n"},
                                       {"s SEARCH RETURN (COUNT) SUBJECT nothing\r\n", "* ESEARCH (TAG \"s\") COUNT 0\r\ns OK SEARCH completed\r\n"},
                                       {"s SEARCH RETURN (MIN MAX ALL) SUBJECT nothing\r\n", "* ESEARCH (TAG \"s\")\r\ns OK SEARCH completed\r\n"},
                                       {"s SEARCH RETURN (MAX) CHARSET UTF-8 TEXT Bonjour\r\n", "* ESEARCH (TAG \"s\") MAX 3\r\ns OK SEARCH completed\r\n"},
                                       {"s SEARCH RETURN (BOGUS) ALL\r\n", "s BAD unknown SEARCH RETURN option BOGUS\r\n"},
                                   }));
}

// ---- mailboxes ----------------------------------------------------------------------------------

TEST(ImapTranscript, MailboxCommands) {
    const std::vector<Step> steps = logged_in({
        {"l LIST \"\" \"\"\r\n", "* LIST (\\Noselect) \".\" \"\"\r\nl OK LIST completed\r\n"},
        {"c CREATE Work\r\n", "c OK CREATE completed\r\n"},
        {"c CREATE Work.2024.\r\n", "c OK CREATE completed\r\n"},
        {"c CREATE Work\r\n", "c NO [ALREADYEXISTS] *\r\n"},
        {"c CREATE inbox\r\n", "c NO [ALREADYEXISTS] INBOX exists\r\n"},
        {"c CREATE &Jjo-\r\n", "c OK CREATE completed\r\n"},
        // INBOX first, then by name (the UTF-8 name: U+263A after every ASCII name).
        {"l LIST \"\" *\r\n", kInboxList + kSpecialList + "* LIST (\\HasChildren) \".\" \"Work\"\r\n"
                              "* LIST (\\HasNoChildren) \".\" \"Work.2024\"\r\n* LIST (\\HasNoChildren) \".\" \"&Jjo-\"\r\n"
                              "l OK LIST completed\r\n"},
        {"l LIST \"\" %\r\n", kInboxList + kSpecialList + "* LIST (\\HasChildren) \".\" \"Work\"\r\n"
                              "* LIST (\\HasNoChildren) \".\" \"&Jjo-\"\r\nl OK LIST completed\r\n"},
        {"l LIST Work. %\r\n", "* LIST (\\HasNoChildren) \".\" \"Work.2024\"\r\nl OK LIST completed\r\n"},
        {"l LIST \"\" inBox\r\n", "* LIST (\\HasNoChildren) \".\" \"INBOX\"\r\nl OK LIST completed\r\n"},
        {"u SUBSCRIBE Work\r\n", "u OK SUBSCRIBE completed\r\n"},
        {"u SUBSCRIBE Nowhere\r\n", "u NO [NONEXISTENT] no such mailbox\r\n"},
        {"l LSUB \"\" *\r\n", kSubscribed + "* LSUB (\\HasChildren) \".\" \"Work\"\r\nl OK LSUB completed\r\n"},
        {"u UNSUBSCRIBE Work\r\n", "u OK UNSUBSCRIBE completed\r\n"},
        {"l LSUB \"\" *\r\n", kSubscribed + "l OK LSUB completed\r\n"},
        {"s STATUS Work (MESSAGES UIDNEXT UNSEEN)\r\n", "* STATUS \"Work\" (MESSAGES 0 UIDNEXT 1 UNSEEN 0)\r\ns OK STATUS completed\r\n"},
        {"s STATUS INBOX (MESSAGES UNSEEN DELETED SIZE RECENT)\r\n",
         fmt::format("* STATUS \"INBOX\" (MESSAGES 3 UNSEEN 3 DELETED 0 SIZE {} RECENT 0)\r\ns OK STATUS completed\r\n",
                     kLunch.size() + kInvoice.size() + kCafe.size())},
        {"s STATUS Nowhere (MESSAGES)\r\n", "s NO [NONEXISTENT] *\r\n"},
        {"s STATUS INBOX (BOGUS)\r\n", "s BAD unknown STATUS item BOGUS\r\n"},
        // RENAME takes the children along.
        {"r RENAME Work Play\r\n", "r OK RENAME completed\r\n"},
        {"r RENAME Work Other\r\n", "r NO [NONEXISTENT] *\r\n"},
        {"r RENAME Play &Jjo-\r\n", "r NO [ALREADYEXISTS] *\r\n"},
        {"l LIST \"\" Play*\r\n", "* LIST (\\HasChildren) \".\" \"Play\"\r\n* LIST (\\HasNoChildren) \".\" \"Play.2024\"\r\nl OK LIST completed\r\n"},
        {"d DELETE Play.2024\r\n", "d OK DELETE completed\r\n"},
        {"d DELETE Play.2024\r\n", "d NO [NONEXISTENT] *\r\n"},
        {"d DELETE INBOX\r\n", "d NO [CANNOT] INBOX cannot be deleted\r\n"},
        {"d DELETE Play\r\n", "d OK DELETE completed\r\n"},
        {"l LIST \"\" *\r\n", kInboxList + kSpecialList + "* LIST (\\HasNoChildren) \".\" \"&Jjo-\"\r\nl OK LIST completed\r\n"},
    });
    expect_changing(steps);
}

TEST(ImapTranscript, RenameInboxAndDeleteWithChildren) {
    expect_changing(logged_in({
        // RFC 9051 6.3.6: renaming INBOX moves its messages to the new folder and leaves INBOX empty.
        {"r RENAME INBOX Old\r\n", "r OK RENAME completed\r\n"},
        {"s STATUS INBOX (MESSAGES UIDNEXT)\r\n", "* STATUS \"INBOX\" (MESSAGES 0 UIDNEXT *)\r\ns OK STATUS completed\r\n"},
        {"s STATUS Old (MESSAGES UNSEEN)\r\n", "* STATUS \"Old\" (MESSAGES 3 UNSEEN 3)\r\ns OK STATUS completed\r\n"},
        {"s SELECT Old\r\n", selected("s", 3, 1, 4, false, "", 3)},   // new to Old: \Recent
        {"f FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]\r\n",
         "* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {18}\r\nSubject: lunch\r\n\r\n)\r\nf OK FETCH completed\r\n"},
        {"u UNSELECT\r\n", "u OK UNSELECT completed\r\n"},
        // RFC 9051 6.3.5: a folder with children may be deleted; the children stay, under a
        // \Noselect level, which cannot be deleted while they are there.
        {"c CREATE Old.2021\r\n", "c OK CREATE completed\r\n"},
        {"d DELETE Old\r\n", "d OK DELETE completed\r\n"},
        {"l LIST \"\" Old*\r\n", "* LIST (\\Noselect \\HasChildren) \".\" \"Old\"\r\n* LIST (\\HasNoChildren) \".\" \"Old.2021\"\r\n"
                                 "l OK LIST completed\r\n"},
        {"d DELETE Old\r\n", "d NO [NONEXISTENT] no folder \"Old\"\r\n"},
        {"s SELECT Old\r\n", "s NO [NONEXISTENT] no folder \"Old\"\r\n"},
        {"d DELETE Old.2021\r\n", "d OK DELETE completed\r\n"},
        {"l LIST \"\" Old*\r\n", "l OK LIST completed\r\n"},
    }));
}

// A name as sent, as the refusal shows it, and why it is refused.
struct Escape {
    std::string sent;
    std::string shown;
    std::string why;
};

TEST(ImapTranscript, NamesThatWouldLeaveTheMaildirAreRefused) {
    World w;
    // Maildir++ keeps a folder in "<maildir>/.<name>/": a name with "/", or an empty level ("..", a
    // leading, trailing or doubled "."), could leave the Maildir or break its layout. Each is refused by
    // every command that takes a name, and nothing is made.
    const Escape names[] = {
        {"\"..\"", "..", "empty level"},
        {"{2}\r\n..", "..", "empty level"},   // as a literal
        {"\"../anna\"", "../anna", "'/' in a name"},
        {"\"a/b\"", "a/b", "'/' in a name"},
        {"\"/etc\"", "/etc", "'/' in a name"},
        {"\"/tmp/x\"", "/tmp/x", "'/' in a name"},
        {"\".hidden\"", ".hidden", "empty level"},
        {"\"a..b\"", "a..b", "empty level"},
        {"\"Work..\"", "Work..", "empty level"},
    };
    // Every directory under the household's, before and after.
    auto directories = [&] {
        std::vector<std::string> out;
        for (const auto& entry : std::filesystem::recursive_directory_iterator(w.dir.path))
            if (entry.is_directory()) out.push_back(entry.path().string());
        std::sort(out.begin(), out.end());
        return out;
    };
    expect_transcript(w.session(), logged_in({}));   // the first login makes the special-use folders
    const std::vector<std::string> before = directories();
    for (const Escape& e : names) {
        SCOPED_TRACE(e.sent);
        auto cannot = [&](std::string_view tag, std::string shown) {
            return fmt::format("{} NO [CANNOT] folder name \"{}\": {}\r\n", tag, shown, e.why);
        };
        // CREATE takes a trailing "." as a hint of children to come (RFC 9051 6.3.4), then refuses the rest.
        std::string created = e.shown;
        if (created.ends_with('.')) created.pop_back();
        const std::vector<std::pair<std::string, std::string>> commands = {
            {"c CREATE {}", cannot("c", created)},
            {"r RENAME INBOX {}", cannot("r", e.shown)},
            {"r RENAME {} Other", cannot("r", e.shown)},
            {"s SELECT {}", cannot("s", e.shown)},
            {"e EXAMINE {}", cannot("e", e.shown)},
            {"d DELETE {}", cannot("d", e.shown)},
            {"t STATUS {} (MESSAGES)", cannot("t", e.shown)},
            {"u SUBSCRIBE {}", "u NO [NONEXISTENT] no such mailbox\r\n"},
            {"a APPEND {} {{5}}", "a NO [TRYCREATE] no such mailbox\r\n"},
        };
        for (const auto& [command, want] : commands) {
            std::string send = fmt::format(fmt::runtime(command), e.sent) + "\r\n";
            std::vector<Step> steps = logged_in({});
            // A literal name: its "+" first, then the rest of the command.
            if (const std::size_t lit = send.find("{2}\r\n"); lit != std::string::npos) {
                steps.push_back({send.substr(0, lit + 5), "+ go ahead\r\n"});
                send = send.substr(lit + 5);
            }
            steps.push_back({send, want});
            expect_transcript(w.session(), steps);
        }
    }
    // Modified UTF-7 may not encode what can stand for itself (RFC 3501 5.1.3): "/etc" and ".." so
    // encoded are not names at all.
    for (const char* sent : {"&AC8-etc", "&AC4ALg-"}) {
        SCOPED_TRACE(sent);
        for (const char* command : {"CREATE {}", "RENAME INBOX {}", "RENAME {} Other", "SELECT {}", "DELETE {}",
                                    "STATUS {} (MESSAGES)", "SUBSCRIBE {}", "APPEND {} {{5}}"}) {
            expect_transcript(w.session(), logged_in({{"c " + fmt::format(fmt::runtime(command), sent) + "\r\n",
                                                       "c BAD mailbox name is not valid modified UTF-7\r\n"}}));
        }
    }
    expect_transcript(w.session(), logged_in({
                                       {"l LIST \"\" *\r\n", kInboxList + kSpecialList + "l OK LIST completed\r\n"},
                                   }));
    // No directory was made, in the Maildir or beside it.
    EXPECT_EQ(directories(), before);
}

TEST(ImapTranscript, MailboxNamesThatAreNotModifiedUtf7AreBad) {
    expect_changing(logged_in({
                                       {"c CREATE &Jjo\r\n", "c BAD mailbox name is not valid modified UTF-7\r\n"},
                                       {"c CREATE &\r\n", "c BAD mailbox name is not valid modified UTF-7\r\n"},
                                       {"c CREATE &ZZZZ-\r\n", "c BAD mailbox name is not valid modified UTF-7\r\n"},
                                       {"r RENAME INBOX &Jjo\r\n", "r BAD mailbox name is not valid modified UTF-7\r\n"},
                                       {"d DELETE &Jjo\r\n", "d BAD mailbox name is not valid modified UTF-7\r\n"},
                                       {"s STATUS &Jjo (MESSAGES)\r\n", "s BAD mailbox name is not valid modified UTF-7\r\n"},
                                       {"u SUBSCRIBE &Jjo\r\n", "u BAD mailbox name is not valid modified UTF-7\r\n"},
                                       {"l LIST \"\" &Jjo\r\n", "l BAD pattern is not valid modified UTF-7\r\n"},
                                       {"l LIST &Jjo \"\"\r\n", "l BAD reference is not valid modified UTF-7\r\n"},
                                       // "&-" is "&".
                                       {"c CREATE A&-B\r\n", "c OK CREATE completed\r\n"},
                                       {"l LIST \"\" A&-*\r\n", "* LIST (\\HasNoChildren) \".\" \"A&-B\"\r\nl OK LIST completed\r\n"},
                                   }));
}

// ---- limits and malformed commands --------------------------------------------------------------

TEST(ImapTranscript, MalformedCommands) {
    World w;
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       // An empty line is passed over; a line that is no command gets the
                                       // untagged BAD where its tag ends too early to be told (RFC 9051 7.1.5).
                                       {"\r\n", ""},
                                       {"x\r\n", "* BAD expected a space\r\n"},
                                       {"x BOGUS\r\n", "x BAD unknown command\r\n"},
                                       {"x NOOP extra\r\n", "x BAD *\r\n"},
                                       {"x LOGIN \"anna\r\n", "x BAD *\r\n"},
                                       {"x  NOOP\r\n", "x BAD *\r\n"},
                                       {"x noop\r\n", "x OK NOOP completed\r\n"},
                                   });
}

TEST(ImapTranscript, CommandLineLimit) {
    World w;
    // The longest line is read; one octet more ends the session (a client out of step).
    const std::string longest = "l LOGIN anna " + std::string(imap::kMaxCommandLine - 13, 'x') + "\r\n";
    const std::string too_long = "l LOGIN anna " + std::string(imap::kMaxCommandLine - 12, 'x') + "\r\n";
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {longest, "l NO [AUTHENTICATIONFAILED] invalid credentials\r\n"},
                                       {too_long, "* BYE command line too long\r\n"},
                                       {"n NOOP\r\n", ""},
                                   });
    // A literal that would make the command larger than the session takes: refused before it is
    // sent when synchronizing, the session ended when it is already on its way.
    expect_transcript(w.session(), {
                                       {"", kGreeting},
                                       {fmt::format("l LOGIN anna {{{}}}\r\n", imap::kMaxCommandSize), "l BAD [TOOBIG] command too large\r\n"},
                                       {"n NOOP\r\n", "n OK NOOP completed\r\n"},
                                       {fmt::format("l LOGIN anna {{{}+}}\r\n", imap::kMaxCommandSize), "* BYE [TOOBIG] command too large\r\n", true},
                                   });
}

TEST(ImapTranscript, TooManyBadCommandsEndTheSession) {
    World w;
    std::vector<Step> steps{{"", kGreeting}};
    // A good command in between starts the count again.
    for (unsigned i = 1; i < kBadCommandCap; ++i) steps.push_back({"x BOGUS\r\n", "x BAD unknown command\r\n"});
    steps.push_back({"n NOOP\r\n", "n OK NOOP completed\r\n"});
    for (unsigned i = 1; i < kBadCommandCap; ++i) steps.push_back({"x BOGUS\r\n", "x BAD unknown command\r\n"});
    steps.push_back({"f FETCH 1 FLAGS\r\n", "f BAD log in first\r\n* BYE too many errors\r\n"});
    steps.push_back({"n NOOP\r\n", ""});
    expect_transcript(w.session(), steps);
}

// ---- IDLE ---------------------------------------------------------------------------------------

TEST(ImapTranscript, IdleAndDone) {
    World w;
    // Authenticated, no folder selected: nothing to watch.
    expect_transcript(w.session(), logged_in({
                                       {"i IDLE\r\n", "+ idling\r\n"},
                                       {"DONE\r\n", "i OK IDLE terminated\r\n"},
                                       {"i IDLE\r\n", "+ idling\r\n"},
                                       {"done\r\n", "i OK IDLE terminated\r\n"},
                                       {"i IDLE\r\n", "+ idling\r\n"},
                                       {"n NOOP\r\n", "i BAD expected DONE\r\n"},
                                       {"n NOOP\r\n", "n OK NOOP completed\r\n"},
                                   }));
}

// IDLE with a folder selected starts a watcher coroutine beside the read of DONE. It once corrupted
// the heap (a capturing lambda handed to co_spawn beside a co_await: g++ 12 destroyed its captures
// twice; valgrind showed it at every such IDLE); it is a member coroutine now. Run under valgrind to see.
TEST(ImapTranscript, IdleInASelectedFolder) {
    World w;
    expect_transcript(w.session(), logged_in({
                                       kSelect,
                                       {"i IDLE\r\n", "+ idling\r\n"},
                                       {"done\r\n", "i OK IDLE terminated\r\n"},
                                       {"i IDLE\r\n", "+ idling\r\n"},
                                       {"n NOOP\r\n", "i BAD expected DONE\r\n"},
                                       {"n NOOP\r\n", "n OK NOOP completed\r\n"},
                                   }));
}

TEST(ImapTranscript, IdleReportsChangesAsTheyHappen) {
    World w;
    SessionDriver d(w.session());
    ASSERT_EQ(d.exchange("l LOGIN anna anna-secret\r\ns SELECT INBOX\r\n", Feed::whole).find("s OK [READ-WRITE]") != std::string::npos, true);
    EXPECT_EQ(d.exchange("i IDLE\r\n", Feed::whole), "+ idling\r\n");
    w.deliver("anna", kNote);
    EXPECT_EQ(d.unsolicited(), "* 4 EXISTS\r\n* 1 RECENT\r\n");
    EXPECT_EQ(d.exchange("DONE\r\n", Feed::whole), "i OK IDLE terminated\r\n");
    EXPECT_EQ(d.exchange("f FETCH 4 RFC822.SIZE\r\n", Feed::whole),
              fmt::format("* 4 FETCH (RFC822.SIZE {})\r\nf OK FETCH completed\r\n", kNote.size()));
}

// ---- two sessions on one mailbox ----------------------------------------------------------------

TEST(ImapTranscript, TwoSessionsSeeEachOthersChanges) {
    for (Feed feed : {Feed::whole, Feed::bytewise}) {
        SCOPED_TRACE(test::feed_name(feed));
        World w;
        SessionDriver a(w.session()), b(w.session());
        for (SessionDriver* d : {&a, &b}) {
            EXPECT_EQ(d->exchange("", feed), kGreeting);
            EXPECT_EQ(d->exchange(kLogin.send, feed), kLogin.want);
            EXPECT_TRUE(test::glob_match(kSelect.want, d->exchange(kSelect.send, feed)));
        }
        // A flag change by one is told to the other at its next NOOP, with the UID (RFC 9051 7.5.2).
        EXPECT_EQ(b.exchange("s STORE 1 +FLAGS (\\Flagged)\r\n", feed), "* 1 FETCH (FLAGS (\\Flagged))\r\ns OK STORE completed\r\n");
        EXPECT_EQ(a.exchange("n NOOP\r\n", feed), "* 1 FETCH (FLAGS (\\Flagged) UID 1)\r\nn OK NOOP completed\r\n");
        EXPECT_EQ(a.exchange("n NOOP\r\n", feed), "n OK NOOP completed\r\n");
        // An expunge by one: not told during the other's FETCH, STORE or SEARCH (RFC 9051 7.5.1), which
        // keep their numbers; told at its NOOP.
        EXPECT_EQ(b.exchange("s STORE 2 +FLAGS.SILENT (\\Deleted)\r\ne EXPUNGE\r\n", feed),
                  "s OK STORE completed\r\n* 2 EXPUNGE\r\ne OK EXPUNGE completed\r\n");
        EXPECT_EQ(a.exchange("f FETCH 3 UID\r\n", feed), "* 3 FETCH (UID 3)\r\nf OK FETCH completed\r\n");
        EXPECT_EQ(a.exchange("s SEARCH ALL\r\n", feed), "* SEARCH 1 2 3\r\ns OK SEARCH completed\r\n");
        EXPECT_EQ(a.exchange("n NOOP\r\n", feed), "* 2 EXPUNGE\r\nn OK NOOP completed\r\n");
        EXPECT_EQ(a.exchange("f FETCH 1:* UID\r\n", feed), "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\nf OK FETCH completed\r\n");
        // A new delivery: told to both at their next NOOP (or CHECK); \Recent to the first told.
        w.deliver("anna", kNote);
        EXPECT_EQ(a.exchange("n NOOP\r\n", feed), "* 3 EXISTS\r\n* 1 RECENT\r\nn OK NOOP completed\r\n");
        EXPECT_EQ(b.exchange("c CHECK\r\n", feed), "* 3 EXISTS\r\nc OK CHECK completed\r\n");
        // A UID command may tell expunges (RFC 9051 7.5.1): after the answer, before the OK.
        EXPECT_EQ(a.exchange("s STORE 3 +FLAGS.SILENT (\\Deleted)\r\ne EXPUNGE\r\n", feed),
                  "s OK STORE completed\r\n* 3 EXPUNGE\r\ne OK EXPUNGE completed\r\n");
        EXPECT_EQ(b.exchange("f UID FETCH 1 FLAGS\r\n", feed),
                  "* 1 FETCH (FLAGS (\\Flagged) UID 1)\r\n* 3 EXPUNGE\r\nf OK FETCH completed\r\n");
        // An APPEND by one is told to the other.
        EXPECT_TRUE(test::glob_match("* 3 EXISTS\r\n* 1 RECENT\r\na OK [APPENDUID * 5] APPEND completed\r\n",
                                     a.exchange("a APPEND INBOX " + literal(kDraft, true) + "\r\n" + kDraft + "\r\n", feed)));
        EXPECT_EQ(b.exchange("n NOOP\r\n", feed), "* 3 EXISTS\r\nn OK NOOP completed\r\n");
    }
}

}  // namespace
}  // namespace mk
