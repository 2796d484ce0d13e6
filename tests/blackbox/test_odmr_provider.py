# tests/blackbox/test_odmr_provider.py — the `odmr` listener of a real daemon (RFC 2645, provider side):
# the SMTP greeting, EHLO with ATRN and AUTH CRAM-MD5 PLAIN but no PIPELINING, AUTH before ATRN (530),
# 502 for the mail commands, and ATRN refused (450) for a user with no hold domain. A granted ATRN and
# the reversal with a real customer: test_odmr_fetchmail.py.
import smtplib

from harness import DEFAULT_USERS, free_ports, port_accepts, wait_until


def with_odmr_listener(mk):
    """with_odmr_listener - add `[listen] odmr` on a free port to mk's config (before start); the port."""
    (port,) = free_ports(1)
    text = mk.config_path.read_text()
    assert "[listen]\n" in text
    mk.config_path.write_text(text.replace("[listen]\n", f'[listen]\nodmr = ["127.0.0.1:{port}"]\n', 1))
    return port


def test_odmr_listener_serves_the_odmr_role(mailkeep_factory):
    mk = mailkeep_factory(start=False)
    port = with_odmr_listener(mk)
    mk.start()
    wait_until(lambda: port_accepts(port), 10.0, f"odmr port {port}")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        code, _ = s.ehlo("customer.test")
        assert code == 250
        assert s.has_extn("atrn") and s.has_extn("starttls"), s.esmtp_features
        assert not s.has_extn("pipelining") and not s.has_extn("size"), s.esmtp_features
        assert s.esmtp_features["auth"].split() == ["CRAM-MD5", "PLAIN"], s.esmtp_features
        code, msg = s.docmd("ATRN")
        assert (code, msg) == (530, b"5.7.0 Authentication required")
        assert s.docmd("MAIL", "FROM:<a@example.org>")[0] == 502   # not a port for sending mail
        s.user, s.password = "anna", DEFAULT_USERS["anna"][0]
        assert s.auth("PLAIN", s.auth_plain)[0] == 235   # loopback: PLAIN in the clear is offered
        code, msg = s.docmd("ATRN", "customer.example")
        assert (code, msg) == (450, b"4.7.1 ATRN request refused")
        code, msg = s.docmd("ATRN")   # no domain: every one held for anna, and there is none
        assert code == 450, msg
