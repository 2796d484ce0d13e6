# tests/blackbox/test_config_odmr.py — the ODMR and ETRN config (issue 11) through the CLI: check-config
# accepts the issue's [[odmr.hold]], [odmr.client] and [[etrn]] and reports their mistakes as file:line;
# `passwd --cram-md5` prints what Dovecot's `doveadm pw -s CRAM-MD5` prints for the same password, and a
# [[user]] cram_md5 is accepted in either program's form and refused, with a pointer to the command, in
# any other.
import shutil
import subprocess

import pytest

from harness import Mailkeep, run_cli, toml_value

# The issue's example, with a customer domain of the test config's own (home.arpa) on the client side.
ISSUE_EXAMPLE = """
[[odmr.hold]]
domain = "customer.example"
user = "anna"

[odmr.client]
host = "odmr.provider.example"
port = 366
tls = "starttls"
username = "home"
password = "secret"
domains = ["home.arpa"]
interval = "10m"

[[etrn]]
host = "mx.provider.example"
domain = "home.arpa"
"""

PASSWORDS = ["tanstaaftanstaaf", "correct horse battery", "x" * 64, "y" * 100, "pässwörd", "a"]

needs_doveadm = pytest.mark.skipif(shutil.which("doveadm") is None, reason="doveadm (Dovecot) is not installed")


@pytest.fixture
def config(tmp_path, tls_pair):
    """config - a valid config file written by the harness (daemon not started)."""
    return Mailkeep(tmp_path / "cfg", *tls_pair).config_path


def output(r):
    return r.stdout + r.stderr


def check(tmp_path, text):
    path = tmp_path / "odmr.toml"
    path.write_text(text)
    return path, run_cli("check-config", str(path))


def doveadm_cram(password):
    return subprocess.run(["doveadm", "pw", "-s", "CRAM-MD5", "-p", password], capture_output=True, text=True,
                          check=True).stdout.strip()


def with_cram(config, value):
    """with_cram - the config with cram_md5 = value in the first [[user]]; returns (text, 1-based line)."""
    lines = config.read_text().splitlines()
    i = lines.index("[[user]]") + 1
    lines.insert(i, f"cram_md5 = {toml_value(value)}")
    return "\n".join(lines) + "\n", i + 1


def test_issue_example_is_valid(config, tmp_path):
    _, r = check(tmp_path, config.read_text() + ISSUE_EXAMPLE)
    assert r.returncode == 0, output(r)


@needs_doveadm
@pytest.mark.parametrize("password", PASSWORDS)
def test_passwd_cram_md5_prints_what_doveadm_prints(password):
    r = run_cli("passwd", "--cram-md5", input=password + "\n")
    assert r.returncode == 0, output(r)
    assert r.stdout.strip() == doveadm_cram(password)


def test_passwd_cram_md5_refuses_an_empty_password():
    r = run_cli("passwd", "--cram-md5", input="\n")
    assert r.returncode == 1 and "empty password" in r.stderr


def test_cram_md5_from_passwd_is_accepted(config, tmp_path):
    secret = run_cli("passwd", "--cram-md5", input="tanstaaftanstaaf\n").stdout.strip()
    for value in (secret, secret.removeprefix("{CRAM-MD5}"), secret.upper()):
        _, r = check(tmp_path, with_cram(config, value)[0])
        assert r.returncode == 0, f"{value}: {output(r)}"


@needs_doveadm
def test_cram_md5_from_doveadm_is_accepted(config, tmp_path):
    _, r = check(tmp_path, with_cram(config, doveadm_cram("pw"))[0])
    assert r.returncode == 0, output(r)


NOT_CRAM = {
    "plaintext": "anna-secret-1",
    "crypt-hash": "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA",
    "other-scheme": "{HMAC-MD5}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b",
    "short": "{CRAM-MD5}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e70151",
    "empty": "",
}


@pytest.mark.parametrize("value", NOT_CRAM.values(), ids=NOT_CRAM.keys())
def test_check_config_refuses_a_cram_md5_that_is_not_one(config, tmp_path, value):
    text, line = with_cram(config, value)
    bad, r = check(tmp_path, text)
    assert r.returncode == 1, f"accepted cram_md5 = {value!r}: {output(r)}"
    assert f"{bad}:{line}:" in output(r) and "mailkeep passwd --cram-md5" in output(r), output(r)
    if value:
        assert value not in output(r), "the error repeats what may be a real password"


# Each case: TOML appended to the valid config, the line (counted from the first appended line) and a
# part of the message.
ERRORS = {
    "hold-local-domain": ('[[odmr.hold]]\ndomain = "home.arpa"\nuser = "anna"\n', 2, "is a local domain"),
    "hold-unknown-user": ('[[odmr.hold]]\ndomain = "customer.example"\nuser = "carla"\n', 3, "is not a user"),
    "hold-twice": ('[[odmr.hold]]\ndomain = "c.example"\nuser = "anna"\n[[odmr.hold]]\ndomain = "c.example"\nuser = "ben"\n',
                   5, "already held at line"),
    "client-remote-domain": ('[odmr.client]\nhost = "p.example"\nusername = "u"\npassword = "p"\n'
                             'domains = ["customer.example"]\n', 5, "is not a local domain"),
    "client-no-tls-to-remote": ('[odmr.client]\nhost = "192.0.2.1"\ntls = "none"\npassword_command = "pass x"\n'
                                'username = "u"\ndomains = ["home.arpa"]\n', 3, "only allowed to a loopback address"),
    "client-no-login": ('[odmr.client]\nhost = "p.example"\ndomains = ["home.arpa"]\n', 1, "ATRN needs a login"),
    "etrn-queue-name": ('[[etrn]]\nhost = "mx.provider.example"\ndomain = "#home"\n', 3, "must be a domain name"),
    "etrn-unknown-key": ('[[etrn]]\nhost = "mx.provider.example"\ndomain = "home.arpa"\ndomains = []\n', 4, "unknown key"),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_check_config_odmr_error_has_file_and_line(config, tmp_path, case):
    extra, line, what = case
    text = config.read_text()
    if not text.endswith("\n"):
        text += "\n"
    first = text.count("\n") + 1
    bad, r = check(tmp_path, text + extra)
    assert r.returncode == 1, f"accepted:\n{extra}"
    assert f"{bad}:{first + line - 1}:" in output(r) and what in output(r), output(r)
