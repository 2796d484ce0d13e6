# tests/blackbox/test_fetch.py — the fetcher (issue 4) against a real Dovecot as the provider, over
# POP3 and IMAP: single and multidrop delivery, keep = delete / forever, max_per_cycle, a wrong
# password that leaves the other accounts unharmed, and never a message twice.
import pytest

from dovecot import DOVECOT
from fetchutil import account_toml, body_of, place, provider, provider_count
from harness import make_message, wait_until

import os

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot is not installed")


@pytest.fixture
def dovecot(tmp_path):
    d, mail_root = provider(tmp_path, {"annap": "pw-a", "family": "pw-f", "bulk": "pw-b"})
    yield d, mail_root
    d.stop()


def fetch(mk, *account):
    r = mk.cli("fetch", *account, timeout=60)
    return r


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_single_delete_exactly_once(mailkeep_factory, dovecot, protocol):
    d, mail_root = dovecot
    port = d.pop3_port if protocol == "pop3" else d.imap_port
    msgs = [make_message(f"single {i}", f"line .{i}\r\n.leading dot\r\n".encode()) for i in range(3)]
    for m in msgs:
        place(mail_root, "annap", m)
    mk = mailkeep_factory(extra_toml=account_toml("anna-provider", protocol, port, "annap", "pw-a",
                                                  mailbox="single", deliver_to="anna", keep="delete"))
    r = fetch(mk, "anna-provider")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 delivered" in r.stdout, r.stdout
    stored = sorted(body_of(b) for b in mk.maildir_messages("anna"))
    assert stored == sorted(msgs)
    wait_until(lambda: provider_count(mail_root, "annap") == 0, 10, "the provider copies to be deleted")
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


def test_multidrop_distributes_by_headers(mailkeep_factory, dovecot):
    d, mail_root = dovecot
    to_anna = make_message("for anna", b"a\r\n", to="anna@home.arpa", extra_headers=("Delivered-To: anna@home.arpa",))
    to_both = make_message("for both", b"b\r\n", to="anna@home.arpa", extra_headers=("Cc: ben@home.arpa, someone@foreign.example",))
    to_unknown = make_message("for nobody", b"c\r\n", to="nobody@home.arpa")
    only_foreign = make_message("foreign", b"d\r\n", to="x@foreign.example")
    for m in (to_anna, to_both, to_unknown, only_foreign):
        place(mail_root, "family", m)
    mk = mailkeep_factory(extra_toml=account_toml("family", "imap", d.imap_port, "family", "pw-f",
                                                  mailbox="multidrop", unknown_to="postmaster", keep="delete"))
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
    counts = []
    for _ in range(4):
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
