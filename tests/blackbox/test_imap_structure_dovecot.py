# tests/blackbox/test_imap_structure_dovecot.py — differential test of imap/structure against Dovecot
# 2.3 as an IMAP server: the same messages (Python's email test corpus from Debian's
# libpython3.11-testsuite, and our own in mime_corpus/: multipart/alternative, attachments,
# message/rfc822, encoded words, 8-bit, malformed MIME) are put into a Maildir served by a private
# Dovecot, and what imaplib reads from it (ENVELOPE, BODYSTRUCTURE, BODY, BODY[HEADER], BODY[TEXT],
# BODY[HEADER.FIELDS ...], BODY[n], BODY[n.MIME], BODY[n.HEADER], BODY[n.TEXT], BINARY[n]) must equal,
# octet for octet, what build/tests/imap_structure_dump prints for the same file. The files get CRLF
# line ends first (a bare LF becomes CRLF, as mailkeep's intake stores them), so that both servers see
# the same octets.
#
# Deliberate differences (excused below, each by message and item; everything else must agree):
# - message/global (RFC 6532 3.5): RFC 9051 7.5.2 gives it the envelope, body structure and lines of
#   the message it encloses, as message/rfc822; Dovecot 2.3 predates that and shows it as a basic
#   part. We follow RFC 9051 (so its inner parts are numbered, BODY[1.1] and so on).
# - BINARY[n] of a part whose Content-Transfer-Encoding is unknown or whose base64 is cut short:
#   Dovecot answers NO [UNKNOWN-CTE] or, for the broken base64, hangs up ("Base64 data ends
#   prematurely"); decoded() gives nullopt, which the session turns into NO [UNKNOWN-CTE]. The test
#   checks that both refuse.
# - NUL in BODY[section]: structure gives the ranges of the file; Dovecot sends each NUL as 0x80
#   (no literal may carry NUL, RFC 3501 4.3), which is the session's job when it sends them, so the
#   test applies that replacement to our bytes before comparing. NULs in ENVELOPE and BODYSTRUCTURE
#   strings are structure's own job and become U+FFFD, as Dovecot's header parser makes them.
# Generated messages (Python's email package, as a client writes them) are added to the corpus.
# DIFFERENCES below lists the items where the two disagree on purpose; the test fails when a listed
# difference goes away too (so the list stays true).
import imaplib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dovecot import Dovecot, hand_over

HERE = Path(__file__).resolve().parent
TOP = HERE.parent.parent
PY_CORPUS = Path("/usr/lib/python3.11/test/test_email/data")
OWN_CORPUS = HERE / "mime_corpus"

# (file name, FETCH item) -> why we differ from Dovecot on purpose.
DIFFERENCES = {
    ("mime_corpus/message_global.eml", "BODYSTRUCTURE"): "message/global encloses a message (RFC 9051)",
    ("mime_corpus/message_global.eml", "BODY"): "message/global encloses a message (RFC 9051)",
    ("mime_corpus/message_global.eml", "BODY[1.HEADER]"): "message/global encloses a message (RFC 9051)",
    ("mime_corpus/message_global.eml", "BODY[1.TEXT]"): "message/global encloses a message (RFC 9051)",
}


def dump_binary():
    """dump_binary - the test tool, next to the daemon's binary (MAILKEEP_BIN) or in build/tests."""
    candidates = []
    if os.environ.get("MAILKEEP_BIN"):
        candidates.append(Path(os.environ["MAILKEEP_BIN"]).parent / "tests" / "imap_structure_dump")
    candidates.append(TOP / "build" / "tests" / "imap_structure_dump")
    for c in candidates:
        if c.exists():
            return c
    pytest.skip("imap_structure_dump is not built")


def generated():
    """generated - {name: octets} of messages as a mail client writes them today (Python's email
    package, policy SMTP): attachments with non-ASCII names (RFC 2231), alternatives, forwards, charsets."""
    from email.message import EmailMessage
    from email.policy import SMTP

    out = {}
    names = ["plain.txt", "Übersicht März.pdf", "日本語.txt", "a \"quoted\" name.bin", "x" * 90 + ".dat"]
    for n, name in enumerate(names):
        m = EmailMessage(policy=SMTP)
        m["From"] = "Änne Müller <anne@home.arpa>"
        m["To"] = "Ben <ben@home.arpa>, Carl <carl@home.arpa>"
        m["Subject"] = f"Anhang Nr. {n}: {name}"
        m["Message-ID"] = f"<gen-{n}@home.arpa>"
        m.set_content("Hallo,\nanbei die Datei.\n" + "Zeile äöü\n" * n)
        m.add_alternative(f"<p>Hallo <b>{n}</b></p>", subtype="html")
        m.add_attachment(bytes(range(256)) * (n + 1), maintype="application", subtype="octet-stream", filename=name)
        if n % 2:
            inner = EmailMessage(policy=SMTP)
            inner["From"] = "carl@home.arpa"
            inner["Subject"] = "weitergeleitet"
            inner.set_content("Das Original.\n", charset="iso-8859-1", cte="quoted-printable")
            m.add_attachment(inner)
        out[f"generated_{n}.eml"] = m.as_bytes()
    return out


def corpus():
    """corpus - [(label, path or octets)] of every message: Python's corpus, ours, generated ones."""
    assert PY_CORPUS.is_dir(), f"{PY_CORPUS}: install libpython3.11-testsuite (scripts/deps.sh --test)"
    out = [(f"python/{p.name}", p) for p in sorted(PY_CORPUS.glob("msg_*.txt"))]
    out += [(f"mime_corpus/{p.name}", p) for p in sorted(OWN_CORPUS.glob("*.eml"))]
    out += [(f"generated/{name}", data) for name, data in generated().items()]
    return out


def crlf(data):
    """crlf - every LF without its CR given one (store/crlf.hpp's rule); a lone CR stays."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


# ---- A small reader of IMAP values (RFC 3501 9), keeping each value's octets as sent ----

def parse_value(buf, i):
    """parse_value - the value at buf[i:] -> (value, end): None for NIL, bytes for strings, list, or
    str for atoms and numbers."""
    c = buf[i:i + 1]
    if not c:
        raise ValueError(f"IMAP value expected at the end of {bytes(buf[-200:])!r}")
    if c == b"~" and buf[i + 1:i + 2] == b"{":   # literal8 (RFC 3516 4.2), BINARY's answer
        i += 1
        c = b"{"
    if c == b"(":
        i += 1
        items = []
        while True:
            while buf[i:i + 1] == b" ":
                i += 1
            if buf[i:i + 1] == b")":
                return items, i + 1
            v, i = parse_value(buf, i)
            items.append(v)
    if c == b'"':
        out = bytearray()
        i += 1
        while buf[i:i + 1] != b'"':
            if i >= len(buf):
                raise ValueError("unterminated quoted string")
            if buf[i:i + 1] == b"\\":
                i += 1
            out += buf[i:i + 1]
            i += 1
        return bytes(out), i + 1
    if c == b"{":
        j = buf.index(b"}", i)
        n = int(buf[i + 1:j])
        start = j + 3
        return bytes(buf[start:start + n]), start + n
    j = i
    while j < len(buf) and buf[j:j + 1] not in (b" ", b")", b"("):
        if buf[j:j + 1] == b"[":
            j = buf.index(b"]", j)
        j += 1
    atom = buf[i:j].decode("latin-1")
    return (None if atom.upper() == "NIL" else atom), j


def parse_fetch(raw):
    """parse_fetch - '* n FETCH (NAME value ...)' (without '* ') -> {NAME: (value, raw octets)}."""
    i = raw.index(b"(")
    i += 1
    items = {}
    while raw[i:i + 1] != b")":
        if i >= len(raw):
            raise ValueError(f"unterminated FETCH response {raw[:300]!r}")
        while raw[i:i + 1] == b" ":
            i += 1
        name, i = parse_value(raw, i)
        i += 1   # the space
        start = i
        value, i = parse_value(raw, i)
        items[name.upper()] = (value, bytes(raw[start:i]))
        while raw[i:i + 1] == b" ":
            i += 1
    return items


class Server:
    """Server - an imaplib session on Dovecot's INBOX that comes back after Dovecot hangs up: it does
    so on BINARY of a broken base64 body ("Base64 data ends prematurely"), its way of refusing."""

    def __init__(self, dovecot):
        self.dovecot = dovecot
        self.imap = None
        self.connect()

    def connect(self):
        self.imap = imaplib.IMAP4("127.0.0.1", self.dovecot.imap_port, timeout=30)
        self.imap.login("anna", "pw")
        typ, data = self.imap.select("INBOX", readonly=True)
        assert typ == "OK"
        return int(data[0])

    def fetch(self, seq, items):
        """fetch - the FETCH items of message seq as {NAME: (value, raw)}; None when Dovecot refuses."""
        # what a failed FETCH left behind is not this one's answer
        self.imap.untagged_responses.pop("FETCH", None)
        try:
            typ, data = self.imap.fetch(str(seq), items)
        except imaplib.IMAP4.abort:
            self.connect()
            return None
        except imaplib.IMAP4.error:
            return None
        if typ != "OK":
            return None
        return raw_fetch(data)


def raw_fetch(data):
    """raw_fetch - imaplib's FETCH data back into the response's octets, parsed."""
    raw = b""
    for x in data:
        if isinstance(x, tuple):
            raw += x[0] + b"\r\n" + x[1]
        elif x is not None:
            raw += x
    return parse_fetch(raw)


def read_dump(path):
    """read_dump - the records of imap_structure_dump for path, {NAME: octets} in order."""
    out = subprocess.run([str(dump_binary()), str(path)], capture_output=True, timeout=30, check=True).stdout
    records = {}
    i = 0
    while i < len(out):
        nl = out.index(b"\n", i)
        name, _, size = out[i:nl].decode("latin-1").rpartition(" ")
        n = int(size)
        records[name] = out[nl + 1:nl + 1 + n]
        i = nl + 1 + n + 1
    return records


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """served - (imap session on Dovecot's INBOX, [(label, crlf file)]) for the whole corpus."""
    root = tmp_path_factory.mktemp("structure")
    mail = root / "mail"
    md = mail / "anna"
    for d in ("new", "cur", "tmp"):
        (md / d).mkdir(parents=True)
    files = []
    for n, (label, path) in enumerate(corpus()):
        data = crlf(path if isinstance(path, bytes) else path.read_bytes())
        f = root / "crlf" / label
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
        # uid order = name order: Dovecot sorts new files by name when it first lists the Maildir
        (md / "cur" / f"{1000000 + n}.M{n}P1.test:2,").write_bytes(data)
        files.append((label, f))
    uid = hand_over(mail)
    d = Dovecot(root / "dovecot", mail, {"anna": "pw"}, uid=uid, gid=uid).start()
    try:
        server = Server(d)
        assert server.connect() == len(files)
        yield server, files
        server.imap.logout()
    finally:
        d.stop()


TOP_ITEMS = ["ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY[HEADER]", "BODY[TEXT]",
             "BODY[HEADER.FIELDS (FROM SUBJECT CONTENT-TYPE)]", "BODY[HEADER.FIELDS.NOT (RECEIVED SUBJECT)]"]


def compare(server, seq, label, path):
    """compare - [(item, ours, Dovecot's)] of every item where the two differ, for message seq."""
    ours = read_dump(path)
    diffs = []
    peek = " ".join(i.replace("BODY[", "BODY.PEEK[") for i in TOP_ITEMS)
    theirs = server.fetch(seq, f"({peek})")
    for item in TOP_ITEMS:
        t = theirs.get(item)
        t_raw = b"NIL" if t is None else (t[1] if item in ("ENVELOPE", "BODYSTRUCTURE", "BODY") else (t[0] or b""))
        mine = ours.get(item)
        if item.startswith("BODY[") and mine is not None:
            mine = mine.replace(b"\0", b"\x80")   # the session's job: no literal carries NUL
        if mine != t_raw:
            diffs.append((item, mine, t_raw))
    for name, data in ours.items():
        if not (name.startswith("BODY[") or name.startswith("BINARY[") or name.startswith("NOBINARY[")) \
                or name in TOP_ITEMS:
            continue
        if name.startswith("NOBINARY["):
            item = name[2:]
            got = server.fetch(seq, f"({item.replace('BINARY[', 'BINARY.PEEK[')})")
            if got is not None:
                diffs.append((item, None, got.get(item, (None, None))[0]))
            continue
        peek_name = name.replace("BODY[", "BODY.PEEK[").replace("BINARY[", "BINARY.PEEK[")
        got = server.fetch(seq, f"({peek_name})")
        if got is None:
            diffs.append((name, data, None))
            continue
        value = got.get(name, (None, None))[0]
        if name.startswith("BODY["):
            data = data.replace(b"\0", b"\x80")   # the session's job: no literal carries NUL
        if (value or b"") != data:
            diffs.append((name, data, value))
    return diffs


def test_structure_agrees_with_dovecot(served):
    server, files = served
    agree, differ, excused = [], [], []
    for seq, (label, path) in enumerate(files, 1):
        diffs = compare(server, seq, label, path)
        unexcused = [d for d in diffs if (label, d[0]) not in DIFFERENCES]
        if unexcused:
            differ.append((label, unexcused))
        elif diffs:
            excused.append(label)
        else:
            agree.append(label)
    # Every excused difference is still a difference.
    for label, item in DIFFERENCES:
        assert label in excused or any(label == d[0] for d in differ), f"{label} {item}: now agrees; update DIFFERENCES"
    print(f"\n{len(files)} messages: {len(agree)} agree in every item, {len(excused)} differ only as listed")
    report = []
    for label, diffs in differ:
        for item, ours, theirs in diffs:
            report.append(f"{label} {item}:\n  ours:    {ours!r}\n  dovecot: {theirs!r}")
    assert not differ, f"{len(differ)} of {len(files)} messages differ from Dovecot:\n" + "\n".join(report)
