// tests/unit/test_imap_structure.cpp — imap/structure: the MIME tree (ranges, defaults, boundaries,
// limits), ENVELOPE and BODY/BODYSTRUCTURE as Dovecot 2.3 formats them, sections, BINARY decoding,
// header fields and values. The differential test against Dovecot itself is
// tests/blackbox/test_imap_structure_dovecot.py.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "imap/structure.hpp"

namespace {

using mk::imap::BodyPart;

std::string body_of(const BodyPart& p, std::string_view m) { return std::string(p.body.of(m)); }
std::string header_of(const BodyPart& p, std::string_view m) { return std::string(p.header.of(m)); }

TEST(ImapStructure, PlainMessageDefaults) {
    std::string m = "Subject: hi\r\n\r\nline one\r\nline two\r\n";
    BodyPart root = mk::imap::parse(m);
    EXPECT_EQ(header_of(root, m), "Subject: hi\r\n\r\n");
    EXPECT_EQ(body_of(root, m), "line one\r\nline two\r\n");
    EXPECT_EQ(root.type, "text");
    EXPECT_EQ(root.subtype, "plain");
    EXPECT_FALSE(root.has_content_type);
    EXPECT_EQ(root.encoding, "7bit");
    EXPECT_EQ(root.lines, 2u);
    EXPECT_EQ(mk::imap::body_structure(root, m, true),
              "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL)");
    EXPECT_EQ(mk::imap::body_structure(root, m, false),
              "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2)");
}

TEST(ImapStructure, CaseAsSentParametersAndExtensions) {
    std::string m =
        "Content-Type: TEXT/Plain (a comment) ; CHARSET = \"ISO-8859-1\"; format=flowed\r\n"
        "Content-Transfer-Encoding: BASE64\r\n"
        "Content-Disposition: ATTACHMENT; FileName=\"a b.txt\"\r\n"
        "Content-Language: de, en-GB\r\n"
        "Content-ID: <x@y>\r\n"
        "Content-MD5: abc=\r\n"
        "Content-Location: http://e.com/x\r\n\r\naGVsbG8=\r\n";
    BodyPart root = mk::imap::parse(m);
    EXPECT_EQ(root.type, "text");
    EXPECT_EQ(root.type_as_sent, "TEXT");
    EXPECT_EQ(root.subtype_as_sent, "Plain");
    EXPECT_EQ(root.encoding, "base64");
    ASSERT_EQ(root.params.size(), 2u);
    EXPECT_EQ(root.params[0].first, "CHARSET");
    EXPECT_EQ(root.params[0].second, "ISO-8859-1");
    EXPECT_EQ(mk::imap::body_structure(root, m, true),
              "(\"TEXT\" \"Plain\" (\"CHARSET\" \"ISO-8859-1\" \"format\" \"flowed\") \"<x@y>\" NIL \"BASE64\" 10 1 "
              "\"abc=\" (\"ATTACHMENT\" (\"FileName\" \"a b.txt\")) (\"de\" \"en-GB\") \"http://e.com/x\")");
    EXPECT_EQ(mk::imap::decoded(root, m), "hello");
}

TEST(ImapStructure, MultipartPreambleEpilogueAndTrailingWhitespace) {
    std::string m =
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        "preamble\r\n"
        "--b1 \t\r\n"
        "\r\n"
        "first\r\n"
        "--b1\r\n"
        "Content-Type: text/html\r\n\r\n"
        "<p>second</p>\r\n"
        "\r\n"
        "--b1--  \r\n"
        "epilogue\r\n";
    BodyPart root = mk::imap::parse(m);
    ASSERT_EQ(root.parts.size(), 2u);
    EXPECT_EQ(body_of(root.parts[0], m), "first");   // the CRLF before the delimiter is the delimiter's
    EXPECT_EQ(header_of(root.parts[0], m), "\r\n");
    EXPECT_EQ(body_of(root.parts[1], m), "<p>second</p>\r\n");
    EXPECT_EQ(root.parts[1].lines, 1u);
    EXPECT_EQ(root.parts[1].subtype, "html");
    EXPECT_EQ(body_of(root, m), m.substr(m.find("preamble")));   // BODY[TEXT]: preamble and epilogue too
    EXPECT_EQ(mk::imap::body_structure(root, m, false),
              "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)"
              "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 15 1) \"mixed\")");
}

TEST(ImapStructure, NestedMultipartAndOuterBoundaryEndsInner) {
    std::string m =
        "Content-Type: multipart/mixed; boundary=a\r\n\r\n"
        "--a\r\n"
        "Content-Type: multipart/alternative; boundary=ab\r\n\r\n"
        "--ab\r\n\r\none\r\n"
        "--ab\r\n\r\ntwo\r\n"
        "--a\r\n\r\nthree\r\n"
        "--a--\r\n";
    BodyPart root = mk::imap::parse(m);
    ASSERT_EQ(root.parts.size(), 2u);
    ASSERT_EQ(root.parts[0].parts.size(), 2u);   // "--ab" is the inner boundary (longest match), "--a" ends it
    EXPECT_EQ(body_of(root.parts[0].parts[0], m), "one");
    EXPECT_EQ(body_of(root.parts[0].parts[1], m), "two");
    EXPECT_EQ(body_of(root.parts[1], m), "three");
    EXPECT_EQ(mk::imap::find(root, {1, 2}), &root.parts[0].parts[1]);
    EXPECT_EQ(mk::imap::find(root, {2}), &root.parts[1]);
    EXPECT_EQ(mk::imap::find(root, {3}), nullptr);
    EXPECT_EQ(mk::imap::find(root, {2, 1}), &root.parts[1]);   // 1 into a non-multipart: the part itself
    EXPECT_EQ(mk::imap::find(root, {2, 2}), nullptr);
    EXPECT_EQ(mk::imap::find(root, {}), &root);
    EXPECT_EQ(mk::imap::find(root, {0}), nullptr);
}

TEST(ImapStructure, MessageRfc822EnclosesAMessage) {
    std::string inner = "Subject: inner\r\nFrom: A <a@b.c>\r\n\r\ninner body\r\n";
    std::string m = "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\ntext\r\n--x\r\n"
                    "Content-Type: message/rfc822\r\n\r\n" + inner + "\r\n--x--\r\n";
    BodyPart root = mk::imap::parse(m);
    ASSERT_EQ(root.parts.size(), 2u);
    const BodyPart& msg = root.parts[1];
    ASSERT_EQ(msg.parts.size(), 1u);
    EXPECT_EQ(body_of(msg, m), inner);
    EXPECT_EQ(msg.lines, 4u);
    EXPECT_EQ(header_of(msg.parts[0], m), "Subject: inner\r\nFrom: A <a@b.c>\r\n\r\n");
    EXPECT_EQ(body_of(msg.parts[0], m), "inner body\r\n");
    EXPECT_EQ(mk::imap::find(root, {2, 1}), &msg.parts[0]);   // a non-multipart message: its body is 2.1
    EXPECT_EQ(mk::imap::body_structure(msg, m, false),
              "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 47 (NIL \"inner\" ((\"A\" NIL \"a\" \"b.c\")) "
              "((\"A\" NIL \"a\" \"b.c\")) ((\"A\" NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL) "
              "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1) 4)");
}

TEST(ImapStructure, MessageGlobalIsAMessageToo) {   // RFC 9051 7.5.2 (Dovecot 2.3 differs)
    std::string m = "Content-Type: message/global\r\n\r\nSubject: g\r\n\r\nx\r\n";
    BodyPart root = mk::imap::parse(m);
    ASSERT_EQ(root.parts.size(), 1u);
    EXPECT_EQ(mk::imap::body_structure(root, m, false).substr(0, 20), "(\"message\" \"global\" ");
}

TEST(ImapStructure, DigestDefaultsToMessageRfc822) {
    std::string m = "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n"
                    "--d\r\nContent-Type: text/plain\r\n\r\nplain\r\n--d--\r\n";
    BodyPart root = mk::imap::parse(m);
    ASSERT_EQ(root.parts.size(), 2u);
    EXPECT_EQ(root.parts[0].type, "message");
    EXPECT_EQ(root.parts[0].subtype, "rfc822");
    EXPECT_FALSE(root.parts[0].has_content_type);
    ASSERT_EQ(root.parts[0].parts.size(), 1u);
    EXPECT_EQ(root.parts[1].type, "text");
}

TEST(ImapStructure, MalformedMultipartsDegradeAsDovecots) {
    struct Case {
        std::string message, body;
    } cases[] = {
        // the boundary never comes; no boundary parameter; only the close delimiter
        {"Content-Type: multipart/mixed; boundary=never\r\n\r\ntext\r\n",
         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")"},
        {"Content-Type: multipart/mixed\r\n\r\ntext\r\n",
         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")"},
        {"Content-Type: multipart/mixed; boundary=e\r\n\r\n--e--\r\n",
         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")"},
        // a Content-Type without a subtype: Dovecot's "" ""
        {"Content-Type: text; charset=us-ascii\r\n\r\nx\r\n", "(\"\" \"\" NIL NIL NIL \"7bit\" 3)"},
        // message/rfc822 without a header block: an empty message
        {"Content-Type: message/rfc822\r\n\r\n",
         "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0)"},
    };
    for (const Case& c : cases) {
        BodyPart root = mk::imap::parse(c.message);
        EXPECT_EQ(mk::imap::body_structure(root, c.message, false), c.body) << c.message;
    }
    BodyPart none = mk::imap::parse("Content-Type: multipart/mixed\r\n\r\nx\r\n");
    EXPECT_EQ(mk::imap::find(none, {1}), nullptr);
}

TEST(ImapStructure, BoundaryInsideAPartHeader) {
    std::string m = "Content-Type: multipart/mixed; boundary=h\r\n\r\n--h\r\nContent-Type: text/plain\r\n"
                    "--h\r\n\r\nbody\r\n--h--\r\n";
    BodyPart root = mk::imap::parse(m);
    ASSERT_EQ(root.parts.size(), 2u);
    EXPECT_EQ(header_of(root.parts[0], m), "Content-Type: text/plain");
    EXPECT_EQ(body_of(root.parts[0], m), "");
    EXPECT_EQ(body_of(root.parts[1], m), "body");
}

TEST(ImapStructure, DepthIsBounded) {
    std::string m;
    for (int i = 0; i < 100; ++i) m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
                                       std::to_string(i) + "\r\n";
    m += "\r\nleaf\r\n";
    BodyPart root = mk::imap::parse(m);
    std::size_t depth = 0;
    for (const BodyPart* p = &root; !p->parts.empty(); p = &p->parts[0]) ++depth;
    EXPECT_LT(depth, mk::imap::kMaxPartDepth);
    EXPECT_GE(depth, mk::imap::kMaxPartDepth - 2);
    // message/rfc822 nesting counts the same
    std::string r;
    for (int i = 0; i < 100; ++i) r += "Content-Type: message/rfc822\r\n\r\n";
    BodyPart rr = mk::imap::parse(r);
    depth = 0;
    for (const BodyPart* p = &rr; !p->parts.empty(); p = &p->parts[0]) ++depth;
    EXPECT_LT(depth, mk::imap::kMaxPartDepth);
}

std::size_t count(const BodyPart& p) {
    std::size_t n = 1;
    for (const BodyPart& c : p.parts) n += count(c);
    return n;
}

TEST(ImapStructure, PartCountIsBounded) {
    std::string m = "Content-Type: multipart/mixed; boundary=p\r\n\r\n";
    for (int i = 0; i < 3000; ++i) m += "--p\r\n\r\nx\r\n";
    m += "--p--\r\n";
    BodyPart root = mk::imap::parse(m);
    EXPECT_EQ(count(root), mk::imap::kMaxParts);
    EXPECT_EQ(body_of(root, m), m.substr(m.find("--p")));   // the rest stays in the parent's body
}

TEST(ImapStructure, AnyPrefixParses) {
    std::string m = "From: a@b\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n--q\r\nContent-Type: "
                    "message/rfc822\r\n\r\nSubject: s\r\nContent-Type: multipart/alternative; boundary=r\r\n\r\n"
                    "--r\r\n\r\na\r\n--r--\r\n--q--\r\n";
    for (std::size_t n = 0; n <= m.size(); ++n) {
        std::string_view prefix(m.data(), n);
        BodyPart root = mk::imap::parse(prefix);
        EXPECT_LE(root.body.offset + root.body.length, n);
        (void)mk::imap::body_structure(root, prefix, true);
        (void)mk::imap::envelope(root.header.of(prefix));
    }
}

TEST(ImapStructure, Envelope) {
    struct Case {
        std::string header, want;
    } cases[] = {
        {"\r\n", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"},
        {"Date: Tue, 1 Dec 2026 10:00:00 +0100\r\nSubject: hi\r\nFrom: \"Anna B.\" <anna@home.arpa>\r\n"
         "To: family: a@b.c, d@e.f;, g@h.i\r\nMessage-ID: <m@x>\r\nIn-Reply-To: <r@x>\r\n\r\n",
         "(\"Tue, 1 Dec 2026 10:00:00 +0100\" \"hi\" ((\"Anna B.\" NIL \"anna\" \"home.arpa\")) "
         "((\"Anna B.\" NIL \"anna\" \"home.arpa\")) ((\"Anna B.\" NIL \"anna\" \"home.arpa\")) "
         "((NIL NIL \"family\" NIL)(NIL NIL \"a\" \"b.c\")(NIL NIL \"d\" \"e.f\")(NIL NIL NIL NIL)(NIL NIL \"g\" \"h.i\")) "
         "NIL NIL \"<r@x>\" \"<m@x>\")"},
        // a Subject for humans: blanks collapsed, sent as a literal once changed; encoded words stay
        {"Subject:  a\r\n\t b  =?utf-8?q?x?=\r\n\r\n", "(NIL {17}\r\na b =?utf-8?q?x?= NIL NIL NIL NIL NIL NIL NIL NIL)"},
        // 8-bit: a literal; the last Subject counts, every To
        {"Subject: one\r\nSubject: \xc3\xa4\r\nTo: a@b\r\nTo: c@d\r\n\r\n",
         "(NIL {2}\r\n\xc3\xa4 NIL NIL NIL ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) NIL NIL NIL NIL)"},
        // comments as names, routes, broken addresses filled in, the null path
        {"From: x@y (Comment Name), <@r1,@r2:m@d>, broken@, <>\r\n\r\n",
         "(NIL NIL ((\"Comment Name\" NIL \"x\" \"y\")(NIL \"@r1,@r2\" \"m\" \"d\")(NIL NIL \"broken\" \"MISSING_DOMAIN\")"
         "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
         "((\"Comment Name\" NIL \"x\" \"y\")(NIL \"@r1,@r2\" \"m\" \"d\")(NIL NIL \"broken\" \"MISSING_DOMAIN\")"
         "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
         "((\"Comment Name\" NIL \"x\" \"y\")(NIL \"@r1,@r2\" \"m\" \"d\")(NIL NIL \"broken\" \"MISSING_DOMAIN\")"
         "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL)"},
        {"Cc: undisclosed-recipients:;\r\nSender: s@t\r\n\r\n",
         "(NIL NIL NIL ((NIL NIL \"s\" \"t\")) NIL NIL ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL "
         "NIL NIL)"},
    };
    for (const Case& c : cases) EXPECT_EQ(mk::imap::envelope(c.header), c.want) << c.header;
}

TEST(ImapStructure, ImapString) {
    EXPECT_EQ(mk::imap::imap_string(std::nullopt), "NIL");
    EXPECT_EQ(mk::imap::imap_string(std::string()), "\"\"");
    EXPECT_EQ(mk::imap::imap_string(std::string("NIL")), "\"NIL\"");
    EXPECT_EQ(mk::imap::imap_string(std::string("a \"b\" \\")), "\"a \\\"b\\\" \\\\\"");
    EXPECT_EQ(mk::imap::imap_string(std::string("\"\"\"\"\"")), "{5}\r\n\"\"\"\"\"");   // over 4 escapes
    EXPECT_EQ(mk::imap::imap_string(std::string("a\r\nb")), "{4}\r\na\r\nb");
    EXPECT_EQ(mk::imap::imap_string(std::string("\xc3\xa4")), "{2}\r\n\xc3\xa4");
    EXPECT_EQ(mk::imap::imap_string(std::string("a\0b", 3)), "{5}\r\na\xef\xbf\xbd" "b");   // no NUL in a literal
}

TEST(ImapStructure, HeaderFields) {
    std::string h = "From: a@b\r\nReceived: x\r\n\ty\r\nSUBJECT: s\r\n\r\n";
    EXPECT_EQ(mk::imap::header_fields(h, {"subject", "from"}, false), "From: a@b\r\nSUBJECT: s\r\n\r\n");
    EXPECT_EQ(mk::imap::header_fields(h, {"From", "Subject"}, true), "Received: x\r\n\ty\r\n\r\n");
    EXPECT_EQ(mk::imap::header_fields(h, {"X-None"}, false), "\r\n");
    // a header without its blank line (all header): Dovecot's way
    EXPECT_EQ(mk::imap::header_fields("A: 1\r\nB: 2\r\n", {"a"}, false), "A: 1\r\n\r\n");
    EXPECT_EQ(mk::imap::header_fields("A: 1\r\nB: 2\r\n", {"b"}, false), "B: 2\r\n");
    EXPECT_EQ(mk::imap::header_fields("A: 1", {"a"}, false), "A: 1\r\n");
    EXPECT_EQ(mk::imap::header_fields("A: 1", {"a"}, true), "");
}

TEST(ImapStructure, Decoded) {
    auto part = [](std::string cte, std::string body) {
        std::string m = "Content-Transfer-Encoding: " + cte + "\r\n\r\n" + body;
        return std::pair{mk::imap::parse(m), m};
    };
    struct Case {
        std::string cte, body;
        std::optional<std::string> want;
    } cases[] = {
        {"base64", "aGVs\r\nbG8g d29y\tbGQ=\r\n", "hello world"},
        {"Base64", "aGVsbG8=", "hello"},
        {"base64", "XXX\r\n", std::nullopt},          // ends before its quantum does
        {"base64", "aGVs*bG8=", std::nullopt},        // not base64
        {"quoted-printable", "a=3Db=\r\nc  \r\nd=C3=A4=\r\n", "a=bc\r\nd\xc3\xa4"},
        {"quoted-printable", "50% =ZZ off", "50% =ZZ off"},   // a "=" that starts nothing stays
        {"7bit", "as is\r\n", "as is\r\n"},
        {"8bit", "\xe4\r\n", "\xe4\r\n"},
        {"binary", std::string("a\0b", 3), std::string("a\0b", 3)},
        {"x-uuencode", "begin 644 x\r\n", std::nullopt},
    };
    for (const Case& c : cases) {
        auto [root, m] = part(c.cte, c.body);
        EXPECT_EQ(mk::imap::decoded(root, m), c.want) << c.cte << " " << c.body;
    }
}

TEST(ImapStructure, HeaderValueOfManyBrokenWordsIsLinear) {
    std::string h = "Subject: ";
    for (int i = 0; i < 200000; ++i) h += "=?";
    h += "\r\n\r\n";
    auto v = mk::imap::header_value(h, "Subject");   // each "=?" looks no further than kMaxEncodedWord
    ASSERT_TRUE(v);
    EXPECT_EQ(v->size(), 400000u);
}

TEST(ImapStructure, HeaderValue) {
    std::string h = "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?ISO-8859-1?B?TfxuY2hlbg==?=\r\n\tand more\r\n"
                    "From: =?bogus?q?x?= <a@b>\r\nTo: =?utf-8?q?a_b?=c\r\n\r\n";
    // RFC 2047 6.2: the blank between two encoded words goes; the fold's CRLF goes, its tab stays
    EXPECT_EQ(mk::imap::header_value(h, "subject"), "GrüßeMünchen\tand more");
    EXPECT_EQ(mk::imap::header_value(h, "FROM"), "=?bogus?q?x?= <a@b>");         // unknown charset: as it is
    EXPECT_EQ(mk::imap::header_value(h, "to"), "a bc");
    EXPECT_EQ(mk::imap::header_value(h, "cc"), std::nullopt);
}

TEST(ImapStructure, Rfc2231Parameters) {
    std::string m = "Content-Type: application/pdf; name*0*=UTF-8'de'%C3%84rger%20; name*1=\"zwei.pdf\";\r\n"
                    " title*=iso-8859-1''%E4; a*0=x; a*2=z\r\nContent-Disposition: attachment; filename*=utf-8''%E2%82%AC\r\n"
                    "\r\n";
    BodyPart root = mk::imap::parse(m);
    ASSERT_EQ(root.params.size(), 4u);
    // joined and left encoded, as BODYSTRUCTURE carries them; a gap in the numbers: as sent
    EXPECT_EQ(root.params[0], (std::pair<std::string, std::string>{"a*0", "x"}));
    EXPECT_EQ(root.params[1], (std::pair<std::string, std::string>{"a*2", "z"}));
    EXPECT_EQ(root.params[2], (std::pair<std::string, std::string>{"name*", "UTF-8'de'%C3%84rger%20zwei.pdf"}));
    EXPECT_EQ(mk::imap::param(root.params, "name"), "Ärger zwei.pdf");
    EXPECT_EQ(mk::imap::param(root.params, "TITLE"), "ä");
    EXPECT_EQ(mk::imap::param(root.disposition_params, "filename"), "€");
    EXPECT_EQ(mk::imap::param(root.params, "missing"), std::nullopt);
}

TEST(ImapStructure, BoundaryIsCutTo70Octets) {   // kMaxBoundary, RFC 2046 5.1.1
    std::string b(100, 'b');
    std::string m = "Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n\r\none\r\n--" +
                    b.substr(0, 70) + "\r\n\r\ntwo\r\n--" + b + "--\r\n";
    BodyPart root = mk::imap::parse(m);
    // the 70-octet delimiter line is one too; the close delimiter of the whole boundary is not (what
    // follows the first 70 octets is not "--"): an empty third part, as Dovecot has it
    ASSERT_EQ(root.parts.size(), 3u);
    EXPECT_EQ(body_of(root.parts[1], m), "two");
    EXPECT_EQ(body_of(root.parts[2], m), "");
}

TEST(ImapStructure, HeaderFieldsReadAreBounded) {   // kMaxHeaderFields = 10000
    std::string h;
    for (int i = 0; i < 10000; ++i) h += "X: y\r\n";
    EXPECT_EQ(mk::imap::envelope(h + "Subject: late\r\n\r\n"), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    EXPECT_EQ(mk::imap::envelope(h.substr(6) + "Subject: in\r\n\r\n"),
              "(NIL \"in\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST(ImapStructure, EncodedWordsDecodedAreBounded) {   // kMaxEncodedWords = 1000
    std::string h = "Subject:";
    for (int i = 0; i < 1001; ++i) h += " =?utf-8?q?a?=";
    h += "\r\n\r\n";
    auto v = mk::imap::header_value(h, "subject");
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, std::string(1000, 'a') + " =?utf-8?q?a?=");
}

TEST(ImapStructure, LimitsAreWhatTheHeaderSays) {
    EXPECT_EQ(mk::imap::kMaxPartDepth, 32u);
    EXPECT_EQ(mk::imap::kMaxParts, 2000u);
}

}  // namespace
