# tests/blackbox/test_odmr_fetchmail.py — mailkeep as an ODMR provider (RFC 2645) against a real
# customer: fetchmail 6.4 in ODMR mode (AUTH CRAM-MD5, ATRN, then it relays the reversed SMTP session
# to a customer mailkeep's `smtp` listener). Mail a stranger sends to the provider for the hold
# domain is accepted as its MX and held (the provider relays nothing else), shows in `queue list`,
# and after one fetchmail run is in the customer's mailbox and gone from the provider's queue.
import os
import shutil
import smtplib
import subprocess

import pytest

from harness import make_message, wait_until
from smtputil import connect, send
from test_odmr_provider import with_odmr_listener

FETCHMAIL = shutil.which("fetchmail")
pytestmark = pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed")

ODMR_PASSWORD = "anna-odmr-secret"


def cram_md5_secret(password):
    """cram_md5_secret - what `mailkeep passwd --cram-md5` prints for password."""
    r = subprocess.run([os.environ.get("MAILKEEP_BIN", "/work/main/build/mailkeep"), "passwd", "--cram-md5"],
                       input=password + "\n", capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def run_fetchmail_odmr(directory, port, customer_smtp):
    rc = directory / "fetchmailrc"
    rc.write_text(
        f"poll 127.0.0.1 service {port} protocol ODMR auth cram-md5 timeout 30\n"
        f"  user \"anna\" there with password \"{ODMR_PASSWORD}\"\n"
        "  fetchdomains customer.example\n"
        f"  smtphost 127.0.0.1/{customer_smtp}\n"
        "  sslproto ''\n")
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=str(directory), FETCHMAILHOME=str(directory))
    return subprocess.run([FETCHMAIL, "-f", str(rc), "-i", str(directory / "fetchids"), "--nosyslog", "-v"],
                          capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)


def test_fetchmail_odmr_pulls_the_held_mail(mailkeep_factory, tmp_path):
    customer = mailkeep_factory(
        name="customer", local_domains=("customer.example",), postmaster="postmaster@customer.example",
        users={"carl": ("carl-secret-1", ["carl@customer.example"]),
               "postmaster": ("pm-secret-2", ["postmaster@customer.example"])})
    provider = mailkeep_factory(
        name="provider", start=False, trusted_networks=(),   # every client a stranger: no relaying
        users={"anna": ("anna-secret-1", ["anna@home.arpa"], {"cram_md5": cram_md5_secret(ODMR_PASSWORD)}),
               "postmaster": ("pm-secret-3", ["postmaster@home.arpa"])},
        extra_toml='[[odmr.hold]]\ndomain = "customer.example"\nuser = "anna"\n')
    port = with_odmr_listener(provider)
    provider.start()

    # The provider is the MX of customer.example, and of nothing else.
    msgs = [make_message(f"held for carl {i}", f"line {i}\r\n.dot line\r\n") for i in range(3)]
    for m in msgs:
        assert send(provider, "stranger@example.org", ["carl@customer.example"], m) == {}
    with connect(provider, "smtp") as s:
        s.ehlo("stranger.example")
        s.mail("stranger@example.org")
        code, _ = s.rcpt("someone@other.example")
        assert code == 554, f"the provider relayed for other.example: {code}"
        code, _ = s.rcpt("carl@sub.customer.example")
        assert code == 554, f"the provider relayed for a subdomain of the hold domain: {code}"
    wait_until(lambda: len(provider.queue_list()) == 3, 10, "three held messages in the provider's queue")
    assert all("held for ATRN" in line for line in provider.queue_list()), provider.queue_list()
    assert customer.maildir_messages("carl") == []

    r = run_fetchmail_odmr(tmp_path, port, customer.ports["smtp"])
    assert r.returncode == 0, f"fetchmail exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "CRAM-MD5" in r.stdout + r.stderr, "fetchmail did not log in with CRAM-MD5"
    customer.wait_for_messages("carl", 3)
    got = sorted(customer.maildir_messages("carl"))
    for i in range(3):
        assert sum(f"Subject: held for carl {i}".encode() in b for b in got) == 1
        assert any(f"line {i}\r\n.dot line\r\n".encode() in b for b in got)
    wait_until(lambda: provider.queue_list() == [], 10, "the provider's queue to be empty")

    # Nothing held any more: ATRN says so (453), and a wrong password is refused (535).
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("customer.test")
        assert s.esmtp_features["auth"].split() == ["CRAM-MD5", "PLAIN"], s.esmtp_features
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("anna", "wrong-password")   # smtplib prefers CRAM-MD5
        assert e.value.smtp_code == 535
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("customer.test")
        s.login("anna", ODMR_PASSWORD)
        assert s.docmd("ATRN", "customer.example") == (453, b"4.0.0 You have no mail")
