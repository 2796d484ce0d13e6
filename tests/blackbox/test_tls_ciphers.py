# tests/blackbox/test_tls_ciphers.py — what the server side of TLS offers (issue 15's testssl finding):
# TLS 1.2 with forward-secret AEAD suites only (no CBC: LUCKY13), chosen in the server's order, and
# TLS 1.0/1.1 refused; on an implicit-TLS port (submissions) and after STARTTLS alike.
import socket
import ssl

import pytest

from smtputil import connect


def client_context(ciphers, version=ssl.TLSVersion.TLSv1_2):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = version
    ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    return ctx


def handshake(port, ctx):
    """handshake - the cipher the server chose on an implicit-TLS port, or the SSLError."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            return tls.cipher()[0]


def test_tls12_offers_only_forward_secret_aead(mailkeep):
    port = mailkeep.ports["submissions"]
    for cbc in ("ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384", "AES128-SHA", "AES256-GCM-SHA384"):
        with pytest.raises(ssl.SSLError):
            handshake(port, client_context(cbc))
    assert handshake(port, client_context("ECDHE-RSA-AES128-GCM-SHA256")) == "ECDHE-RSA-AES128-GCM-SHA256"
    assert handshake(port, client_context("ECDHE-RSA-CHACHA20-POLY1305")) == "ECDHE-RSA-CHACHA20-POLY1305"


def test_tls12_suite_is_the_servers_choice(mailkeep):
    # The client lists AES-256 first; the server's order (AES-128-GCM first) wins.
    ctx = client_context("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
    assert handshake(mailkeep.ports["submissions"], ctx) == "ECDHE-RSA-AES128-GCM-SHA256"


def test_starttls_offers_the_same(mailkeep):
    # Port 25 (smtp): STARTTLS on a plain connection.
    with connect(mailkeep, "smtp") as s:
        with pytest.raises(ssl.SSLError):
            s.starttls(context=client_context("ECDHE-RSA-AES128-SHA"))
    with connect(mailkeep, "smtp") as s:
        s.starttls(context=client_context("ECDHE-RSA-AES128-GCM-SHA256"))
        assert s.sock.cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256"


def test_tls10_and_11_are_refused(mailkeep):
    ctx = client_context("ALL", version=ssl.TLSVersion.TLSv1_1)
    with pytest.raises(ssl.SSLError):
        handshake(mailkeep.ports["submissions"], ctx)
