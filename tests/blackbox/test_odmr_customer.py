# tests/blackbox/test_odmr_customer.py — mailkeep as the ODMR customer (RFC 2645) of a mailkeep
# provider: [odmr.client] dials the provider's odmr port, logs in (CRAM-MD5 in the clear to loopback,
# PLAIN under STARTTLS), says ATRN, and after the 250 serves the reversed SMTP session, every message
# entering through its intake. It runs at start, on `mailkeep odmr` (which prints what arrived), and
# when the relay sees the line come back; `mailkeep status` shows the last run. The refusals a
# customer can meet (535, 450, 453) are reported as the provider gave them.
import pytest

from harness import make_message, wait_until
from relayutil import smarthost
from smtputil import connect, send
from test_odmr_fetchmail import cram_md5_secret
from test_odmr_provider import with_odmr_listener

ODMR_PASSWORD = "anna-odmr-secret"
CUSTOMER_USERS = {"carl": ("carl-secret-1", ["carl@customer.example"]),
                  "postmaster": ("pm-secret-2", ["postmaster@customer.example"])}


def provider_with_hold(mailkeep_factory):
    """provider_with_hold - a started provider, MX of customer.example and holding it for anna (who
    may ATRN with ODMR_PASSWORD: PLAIN against the crypt hash, CRAM-MD5 against cram_md5); its
    clients are strangers (nothing is relayed). Returns (provider, its odmr port)."""
    provider = mailkeep_factory(
        name="provider", start=False, trusted_networks=(),
        users={"anna": (ODMR_PASSWORD, ["anna@home.arpa"], {"cram_md5": cram_md5_secret(ODMR_PASSWORD)}),
               "postmaster": ("pm-secret-3", ["postmaster@home.arpa"])},
        extra_toml='[[odmr.hold]]\ndomain = "customer.example"\nuser = "anna"\n')
    port = with_odmr_listener(provider)
    provider.start()
    return provider, port


def customer(mailkeep_factory, port, tls="none", ca_file=None, password=ODMR_PASSWORD, domains=("customer.example",),
             **options):
    """customer - a started customer mailkeep for customer.example and other.example whose
    [odmr.client] pulls domains from the provider's odmr port (interval 1h: only the start, the CLI
    and the line coming back make it run in a test)."""
    lines = ["[odmr.client]", 'host = "127.0.0.1"', f"port = {port}", f'tls = "{tls}"', 'username = "anna"',
             f'password = "{password}"', "domains = [" + ", ".join(f'"{d}"' for d in domains) + "]",
             'interval = "1h"'] + ([f'ca_file = "{ca_file}"'] if ca_file else [])
    return mailkeep_factory(name="customer", local_domains=("customer.example", "other.example"),
                            postmaster="postmaster@customer.example", users=CUSTOMER_USERS,
                            extra_toml="\n".join(lines) + "\n", **options)


def hold(provider, messages):
    """hold - send messages to carl@customer.example through the provider's MX port; wait until held."""
    before = len(provider.queue_list())
    for m in messages:
        assert send(provider, "stranger@example.org", ["carl@customer.example"], m) == {}
    wait_until(lambda: len(provider.queue_list()) == before + len(messages), 10, "the provider to hold the mail")
    assert all("held for ATRN" in line for line in provider.queue_list()), provider.queue_list()


def odmr_line(mk):
    """odmr_line - the ATRN line of `mailkeep status`."""
    return next((line for line in mk.status().splitlines() if line.startswith("ATRN ")), "")


def ran_once(mk):
    """ran_once - the start-up run is over (status shows a last run), so that the next one is ours."""
    wait_until(lambda: "last run" in odmr_line(mk), 15, "the customer's start-up ATRN run")


def cli_odmr(mk):
    r = mk.cli("odmr", timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_held_mail_arrives_at_start_and_on_the_cli(mailkeep_factory):
    provider, port = provider_with_hold(mailkeep_factory)
    first = [make_message(f"held before the customer came online {i}", f"line {i}\r\n.dot line\r\n",
                          to="carl@customer.example") for i in range(2)]
    hold(provider, first)
    # The provider relays for nobody else: not for another domain, not for a subdomain of the held one.
    with connect(provider, "smtp") as s:
        s.ehlo("stranger.example")
        s.mail("stranger@example.org")
        assert s.rcpt("someone@other.example")[0] == 554
        assert s.rcpt("carl@sub.customer.example")[0] == 554

    # tls = "none" to loopback: CRAM-MD5, the password never on the wire.
    cust = customer(mailkeep_factory, port)
    got = cust.wait_for_messages("carl", 2, deadline=20)
    for m in first:
        assert sum(b.endswith(m) for b in got) == 1, "a held message did not arrive byte for byte after the trace"
    wait_until(lambda: provider.queue_list() == [], 10, "the provider's hold to empty after the customer's 250s")
    assert "authenticated as anna, sasl_method=CRAM-MD5" in provider.log_text()
    assert "ATRN by anna for customer.example: 2 held, reversing" in provider.log_text()
    assert "smtp client" in provider.log_text()
    ran_once(cust)
    assert "2 received" in odmr_line(cust), odmr_line(cust)

    # On the CLI: a run that starts after the request, and what it brought.
    later = [make_message("held while the customer was online", "later\r\n", to="carl@customer.example")]
    hold(provider, later)
    rc, out = cli_odmr(cust)
    assert rc == 0, out
    assert f"ATRN customer.example at 127.0.0.1:{port}: 250 2.0.0 OK now reversing the connection, 1 received" in out
    assert sum(b.endswith(later[0]) for b in cust.wait_for_messages("carl", 3)) == 1
    assert provider.queue_list() == []
    # Nothing held now: 453 is no error.
    rc, out = cli_odmr(cust)
    assert rc == 0, out
    assert "453 4.0.0 You have no mail, 0 received" in out
    assert "3 received" in odmr_line(cust) and "last error" not in odmr_line(cust), odmr_line(cust)


def test_starttls_and_plain(mailkeep_factory, tls_pair):
    provider, port = provider_with_hold(mailkeep_factory)
    m = make_message("held, pulled over TLS", "secret\r\n", to="carl@customer.example")
    hold(provider, [m])
    cust = customer(mailkeep_factory, port, tls="starttls", ca_file=tls_pair[0])
    got = cust.wait_for_messages("carl", 1, deadline=20)
    assert got[0].endswith(m)
    assert "authenticated as anna, sasl_method=PLAIN" in provider.log_text()
    # The reversed session kept the TLS of the customer's connection: the customer's trace says so.
    assert b"with ESMTPS" in got[0].split(b"\r\n\r\n")[0], got[0][:600]
    wait_until(lambda: provider.queue_list() == [], 10, "the provider's hold to empty")


def test_refusals_are_reported_as_the_provider_gave_them(mailkeep_factory):
    provider, port = provider_with_hold(mailkeep_factory)
    hold(provider, [make_message("stays held", "x\r\n", to="carl@customer.example")])

    wrong = customer(mailkeep_factory, port, password="not-the-password")
    rc, out = cli_odmr(wrong)
    assert rc == 1, out
    assert "535" in out, out
    assert "last error" in odmr_line(wrong) and "535" in odmr_line(wrong), odmr_line(wrong)
    wrong.stop()

    # other.example is ours, but not held for anna at this provider: 450, and nothing moves.
    foreign = customer(mailkeep_factory, port, domains=("customer.example", "other.example"))
    rc, out = cli_odmr(foreign)
    assert rc == 1, out
    assert "ATRN customer.example,other.example" in out and "450 4.7.1 ATRN request refused" in out, out
    assert len(provider.queue_list()) == 1
    assert foreign.maildir_messages("carl") == []


def test_the_line_coming_back_pulls_at_once(mailkeep_factory):
    provider, port = provider_with_hold(mailkeep_factory)
    upstream = mailkeep_factory(name="upstream", start=False)
    cust = customer(mailkeep_factory, port, relay=smarthost(upstream.ports["smtp"], probe_interval="1s"))
    ran_once(cust)   # found nothing; the next run would be in an hour
    send(cust, "carl@customer.example", ["friend@far.example"], make_message("out", sender="carl@customer.example"))
    wait_until(lambda: cust.status().startswith("relay: offline since"), 10, "the customer's relay to be offline")

    m = make_message("held while the line was down", "y\r\n", to="carl@customer.example")
    hold(provider, [m])
    upstream.start()
    got = wait_until(lambda: cust.maildir_messages("carl"), 15,
                     "the ATRN run triggered by the relay coming back online (the interval is 1h)")
    assert [b for b in got if b.endswith(m)], got
