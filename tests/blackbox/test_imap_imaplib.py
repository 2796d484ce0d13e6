# tests/blackbox/test_imap_imaplib.py — the IMAP server (issue 12) of a real daemon with Python's
# imaplib as the client: login (LOGIN, AUTHENTICATE PLAIN, the capabilities in the OK), a message
# delivered over SMTP read back byte for byte, flags stored into the Maildir's file names, SEARCH,
# COPY/MOVE with COPYUID, EXPUNGE, APPEND with APPENDUID, folders (the special-use ones, CREATE,
# RENAME, DELETE, STATUS), a second session told of changes on NOOP, IDLE woken by SMTP delivery within
# a second, POP3 and IMAP on one mailbox, STARTTLS and IMAPS.
import imaplib
import poplib
import re
import socket
import ssl
import time

import pytest

from harness import DEFAULT_USERS, make_message, wait_until
from imapsync import imap, ok
from smtputil import send

ANNA_PW = DEFAULT_USERS["anna"][0]


def code(conn, name):
    """code - the response code imaplib last saw, e.g. COPYUID's arguments."""
    return conn.untagged_responses.get(name, [None])[-1]


def test_login_and_capabilities(mailkeep):
    c = imaplib.IMAP4("127.0.0.1", mailkeep.ports["imap"], timeout=10)
    assert "IMAP4REV1" in c.capabilities and "AUTH=PLAIN" in c.capabilities and "IDLE" in c.capabilities
    assert "STARTTLS" in c.capabilities   # loopback: plaintext allowed, TLS offered
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login("anna", "wrong")
    typ, data = c.login("anna", ANNA_PW)
    assert typ == "OK" and b"[CAPABILITY IMAP4rev1" in data[0], data
    c.logout()
    # AUTHENTICATE PLAIN (SASL-IR: imaplib sends the response after the continuation).
    c = imaplib.IMAP4("127.0.0.1", mailkeep.ports["imap"], timeout=10)
    typ, _ = c.authenticate("PLAIN", lambda _: f"\0anna\0{ANNA_PW}".encode())
    assert typ == "OK"
    c.logout()


def test_delivered_mail_read_flagged_searched_moved(mailkeep):
    m1 = make_message("first", "hello imap\r\n", to="anna@home.arpa")
    m2 = make_message("second one", "the other body\r\n", to="anna@home.arpa")
    for m in (m1, m2):
        assert send(mailkeep, "sender@example.org", ["anna@home.arpa"], m) == {}
    mailkeep.wait_for_messages("anna", 2)
    c = imap(mailkeep)
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"2"]
    assert code(c, "UIDVALIDITY")
    # The whole message, as stored (with mailkeep's trace header in front).
    stored = sorted(mailkeep.maildir_messages("anna"), key=lambda b: b.find(b"Subject: second") >= 0)
    data = ok(c.fetch("1", "(RFC822.SIZE BODY.PEEK[] FLAGS)"))
    assert data[0][1] == stored[0]
    assert f"RFC822.SIZE {len(stored[0])}".encode() in data[0][0]
    assert b"\\Seen" not in data[0][0]
    data = ok(c.fetch("1", "(ENVELOPE BODYSTRUCTURE)"))
    assert b'"first"' in data[0] and b'"sender"' in data[0] and b'("text" "plain"' in data[0].lower(), data
    # BODY[] without PEEK sets \Seen, in the file name too (Maildir's S).
    data = ok(c.fetch("1", "(BODY[TEXT])"))
    assert data[0][1] == b"hello imap\r\n" and b"\\Seen" in data[1], data   # FLAGS after the literal
    wait_until(lambda: any(":2,S" in p.name for p in mailkeep.maildir_files("anna")), 5, "the S flag in a file name")
    ok(c.store("2", "+FLAGS", "(\\Flagged $Forwarded)"))
    assert any(p.name.endswith(":2,F") for p in mailkeep.maildir_files("anna"))
    assert ok(c.search(None, "UNSEEN")) == [b"2"]
    assert ok(c.search(None, "FLAGGED")) == [b"2"]
    assert ok(c.search(None, "KEYWORD", "$Forwarded")) == [b"2"]
    assert ok(c.search(None, "FROM", "sender@example.org")) == [b"1 2"]
    assert ok(c.search(None, "SUBJECT", "second")) == [b"2"]
    assert ok(c.search(None, "BODY", '"OTHER BODY"')) == [b"2"]
    assert ok(c.search(None, "NOT", "SEEN", "LARGER", "10")) == [b"2"]
    uids = ok(c.uid("SEARCH", None, "ALL"))[0].split()
    assert len(uids) == 2
    # COPY and MOVE report the new UIDs (UIDPLUS); MOVE expunges from the source.
    typ, data = c.uid("COPY", uids[0].decode(), "Archive")
    assert typ == "OK" and re.fullmatch(rb"\d+ " + uids[0] + rb" \d+", code(c, "COPYUID")), c.untagged_responses
    typ, data = c.uid("MOVE", uids[1].decode(), "Trash")
    assert typ == "OK", data
    typ, data = c.select("INBOX")
    assert data == [b"1"]
    ok(c.store("1", "+FLAGS", "(\\Deleted)"))
    typ, data = c.expunge()
    assert typ == "OK" and data == [b"1"], data
    assert mailkeep.maildir_files("anna") == []
    assert ok(c.select("Archive")) == [b"1"]
    assert ok(c.fetch("1", "(BODY.PEEK[TEXT])"))[0][1] == b"hello imap\r\n"
    assert ok(c.select("Trash")) == [b"1"]
    c.logout()


def test_folders_append_and_status(mailkeep):
    c = imap(mailkeep)
    data = ok(c.list())
    listing = b"\n".join(data)
    for name, use in (("Sent", b"\\Sent"), ("Drafts", b"\\Drafts"), ("Trash", b"\\Trash"), ("Junk", b"\\Junk"),
                      ("Archive", b"\\Archive")):
        assert re.search(rb"\(.*" + re.escape(use) + rb".*\) \".\" \"?" + name.encode(), listing), listing
    assert b'"INBOX"' in listing or b" INBOX" in listing
    ok(c.create("Projects"))
    ok(c.create("Projects.2024"))
    ok(c.create("Entw&APw-rfe"))   # "Entwürfe" in modified UTF-7
    listing = b"\n".join(ok(c.list('""', "*")))
    assert b"Entw&APw-rfe" in listing and b"Projects.2024" in listing
    assert (mailkeep.maildir("anna") / ".Entwürfe").is_dir()
    assert b"HasChildren" in ok(c.list('""', "Projects"))[0]
    ok(c.rename("Projects.2024", "Projects.Done"))
    assert (mailkeep.maildir("anna") / ".Projects.Done").is_dir()
    ok(c.delete("Projects.Done"))
    typ, data = c.create("Bad..Name")
    assert typ == "NO", data
    typ, data = c.create("../escape")
    assert typ == "NO", data
    msg = make_message("a draft", "not sent yet\r\n", sender="anna@home.arpa", to="ben@home.arpa")
    typ, data = c.append("Drafts", "(\\Draft)", None, msg)
    assert typ == "OK" and b"APPENDUID" in data[0], data
    typ, data = c.append("Nowhere", None, None, msg)
    assert typ == "NO" and b"TRYCREATE" in data[0], data
    data = ok(c.status("Drafts", "(MESSAGES UNSEEN UIDNEXT SIZE)"))
    assert re.search(rb"MESSAGES 1 UNSEEN 1 UIDNEXT \d+ SIZE " + str(len(msg)).encode(), data[0]), data
    assert ok(c.select("Drafts")) == [b"1"]
    data = ok(c.fetch("1", "(FLAGS BODY.PEEK[])"))
    assert data[0][1] == msg and b"\\Draft" in data[0][0]
    drafts = mailkeep.maildir("anna") / ".Drafts" / "cur"
    assert [p.name.endswith(":2,D") for p in drafts.iterdir()] == [True]
    c.logout()


def test_a_second_session_hears_of_changes(mailkeep):
    send(mailkeep, "sender@example.org", ["anna@home.arpa"], make_message("one", to="anna@home.arpa"))
    mailkeep.wait_for_messages("anna", 1)
    a, b = imap(mailkeep), imap(mailkeep)
    a.select("INBOX")
    b.select("INBOX")
    ok(a.store("1", "+FLAGS", "(\\Flagged)"))
    b.untagged_responses.clear()
    send(mailkeep, "sender@example.org", ["anna@home.arpa"], make_message("two", to="anna@home.arpa"))
    mailkeep.wait_for_messages("anna", 2)
    ok(b.noop())
    assert b.untagged_responses.get("EXISTS") == [b"2"], b.untagged_responses
    assert any(b"\\Flagged" in f for f in b.untagged_responses.get("FETCH", [])), b.untagged_responses
    ok(a.store("1", "+FLAGS", "(\\Deleted)"))
    ok(a.expunge())
    b.untagged_responses.clear()
    ok(b.noop())
    assert b.untagged_responses.get("EXPUNGE") == [b"1"], b.untagged_responses
    a.logout()
    b.logout()


def read_until(sock, pattern, deadline):
    buf = b""
    sock.settimeout(0.1)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        if re.search(pattern, buf):
            return buf
    raise AssertionError(f"no {pattern!r} within {deadline}s; got {buf!r}")


def test_idle_hears_smtp_delivery_within_a_second(mailkeep):
    with socket.create_connection(("127.0.0.1", mailkeep.ports["imap"]), timeout=10) as s:
        read_until(s, rb"\* OK", 5)
        s.sendall(f"a LOGIN anna {ANNA_PW}\r\nb SELECT INBOX\r\n".encode())
        read_until(s, rb"b OK", 5)
        s.sendall(b"c IDLE\r\n")
        read_until(s, rb"\+ idling", 5)
        t0 = time.monotonic()
        send(mailkeep, "sender@example.org", ["anna@home.arpa"], make_message("pushed", to="anna@home.arpa"))
        read_until(s, rb"\* 1 EXISTS", 3)
        assert time.monotonic() - t0 < 1.5
        s.sendall(b"DONE\r\n")
        read_until(s, rb"c OK", 5)


def test_pop3_and_imap_share_the_mailbox(mailkeep):
    for i in range(2):
        send(mailkeep, "sender@example.org", ["anna@home.arpa"], make_message(f"m{i}", to="anna@home.arpa"))
    mailkeep.wait_for_messages("anna", 2)
    c = imap(mailkeep)
    c.select("INBOX")
    p = poplib.POP3("127.0.0.1", mailkeep.ports["pop3"], timeout=10)   # its lock does not block IMAP
    p.user("anna")
    p.pass_(ANNA_PW)
    assert p.stat()[0] == 2
    assert ok(c.fetch("1:*", "(FLAGS)"))
    p.dele(1)
    p.quit()
    c.untagged_responses.clear()
    ok(c.noop())
    assert c.untagged_responses.get("EXPUNGE") == [b"1"], c.untagged_responses
    assert ok(c.search(None, "ALL")) == [b"1"]
    c.logout()


def test_starttls_and_imaps(mailkeep):
    c = imaplib.IMAP4("127.0.0.1", mailkeep.ports["imap"], timeout=10)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ok(c.starttls(ssl_context=ctx))
    assert "STARTTLS" not in c.capabilities
    ok(c.login("anna", ANNA_PW))
    c.logout()
    c = imaplib.IMAP4_SSL("127.0.0.1", mailkeep.ports["imaps"], ssl_context=ctx, timeout=10)
    ok(c.login("anna", ANNA_PW))
    ok(c.select("INBOX"))
    c.logout()


def test_esearch_and_binary(mailkeep):
    msg = (b"From: <ben@home.arpa>\r\nTo: <anna@home.arpa>\r\nSubject: attachment\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
           b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"AAECAwQFaGVsbG8=\r\n--b--\r\n")
    for m in (make_message("one", to="anna@home.arpa"), msg):
        assert send(mailkeep, "ben@home.arpa", ["anna@home.arpa"], m) == {}
    mailkeep.wait_for_messages("anna", 2)
    c = imap(mailkeep)
    c.select("INBOX")
    typ, _ = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "ALL")
    assert typ == "OK"
    assert c.untagged_responses["ESEARCH"][-1].endswith(b"MIN 1 MAX 2 COUNT 2 ALL 1:2"), c.untagged_responses
    # RFC 3516: the attachment decoded; NUL bytes go in a literal8.
    typ, data = c._simple_command("FETCH", "2", "(BINARY.SIZE[2] BINARY.PEEK[2])")
    assert typ == "OK"
    fetched = c.untagged_responses["FETCH"]
    assert b"BINARY.SIZE[2] 11" in fetched[0][0], fetched
    assert fetched[0][1] == b"\x00\x01\x02\x03\x04\x05hello", fetched
    c.logout()
