// tests/unit/test_imap_command.cpp — the IMAP server's command parser (imap/command): each command's
// arguments as typed values, literals in place, APPEND's head and continuation, the bounds, and the
// BADs for what is out of place; modified UTF-7 mailbox names both ways.
#include <gtest/gtest.h>

#include "imap/command.hpp"

namespace mk::imap {
namespace {

Command ok(std::string_view text) {
    Parsed p = parse_command(text);
    EXPECT_TRUE(p.command) << text << ": " << p.error;
    return p.command ? *p.command : Command{};
}

std::string bad(std::string_view text) {
    Parsed p = parse_command(text);
    EXPECT_FALSE(p.command) << text;
    return p.error;
}

TEST(ImapCommand, SimpleVerbsAndTags) {
    Command c = ok("a1 NOOP");
    EXPECT_EQ(c.tag, "a1");
    EXPECT_EQ(c.verb, Verb::noop);
    EXPECT_EQ(ok("x.y capability").verb, Verb::capability);
    EXPECT_EQ(parse_command("* LOGOUT").tag, "");   // "*" is a list wildcard, never a tag
    EXPECT_EQ(parse_command("+ NOOP").tag, "");
    EXPECT_EQ(bad("a1 NOOP extra"), "unexpected characters after the command");
    EXPECT_EQ(bad("a1 FROB"), "unknown command");
    EXPECT_EQ(parse_command("a1 FROB").tag, "a1");
    EXPECT_EQ(bad("a1 UID NOOP"), "UID with a command that takes no UIDs");
    EXPECT_EQ(bad(""), "expected a tag");
}

TEST(ImapCommand, LoginWithQuotedAndLiteralStrings) {
    Command c = ok("a LOGIN anna \"pa ss\\\"w\\\\d\"");
    EXPECT_EQ(c.args, (std::vector<std::string>{"anna", "pa ss\"w\\d"}));
    c = ok("a LOGIN {4}\r\nanna {5+}\r\ns3 cr");
    EXPECT_EQ(c.args, (std::vector<std::string>{"anna", "s3 cr"}));
    EXPECT_EQ(bad("a LOGIN {9}\r\nanna"), "literal shorter than announced");
    EXPECT_EQ(bad("a LOGIN anna \"x\ry\""), "CR, LF or NUL in a quoted string");
}

TEST(ImapCommand, LiteralMarks) {
    auto m = literal_at_end("a LOGIN {12}");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->size, 12u);
    EXPECT_TRUE(m->synchronizing);
    m = literal_at_end("a APPEND INBOX ~{7+}");
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->synchronizing);
    EXPECT_TRUE(m->binary);
    EXPECT_FALSE(literal_at_end("a NOOP"));
    EXPECT_FALSE(literal_at_end("a LOGIN {x}"));
    EXPECT_FALSE(literal_at_end("a LOGIN {}"));
    EXPECT_FALSE(literal_at_end("a LOGIN {99999999999999999999}"));
}

TEST(ImapCommand, FetchItemsMacrosSectionsAndModifiers) {
    Command c = ok("f UID FETCH 1:*,7 (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> BODY[1.2.MIME] "
                   "BINARY.PEEK[2] RFC822.SIZE BODYSTRUCTURE) (CHANGEDSINCE 12345 VANISHED)");
    EXPECT_TRUE(c.uid);
    ASSERT_EQ(c.set.size(), 2u);
    EXPECT_EQ(c.set[0].first, 1u);
    EXPECT_EQ(c.set[0].last, kStar);
    ASSERT_EQ(c.fetch.size(), 6u);
    EXPECT_EQ(c.fetch[1].kind, FetchAtt::Kind::body_section);
    EXPECT_TRUE(c.fetch[1].peek);
    EXPECT_EQ(c.fetch[1].section.text, Section::Text::header_fields);
    EXPECT_EQ(c.fetch[1].section.fields, (std::vector<std::string>{"From", "Subject"}));
    EXPECT_EQ(c.fetch[1].partial, (std::pair<std::uint64_t, std::uint64_t>{0, 100}));
    EXPECT_EQ(c.fetch[1].name, "BODY[HEADER.FIELDS (From Subject)]<0>");
    EXPECT_EQ(c.fetch[3].name, "BINARY[2]");
    EXPECT_EQ(c.fetch[2].section.part, (std::vector<std::uint32_t>{1, 2}));
    EXPECT_EQ(c.fetch[2].section.text, Section::Text::mime);
    EXPECT_EQ(c.fetch[2].name, "BODY[1.2.MIME]");
    EXPECT_EQ(c.fetch[3].kind, FetchAtt::Kind::binary);
    EXPECT_TRUE(c.fetch[3].peek);
    EXPECT_EQ(c.fetch[4].name, "RFC822.SIZE");
    EXPECT_EQ(c.changed_since, 12345u);
    EXPECT_TRUE(c.vanished);
    EXPECT_EQ(ok("f FETCH 1 ALL").fetch.size(), 4u);
    EXPECT_EQ(ok("f FETCH 1 FULL").fetch.back().kind, FetchAtt::Kind::body);
    EXPECT_EQ(ok("f FETCH 2:4 body[]").fetch[0].kind, FetchAtt::Kind::body_section);
    EXPECT_EQ(bad("f FETCH 0 FLAGS"), "expected a number above 0");
    EXPECT_EQ(bad("f FETCH 1 (FLAGS"), "expected ) after FETCH items");
    EXPECT_EQ(bad("f FETCH 1 BODY[MIME]"), "bad section");
    EXPECT_EQ(bad("f FETCH 1 BODY[]<5.0>"), "a partial of length 0");
    EXPECT_EQ(bad("f FETCH 1 FROB"), "unknown FETCH item");
}

TEST(ImapCommand, SearchPrograms) {
    Command c = ok("s UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR FROM anna (UNSEEN SINCE 1-Feb-2024) "
                   "NOT DELETED 1:5 HEADER X-Spam yes LARGER 1000 KEYWORD $Junk");
    EXPECT_TRUE(c.search_return_given);
    EXPECT_EQ(c.search_return, (std::vector<std::string>{"MIN", "COUNT"}));
    EXPECT_EQ(c.charset, "UTF-8");
    ASSERT_EQ(c.search.keys.size(), 6u);
    const SearchKey& o = c.search.keys[0];
    EXPECT_EQ(o.kind, SearchKey::Kind::or_);
    EXPECT_EQ(o.keys[0].kind, SearchKey::Kind::from);
    EXPECT_EQ(o.keys[0].value, "anna");
    EXPECT_EQ(o.keys[1].kind, SearchKey::Kind::and_);
    EXPECT_EQ(o.keys[1].keys[1].date, 19754);   // 2024-02-01 in days since 1970-01-01
    EXPECT_EQ(c.search.keys[1].kind, SearchKey::Kind::not_);
    EXPECT_EQ(c.search.keys[2].kind, SearchKey::Kind::set);
    EXPECT_EQ(c.search.keys[3].field, "X-Spam");
    EXPECT_EQ(c.search.keys[4].number, 1000u);
    EXPECT_EQ(c.search.keys[5].value, "$Junk");
    EXPECT_EQ(bad("s SEARCH"), "expected a space");
    EXPECT_EQ(bad("s SEARCH FROB"), "unknown search key");
    std::string deep = "s SEARCH " + std::string(40, '(') + "ALL" + std::string(40, ')');
    EXPECT_EQ(bad(deep), "search keys nested too deep");
}

TEST(ImapCommand, StoreCopyMoveExpunge) {
    Command c = ok("t STORE 1:3 (UNCHANGEDSINCE 9) +FLAGS.SILENT (\\Seen $Forwarded)");
    EXPECT_EQ(c.store.op, StoreArgs::Op::add);
    EXPECT_TRUE(c.store.silent);
    EXPECT_EQ(c.store.unchanged_since, 9u);
    EXPECT_EQ(c.store.flags, (std::vector<std::string>{"\\Seen", "$Forwarded"}));
    EXPECT_EQ(ok("t STORE 1 -FLAGS \\Deleted").store.op, StoreArgs::Op::remove);
    EXPECT_EQ(ok("t UID MOVE 4:7 Trash").args, (std::vector<std::string>{"Trash"}));
    EXPECT_EQ(ok("t UID EXPUNGE 3,5").set.size(), 2u);
    EXPECT_TRUE(ok("t EXPUNGE").set.empty());
    EXPECT_EQ(bad("t STORE 1 FLAG (\\Seen)"), "expected FLAGS");
}

TEST(ImapCommand, SelectListStatusEnableId) {
    Command c = ok("s SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211))");
    ASSERT_TRUE(c.qresync);
    EXPECT_EQ(c.qresync->uidvalidity, 67890007u);
    EXPECT_EQ(c.qresync->modseq, 20050715194045000u);
    EXPECT_EQ(c.qresync->known_uids.size(), 2u);
    EXPECT_TRUE(ok("s EXAMINE Sent (CONDSTORE)").condstore);
    c = ok("l LIST (SUBSCRIBED) \"\" (\"*\" %) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))");
    EXPECT_TRUE(c.list_extended);
    EXPECT_EQ(c.list_select, (std::vector<std::string>{"SUBSCRIBED"}));
    EXPECT_EQ(c.args, (std::vector<std::string>{"", "*", "%"}));
    EXPECT_EQ(c.list_return, (std::vector<std::string>{"CHILDREN", "STATUS"}));
    EXPECT_EQ(c.list_status, (std::vector<std::string>{"MESSAGES", "UNSEEN"}));
    EXPECT_FALSE(ok("l LIST \"\" *").list_extended);
    EXPECT_EQ(ok("l STATUS Drafts (UIDNEXT messages)").args, (std::vector<std::string>{"Drafts", "UIDNEXT", "MESSAGES"}));
    EXPECT_EQ(ok("e ENABLE QRESYNC utf8=accept").args, (std::vector<std::string>{"QRESYNC", "UTF8=ACCEPT"}));
    c = ok("i ID (\"name\" \"K-9\" \"version\" NIL)");
    ASSERT_EQ(c.id.size(), 2u);
    EXPECT_EQ(c.id[0].second, "K-9");
    EXPECT_FALSE(c.id[1].second);
    EXPECT_TRUE(ok("i ID NIL").id.empty());
    EXPECT_EQ(ok("a AUTHENTICATE plain AGFubmEAcw==").args, (std::vector<std::string>{"PLAIN", "AGFubmEAcw=="}));
}

TEST(ImapCommand, AppendHeadAndContinuations) {
    auto c = append_head("a APPEND Sent (\\Seen) \" 5-Mar-2024 10:00:00 +0100\" {310}");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->tag, "a");
    EXPECT_EQ(c->args, (std::vector<std::string>{"Sent"}));
    ASSERT_EQ(c->append.size(), 1u);
    EXPECT_EQ(c->append[0].flags, (std::vector<std::string>{"\\Seen"}));
    EXPECT_EQ(c->append[0].date, 1709629200);   // 2024-03-05 09:00:00 UTC
    EXPECT_EQ(c->append[0].literal.size, 310u);
    EXPECT_TRUE(append_head("a APPEND {5}\r\nDraft {10+}"));   // the mailbox itself a literal
    EXPECT_FALSE(append_head("a LOGIN {5}"));
    EXPECT_FALSE(append_head("a APPEND"));
    AppendNext n = append_next(" (\\Draft) {20}");
    ASSERT_TRUE(n.message);
    EXPECT_EQ(n.message->flags, (std::vector<std::string>{"\\Draft"}));
    EXPECT_EQ(n.message->literal.size, 20u);
    n = append_next("");
    EXPECT_FALSE(n.message);
    EXPECT_TRUE(n.error.empty());
    EXPECT_FALSE(append_next(" garbage").error.empty());
    EXPECT_EQ(bad("a APPEND INBOX {3}\r\nabc"), "APPEND's message must be a literal");
}

TEST(ImapCommand, SequenceSetsContain) {
    SequenceSet s = ok("f FETCH 2:4,9,*:20 FLAGS").set;
    EXPECT_TRUE(contains(s, 3, 30));
    EXPECT_FALSE(contains(s, 5, 30));
    EXPECT_TRUE(contains(s, 25, 30));   // *:20 with * = 30 is 20:30
    EXPECT_FALSE(contains(s, 31, 30));
}

TEST(ImapCommand, ModifiedUtf7MailboxNames) {
    EXPECT_EQ(mailbox_name("inbox", false), "INBOX");
    EXPECT_EQ(mailbox_name("Entw&APw-rfe", false), "Entwürfe");
    EXPECT_EQ(mailbox_name("&ZeVnLIqe-", false), "日本語");
    EXPECT_EQ(mailbox_name("a&-b", false), "a&b");
    EXPECT_FALSE(mailbox_name("&AGE-", false));      // "a" must be itself
    EXPECT_FALSE(mailbox_name("&APw", false));       // unterminated
    EXPECT_FALSE(mailbox_name("&2D0-", false));      // a lone surrogate
    EXPECT_FALSE(mailbox_name("&AAw-", false));      // a control character (found by fuzz_imap_command)
    EXPECT_FALSE(mailbox_name("a\tb", true));
    EXPECT_FALSE(mailbox_name("caf\xc3\xa9", false));   // 8-bit without UTF8=ACCEPT
    EXPECT_EQ(mailbox_name("caf\xc3\xa9", true), "café");
    EXPECT_FALSE(mailbox_name("caf\xc3", true));
    for (std::string_view n : {"Entwürfe", "日本語", "a&b", "plain", "😀 mail"})
        EXPECT_EQ(mailbox_name(encode_mailbox(n, false), false), std::string(n)) << n;
    EXPECT_EQ(encode_mailbox("Entwürfe", false), "Entw&APw-rfe");
}

}  // namespace
}  // namespace mk::imap
