# tests/blackbox/test_imap_search_dovecot.py — differential test of the IMAP server's SEARCH against
# Dovecot 2.3: the corpus of test_imap_structure_dovecot.py (its corpus() and crlf(), not a copy) and a
# few messages of our own (EXTRA: bodies in quoted-printable and base64, a Latin-1 body, an encoded-word
# subject, a Date late in the evening west of UTC) are put into a Maildir served by a private Dovecot
# and into anna's Maildir of a running mailkeep, both given the same flags, keywords and internal
# dates, and every search key of RFC 3501 6.4.4 (with sequence sets, nested OR/NOT, CHARSET UTF-8 with
# non-ASCII strings, encoded-word subjects), as SEARCH and as UID SEARCH, must find the same messages.
#
# Where the two differ, the messages that differ are listed by command, each with why:
# - DIFFERENCES, on purpose (or where RFC 3501 leaves the choice open):
#   - a message without a Date: field that parses has no sent date for mailkeep, so no SENT* key
#     finds it; Dovecot takes such a message as sent on 1-Jan-1970 (RFC 3501 says nothing of them).
#     Applied as a rule to every SENT* search (undated()) rather than listed.
# - KNOWN_BUGS: mailkeep answers against the RFC (none left).
# The test fails when a listed difference goes away too, so that the lists stay true.
# RECENT, NEW and OLD agree: the corpus is new to both servers, and each makes it \Recent to the one
# session that selects it first, the searching one.
import base64
import os
import re
import socket
from email.utils import parsedate_tz

import pytest

from dovecot import Dovecot, hand_over
from harness import DEFAULT_USERS
from test_imap_structure_dovecot import corpus, crlf

ANNA_PW = DEFAULT_USERS["anna"][0]

# Flags and keywords given to the corpus, by sequence number (STORE on both servers, so that each
# keeps them its own way), and internal dates (the files' mtimes, which both servers read).
FLAGGED = {
    "\\Seen": "1:20,30:40",
    "\\Answered": "2,4,6,8,35:37",
    "\\Flagged": "3:9,50",
    "\\Deleted": "10,11,60",
    "\\Draft": "12,13",
    "$Work": "1:5,41",
    "$Private": "5:15",
}
BASE_TIME = 1_600_000_000   # 13-Sep-2020 12:26:40 UTC


def internal_time(n):
    """internal_time - the internal date of message n (1-based): one message every 7 hours from BASE_TIME."""
    return BASE_TIME + (n - 1) * 7 * 3600


# Every key of RFC 3501 6.4.4, then sets, nesting, charsets. Strings are sent as literals where they are
# not ASCII (bytes); str commands go on the command line as written.
SEARCHES = [
    "ALL",
    "ANSWERED", "UNANSWERED", "DELETED", "UNDELETED", "DRAFT", "UNDRAFT", "FLAGGED", "UNFLAGGED",
    "SEEN", "UNSEEN", "NEW", "OLD", "RECENT",
    "KEYWORD $Work", "KEYWORD $Private", "UNKEYWORD $Work", "KEYWORD $Nothing", "UNKEYWORD $Nothing",
    "BEFORE 15-Sep-2020", "ON 14-Sep-2020", "SINCE 20-Sep-2020", "SINCE 1-Jan-2030", "BEFORE 1-Jan-1990",
    "SENTBEFORE 1-Jan-2001", "SENTON 20-Apr-2001", "SENTON 21-Apr-2001", "SENTSINCE 1-May-2001", "SENTBEFORE 1-Jan-2030",
    "SENTON 4-May-2001", "SENTSINCE 1-Jan-1970",
    "LARGER 2000", "SMALLER 1000", "LARGER 0", "SMALLER 100000",
    "FROM barry", "FROM \"Barry A. Warsaw\"", "FROM python.org", "FROM aperson@dom.ain", "FROM nobody-at-all",
    "TO bbb", "TO example.com", "CC cc", "CC example", "BCC a", "BCC nobody",
    "SUBJECT test", "SUBJECT \"Ppp\"", "SUBJECT LYRICS", "SUBJECT \"\"", "SUBJECT encoded", "SUBJECT \"encoded words\"",
    "SUBJECT Anhang",
    "BODY Barry", "BODY dingus", "BODY \"\"", "BODY nothing-here-at-all",
    "TEXT dingus", "TEXT Subject", "TEXT \"Lyrics\"", "TEXT python.org",
    "HEADER Message-ID gen-", "HEADER X-Mailer \"\"", "HEADER Content-Type multipart", "HEADER X-Nothing x",
    "HEADER MIME-Version 1.0",
    "UID 1:10", "UID 5,7,9:12", "UID 30:*", "UID *",
    "1:10", "5,7,9:12", "30:*", "*", "2:1",
    "NOT SEEN", "NOT 1:10", "NOT NOT FLAGGED",
    "OR SEEN FLAGGED", "OR OR SEEN FLAGGED DELETED", "OR (SEEN FLAGGED) (DELETED NOT DRAFT)",
    "NOT OR SUBJECT test FROM barry", "OR NOT SEEN NOT FLAGGED", "(OR 1:5 30:35) NOT (OR 3 32)",
    "SEEN UNFLAGGED SUBJECT test", "OR (SUBJECT test) (OR FROM barry BODY dingus) LARGER 500",
    "UNSEEN KEYWORD $Private SENTSINCE 1-Jan-2001",
    "CHARSET US-ASCII SUBJECT test",
    "CHARSET UTF-8 SUBJECT test",
    ("CHARSET UTF-8 SUBJECT ", "März".encode()),
    ("CHARSET UTF-8 SUBJECT ", "Übersicht".encode()),
    ("CHARSET UTF-8 FROM ", "Änne".encode()),
    ("CHARSET UTF-8 FROM ", "Ärle".encode()),
    ("CHARSET UTF-8 TO ", "Jörg".encode()),
    ("CHARSET UTF-8 BODY ", "äöü".encode()),
    ("CHARSET UTF-8 TEXT ", "Zeile äöü".encode()),
    ("CHARSET UTF-8 CC ", "€".encode()),
    ("CHARSET UTF-8 SUBJECT ", "8-bit ä".encode()),
    ("CHARSET UTF-8 HEADER Subject ", "日本語".encode()),
    ("CHARSET UTF-8 SUBJECT ", "München".encode()),
    ("CHARSET UTF-8 SUBJECT ", "Käse".encode()),
    ("CHARSET UTF-8 FROM ", "Zoë".encode()),
    ("CHARSET UTF-8 BODY ", "Grüße".encode()),
    ("CHARSET UTF-8 TEXT ", "Brücke".encode()),
    ("CHARSET UTF-8 BODY ", "Käse".encode()),
    "BODY Brot", "BODY Gr=C3", "TEXT U3RyYW", "SENTON 1-Jan-2022", "SENTON 2-Jan-2022", "SENTBEFORE 2-Jan-2022",
    "SENTSINCE 2-Jan-2022",
]

# command -> (labels of the messages found by one server only, why). Commands are as label() names them.
# Empty now: every search agrees, apart from the rule for undated messages (undated()).
DIFFERENCES = {}

# command -> (labels of the messages found by one server only, what RFC mailkeep breaks). Empty: the
# SENT* dates as written (they were converted to UTC first), BODY and TEXT decoded and in UTF-8 (they
# compared the encoded octets) were fixed; the scope of BODY (only the text of the parts) and TEXT (and
# every header on the way) is now Dovecot's.
KNOWN_BUGS = {}


def extra():
    """extra - [(label, octets)] of our own messages for what the corpus lacks."""
    def msg(headers, body):
        return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("ascii")
    b64 = base64.b64encode("Straße und Brücke\r\n".encode()).decode()
    return [
        ("extra/qp_utf8.eml", msg(["From: =?UTF-8?Q?Zo=C3=AB?= <zoe@home.arpa>", "To: anna@home.arpa",
                                   "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=",
                                   "Date: Sun, 02 Jan 2022 10:00:00 +0100", "MIME-Version: 1.0",
                                   "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"],
                                  "Gr=C3=BC=C3=9Fe aus M=C3=BCnchen\r\n")),
        ("extra/base64_utf8.eml", msg(["From: ben@home.arpa", "Subject: base64", "Date: Mon, 03 Jan 2022 10:00:00 +0000",
                                       "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                                       "Content-Transfer-Encoding: base64"], b64 + "\r\n")),
        ("extra/qp_latin1.eml", msg(["From: ben@home.arpa", "Subject: =?ISO-8859-1?Q?K=E4se?=",
                                     "Date: Tue, 04 Jan 2022 10:00:00 +0000", "MIME-Version: 1.0",
                                     "Content-Type: text/plain; charset=iso-8859-1",
                                     "Content-Transfer-Encoding: quoted-printable"], "K=E4se und Brot\r\n")),
        ("extra/evening_west.eml", msg(["From: carl@example.org", "Subject: late", "Date: Sat, 1 Jan 2022 23:30:00 -0500"],
                                       "written on the first\r\n")),
    ]


def undated(files):
    """undated - the labels of the messages whose Date: field is missing or does not parse."""
    out = set()
    for label_, path in files:
        header = path.read_bytes().split(b"\r\n\r\n", 1)[0].decode("latin-1")
        m = re.search(r"^Date:[ \t]*(.*(?:\r\n[ \t].*)*)", header, re.M | re.I)
        if not m or parsedate_tz(m.group(1).replace("\r\n", "")) is None:
            out.add(label_)
    return out


class Raw:
    """Raw - a minimal IMAP client over a socket: each command a list of pieces, bytes pieces sent as
    synchronizing literals after the server's "+"; untagged lines collected until the tagged one."""

    def __init__(self, port, user, password):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.file = self.sock.makefile("rb")
        self.tags = 0
        greeting = self.file.readline()
        assert greeting.startswith(b"* OK"), greeting
        status, lines = self.command(f"LOGIN {user} {password}")
        assert status.startswith(b"OK"), (status, lines)

    def command(self, *pieces):
        """command - (tagged status line without the tag, [untagged lines]) for the command."""
        self.tags += 1
        tag = f"t{self.tags}".encode()
        out = tag + b" "
        for p in pieces:
            if isinstance(p, bytes):
                self.sock.sendall(out + b"{%d}\r\n" % len(p))
                cont = self.file.readline()
                if not cont.startswith(b"+"):
                    return cont[len(tag) + 1:].rstrip(b"\r\n"), []
                out = p
            else:
                out += p.encode()
        self.sock.sendall(out + b"\r\n")
        untagged = []
        while True:
            line = self.file.readline()
            assert line, "the server hung up"
            if line.startswith(tag + b" "):
                return line[len(tag) + 1:].rstrip(b"\r\n"), untagged
            untagged.append(line.rstrip(b"\r\n"))

    def ok(self, *pieces):
        status, lines = self.command(*pieces)
        assert status.startswith(b"OK"), (pieces, status)
        return lines

    def close(self):
        try:
            self.command("LOGOUT")
        finally:
            self.sock.close()


def search(client, command, uid=False):
    """search - the sequence numbers (UIDs with uid) SEARCH finds, sorted; or the status word of a
    refusal ("NO", "BAD")."""
    verb = "UID SEARCH " if uid else "SEARCH "
    pieces = [verb + command] if isinstance(command, str) else [verb + command[0], command[1]]
    status, lines = client.command(*pieces)
    if not status.startswith(b"OK"):
        return status.split(b" ", 1)[0].decode()
    found = []
    for line in lines:
        if line.startswith(b"* SEARCH"):
            found += [int(x) for x in line[len(b"* SEARCH"):].split()]
    return sorted(found)


def label(command):
    return command if isinstance(command, str) else command[0] + command[1].decode()


def fill(maildir, files):
    """fill - the crlf files into maildir/cur under the same names and mtimes on both servers."""
    for d in ("new", "cur", "tmp"):
        (maildir / d).mkdir(parents=True, exist_ok=True)
    for n, (_, path) in enumerate(files):
        target = maildir / "cur" / f"{1000000 + n}.M{n}P1.test:2,"
        target.write_bytes(path.read_bytes())
        os.utime(target, (internal_time(n + 1), internal_time(n + 1)))


@pytest.fixture
def both(tmp_path, mailkeep_factory):
    """both - (Dovecot's session, mailkeep's session), each SELECTed on an INBOX holding the corpus
    with the same flags."""
    files = []
    for label_, path in corpus() + extra():
        data = crlf(path if isinstance(path, bytes) else path.read_bytes())
        f = tmp_path / "crlf" / label_
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
        files.append((label_, f))
    mail = tmp_path / "dovecot-mail"
    fill(mail / "anna", files)
    uid = hand_over(mail)
    dovecot = Dovecot(tmp_path / "dovecot", mail, {"anna": "pw"}, uid=uid, gid=uid).start()
    mk = mailkeep_factory(start=False)
    fill(mk.maildir("anna"), files)
    mk.start()
    clients = []
    try:
        theirs = Raw(dovecot.imap_port, "anna", "pw")
        clients.append(theirs)
        ours = Raw(mk.ports["imap"], "anna", ANNA_PW)
        clients.append(ours)
        sizes = []
        for c in (theirs, ours):
            c.ok("SELECT INBOX")
            for flag, seqs in FLAGGED.items():
                c.ok(f"STORE {seqs} +FLAGS.SILENT ({flag})")
            sizes.append(c.ok("FETCH 1:* (RFC822.SIZE INTERNALDATE)"))
        # The same messages in the same order, with the same internal dates, on both.
        assert sizes[0] == sizes[1]
        assert len(sizes[0]) == len(files)
        yield theirs, ours, files
    finally:
        for c in clients:
            c.close()
        dovecot.stop()


def test_search_agrees_with_dovecot(both):
    theirs, ours, files = both
    labels = [label_ for label_, _ in files]
    no_date = undated(files)
    agree, unexplained, listed = [], [], set()
    for command in SEARCHES:
        name = label(command)
        for uid in (False, True):
            t, o = search(theirs, command, uid), search(ours, command, uid)
            if isinstance(t, str) or isinstance(o, str):   # a refusal: both must refuse alike
                if t != o:
                    unexplained.append(f"{'UID ' if uid else ''}SEARCH {name}:\n  mailkeep: {o}\n  dovecot:  {t}")
                continue
            # sequence numbers and UIDs both follow the file order here
            t, o = {labels[n - 1] for n in t}, {labels[n - 1] for n in o}
            if re.search(r"\bSENT(BEFORE|ON|SINCE)\b", name):
                assert not o & no_date, f"SEARCH {name}: mailkeep found undated messages {sorted(o & no_date)}"
                t -= no_date
            differ = t ^ o
            expected = (DIFFERENCES.get(name) or KNOWN_BUGS.get(name) or (set(), ""))[0]
            if differ == expected:
                if differ:
                    listed.add(name)
                else:
                    agree.append(name)
            else:
                unexplained.append(f"{'UID ' if uid else ''}SEARCH {name}: differs in {sorted(differ)}, "
                                   f"listed {sorted(expected)}\n  mailkeep only: {sorted(o - t)}\n"
                                   f"  dovecot only:  {sorted(t - o)}")
    print(f"\n{len(agree)} of {2 * len(SEARCHES)} SEARCH and UID SEARCH runs agree; {len(listed)} commands differ as listed")
    assert not unexplained, f"{len(unexplained)} searches differ from Dovecot otherwise than listed:\n" + "\n".join(unexplained)
    for name in list(DIFFERENCES) + list(KNOWN_BUGS):
        assert name in listed, f"{name}: no longer differs as listed; update DIFFERENCES or KNOWN_BUGS"
