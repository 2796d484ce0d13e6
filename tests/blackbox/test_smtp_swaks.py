# tests/blackbox/test_smtp_swaks.py — a second, independent SMTP client (swaks): plain delivery to a
# local user, STARTTLS + AUTH on submission, implicit TLS + AUTH on submissions.
import shutil
import subprocess

import pytest

from harness import split_trace

SWAKS = shutil.which("swaks")
pytestmark = pytest.mark.skipif(SWAKS is None, reason="swaks is not installed")


def swaks(*args):
    return subprocess.run([SWAKS, "--helo", "client.test", "--timeout", "10", *args],
                          capture_output=True, text=True, timeout=60)


def require_tls_support():
    r = subprocess.run([SWAKS, "--support"], capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert "=== TLS supported" in out, "swaks has no TLS support: install libnet-ssleay-perl\n" + out


def check_delivered(mk, user, marker):
    raw = mk.wait_for_messages(user, 1)[0]
    rp, _, rest = split_trace(raw)
    assert marker.encode() in rest, rest
    return rp


def test_swaks_plain_to_local_user(mailkeep):
    r = swaks("--server", f"127.0.0.1:{mailkeep.ports['smtp']}", "--from", "sender@example.org",
              "--to", "anna@home.arpa", "--header", "Subject: swaks plain", "--body", "swaks-marker-1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert check_delivered(mailkeep, "anna", "swaks-marker-1") == b"Return-Path: <sender@example.org>"


@pytest.mark.parametrize("mech", ["LOGIN", "PLAIN"])
def test_swaks_starttls_auth_on_submission(mailkeep, mech):
    require_tls_support()
    r = swaks("--server", f"127.0.0.1:{mailkeep.ports['submission']}", "--tls",
              "--auth", mech, "--auth-user", "anna", "--auth-password", mailkeep.password("anna"),
              "--from", "anna@home.arpa", "--to", "ben@home.arpa",
              "--header", "Subject: swaks tls", "--body", f"swaks-marker-{mech}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert check_delivered(mailkeep, "ben", f"swaks-marker-{mech}") == b"Return-Path: <anna@home.arpa>"


def test_swaks_implicit_tls_on_submissions(mailkeep):
    require_tls_support()
    r = swaks("--server", f"127.0.0.1:{mailkeep.ports['submissions']}", "--tlsc",
              "--auth", "PLAIN", "--auth-user", "ben", "--auth-password", mailkeep.password("ben"),
              "--from", "ben@home.arpa", "--to", "anna@home.arpa",
              "--header", "Subject: swaks tlsc", "--body", "swaks-marker-tlsc")
    assert r.returncode == 0, r.stdout + r.stderr
    assert check_delivered(mailkeep, "anna", "swaks-marker-tlsc") == b"Return-Path: <ben@home.arpa>"


def test_swaks_wrong_password_fails(mailkeep):
    require_tls_support()
    r = swaks("--server", f"127.0.0.1:{mailkeep.ports['submission']}", "--tls",
              "--auth", "LOGIN", "--auth-user", "anna", "--auth-password", "wrong",
              "--from", "anna@home.arpa", "--to", "ben@home.arpa")
    assert r.returncode != 0
    assert "535 5.7.8" in r.stdout, r.stdout
