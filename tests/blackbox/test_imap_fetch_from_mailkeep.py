# tests/blackbox/test_imap_fetch_from_mailkeep.py — the IMAP server (issue 12) read by mailkeep's
# own IMAP fetcher (issue 4): a second mailkeep ("home") has an [[account]] of protocol imap on the
# first's ("upstream") imap/imaps port. Mail delivered to anna upstream arrives in ben's Maildir at
# home byte for byte (after home's two trace headers) over plain IMAP, STARTTLS and IMAPS (verified
# with the test certificate as ca_file), and is removed upstream with keep = "delete" (gone from the
# Maildir and from a SELECT), kept with keep = "forever" and never fetched twice; every listed
# folder is read; with idle = true a delivery upstream is pushed home without a `fetch`.
import pytest

from fetchutil import account_toml, body_of
from harness import DEFAULT_USERS, make_message, split_trace, wait_until
from imapsync import deliver, imap, ok

ANNA_PW = DEFAULT_USERS["anna"][0]
START_UP_CYCLE_DEADLINE = 20   # the first cycle runs within 5 s of start (kStartSpread), slower under ASan

# transport -> (upstream port role, extra account keys)
TRANSPORTS = {
    "imap": ("imap", {}),
    "imap+starttls": ("imap", {"starttls": True}),
    "imaps": ("imaps", {}),
}


def home_with_account(mailkeep_factory, upstream, tls_pair, transport="imap", **keys):
    role, extra = TRANSPORTS[transport]
    protocol = "imaps" if role == "imaps" else "imap"
    if transport != "imap":
        extra = dict(extra, ca_file=str(tls_pair[0]))   # verified against the test CA, by IP SAN
    keys = dict(dict(mailbox="single", deliver_to="ben", keep="delete", idle=False), **extra, **keys)
    return mailkeep_factory(name="home", extra_toml=account_toml("upstream", protocol, upstream.ports[role],
                                                                 "anna", ANNA_PW, **keys))


def wait_for_start_up_cycle(mk, account="upstream"):
    """wait_for_start_up_cycle - until `status` shows the account's first cycle ran (see test_fetch.py:
    a `fetch` counts what was delivered since it asked, so the start-up cycle must be over first)."""
    wait_until(lambda: any(line.startswith(f"account {account}: last run ") for line in mk.status().splitlines()),
               START_UP_CYCLE_DEADLINE, f"the start-up cycle of {account}", interval=0.1)


def fetch(mk):
    r = mk.cli("fetch", "upstream", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def upstream_count(upstream, folder="INBOX"):
    c = imap(upstream)
    try:
        typ, data = c.select(folder, readonly=True)
        assert typ == "OK", data
        return int(data[0])
    finally:
        c.logout()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_fetched_whole_and_removed_upstream(mailkeep_factory, tls_pair, transport):
    upstream = mailkeep_factory(name="upstream")
    home = home_with_account(mailkeep_factory, upstream, tls_pair, transport)
    wait_for_start_up_cycle(home)
    msgs = [make_message(f"via imap {i}", f"line {i}\r\n.leading dot\r\n\xe4 8-bit\r\n".encode("latin-1"))
            for i in range(4)]
    msgs.append(make_message("bigger", b"".join(b"%05d " % n + b"x" * 70 + b"\r\n" for n in range(3000))))
    deliver(upstream, msgs)
    stored_upstream = sorted(upstream.maildir_messages("anna"))
    out = fetch(home)
    assert "5 delivered, 5 removed on the server" in out, out
    assert sorted(body_of(b) for b in home.maildir_messages("ben")) == stored_upstream
    assert upstream.maildir_files("anna") == []
    assert upstream_count(upstream) == 0
    out = fetch(home)
    assert "0 delivered" in out, out
    assert len(home.maildir_files("ben")) == 5


def test_keep_forever_fetches_once_and_leaves_the_mail(mailkeep_factory, tls_pair):
    upstream = mailkeep_factory(name="upstream")
    home = home_with_account(mailkeep_factory, upstream, tls_pair, keep="forever")
    wait_for_start_up_cycle(home)
    deliver(upstream, [make_message(f"kept {i}", b"stays upstream\r\n") for i in range(3)])
    stored_upstream = sorted(upstream.maildir_messages("anna"))
    out = fetch(home)
    assert "3 delivered" in out and "removed" not in out.replace("0 removed", ""), out
    for _ in range(2):
        assert "0 delivered" in fetch(home)
    assert sorted(body_of(b) for b in home.maildir_messages("ben")) == stored_upstream
    assert sorted(upstream.maildir_messages("anna")) == stored_upstream
    assert upstream_count(upstream) == 3
    deliver(upstream, [make_message("one more", b"new\r\n")])
    assert "1 delivered" in fetch(home)
    assert len(home.maildir_files("ben")) == 4 and upstream_count(upstream) == 4


def test_every_listed_folder_is_read(mailkeep_factory, tls_pair):
    upstream = mailkeep_factory(name="upstream")
    home = home_with_account(mailkeep_factory, upstream, tls_pair, folders=["INBOX", "Archive", "Lists.Family"])
    wait_for_start_up_cycle(home)
    deliver(upstream, [make_message(f"folder {i}", f"body {i}\r\n") for i in range(6)])
    c = imap(upstream)
    ok(c.create("Lists.Family"))
    ok(c.select("INBOX"))
    ok(c.uid("MOVE", "1:2", "Archive"))
    ok(c.uid("MOVE", "3", '"Lists.Family"'))
    c.logout()
    out = fetch(home)
    assert "6 delivered, 6 removed on the server" in out, out
    assert len(home.maildir_files("ben")) == 6
    assert [upstream_count(upstream, f) for f in ("INBOX", "Archive", '"Lists.Family"')] == [0, 0, 0]


def test_idle_pushes_upstream_delivery_home(mailkeep_factory, tls_pair):
    upstream = mailkeep_factory(name="upstream")
    home = home_with_account(mailkeep_factory, upstream, tls_pair, idle=True)
    wait_for_start_up_cycle(home)
    msg = make_message("pushed", b"over IDLE\r\n")
    deliver(upstream, [msg])
    stored = home.wait_for_messages("ben", 1, deadline=10)
    _, _, rest = split_trace(body_of(stored[0]))   # upstream's Return-Path: and Received:, then msg
    assert rest == msg
    wait_until(lambda: upstream.maildir_files("anna") == [], 10, "the pushed message removed upstream")
