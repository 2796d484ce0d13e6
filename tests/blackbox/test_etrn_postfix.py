# tests/blackbox/test_etrn_postfix.py — ETRN (RFC 1985) from a customer mailkeep to a real Postfix 3.7
# that is the backup MX of customer.example: Postfix relays the domain to the customer's smtp port
# (transport_maps), keeps a fast flush log for it (fast_flush_domains), and retries only after an hour,
# so mail it deferred while the customer was down arrives within the test only because of an ETRN.
# `mailkeep odmr` sends every [[etrn]] and prints one line per request with the provider's reply; the
# daemon sends them on its own at start. A domain Postfix does not flush is refused (459).
#
# What Postfix 3.7.11 answers, tried by hand with smtplib's docmd("ETRN", domain):
#   a fast flush domain                 250 Queuing started   (also with nothing queued, and before EHLO)
#   a domain it does not flush          459 <other.example>: service unavailable   (no enhanced code;
#                                        logged "warning: reject: ETRN other.example... from localhost[...]")
# Its smtpd logs every session's commands at disconnect: "etrn=1" for an accepted ETRN, "etrn=0/1" for a
# refused one. The flushed mail is tried at once even though the destination failed a moment ago (the flush
# service asks qmgr to retry "dead" destinations, as `postqueue -f` does): delivered in well under a second.
import re
import smtplib

from harness import free_ports, make_message, split_trace, wait_until
from postfix import NO_RETRY

DOMAIN = "customer.example"
CARL = "carl@customer.example"
DEFERRED_DEADLINE = 20.0   # seconds for Postfix's first delivery attempt to fail
FLUSH_DEADLINE = 20.0      # seconds from the ETRN (or the daemon's start) to the mail in carl's Maildir


def etrn_toml(port, domain=DOMAIN):
    """etrn_toml - one [[etrn]] table: ask the Postfix on 127.0.0.1:port to flush domain, without TLS."""
    return f'[[etrn]]\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\ndomain = "{domain}"\n'


def make_customer(mailkeep_factory, postfix_port, domain=DOMAIN):
    """make_customer - the customer mailkeep (local domains customer.example and other.example, user
    carl), configured with one [[etrn]] for domain to Postfix (none if domain is None) but not started:
    nothing listens on its ports yet, so Postfix's first delivery attempt is refused."""
    return mailkeep_factory(
        name="customer", start=False, hostname="mail.customer.example",
        local_domains=(DOMAIN, "other.example"), postmaster="postmaster@customer.example",
        users={"carl": ("carl-secret-1", [CARL, "carl@other.example"]),
               "postmaster": ("pm-secret-2", ["postmaster@customer.example"])},
        extra_toml=etrn_toml(postfix_port, domain) if domain else None)


def backup_mx(postfix_factory, port, customer):
    """backup_mx - Postfix on port as the backup MX of customer.example: it accepts the domain's mail
    from anyone, sends it to the customer's smtp listener, flushes it on ETRN, and would retry on its
    own only after an hour."""
    pf = postfix_factory(port=port, hostname="mx2.provider.example", relay_domains=(DOMAIN,),
                         transport={DOMAIN: f"smtp:[127.0.0.1]:{customer.ports['smtp']}"}, retry=NO_RETRY)
    assert pf.check() == "", pf.check()
    return pf


def held_messages(pf, n=2):
    """held_messages - n messages for carl sent into Postfix, once it has deferred every one of them
    (the customer refused the connection); returns the messages as sent."""
    msgs = [make_message(f"held for carl {i}", f"line {i}\r\n.dot line\r\n",
                         sender="stranger@example.org", to=CARL) for i in range(n)]
    with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="stranger.example", timeout=10) as s:
        for m in msgs:
            assert s.sendmail("stranger@example.org", [CARL], m) == {}
    wait_until(lambda: len(pf.queue_ids("deferred")) == n and not pf.queue_ids("active")
               and len(re.findall(r"to=<carl@customer\.example>.*status=deferred \(connect to "
                                  r"127\.0\.0\.1\[127\.0\.0\.1\]:\d+: Connection refused\)", pf.log_text())) == n,
               DEFERRED_DEADLINE, f"postfix to defer {n} messages; its log:\n{pf.log_tail()}")
    listing = pf.postqueue()
    assert listing.count(CARL) == n and "Connection refused" in listing, listing
    return msgs


def strip_postfix_received(rest):
    """strip_postfix_received - the message after Postfix's own Received: header (folded), which
    follows mailkeep's Return-Path: and Received:."""
    lines = rest.split(b"\r\n")
    assert lines[0].startswith(b"Received: ") and b"(Postfix)" in b"\r\n".join(lines[:4]), \
        f"no Postfix Received: {rest[:300]!r}"
    i = 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])


def assert_delivered_once(customer, msgs):
    """assert_delivered_once - every message in carl's Maildir exactly once, byte for byte after the
    trace headers (mailkeep's Return-Path: and Received:, then Postfix's Received:)."""
    got = customer.wait_for_messages("carl", len(msgs), deadline=FLUSH_DEADLINE)
    assert len(got) == len(msgs), f"{len(got)} messages for {len(msgs)} sent"
    bodies = []
    for raw in got:
        return_path, received, rest = split_trace(raw)
        assert return_path == b"Return-Path: <stranger@example.org>", return_path
        assert b"mx2.provider.example" in received, received   # it came from Postfix
        bodies.append(strip_postfix_received(rest))
    assert sorted(bodies) == sorted(msgs), "a message was altered on the way through Postfix"


def assert_postfix_queue_empty(pf, n=2):
    """assert_postfix_queue_empty - Postfix's queue empties, and it logged n deliveries to the customer."""
    wait_until(lambda: not any(pf.queue_ids(q) for q in ("incoming", "active", "deferred")), FLUSH_DEADLINE,
               f"postfix's queue to empty; its log:\n{pf.log_tail()}")
    assert "Mail queue is empty" in pf.postqueue()
    assert len(re.findall(r"to=<carl@customer\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=sent",
                          pf.log_text())) == n, pf.log_tail()


def etrn_sessions(pf):
    """etrn_sessions - the ETRN counts of Postfix's smtpd sessions that sent ETRN ("etrn=N" when all
    N were accepted, "etrn=OK/N" otherwise, in the disconnect line). Only test_postfix_flushes_on_etrn_
    sent_by_hand sends one itself; elsewhere they are mailkeep's."""
    return re.findall(r"disconnect from localhost\[127\.0\.0\.1\] .*\betrn=(\S+)", pf.log_text())


def test_postfix_flushes_on_etrn_sent_by_hand(postfix_factory, mailkeep_factory):
    # The Postfix half alone (the customer sends no ETRN of its own): a failure here is the harness's or
    # Postfix's, not mailkeep's ETRN client.
    (port,) = free_ports(1)
    customer = make_customer(mailkeep_factory, port, domain=None)
    pf = backup_mx(postfix_factory, port, customer)
    msgs = held_messages(pf)
    customer.start()
    with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="mail.customer.example", timeout=10) as s:
        s.ehlo()
        assert s.has_extn("etrn"), s.esmtp_features
        assert s.docmd("ETRN", "other.example") == (459, b"<other.example>: service unavailable")
        assert s.docmd("ETRN", DOMAIN) == (250, b"Queuing started")
    assert_delivered_once(customer, msgs)
    assert_postfix_queue_empty(pf, len(msgs))
    sessions = wait_until(lambda: etrn_sessions(pf), 10, f"postfix to log the ETRN session; its log:\n{pf.log_tail()}")
    assert sessions == ["1/2"], pf.log_tail()


def test_cli_etrn_makes_postfix_deliver_the_deferred_mail(postfix_factory, mailkeep_factory):
    (port,) = free_ports(1)
    customer = make_customer(mailkeep_factory, port)
    pf = backup_mx(postfix_factory, port, customer)
    msgs = held_messages(pf)

    customer.start()
    r = customer.cli("odmr")
    assert r.returncode == 0, f"mailkeep odmr: rc={r.returncode}\n{r.stdout}{r.stderr}"
    lines = [line for line in r.stdout.splitlines() if "ETRN customer.example" in line]
    assert len(lines) == 1, f"no (or more than one) line for the ETRN request:\n{r.stdout}{r.stderr}"
    assert re.search(r"\b250\b", lines[0]), f"Postfix's 250 not shown: {lines[0]}"

    # The daemon's own ETRN at start may have flushed the mail first; either way it came through an
    # ETRN (Postfix would not have retried for an hour), once per message.
    assert_delivered_once(customer, msgs)
    assert_postfix_queue_empty(pf, len(msgs))
    sessions = wait_until(lambda: etrn_sessions(pf), 10, f"postfix to log an ETRN session; its log:\n{pf.log_tail()}")
    assert all(n == "1" for n in sessions), pf.log_tail()


def test_etrn_refused_for_a_domain_postfix_does_not_flush(postfix_factory, mailkeep_factory):
    # other.example is one of the customer's local domains, but not among Postfix's relay_domains and
    # so not among its fast_flush_domains.
    (port,) = free_ports(1)
    customer = make_customer(mailkeep_factory, port, domain="other.example")
    pf = backup_mx(postfix_factory, port, customer)
    customer.start()

    r = customer.cli("odmr")
    out = r.stdout + r.stderr
    assert r.returncode != 0, f"mailkeep odmr succeeded although Postfix refused the ETRN:\n{out}"
    lines = [line for line in out.splitlines() if "ETRN other.example" in line]
    assert lines, f"no line for the ETRN request:\n{out}"
    assert any(re.search(r"\b459\b", line) for line in lines), f"Postfix's 459 not shown:\n{out}"
    assert "warning: reject: ETRN other.example... from localhost[127.0.0.1]" in pf.log_text(), pf.log_tail()
    sessions = wait_until(lambda: etrn_sessions(pf), 10, f"postfix to log an ETRN session; its log:\n{pf.log_tail()}")
    assert all(n == "0/1" for n in sessions), pf.log_tail()


def test_daemon_sends_etrn_at_start(postfix_factory, mailkeep_factory):
    # No CLI: the daemon sends each [[etrn]] when it starts (and then on its interval).
    (port,) = free_ports(1)
    customer = make_customer(mailkeep_factory, port)
    pf = backup_mx(postfix_factory, port, customer)
    msgs = held_messages(pf)

    customer.start()
    assert_delivered_once(customer, msgs)
    assert_postfix_queue_empty(pf, len(msgs))
    sessions = wait_until(lambda: etrn_sessions(pf), 10, f"postfix to log an ETRN session; its log:\n{pf.log_tail()}")
    assert all(n == "1" for n in sessions), pf.log_tail()
