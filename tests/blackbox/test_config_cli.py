# tests/blackbox/test_config_cli.py — the CLI around the config: check-config reports each error as
# file:line (unknown keys are errors), a [[user]] password that is not a crypt(3) hash is one of them,
# `passwd --stdin` prints a working crypt(3) hash, `user add` edits the file keeping comments and the
# new user can log in, `user list`, `queue list`.
import poplib
import re
import warnings

import pytest

import subprocess

from harness import Mailkeep, make_message, run_cli, split_trace, toml_value
from smtputil import send

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt


@pytest.fixture
def config(tmp_path, tls_pair):
    """config - a valid config file written by the harness (daemon not started)."""
    return Mailkeep(tmp_path / "cfg", *tls_pair).config_path


def output(r):
    return r.stdout + r.stderr


def test_check_config_valid(config):
    r = run_cli("check-config", str(config))
    assert r.returncode == 0, output(r)


def test_check_config_missing_file(tmp_path):
    r = run_cli("check-config", str(tmp_path / "nope.toml"))
    assert r.returncode != 0


def with_line(config, after_prefix=None, new_line=None, replace_prefix=None):
    """with_line - the config's lines with new_line inserted after the first line starting with
    after_prefix, or the line starting with replace_prefix replaced; returns (text, 1-based line)."""
    lines = config.read_text().splitlines()
    if replace_prefix is not None:
        i = next(i for i, l in enumerate(lines) if l.startswith(replace_prefix))
        lines[i] = new_line
    else:
        i = next(i for i, l in enumerate(lines) if l.startswith(after_prefix)) + 1
        lines.insert(i, new_line)
    return "\n".join(lines) + "\n", i + 1


ERRORS = {
    "unknown-top-level-key": dict(after_prefix="hostname", new_line='colour = "blue"'),
    "unknown-limits-key": dict(after_prefix="[limits]", new_line='max_mesage_size = "1M"'),
    "unknown-user-key": dict(after_prefix="[[user]]", new_line='nmae = "x"'),
    "bad-cidr": dict(replace_prefix="trusted_networks", new_line='trusted_networks = ["127.0.0.0/33"]'),
    "bad-listen": dict(replace_prefix="smtp =", new_line='smtp = ["127.0.0.1:notaport"]'),
    "bad-size": dict(replace_prefix="max_message_size", new_line='max_message_size = "25Q"'),
    "wrong-type": dict(replace_prefix="max_recipients", new_line='max_recipients = "many"'),
    "toml-syntax": dict(replace_prefix="hostname", new_line='hostname = "unterminated'),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_check_config_error_has_file_and_line(config, tmp_path, case):
    text, line = with_line(config, **case)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    r = run_cli("check-config", str(bad))
    assert r.returncode != 0, f"accepted a config with {case['new_line']!r}"
    assert f"{bad}:{line}:" in output(r), f"want '{bad}:{line}: ...', got:\n{output(r)}"


# Issue 9, item 12: such a password never matches, and nothing said why.
NOT_HASHES = {
    "plaintext": "anna-secret-1",
    "setting-without-checksum": "$6$saltsalt",
    "cut-short": "$1$bwVQ25yG$MPgRReZ1HcgAzIyjvw98w",
    "apache-md5": "$apr1$abc$0123456789012345678901",
    "empty": "",
}


def with_password(config, value):
    """with_password - the config with the first [[user]] password replaced; returns (text, 1-based line)."""
    return with_line(config, replace_prefix="password = ", new_line=f"password = {toml_value(value)}")


@pytest.mark.parametrize("value", NOT_HASHES.values(), ids=NOT_HASHES.keys())
def test_check_config_refuses_a_password_that_is_not_a_hash(config, tmp_path, value):
    text, line = with_password(config, value)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    r = run_cli("check-config", str(bad))
    assert r.returncode == 1, f"accepted password = {value!r}: {output(r)}"
    assert f"{bad}:{line}:" in output(r) and "mailkeep passwd" in output(r), output(r)
    if value:
        assert value not in output(r), "the error repeats what may be a real password"


def openssl_passwd(flag, password):
    return subprocess.run(["openssl", "passwd", flag, "-stdin"], input=password, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize("made_by", ["mailkeep passwd", "openssl passwd -6", "openssl passwd -5", "openssl passwd -1"])
def test_check_config_accepts_crypt_hashes(config, tmp_path, made_by):
    if made_by == "mailkeep passwd":
        hash_ = run_cli("passwd", input="pw\n").stdout.strip()
    else:
        hash_ = openssl_passwd(made_by.split()[-1], "pw")
    good = tmp_path / "good.toml"
    good.write_text(with_password(config, hash_)[0])
    r = run_cli("check-config", str(good))
    assert r.returncode == 0, f"{made_by}: {hash_}: {output(r)}"


def test_check_config_reports_every_error(config, tmp_path):
    lines = config.read_text().splitlines()
    want = []
    for i, l in enumerate(lines):
        if l.startswith("trusted_networks"):
            lines[i] = 'trusted_networks = ["not-a-network"]'
            want.append(i + 1)
        elif l.startswith("max_recipients"):
            lines[i] = "max_recipients = -5"
            want.append(i + 1)
        elif l.startswith("max_message_size"):
            lines[i] = 'max_message_size = "huge"'
            want.append(i + 1)
    bad = tmp_path / "bad.toml"
    bad.write_text("\n".join(lines) + "\n")
    r = run_cli("check-config", str(bad))
    assert r.returncode != 0
    errors = [l for l in output(r).splitlines() if re.match(re.escape(str(bad)) + r":\d+: ", l)]
    got = sorted(int(l[len(str(bad)) + 1:].split(":")[0]) for l in errors)
    assert set(want) <= set(got), f"want errors at lines {want}, got:\n{output(r)}"


def test_serve_refuses_bad_config(config, tmp_path):
    text, line = with_line(config, after_prefix="hostname", new_line="bogus = 1")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    r = run_cli("serve", "--config", str(bad), timeout=20)
    assert r.returncode != 0
    assert f"{bad}:{line}:" in output(r), output(r)


def test_passwd_stdin_prints_crypt_hash():
    r = run_cli("passwd", "--stdin", input="correct horse battery\n")
    assert r.returncode == 0, output(r)
    hashes = re.findall(r"\$[0-9a-z]+\$\S+", r.stdout)
    assert len(hashes) == 1, r.stdout
    h = hashes[0]
    assert crypt.crypt("correct horse battery", h) == h, "the hash does not verify the password"
    assert crypt.crypt("correct horse batter", h) != h
    r2 = run_cli("passwd", "--stdin", input="correct horse battery\n")
    assert re.findall(r"\$[0-9a-z]+\$\S+", r2.stdout)[0] != h, "no fresh salt"


def test_user_list(config):
    r = run_cli("user", "list", "--config", str(config))
    assert r.returncode == 0, output(r)
    for name, address in (("anna", "anna@home.arpa"), ("ben", "ben@home.arpa"), ("postmaster", "postmaster@home.arpa")):
        assert any(name in l and address in l for l in r.stdout.splitlines()), r.stdout


def test_user_add_keeps_comments_and_works(mailkeep_factory, tmp_path):
    mk = mailkeep_factory()
    mk.stop()
    text = mk.config_path.read_text().replace("[limits]", "# a comment the user wrote\n[limits]", 1)
    mk.config_path.write_text(text)
    r = mk.cli("user", "add", "carl", "--address", "carl@home.arpa", "--password-stdin", input="carl-pw-4\n")
    assert r.returncode == 0, output(r)
    after = mk.config_path.read_text()
    assert "# a comment the user wrote" in after and "# written by tests/blackbox/harness.py" in after
    assert run_cli("check-config", str(mk.config_path)).returncode == 0
    listed = mk.cli("user", "list").stdout
    assert any("carl" in l and "carl@home.arpa" in l for l in listed.splitlines()), listed

    mk.start()
    msg = make_message("to carl", to="carl@home.arpa")
    send(mk, "sender@example.org", ["carl@home.arpa"], msg)
    assert split_trace(mk.wait_for_messages("carl", 1)[0])[2] == msg
    p = poplib.POP3("127.0.0.1", mk.ports["pop3"], timeout=10)
    p.user("carl")
    p.pass_("carl-pw-4")
    assert p.stat()[0] == 1
    p.quit()


def test_user_add_duplicate_refused(config):
    before = config.read_text()
    r = run_cli("user", "add", "anna", "--address", "anna2@home.arpa", "--password-stdin",
                "--config", str(config), input="x-pw\n")
    assert r.returncode != 0, output(r)
    assert config.read_text() == before, "a refused user add changed the file"


def test_queue_list_empty(config):
    r = run_cli("queue", "list", "--config", str(config))
    assert r.returncode == 0, output(r)
    lines = [l for l in r.stdout.splitlines() if l.strip() and not l.startswith("-- ")]
    assert lines == [], r.stdout
