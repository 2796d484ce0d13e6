# tests/blackbox/test_pop3_poplib.py — POP3 with Python's poplib (and raw bytes where poplib would
# hide them): sizes and bytes exactly the Maildir files, TOP, UIDL stability (sessions, restarts),
# deletion only at QUIT, [IN-USE], STLS, pop3s, AUTH PLAIN, dot-stuffing.
import base64
import os
import poplib

import pytest

from harness import make_message, wait_until
from smtputil import send
from wire import Pop3, insecure_context

SENDER = "sender@example.org"
BODIES = [b"short\r\n", b"medium line\r\n" * 40, b"longer body line with some text\r\n" * 300]


@pytest.fixture
def anna_box(mailkeep):
    """anna_box - three messages of different sizes delivered to anna; returns the daemon."""
    for i, body in enumerate(BODIES):
        send(mailkeep, SENDER, ["anna@home.arpa"], make_message(f"pop {i}", body))
    mailkeep.wait_for_messages("anna", len(BODIES))
    return mailkeep


def pop(mk, user="anna", password=None, role="pop3"):
    if role == "pop3s":
        p = poplib.POP3_SSL("127.0.0.1", mk.ports["pop3s"], timeout=10, context=insecure_context())
    else:
        p = poplib.POP3("127.0.0.1", mk.ports["pop3"], timeout=10)
    p.user(user)
    p.pass_(password or mk.password(user))
    return p


def retr_bytes(p, i):
    _, lines, _ = p.retr(i)
    return b"".join(l + b"\r\n" for l in lines)


def uidls(p):
    return dict(l.decode().split(" ", 1) for l in p.uidl()[1])


def test_stat_and_list_sizes_equal_file_sizes(anna_box):
    files = sorted(len(m) for m in anna_box.maildir_messages("anna"))
    p = pop(anna_box)
    try:
        count, total = p.stat()
        assert count == 3 and total == sum(files), (count, total, files)
        listed = sorted(int(l.split()[1]) for l in p.list()[1])
        assert listed == files
        for i in (1, 2, 3):
            assert int(p.list(i).split()[2]) == len(retr_bytes(p, i))
    finally:
        p.quit()


def test_retr_bytes_equal_file_bytes(anna_box):
    files = anna_box.maildir_messages("anna")
    p = pop(anna_box)
    try:
        got = [retr_bytes(p, i) for i in (1, 2, 3)]
    finally:
        p.quit()
    assert sorted(got) == sorted(files)


def test_retr_of_a_message_not_in_the_page_cache(mailkeep):
    # A large message, evicted from the page cache: its reads wait for the disk on the blocking
    # pool (several 64 KiB chunks) and still arrive byte for byte.
    body = b"".join(b"line %06d of a message read back from the disk\r\n" % i for i in range(8000))
    send(mailkeep, SENDER, ["anna@home.arpa"], make_message("cold", body))
    (path,) = wait_until(lambda: mailkeep.maildir_files("anna") or None, 10, "the message in the Maildir")
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    p = pop(mailkeep)
    assert retr_bytes(p, 1) == path.read_bytes()
    p.quit()


def test_top(anna_box):
    p = pop(anna_box)
    try:
        full = retr_bytes(p, 3)
        head, body = full.split(b"\r\n\r\n", 1)
        _, lines0, _ = p.top(3, 0)
        assert lines0 == head.split(b"\r\n") + [b""]
        _, lines2, _ = p.top(3, 2)
        assert lines2 == head.split(b"\r\n") + [b""] + body.split(b"\r\n")[:2]
    finally:
        p.quit()


def test_uidl_stable_across_sessions_and_restart(anna_box):
    p = pop(anna_box)
    first = uidls(p)
    p.quit()
    assert len(set(first.values())) == 3, first
    for uid in first.values():
        assert 1 <= len(uid) <= 70 and all(0x21 <= ord(c) <= 0x7E for c in uid), uid   # RFC 1939 7
    p = pop(anna_box)
    assert uidls(p) == first
    assert p.uidl(2).split()[2].decode() == first["2"]
    p.quit()
    anna_box.restart()
    p = pop(anna_box)
    assert uidls(p) == first, "UIDLs changed across a daemon restart"
    p.quit()


def test_uidl_stable_after_new_mail(anna_box):
    p = pop(anna_box)
    before = set(uidls(p).values())
    p.quit()
    send(anna_box, SENDER, ["anna@home.arpa"], make_message("later"))
    anna_box.wait_for_messages("anna", 4)
    p = pop(anna_box)
    after = set(uidls(p).values())
    p.quit()
    assert before < after and len(after) == 4


def test_dele_then_quit_removes(anna_box):
    p = pop(anna_box)
    gone = uidls(p)["2"]
    p.dele(2)
    count, _ = p.stat()
    assert count == 2, "STAT must not count a message marked deleted"
    with pytest.raises(poplib.error_proto):
        p.retr(2)
    assert len(anna_box.maildir_files("anna")) == 3, "deleted before QUIT (RFC 1939: only in UPDATE)"
    p.quit()
    wait_until(lambda: len(anna_box.maildir_files("anna")) == 2, 5, "the deletion at QUIT")
    p = pop(anna_box)
    left = uidls(p)
    p.quit()
    assert gone not in left.values() and len(left) == 2


def test_dele_then_rset_keeps(anna_box):
    p = pop(anna_box)
    before = uidls(p)
    p.dele(1)
    p.dele(3)
    p.rset()
    assert p.stat()[0] == 3
    p.quit()
    assert len(anna_box.maildir_files("anna")) == 3
    p = pop(anna_box)
    assert uidls(p) == before
    p.quit()


def test_dele_then_connection_drop_keeps(anna_box):
    w = Pop3(anna_box.ports["pop3"])
    assert w.status().startswith(b"+OK")
    assert w.cmd("USER anna").startswith(b"+OK")
    assert w.cmd("PASS " + anna_box.password("anna")).startswith(b"+OK")
    assert w.cmd("DELE 1").startswith(b"+OK")
    w.close()                                     # no QUIT: RFC 1939 6, no UPDATE state

    def relogin():
        try:
            return pop(anna_box)
        except poplib.error_proto:
            return None
    p = wait_until(relogin, 10, "the maildrop to be free after the dropped session")
    try:
        assert p.stat()[0] == 3, "a DELE without QUIT removed a message"
    finally:
        p.quit()
    assert len(anna_box.maildir_files("anna")) == 3


def test_second_login_in_use(anna_box):
    p1 = pop(anna_box)
    try:
        p2 = poplib.POP3("127.0.0.1", anna_box.ports["pop3"], timeout=10)
        p2.user("anna")
        with pytest.raises(poplib.error_proto) as e:
            p2.pass_(anna_box.password("anna"))
        assert b"[IN-USE]" in e.value.args[0], e.value
        p2.close()
    finally:
        p1.quit()

    def relogin():
        try:
            return pop(anna_box)
        except poplib.error_proto:
            return None
    p = wait_until(relogin, 10, "the maildrop to be free after QUIT")
    p.quit()


def test_other_users_not_blocked_by_in_use(anna_box):
    p1 = pop(anna_box)
    try:
        p2 = pop(anna_box, "ben")
        assert p2.stat() == (0, 0)
        p2.quit()
    finally:
        p1.quit()


def test_wrong_password(anna_box):
    p = poplib.POP3("127.0.0.1", anna_box.ports["pop3"], timeout=10)
    p.user("anna")
    with pytest.raises(poplib.error_proto):
        p.pass_("nope")
    p.close()
    p = pop(anna_box)                 # a failed login holds no lock
    assert p.stat()[0] == 3
    p.quit()


def test_capa(anna_box):
    p = poplib.POP3("127.0.0.1", anna_box.ports["pop3"], timeout=10)
    try:
        caps = p.capa()
        for cap in ("USER", "UIDL", "TOP", "STLS", "SASL"):
            assert cap in caps, f"{cap} missing from CAPA: {caps}"
        assert "PLAIN" in [m.upper() for m in caps["SASL"]]
    finally:
        p.quit()


def test_stls(anna_box):
    p = poplib.POP3("127.0.0.1", anna_box.ports["pop3"], timeout=10)
    try:
        p.stls(context=insecure_context())
        p.user("anna")
        p.pass_(anna_box.password("anna"))
        assert p.stat()[0] == 3
        assert sorted(retr_bytes(p, i) for i in (1, 2, 3)) == sorted(anna_box.maildir_messages("anna"))
    finally:
        p.quit()


def test_pop3s(anna_box):
    p = pop(anna_box, role="pop3s")
    try:
        assert p.stat()[0] == 3
        assert retr_bytes(p, 1) in anna_box.maildir_messages("anna")
    finally:
        p.quit()


@pytest.mark.parametrize("two_step", [False, True])
def test_auth_plain(anna_box, two_step):
    cred = base64.b64encode(b"\0anna\0" + anna_box.password("anna").encode()).decode()
    with Pop3(anna_box.ports["pop3"]) as w:
        assert w.status().startswith(b"+OK")
        if two_step:
            assert w.cmd("AUTH PLAIN").startswith(b"+")
            r = w.cmd(cred)
        else:
            r = w.cmd("AUTH PLAIN " + cred)
        assert r.startswith(b"+OK"), r
        assert w.cmd("STAT").startswith(b"+OK 3 "), "STAT after AUTH PLAIN"
        assert w.cmd("QUIT").startswith(b"+OK")


def test_auth_plain_wrong_password(anna_box):
    cred = base64.b64encode(b"\0anna\0wrong").decode()
    with Pop3(anna_box.ports["pop3"]) as w:
        w.status()
        assert w.cmd("AUTH PLAIN " + cred).startswith(b"-ERR")


def test_commands_before_login_refused(anna_box):
    with Pop3(anna_box.ports["pop3"]) as w:
        w.status()
        for c in ("STAT", "LIST", "RETR 1", "DELE 1"):
            assert w.cmd(c).startswith(b"-ERR"), c


def test_dot_stuffing_round_trip(mailkeep):
    body = b".hidden line\r\n..two dots\r\n.\r\nplain\r\n. space after dot\r\n"
    msg = make_message("dots", body)
    send(mailkeep, SENDER, ["anna@home.arpa"], msg)
    stored = mailkeep.wait_for_messages("anna", 1)[0]
    assert stored.endswith(body), "the SMTP side did not unstuff"
    with Pop3(mailkeep.ports["pop3"]) as w:
        w.status()
        w.cmd("USER anna")
        assert w.cmd("PASS " + mailkeep.password("anna")).startswith(b"+OK")
        listed = w.cmd("LIST 1")
        assert int(listed.split()[2]) == len(stored), listed
        assert w.cmd("RETR 1").startswith(b"+OK")
        wire_lines = w.multiline_raw()
        w.cmd("QUIT")
    wire = b"".join(wire_lines)
    assert b"\r\n..hidden line\r\n...two dots\r\n..\r\nplain\r\n.. space after dot\r\n" in wire, wire[-200:]
    unstuffed = b"".join(l[1:] if l.startswith(b".") else l for l in wire_lines)
    assert unstuffed == stored
    p = pop(mailkeep)
    assert retr_bytes(p, 1) == stored
    p.quit()


def test_stls_discards_pipelined_plaintext(anna_box):
    # Commands sent in the same packet as STLS must not run inside TLS (RFC 2595 4, CVE-2011-0411).
    with Pop3(anna_box.ports["pop3"]) as w:
        w.status()
        w.send("STLS\r\nUSER anna\r\n")
        r = w.status()
        if not r.startswith(b"+OK"):
            assert r.startswith(b"-ERR"), r       # refusing STLS with input buffered is fine
            return
        w.buf = b""
        try:
            w.starttls()
        except OSError:
            return                                # the injected bytes broke the handshake
        r = w.cmd("PASS " + anna_box.password("anna"))
        assert r.startswith(b"-ERR"), f"PASS after an injected USER succeeded inside TLS: {r}"
