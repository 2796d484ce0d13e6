# tests/blackbox/test_run_as.py — operations (issue 2, issue 9 item 2): started as root with run_as, the
# daemon binds its ports, drops privileges and still delivers and serves; it never changes the owner or
# mode of a file it did not create, needs a data directory that already belongs to the run_as user, reads
# TLS files found in it as that user, and refuses a config file that anyone but root could change (sshd's
# StrictModes), saying why.
import os
import poplib
import shutil
import smtplib
import stat

import pytest

from harness import make_message, run_cli, split_trace
from smtputil import HELO

NOBODY = 65534   # uid and gid of nobody / nogroup on Debian

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")


def status_ids(pid):
    """status_ids - (real, effective) uid and gid of a process, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return int(fields["Uid"][0]), int(fields["Uid"][1]), int(fields["Gid"][0]), int(fields["Gid"][1])


def open_to_nobody(tmp_path):
    """open_to_nobody - the test's directories below /tmp become traversable (0755): the unprivileged
    daemon must reach its data directory."""
    for d in [tmp_path, *tmp_path.parents]:
        if str(d) in ("/", "/tmp"):
            break
        os.chmod(d, 0o755)


def owned_by_nobody(path):
    """owned_by_nobody - make path a directory of the run_as user, as the admin does once
    (install -d -o nobody -g nogroup -m 0700 PATH)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, NOBODY, NOBODY)
    os.chmod(path, 0o700)
    return path


def owner_and_mode(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def serve_refused(config_path):
    """serve_refused - `serve` on config_path exits non-zero at once; its output."""
    r = run_cli("serve", "--config", str(config_path), timeout=15)
    assert r.returncode != 0, f"serve started (rc {r.returncode}):\n{r.stdout}{r.stderr}"
    return r.stdout + r.stderr


def test_run_as_drops_privileges_and_keeps_working(mailkeep_factory, tmp_path):
    open_to_nobody(tmp_path)
    mk = mailkeep_factory(run_as="nobody", start=False)
    owned_by_nobody(mk.data_dir)
    mk.start()
    uid, euid, gid, egid = status_ids(mk.proc.pid)
    assert (uid, euid) == (NOBODY, NOBODY), f"still running as uid {uid}/{euid}"
    assert gid == egid != 0

    msg = make_message("after the drop", b"delivered by an unprivileged daemon\r\n")
    with smtplib.SMTP("127.0.0.1", mk.ports["smtp"], local_hostname=HELO, timeout=10) as s:
        s.sendmail("sender@example.org", ["anna@home.arpa"], msg)
    stored = mk.wait_for_messages("anna", 1)
    assert split_trace(stored[0])[2] == msg
    for path in (mk.data_dir / "mail" / "anna" / "new", mk.data_dir / "queue", mk.data_dir / "state.db",
                 mk.data_dir / "control.sock", mk.data_dir / "mailkeep.pid"):
        assert os.stat(path).st_uid == NOBODY, f"{path} not created by the run_as user"

    p = poplib.POP3("127.0.0.1", mk.ports["pop3"], timeout=10)
    p.user("anna")
    p.pass_("anna-secret-1")
    assert p.stat()[0] == 1
    p.quit()


def test_root_files_in_the_data_dir_keep_owner_and_mode(mailkeep_factory, tmp_path):
    # Issue 9, item 2: the daemon handed everything below data_dir to run_as; pointed at a directory
    # of root's files, it gave them away.
    open_to_nobody(tmp_path)
    mk = mailkeep_factory(run_as="nobody", start=False)
    owned_by_nobody(mk.data_dir)
    secret = mk.data_dir / "root-secret"
    secret.write_text("root's\n")
    os.chmod(secret, 0o600)
    sub = mk.data_dir / "etc"
    sub.mkdir(mode=0o750)
    (sub / "shadow").write_text("root:*:19000::::::\n")
    os.chmod(sub / "shadow", 0o640)
    link = mk.data_dir / "link-to-root-secret"
    link.symlink_to(secret)
    before = {p: owner_and_mode(p) for p in (secret, sub, sub / "shadow", link)}
    mk.start()
    with smtplib.SMTP("127.0.0.1", mk.ports["smtp"], local_hostname=HELO, timeout=10) as s:
        s.sendmail("sender@example.org", ["anna@home.arpa"], make_message())
    mk.wait_for_messages("anna", 1)
    mk.restart()
    after = {p: owner_and_mode(p) for p in before}
    assert after == before, "files the daemon did not create changed owner or mode"


def test_data_dir_not_owned_by_run_as_is_refused(mailkeep_factory, tmp_path):
    open_to_nobody(tmp_path)
    mk = mailkeep_factory(run_as="nobody", start=False)
    mk.data_dir.mkdir(mode=0o755)                       # root's, as /etc would be
    (mk.data_dir / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    before = {p: owner_and_mode(p) for p in (mk.data_dir, mk.data_dir / "passwd")}
    out = serve_refused(mk.config_path)
    assert str(mk.data_dir) in out and "nobody" in out and "chown" in out, out
    assert {p: owner_and_mode(p) for p in before} == before
    assert sorted(p.name for p in mk.data_dir.iterdir()) == ["passwd"], "the refused start wrote into data_dir"


def test_missing_data_dir_is_refused_with_the_command_that_makes_it(mailkeep_factory, tmp_path):
    open_to_nobody(tmp_path)
    mk = mailkeep_factory(run_as="nobody", start=False)
    out = serve_refused(mk.config_path)
    assert str(mk.data_dir) in out and "install -d -o nobody" in out, out
    assert not mk.data_dir.exists()


# How a config file could be changed by the run_as user or anyone else: (what to do, what the
# refusal must name).
WRITABLE_CONFIGS = {
    "file-owned-by-run_as": lambda mk: os.chown(mk.config_path, NOBODY, NOBODY),
    "directory-owned-by-run_as": lambda mk: os.chown(mk.config_path.parent, NOBODY, NOBODY),
    "group-writable-file": lambda mk: os.chmod(mk.config_path, 0o664),
    "world-writable-directory": lambda mk: os.chmod(mk.config_path.parent, 0o777),
}


@pytest.mark.parametrize("make_writable", WRITABLE_CONFIGS.values(), ids=WRITABLE_CONFIGS.keys())
def test_config_writable_by_others_is_refused(mailkeep_factory, tmp_path, make_writable):
    # Issue 9, item 2: whoever can edit the config of a daemon started as root chooses data_dir,
    # run_as and password_command.
    open_to_nobody(tmp_path)
    mk = mailkeep_factory(run_as="nobody", start=False)
    owned_by_nobody(mk.data_dir)
    make_writable(mk)
    out = serve_refused(mk.config_path)
    assert str(mk.config_path) in out and "root" in out, out
    assert "writable" in out or "belongs to" in out, out
    assert not (mk.data_dir / "mailkeep.pid").exists(), "the refused start went on to the data directory"


def test_tls_files_in_the_data_dir_are_read_as_the_run_as_user(mailkeep_factory, tmp_path, tls_pair):
    # The data directory is the run_as user's: its tls/key.pem may be a link to a key only root can
    # read (another service's), which root must not load into a process that user then owns.
    open_to_nobody(tmp_path)
    mk = mailkeep_factory(run_as="nobody", start=False)
    tls = owned_by_nobody(owned_by_nobody(mk.data_dir) / "tls")
    shutil.copy(tls_pair[0], tls / "cert.pem")
    os.chown(tls / "cert.pem", NOBODY, NOBODY)
    roots = tmp_path / "root-only"
    roots.mkdir(mode=0o700)
    shutil.copy(tls_pair[1], roots / "other-service.key")
    (tls / "key.pem").symlink_to(roots / "other-service.key")
    text = mk.config_path.read_text()
    text = text.replace(f'cert = "{tls_pair[0]}"', 'cert = "tls/cert.pem"').replace(f'key = "{tls_pair[1]}"', 'key = "tls/key.pem"')
    mk.config_path.write_text(text)
    out = serve_refused(mk.config_path)
    assert "key.pem" in out, out

    (tls / "key.pem").unlink()
    shutil.copy(tls_pair[1], tls / "key.pem")          # the first-run layout, handed to the user
    os.chown(tls / "key.pem", NOBODY, NOBODY)
    os.chmod(tls / "key.pem", 0o600)
    mk.start()
    assert status_ids(mk.proc.pid)[1] == NOBODY
