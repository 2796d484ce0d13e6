# tests/blackbox/test_fetchmail.py — fetchmail 6.4, a real POP3 client, retrieves from mailkeep's POP3
# (plain, STLS, pop3s) into a file; the messages arrive whole and are gone from mailkeep afterwards;
# with `keep` + `uidl` a second run finds nothing new (UIDLs are stable).
import os
import shutil
import subprocess

import pytest

from harness import make_message, wait_until
from smtputil import send

FETCHMAIL = shutil.which("fetchmail")
pytestmark = pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed")

MODES = {
    "plain": "sslproto ''",                       # no STLS even though CAPA offers it
    "stls": "sslproto 'tls1.2+' no sslcertck",    # STLS required
    "pop3s": "ssl no sslcertck",                  # implicit TLS
}


def write_rc(directory, port, user, password, mode, out, keep=False):
    rc = directory / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\n"
        f"poll 127.0.0.1 service {port} protocol POP3 auth password timeout 20{' uidl' if keep else ''}\n"
        f"  user \"{user}\" there with password \"{password}\" is root here\n"
        f"  {MODES[mode]}\n"
        f"  {'keep' if keep else 'no keep'}\n"
        f"  mda \"cat >> {out}\"\n")
    os.chmod(rc, 0o600)
    return rc


def run_fetchmail(directory, rc):
    env = dict(os.environ, HOME=str(directory), FETCHMAILHOME=str(directory))
    return subprocess.run([FETCHMAIL, "-f", str(rc), "-i", str(directory / "fetchids"), "--nosyslog",
                           "-v"], capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("mode", MODES)
def test_fetchmail_retrieves_and_deletes(mailkeep, tmp_path, mode):
    markers = [f"fetchmail-{mode}-marker-{i}" for i in range(3)]
    for m in markers:
        send(mailkeep, "sender@example.org", ["anna@home.arpa"],
             make_message(m, f"{m}\r\n.leading dot line\r\nlast line\r\n"))
    mailkeep.wait_for_messages("anna", 3)
    out = tmp_path / "fetched.mbox"
    port = mailkeep.ports["pop3s" if mode == "pop3s" else "pop3"]
    rc = write_rc(tmp_path, port, "anna", mailkeep.password("anna"), mode, out)
    r = run_fetchmail(tmp_path, rc)
    assert r.returncode == 0, f"fetchmail exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    got = out.read_bytes()
    for m in markers:
        assert got.count(f"Subject: {m}".encode()) == 1, f"{m} not fetched exactly once"
        assert f"{m}\n.leading dot line\nlast line\n".encode() in got.replace(b"\r\n", b"\n")
    wait_until(lambda: mailkeep.maildir_files("anna") == [], 5, "mailkeep's maildrop to be empty")


def test_fetchmail_keep_uidl_second_run_finds_nothing(mailkeep, tmp_path):
    for i in range(2):
        send(mailkeep, "sender@example.org", ["anna@home.arpa"], make_message(f"keep-{i}"))
    mailkeep.wait_for_messages("anna", 2)
    out = tmp_path / "fetched.mbox"
    rc = write_rc(tmp_path, mailkeep.ports["pop3"], "anna", mailkeep.password("anna"), "plain", out, keep=True)
    r = run_fetchmail(tmp_path, rc)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert out.read_bytes().count(b"Subject: keep-") == 2
    assert len(mailkeep.maildir_files("anna")) == 2, "keep: messages must stay on mailkeep"
    r = run_fetchmail(tmp_path, rc)
    assert r.returncode == 1, f"second run should find no new mail (exit 1):\n{r.stdout}\n{r.stderr}"
    assert out.read_bytes().count(b"Subject: keep-") == 2


def test_fetchmail_wrong_password(mailkeep, tmp_path):
    rc = write_rc(tmp_path, mailkeep.ports["pop3"], "anna", "wrong", "plain", tmp_path / "x")
    r = run_fetchmail(tmp_path, rc)
    assert r.returncode == 3, f"want PS_AUTHFAIL (3), got {r.returncode}\n{r.stdout}\n{r.stderr}"
