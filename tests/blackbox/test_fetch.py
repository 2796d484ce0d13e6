# tests/blackbox/test_fetch.py — the fetcher (issue 4) against a real Dovecot as the provider, over
# POP3 and IMAP: single and multidrop delivery, keep = delete / forever, max_per_cycle, a wrong
# password that leaves the other accounts unharmed, and never a message twice.
import os
import poplib
import socket
import threading
import time

import pytest

from dovecot import DOVECOT
from fetchutil import account_toml, body_of, place, provider, provider_count
from harness import make_message, wait_until

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot is not installed")


@pytest.fixture
def dovecot(tmp_path, tls_pair):
    d, mail_root = provider(tmp_path, {"annap": "pw-a", "family": "pw-f", "bulk": "pw-b"}, tls=tls_pair)
    yield d, mail_root
    d.stop()


# protocol -> (port attribute of the Dovecot fixture, extra account keys)
TRANSPORTS = {
    "pop3": ("pop3_port", {}),
    "pop3+stls": ("pop3_port", {"starttls": True}),
    "pop3s": ("pop3s_port", {}),
    "imap": ("imap_port", {}),
    "imap+starttls": ("imap_port", {"starttls": True}),
    "imaps": ("imaps_port", {}),
}


def fetch(mk, *account):
    r = mk.cli("fetch", *account, timeout=60)
    return r


# The daemon's first cycle of an account runs at a random moment within 5 s of start (kStartSpread in
# src/fetch/fetcher.cpp), plus the cycle itself, which is slow under ASan.
START_UP_CYCLE_DEADLINE = 20


def wait_for_start_up_cycle(mk, *accounts):
    """wait_for_start_up_cycle - poll `mailkeep status` until the first cycle of each account has run
    and been recorded ("account NAME: last run ...", no longer "not run yet"). A `fetch` reports what
    was delivered since it asked (a cycle already running included), so a start-up cycle that ended
    just before it asked has taken the mail and the count comes out short: a test that counts waits
    here, then puts the mail on the provider (on an IMAP account, with idle=False: an IDLE push would
    take it). Only on a daemon's first start, before any `fetch`, POP3 login or IDLE push (each of
    which records a run too)."""
    def all_ran():
        lines = mk.status().splitlines()
        return all(any(line.startswith(f"account {a}: last run ") for line in lines) for a in accounts)
    wait_until(all_ran, START_UP_CYCLE_DEADLINE, f"the start-up cycle of {', '.join(accounts)}", interval=0.1)


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_single_delete_exactly_once(mailkeep_factory, dovecot, transport, tls_pair):
    d, mail_root = dovecot
    port_attr, extra = TRANSPORTS[transport]
    port = getattr(d, port_attr)
    protocol = transport.split("+")[0]
    if protocol in ("pop3s", "imaps") or extra:
        extra = dict(extra, ca_file=str(tls_pair[0]))   # verified against the test CA, by IP SAN
    if protocol.startswith("imap"):
        extra = dict(extra, idle=False)   # an IDLE push would take the mail placed below before `fetch` does
    mk = mailkeep_factory(extra_toml=account_toml("anna-provider", protocol, port, "annap", "pw-a",
                                                  mailbox="single", deliver_to="anna", keep="delete", **extra))
    wait_for_start_up_cycle(mk, "anna-provider")   # so that this fetch's own cycle is the one that counts
    msgs = [make_message(f"single {i}", f"line .{i}\r\n.leading dot\r\n".encode()) for i in range(3)]
    for m in msgs:
        place(mail_root, "annap", m)
    r = fetch(mk, "anna-provider")
    assert r.returncode == 0, r.stdout + r.stderr
    # Deleted on the provider by the same cycle, once the local copies were durable.
    assert "3 delivered, 3 removed on the server" in r.stdout, r.stdout
    assert provider_count(mail_root, "annap") == 0
    stored = sorted(body_of(b) for b in mk.maildir_messages("anna"))
    assert stored == sorted(msgs)
    r = fetch(mk, "anna-provider")
    assert "0 delivered" in r.stdout, r.stdout
    assert len(mk.maildir_messages("anna")) == 3


def test_keep_forever_never_delivers_twice(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    for i in range(2):
        place(mail_root, "annap", make_message(f"kept {i}", b"stays on the provider\r\n"))
    mk = mailkeep_factory(extra_toml=account_toml("anna-provider", "pop3", d.pop3_port, "annap", "pw-a",
                                                  mailbox="single", deliver_to="anna", keep="forever"))
    for _ in range(3):
        r = fetch(mk, "anna-provider")
        assert r.returncode == 0, r.stdout + r.stderr
    assert len(mk.maildir_messages("anna")) == 2
    assert provider_count(mail_root, "annap") == 2
    mk.restart()
    fetch(mk, "anna-provider")
    assert len(mk.maildir_messages("anna")) == 2, "a restart made the fetcher deliver again"


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_multidrop_distributes_by_headers(mailkeep_factory, dovecot, transport, tls_pair):
    d, mail_root = dovecot
    port_attr, extra = TRANSPORTS[transport]
    protocol = transport.split("+")[0]
    if protocol in ("pop3s", "imaps") or extra:
        extra = dict(extra, ca_file=str(tls_pair[0]))
    to_anna = make_message("for anna", b"a\r\n", to="anna@home.arpa", extra_headers=("Delivered-To: anna@home.arpa",))
    to_both = make_message("for both", b"b\r\n", to="anna@home.arpa", extra_headers=("Cc: ben@home.arpa, someone@foreign.example",))
    to_unknown = make_message("for nobody", b"c\r\n", to="nobody@home.arpa")
    only_foreign = make_message("foreign", b"d\r\n", to="x@foreign.example")
    for m in (to_anna, to_both, to_unknown, only_foreign):
        place(mail_root, "family", m)
    mk = mailkeep_factory(extra_toml=account_toml("family", protocol, getattr(d, port_attr), "family", "pw-f",
                                                  mailbox="multidrop", unknown_to="postmaster", keep="delete", **extra))
    r = fetch(mk, "family")
    assert r.returncode == 0, r.stdout + r.stderr
    anna = sorted(body_of(b) for b in mk.maildir_messages("anna"))
    ben = [body_of(b) for b in mk.maildir_messages("ben")]
    pm = sorted(body_of(b) for b in mk.maildir_messages("postmaster"))
    assert anna == sorted([to_anna, to_both])
    assert ben == [to_both]
    assert pm == sorted([to_unknown, only_foreign]), "unknown and foreign-only mail goes to unknown_to"
    queue = mk.queue_list()
    assert queue == [], f"a foreign recipient was relayed: {queue}"


def test_max_per_cycle_spreads_over_cycles(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    msgs = [make_message(f"bulk {i}", b"x\r\n") for i in range(35)]
    for m in msgs:
        place(mail_root, "bulk", m)
    mk = mailkeep_factory(extra_toml=account_toml("bulk", "pop3", d.pop3_port, "bulk", "pw-b",
                                                  mailbox="single", deliver_to="ben", keep="delete", max_per_cycle=10))
    # The start-up cycle (at a random moment within the start spread) is the first; waited for, so
    # that it cannot fall between a `fetch` and the count after it.
    wait_for_start_up_cycle(mk, "bulk")
    counts = [len(mk.maildir_messages("ben"))]
    for _ in range(3):
        r = fetch(mk, "bulk")
        assert r.returncode == 0, r.stdout + r.stderr
        counts.append(len(mk.maildir_messages("ben")))
    assert counts == [10, 20, 30, 35], counts
    assert sorted(body_of(b) for b in mk.maildir_messages("ben")) == sorted(msgs)


def test_wrong_password_is_per_account(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    place(mail_root, "annap", make_message("good account", b"ok\r\n"))
    bad = account_toml("broken", "pop3", d.pop3_port, "family", "wrong", mailbox="single", deliver_to="ben")
    good = account_toml("anna-provider", "pop3", d.pop3_port, "annap", "pw-a", mailbox="single", deliver_to="anna")
    mk = mailkeep_factory(extra_toml=bad + "\n" + good)
    r = fetch(mk)
    assert r.returncode != 0
    assert "broken" in r.stdout and "error" in r.stdout, r.stdout
    assert len(mk.maildir_messages("anna")) == 1, "the good account suffered from the broken one"
    status = mk.status()
    assert "account broken" in status and "last error" in status, status


def test_same_message_through_two_accounts_is_delivered_once(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    m = make_message("twice", b"one copy please\r\n", msgid="<same-everywhere@test>")
    place(mail_root, "annap", m)
    place(mail_root, "family", m)
    accounts = (account_toml("anna-provider", "pop3", d.pop3_port, "annap", "pw-a", mailbox="single", deliver_to="anna")
                + "\n" + account_toml("family", "imap", d.imap_port, "family", "pw-f", mailbox="single", deliver_to="anna"))
    mk = mailkeep_factory(extra_toml=accounts)
    r = fetch(mk)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [body_of(b) for b in mk.maildir_messages("anna")] == [m]


def test_keep_seconds_deletes_after_the_period(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    mk = mailkeep_factory(extra_toml=account_toml("anna-provider", "pop3", d.pop3_port, "annap", "pw-a",
                                                  mailbox="single", deliver_to="anna", keep="2s"))
    # Placed after the start-up cycle, so that the 2 s start at the fetch below, not at a cycle before it.
    wait_for_start_up_cycle(mk, "anna-provider")
    place(mail_root, "annap", make_message("kept a while", b"x\r\n"))
    r = fetch(mk, "anna-provider")
    assert r.returncode == 0 and "1 delivered, 0 removed" in r.stdout, r.stdout + r.stderr
    assert provider_count(mail_root, "annap") == 1, "deleted before its keep period"
    # The keep period is time itself: wait it out, then the next cycle deletes.
    wait_until(lambda: (fetch(mk, "anna-provider"), provider_count(mail_root, "annap") == 0)[1], 10,
               "the provider copy to be deleted after 2 s")
    assert len(mk.maildir_messages("anna")) == 1


def test_idle_pushes_within_two_seconds(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    mk = mailkeep_factory(extra_toml=account_toml("family", "imap", d.imap_port, "family", "pw-f",
                                                  mailbox="single", deliver_to="anna", idle=True))
    wait_until(lambda: "watching INBOX with IDLE" in mk.log_text(), 10, "the IDLE watch to start")
    wait_for_start_up_cycle(mk, "family")   # empty; later cycles are the IDLE push's
    start = time.monotonic()
    m = make_message("pushed", b"no polling\r\n")
    place(mail_root, "family", m)
    got = wait_until(lambda: mk.maildir_messages("anna"), 5, "the pushed message")
    elapsed = time.monotonic() - start
    assert [body_of(b) for b in got] == [m]
    assert elapsed < 2.0, f"IDLE delivery took {elapsed:.2f}s"


def test_pop3_login_fetches_stale_accounts_first(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    mk = mailkeep_factory(extra_toml=account_toml("anna-provider", "pop3", d.pop3_port, "annap", "pw-a",
                                                  mailbox="single", deliver_to="anna")
                          + '\n[fetch]\non_login = true\nstale_after = "1s"\nlogin_wait = "5s"\n')
    wait_for_start_up_cycle(mk, "anna-provider")   # empty; the next cycle is the login's
    m = make_message("on login", b"there when I look\r\n")
    place(mail_root, "annap", m)
    placed = time.monotonic()
    wait_until(lambda: time.monotonic() - placed > 1.2, 3, "the account to become stale (stale_after = 1s)")
    p = poplib.POP3("127.0.0.1", mk.ports["pop3"], timeout=15)
    p.user("anna")
    p.pass_("anna-secret-1")
    count, _ = p.stat()
    p.quit()
    assert count == 1, "the login did not see the mail that was on the provider a moment before"


def test_server_that_stops_mid_retr_is_an_error_for_that_account_only(mailkeep_factory, dovecot, tmp_path):
    d, mail_root = dovecot
    place(mail_root, "annap", make_message("fine", b"ok\r\n"))
    stall = StallingPop3()
    try:
        bad = account_toml("stalls", "pop3", stall.port, "u", "p", mailbox="single", deliver_to="ben", timeout="2s")
        good = account_toml("anna-provider", "pop3", d.pop3_port, "annap", "pw-a", mailbox="single", deliver_to="anna")
        mk = mailkeep_factory(extra_toml=bad + "\n" + good)
        r = fetch(mk)
        assert "stalls" in r.stdout and "error" in r.stdout, r.stdout
        assert len(mk.maildir_messages("anna")) == 1
        assert mk.maildir_messages("ben") == [], "a half-retrieved message was delivered"
    finally:
        stall.stop()


class StallingPop3:
    """StallingPop3 - a POP3 server that lists the messages good (bytes each, served whole) and one
    more, and stops answering in the middle of that last one's RETR; with message set it sends that
    (already dot-stuffed, without the final ".") and ends the response instead, as a server with its
    own idea of line ends might. After heal() the last one is served whole too. With empty=True it
    lists no messages at all until fill(), so that a test can let the daemon's start-up cycle pass."""

    STALLED = b"Subject: half\r\n\r\nthe first half and then nothing"

    def __init__(self, message=None, good=(), empty=False):
        self.message = message
        self.good = list(good)
        self.healed = threading.Event()
        self.filled = threading.Event()
        if not empty:
            self.filled.set()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def heal(self):
        self.healed.set()

    def fill(self):
        self.filled.set()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        f = c.makefile("rb")
        c.sendall(b"+OK ready\r\n")
        last = len(self.good) + 1
        try:
            while not self.stopping.is_set():
                line = f.readline()
                if not line:
                    return
                words = line.split()
                cmd = words[0].upper() if words else b""
                n = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
                if cmd == b"CAPA":
                    c.sendall(b"+OK\r\nUSER\r\nUIDL\r\n.\r\n")
                elif cmd in (b"USER", b"PASS", b"NOOP"):
                    c.sendall(b"+OK\r\n")
                elif cmd in (b"LIST", b"UIDL") and not self.filled.is_set():
                    c.sendall(b"+OK\r\n.\r\n")
                elif cmd == b"LIST":
                    sizes = [len(m) for m in self.good] + [5000]
                    c.sendall(b"+OK\r\n" + b"".join(b"%d %d\r\n" % (i + 1, s) for i, s in enumerate(sizes)) + b".\r\n")
                elif cmd == b"UIDL":
                    uids = [b"good-%d" % (i + 1) for i in range(len(self.good))] + [b"stall-1"]
                    c.sendall(b"+OK\r\n" + b"".join(b"%d %s\r\n" % (i + 1, u) for i, u in enumerate(uids)) + b".\r\n")
                elif cmd == b"RETR" and 1 <= n < last:
                    c.sendall(b"+OK\r\n" + self.good[n - 1] + b".\r\n")
                elif cmd == b"RETR" and self.message is not None:
                    c.sendall(b"+OK\r\n" + self.message + b".\r\n")
                elif cmd == b"RETR" and self.healed.is_set():
                    c.sendall(b"+OK\r\n" + self.STALLED + b"\r\n.\r\n")
                elif cmd == b"RETR":
                    c.sendall(b"+OK\r\n" + self.STALLED)
                    self.stopping.wait(30)   # silent until the test ends
                    return
                elif cmd == b"QUIT":
                    c.sendall(b"+OK bye\r\n")
                    return
                else:
                    c.sendall(b"-ERR\r\n")
        finally:
            c.close()

    def stop(self):
        self.stopping.set()
        self.sock.close()
        self.thread.join(5)


def test_a_cycle_that_fails_part_way_reports_what_it_delivered(mailkeep_factory):
    good = [make_message(f"good {i}", body=f"number {i}\r\n".encode()) for i in range(5)]
    server = StallingPop3(good=good, empty=True)
    try:
        mk = mailkeep_factory(extra_toml=account_toml("flaky", "pop3", server.port, "u", "p", mailbox="single",
                                                      deliver_to="ben", keep="forever", timeout="2s"))
        wait_for_start_up_cycle(mk, "flaky")   # on the empty mailbox: the counts below are the fetches' own
        server.fill()
        r = fetch(mk, "flaky")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "flaky: 5 delivered" in r.stdout and "error" in r.stdout, r.stdout
        assert len(mk.maildir_files("ben")) == 5
        assert "last error" in mk.status()

        server.heal()
        r = fetch(mk, "flaky")
        assert r.returncode == 0 and "flaky: 1 delivered" in r.stdout, r.stdout + r.stderr
        assert len(mk.maildir_files("ben")) == 6
        status = mk.status()
        assert "account flaky" in status and "6 fetched" in status and "last error" not in status, status
    finally:
        server.stop()


def test_bare_line_feeds_from_a_provider_are_stored_as_crlf(mailkeep_factory):
    # Maildir files are CRLF (POP3 tells their exact size): a provider's bare LF is made CRLF.
    # (The response still ends CRLF "." CRLF: a "." after a bare LF does not end it, by design.)
    server = StallingPop3(message=b"Subject: lf\nFrom: x@example.org\n\nline one\nline two\r\nthree\r\n")
    try:
        mk = mailkeep_factory(extra_toml=account_toml("lf", "pop3", server.port, "u", "p", mailbox="single",
                                                      deliver_to="ben", keep="forever"))
        r = fetch(mk, "lf")   # this cycle or the start-up one fetched it: either is done when it returns
        assert r.returncode == 0, r.stdout + r.stderr
        (stored,) = mk.maildir_messages("ben")
        assert body_of(stored) == b"Subject: lf\r\nFrom: x@example.org\r\n\r\nline one\r\nline two\r\nthree\r\n"
    finally:
        server.stop()


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_longest_legal_line_beginning_with_dot_is_fetched_whole(mailkeep_factory, dovecot, protocol):
    # RFC 5321 4.5.3.1.6 / RFC 1939 3: a 998-octet line beginning with "." is 1001 octets in a RETR
    # (stuffed dot and CRLF); the stuffed dot is not part of the line and the message is kept exactly.
    d, mail_root = dovecot
    line = b"." + b"d" * 997
    msg = make_message("998 dot", b"before\r\n" + line + b"\r\nafter\r\n")
    place(mail_root, "annap", msg)
    port = d.pop3_port if protocol == "pop3" else d.imap_port
    mk = mailkeep_factory(extra_toml=account_toml("anna-provider", protocol, port, "annap", "pw-a",
                                                  mailbox="single", deliver_to="anna", keep="forever"))
    r = fetch(mk, "anna-provider")   # this cycle or the start-up one: either is done when it returns
    assert r.returncode == 0, r.stdout + r.stderr
    (stored,) = mk.maildir_messages("anna")
    assert body_of(stored) == msg


def test_multidrop_two_copies_for_two_recipients_each_get_one(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    # The provider stored one copy per envelope recipient, as multidrop mailboxes do.
    base = dict(subject="to both of you", body=b"same message\r\n", to="anna@home.arpa", msgid="<two-copies@test>")
    for rcpt in ("anna@home.arpa", "ben@home.arpa"):
        place(mail_root, "family", make_message(extra_headers=(f"Delivered-To: {rcpt}", "Cc: ben@home.arpa"), **base))
    mk = mailkeep_factory(extra_toml=account_toml("family", "pop3", d.pop3_port, "family", "pw-f",
                                                  mailbox="multidrop", unknown_to="postmaster"))
    r = fetch(mk, "family")
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(mk.maildir_messages("anna")) == 1
    assert len(mk.maildir_messages("ben")) == 1
    assert mk.maildir_messages("postmaster") == []


def test_too_large_is_left_on_the_server_and_the_user_told_once(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    small = make_message("small", b"fits\r\n")
    place(mail_root, "annap", small)
    place(mail_root, "annap", make_message("huge", b"y" * 5000 + b"\r\n"))
    mk = mailkeep_factory(extra_toml=account_toml("anna-provider", "pop3", d.pop3_port, "annap", "pw-a",
                                                  mailbox="single", deliver_to="anna", keep="delete", max_size="2K"))
    for _ in range(2):
        r = fetch(mk, "anna-provider")
        assert r.returncode == 0, r.stdout + r.stderr
    got = mk.maildir_messages("anna")
    notices = [b for b in got if b"too large to fetch" in b]
    assert len(notices) == 1, f"told {len(notices)} times"
    assert [body_of(b) for b in got if b not in notices] == [small]
    assert provider_count(mail_root, "annap") == 1, "the large message must stay on the provider"


def test_sigterm_is_prompt_while_an_idle_provider_is_down(mailkeep_factory):
    from harness import free_ports
    (dead_port,) = free_ports(1)
    mk = mailkeep_factory(extra_toml=account_toml("gone", "imap", dead_port, "u", "p",
                                                  mailbox="single", deliver_to="anna", idle=True))
    wait_until(lambda: "IDLE on INBOX ended" in mk.log_text(), 10, "the IDLE watch to fail and wait")
    start = time.monotonic()
    rc, needed_kill = mk.stop()
    took = time.monotonic() - start
    assert rc == 0 and not needed_kill, (rc, needed_kill)
    assert took < 5, f"SIGTERM took {took:.1f}s with a watch waiting to retry"


def test_password_from_a_command(mailkeep_factory, dovecot, tmp_path):
    # password_command runs (off the network thread) at each login; its first line is the password.
    d, mail_root = dovecot
    script = tmp_path / "secret.sh"
    script.write_text("#!/bin/sh\necho pw-a\necho ignored-second-line\n")
    script.chmod(0o700)
    # idle=False: an IDLE push would take the mail placed below before `fetch` does.
    mk = mailkeep_factory(extra_toml=account_toml("anna-provider", "imap", d.imap_port, "annap", None,
                                                  password_command=str(script), mailbox="single",
                                                  deliver_to="anna", keep="delete", idle=False))
    wait_for_start_up_cycle(mk, "anna-provider")   # on the empty mailbox: the counts below are the fetches' own
    place(mail_root, "annap", make_message("via password_command"))
    r = fetch(mk, "anna-provider")
    assert "1 delivered, 1 removed on the server" in r.stdout, r.stdout + r.stderr
    assert len(mk.maildir_messages("anna")) == 1
    script.write_text("#!/bin/sh\nexit 3\n")   # a broken command: that account's error, clearly
    place(mail_root, "annap", make_message("left there"))
    r = fetch(mk, "anna-provider")
    assert "0 delivered" in r.stdout and "exit" in (r.stdout + r.stderr + mk.status()), r.stdout + mk.status()
    assert provider_count(mail_root, "annap") == 1

