# tests/blackbox/test_run_as.py — operations (issue 2): started as root with run_as, the daemon binds
# its ports, hands the data directory to that user, drops privileges, and still delivers and serves.
import os
import poplib
import smtplib

import pytest

from harness import make_message, split_trace
from smtputil import HELO


def status_ids(pid):
    """status_ids - (real, effective) uid and gid of a process, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return int(fields["Uid"][0]), int(fields["Uid"][1]), int(fields["Gid"][0]), int(fields["Gid"][1])


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_run_as_drops_privileges_and_keeps_working(mailkeep_factory, tmp_path):
    # The unprivileged daemon must reach its data dir: open the test's directories below /tmp.
    for d in [tmp_path, *tmp_path.parents]:
        if str(d) in ("/", "/tmp"):
            break
        os.chmod(d, 0o755)
    mk = mailkeep_factory(run_as="nobody")
    uid, euid, gid, egid = status_ids(mk.proc.pid)
    assert (uid, euid) == (65534, 65534), f"still running as uid {uid}/{euid}"
    assert gid == egid != 0

    msg = make_message("after the drop", b"delivered by an unprivileged daemon\r\n")
    with smtplib.SMTP("127.0.0.1", mk.ports["smtp"], local_hostname=HELO, timeout=10) as s:
        s.sendmail("sender@example.org", ["anna@home.arpa"], msg)
    stored = mk.wait_for_messages("anna", 1)
    assert split_trace(stored[0])[2] == msg
    for path in (mk.data_dir, mk.data_dir / "mail" / "anna" / "new"):
        assert os.stat(path).st_uid == 65534, f"{path} not handed to the run_as user"

    p = poplib.POP3("127.0.0.1", mk.ports["pop3"], timeout=10)
    p.user("anna")
    p.pass_("anna-secret-1")
    assert p.stat()[0] == 1
    p.quit()
