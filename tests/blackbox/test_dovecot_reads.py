# tests/blackbox/test_dovecot_reads.py — mailkeep's Maildir is a real Maildir: a private Dovecot
# (on 127.0.0.1 high ports, mail_location = maildir:DATA_DIR/mail/%u) serves what mailkeep delivered
# over IMAP with the same bytes and sizes and logs no error; afterwards mailkeep's own POP3 still
# reads the files Dovecot moved to cur/, with the same UIDLs.
import imaplib
import os
import poplib
import re

import pytest

from dovecot import DOVECOT, Dovecot, hand_over
from harness import make_message
from smtputil import send

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot is not installed")


def norm(b):
    return b.replace(b"\r\n", b"\n")


@pytest.fixture
def delivered(mailkeep):
    """delivered - four messages for anna (plain, dot lines, 8-bit, 200 KB); returns {msgid: file bytes}."""
    bodies = [b"plain body\r\n",
              b".leading dot\r\n..two\r\n.\r\nend\r\n",
              "8-bit: gr\xfc\xdfe, \u2603\r\n".encode(),
              b"0123456789abcdef" * 60 + b"\r\n" + (b"x" * 998 + b"\r\n") * 200]
    ids = []
    for i, body in enumerate(bodies):
        mid = f"<dovecot-{i}@client.test>"
        ids.append(mid)
        send(mailkeep, "sender@example.org", ["anna@home.arpa"], make_message(f"dovecot {i}", body, msgid=mid),
             mail_options=["BODY=8BITMIME"])
    msgs = mailkeep.wait_for_messages("anna", len(bodies))
    by_id = {}
    for raw in msgs:
        mid = re.search(rb"^Message-ID: (<[^>]+>)", raw, re.M | re.I).group(1).decode()
        by_id[mid] = raw
    assert sorted(by_id) == sorted(ids)
    return by_id


@pytest.fixture
def dovecot(mailkeep, delivered, tmp_path):
    mail_root = mailkeep.data_dir / "mail"
    uid = gid = hand_over(mail_root / "anna")
    d = Dovecot(tmp_path / "dovecot", mail_root, {"anna": "imap-pw"}, uid=uid, gid=gid)
    d.start()
    try:
        yield d
    finally:
        d.stop()


def test_dovecot_imap_reads_same_bytes(dovecot, delivered):
    imap = imaplib.IMAP4("127.0.0.1", dovecot.imap_port, timeout=10)
    try:
        imap.login("anna", "imap-pw")
        typ, data = imap.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) == len(delivered), data
        for mid, raw in delivered.items():
            typ, hits = imap.search(None, "HEADER", "Message-ID", mid)
            assert typ == "OK" and len(hits[0].split()) == 1, f"Dovecot cannot find {mid}: {hits}"
            seq = hits[0].split()[0]
            typ, resp = imap.fetch(seq, "(RFC822.SIZE BODY.PEEK[])")
            assert typ == "OK", resp
            meta, body = resp[0]
            size = int(re.search(rb"RFC822\.SIZE (\d+)", meta).group(1))
            assert norm(body) == norm(raw), f"{mid}: Dovecot serves different bytes"
            assert size == len(raw), f"{mid}: Dovecot says {size} octets, the file has {len(raw)}"
            typ, resp = imap.fetch(seq, "(BODY.PEEK[HEADER.FIELDS (RETURN-PATH)])")
            assert b"Return-Path: <sender@example.org>" in resp[0][1]
    finally:
        imap.logout()
    assert dovecot.errors() == [], "Dovecot logged errors reading mailkeep's Maildir:\n" + \
        "\n".join(dovecot.errors())


def test_mailkeep_pop3_reads_after_dovecot_moved_to_cur(mailkeep, delivered, tmp_path):
    p = poplib.POP3("127.0.0.1", mailkeep.ports["pop3"], timeout=10)
    p.user("anna")
    p.pass_(mailkeep.password("anna"))
    before = sorted(l.split()[1] for l in p.uidl()[1])
    p.quit()

    mail_root = mailkeep.data_dir / "mail"
    uid = gid = hand_over(mail_root / "anna")
    d = Dovecot(tmp_path / "dovecot2", mail_root, {"anna": "imap-pw"}, uid=uid, gid=gid).start()
    try:
        imap = imaplib.IMAP4("127.0.0.1", d.imap_port, timeout=10)
        imap.login("anna", "imap-pw")
        imap.select("INBOX")                       # read-write: Dovecot moves new/ -> cur/
        imap.fetch("1:*", "(BODY[])")              # and sets \Seen (renames with :2,S)
        imap.logout()
    finally:
        d.stop()
    assert list((mail_root / "anna" / "new").iterdir()) == []
    assert all(":2," in f.name for f in (mail_root / "anna" / "cur").iterdir() if f.is_file()
               and not f.name.startswith("dovecot"))

    p = poplib.POP3("127.0.0.1", mailkeep.ports["pop3"], timeout=10)
    try:
        p.user("anna")
        p.pass_(mailkeep.password("anna"))
        assert p.stat()[0] == len(delivered), "mailkeep lost messages that Dovecot moved to cur/"
        assert sorted(l.split()[1] for l in p.uidl()[1]) == before, "UIDLs changed when Dovecot renamed new/ -> cur/:2,S"
        got = set()
        for i in range(1, len(delivered) + 1):
            got.add(b"".join(l + b"\r\n" for l in p.retr(i)[1]))
        assert got == set(delivered.values())
    finally:
        p.quit()


def test_dovecot_sees_new_mail_after_start(mailkeep, dovecot):
    # mailkeep keeps delivering into a Maildir that Dovecot has indexed already.
    send(mailkeep, "sender@example.org", ["anna@home.arpa"], make_message("late", msgid="<late@client.test>"))
    mailkeep.wait_for_messages("anna", 5)
    hand_over(mailkeep.maildir("anna"))
    imap = imaplib.IMAP4("127.0.0.1", dovecot.imap_port, timeout=10)
    try:
        imap.login("anna", "imap-pw")
        imap.select("INBOX", readonly=True)
        typ, hits = imap.search(None, "HEADER", "Message-ID", "<late@client.test>")
        assert len(hits[0].split()) == 1, hits
    finally:
        imap.logout()
    assert dovecot.errors() == [], "\n".join(dovecot.errors())
