# tests/blackbox/test_relay_abuse.py — an unauthenticated client from an untrusted address (the
# daemon trusts only 10.99.0.0/16) cannot make mailkeep relay, however the recipient is spelled;
# mail for the local domain still gets in.
import pytest

from harness import make_message, split_trace
from wire import Smtp

REFUSED = {501, 550, 553, 554}

TRICKS = [
    "user@other.example",
    "USER@OTHER.EXAMPLE",
    "user@other.example.",
    "user%other.example@home.arpa",
    "@host:user@other.example",
    "@home.arpa:user@other.example",
    '"user@other.example"@home.arpa',
    "user@other.example@home.arpa",
    "user@home.arpa@other.example",
    "user@[10.0.0.1]",
    "user@sub.home.arpa",
    "user@evilhome.arpa",
    "user@home.arpa.other.example",
    "other.example!user@home.arpa",
]


def try_relay(mk, sender, rcpt):
    """try_relay - MAIL/RCPT/(DATA if accepted); returns the RCPT reply."""
    with Smtp(mk.ports["smtp"]) as s:
        s.greet()
        s.expect(f"MAIL FROM:<{sender}>", 250)
        r = s.cmd(f"RCPT TO:<{rcpt}>")
        if r.code == 250:    # a bug: finish the transaction so the damage shows in the queue
            if s.cmd("DATA").code == 354:
                s.send(make_message("relay attempt", to=rcpt) + b".\r\n")
                s.reply()
        s.cmd("QUIT")
    return r


@pytest.mark.parametrize("rcpt", TRICKS)
@pytest.mark.parametrize("sender", ["spammer@example.net", "anna@home.arpa"])
def test_not_relayed(untrusted, rcpt, sender):
    r = try_relay(untrusted, sender, rcpt)
    assert untrusted.queue_files() == [], f"RCPT <{rcpt}> got {r} and something was queued"
    assert untrusted.queue_list() == []
    assert r.code in REFUSED, f"RCPT <{rcpt}> from untrusted 127.0.0.1: {r}"
    if r.code == 554:
        assert r.enhanced == "5.7.1", r


def test_plain_remote_recipient_is_relay_denied_554_571(untrusted):
    r = try_relay(untrusted, "spammer@example.net", "user@other.example")
    assert (r.code, r.enhanced) == (554, "5.7.1"), r


def test_untrusted_can_still_deliver_locally(untrusted):
    msg = make_message("inbound from the internet")
    with Smtp(untrusted.ports["smtp"]) as s:
        s.greet()
        s.expect("MAIL FROM:<someone@example.net>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        s.send(msg + b".\r\n")
        assert s.reply().code == 250
    assert split_trace(untrusted.wait_for_messages("anna", 1)[0])[2] == msg
    assert untrusted.queue_files() == []


def test_relay_attempts_deliver_nothing_locally(untrusted):
    for rcpt in TRICKS:
        try_relay(untrusted, "spammer@example.net", rcpt)
    for user in ("anna", "ben", "postmaster"):
        assert untrusted.maildir_files(user) == [], f"{user} received a relay attempt"
