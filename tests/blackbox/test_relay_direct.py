# tests/blackbox/test_relay_direct.py — relay mode "direct": mailkeep looks up the recipient domain's
# MX at a private resolver (dnsmasq on loopback, dnsstub.py) and delivers to that host on mx_port,
# where a second mailkeep serves the domain. Also: the implicit MX (a domain with only an address
# record, RFC 5321 5.1) and MX preference order with a dead first choice.
import re

from dnsstub import start_dnsmasq, stop_dnsmasq
from harness import make_message, split_trace
from relayutil import send_transaction, strip_received, wait_queue_empty

SENDER = "anna@home.arpa"

REMOTE_USERS = {
    "someone": ("someone-secret-1", ["someone@remote.test", "someone@implicit.test", "someone@backup.test"]),
    "postmaster": ("remote-pm-2", ["postmaster@remote.test"]),
}

RECORDS = {
    "mx": {
        "remote.test": [("mx.remote.test", 10)],
        # first choice 127.0.0.2: nothing listens there (the remote binds 127.0.0.1 only)
        "backup.test": [("dead.backup.test", 5), ("mx.remote.test", 20)],
    },
    "host": {
        "mx.remote.test": ["127.0.0.1"],
        "dead.backup.test": ["127.0.0.2"],
        "implicit.test": ["127.0.0.1"],          # no MX: the domain itself is the mail host
    },
}


def direct_relay(dns_port, mx_port):
    return {"mode": "direct", "dns_server": f"127.0.0.1:{dns_port}", "mx_port": mx_port,
            "retry": ["1s", "2s"], "warn_after": "1h", "give_up_after": "2h", "probe_interval": "1s"}


def test_direct_mx_delivery(mailkeep_factory, tmp_path):
    remote = mailkeep_factory(name="remote", hostname="mx.remote.test",
                              local_domains=["remote.test", "implicit.test", "backup.test"],
                              postmaster="postmaster@remote.test", users=REMOTE_USERS,
                              trusted_networks=["10.99.0.0/16"])
    proc, dns_port = start_dnsmasq(tmp_path / "dns", RECORDS)
    try:
        home = mailkeep_factory(name="home", relay=direct_relay(dns_port, remote.ports["smtp"]))
        sent = {}
        for domain in ("remote.test", "implicit.test", "backup.test"):
            rcpt = f"someone@{domain}"
            msg = make_message(f"direct to {domain}", sender=SENDER, to=rcpt)
            send_transaction(home, SENDER, [rcpt], msg)
            sent[rcpt] = msg

        arrived = remote.wait_for_messages("someone", 3, deadline=30)
        by_rcpt = {}
        for raw in arrived:
            m = re.search(rb"^To: <([^>]+)>\r$", raw, re.M)
            by_rcpt[m.group(1).decode()] = raw
        for rcpt, msg in sent.items():
            raw = by_rcpt.get(rcpt)
            assert raw is not None, f"mail to {rcpt} did not arrive: {list(by_rcpt)}"
            return_path, received, rest = split_trace(raw)
            assert return_path == f"Return-Path: <{SENDER}>".encode()
            hop_received, original = strip_received(rest)
            assert b"mail.home.arpa" in hop_received, hop_received
            assert original == msg, "message altered"
        wait_queue_empty(home)

        log = (tmp_path / "dns" / "dnsmasq.log").read_text(errors="replace")
        assert re.search(r"query\[MX\] remote\.test from 127\.0\.0\.1", log), \
            f"mailkeep did not ask the test resolver for the MX:\n{log[-2000:]}"
        assert re.search(r"query\[MX\] implicit\.test from 127\.0\.0\.1", log), log[-2000:]
    finally:
        stop_dnsmasq(proc)


def test_broken_opportunistic_tls_falls_back_to_plaintext(postfix_factory, mailkeep_factory, tmp_path):
    # An MX that offers STARTTLS but cannot complete a handshake (here: Postfix allowed only TLS 1.0,
    # which OpenSSL 3 refuses). Like Postfix at security level "may", mailkeep connects again
    # without STARTTLS and delivers, instead of keeping the mail until the MX is fixed.
    pf = postfix_factory(domain="remote.test", users=("someone",), hostname="mx.remote.test",
                         extra_main_cf="smtpd_tls_protocols = <=TLSv1\nsmtpd_tls_mandatory_protocols = <=TLSv1\n")
    proc, dns_port = start_dnsmasq(tmp_path / "dns", RECORDS)
    try:
        home = mailkeep_factory(name="home", relay=direct_relay(dns_port, pf.port))
        msg = make_message("through a broken TLS", sender=SENDER, to="someone@remote.test")
        send_transaction(home, SENDER, ["someone@remote.test"], msg)
        (raw,) = pf.wait_for_messages("someone", 1)
        assert msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1] in raw, "the body did not arrive intact"
        log = pf.log_text()
        # first the failed handshake, then a plaintext session that carried the message
        assert re.search(r"SSL_accept error|TLS library problem|lost connection after STARTTLS", log), log
        assert re.search(r"client=localhost\[127\.0\.0\.1\]", log.split("STARTTLS", 1)[-1]), log
        assert "TLS connection established" not in log
        wait_queue_empty(home)
        assert "continuing without TLS" in home.log_text()
    finally:
        stop_dnsmasq(proc)
