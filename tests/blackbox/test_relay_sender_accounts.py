# tests/blackbox/test_relay_sender_accounts.py — per-sender provider accounts ([[relay.sender]]): anna
# and ben each send through their own account at a provider (a second mailkeep that relays only
# after AUTH, over implicit TLS verified against its certificate as ca_file); each message arrives
# with the envelope sender and From: rewritten to that member's provider address, and the provider
# saw each one authenticated as its own account (Received: "with ESMTPSA", log sasl_username=).
import email
import email.policy
import email.utils
import re

from harness import make_message, split_trace
from relayutil import PROVIDER_USERS, header, provider_options, smarthost, wait_queue_empty
from smtputil import send

RCPT = "friend@provider.example"

# local sender -> (its provider address, the provider account's user name)
MEMBERS = {
    "anna": ("anna@home.arpa", "anna.schmidt@provider.example", "anna.schmidt"),
    "ben": ("ben@home.arpa", "ben.b@provider.example", "ben.b"),
}


def sender_entry(provider, ca_file, local, rewrite, account):
    return {"address": local, "rewrite_from": rewrite, "host": "127.0.0.1",
            "port": provider.ports["submissions"], "tls": "implicit", "tls_verify": True,
            "ca_file": ca_file, "username": rewrite, "password": PROVIDER_USERS[account][0]}


def test_each_member_sends_through_own_account(mailkeep_factory, tls_pair):
    provider = mailkeep_factory(name="provider", **provider_options())
    # The default hop is the provider's plain MX port without AUTH: a message that ignored its
    # [[relay.sender]] entry would still arrive, but "with ESMTP" and unrewritten, and fail below.
    relay = smarthost(provider.ports["smtp"], sender=[
        sender_entry(provider, tls_pair[0], *MEMBERS[m]) for m in ("anna", "ben")])
    home = mailkeep_factory(name="home", relay=relay)

    sent = {}
    for user, (local, _, _) in MEMBERS.items():
        msg = make_message(f"from {user}", sender=local, to=RCPT,
                           body=f"{user} writes through her or his own provider\r\n")
        # From: with a display name, as mail clients write it
        msg = msg.replace(f"From: <{local}>".encode(), f"From: {user.title()} Example <{local}>".encode())
        assert send(home, local, [RCPT], msg, role="submission", auth=(user, home.password(user))) == {}
        sent[user] = msg

    arrived = provider.wait_for_messages("friend", 2, deadline=20)
    by_subject = {header(raw, "Subject"): raw for raw in arrived}
    log = provider.log_text()
    accounts = set()
    for user, (local, rewrite, account) in MEMBERS.items():
        raw = by_subject.get(f"from {user}")
        assert raw is not None, f"{user}'s message did not arrive: {list(by_subject)}"
        return_path, received, rest = split_trace(raw)
        # the provider's Return-Path: is the envelope sender it was given
        assert return_path == f"Return-Path: <{rewrite}>".encode(), return_path
        assert re.search(rb"\bwith ESMTPSA\b", received), f"not authenticated over TLS: {received!r}"
        parsed = email.message_from_bytes(rest, policy=email.policy.compat32)
        name, addr = email.utils.parseaddr(parsed["From"])
        assert addr == rewrite, f"From: {parsed['From']!r}, want the address {rewrite}"
        assert name == f"{user.title()} Example", f"display name changed: {parsed['From']!r}"
        # the rest of the message is untouched
        assert parsed["Subject"] == f"from {user}" and parsed["Message-ID"] == header(sent[user], "Message-ID")
        assert rest.split(b"\r\n\r\n", 1)[1] == sent[user].split(b"\r\n\r\n", 1)[1], "body changed"
        # the provider's log line for this message names the account it authenticated as
        m = re.search(rf"from=<{re.escape(rewrite)}>,[^\n]*sasl_username=([^,\s]+)", log)
        assert m, f"no provider log line for a message from <{rewrite}> with sasl_username:\n{log[-3000:]}"
        assert m.group(1) in (account, rewrite), f"{user}'s mail went through account {m.group(1)}"
        accounts.add(m.group(1))
    assert len(accounts) == 2, f"both went through the same account: {accounts}"

    wait_queue_empty(home)
    # the local addresses never reached the provider's envelope
    assert not re.search(r"from=<(anna|ben)@home\.arpa>", log), "a local envelope sender leaked"
