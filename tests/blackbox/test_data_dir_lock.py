# tests/blackbox/test_data_dir_lock.py — one daemon per data directory (issue 9, item 3): a second
# `serve` on the same data directory, from the same config or another one naming it, exits at once with
# a message naming the running daemon's PID and touches nothing: a DATA in progress on the first ends
# with 250 and the message stored, its control socket stays; once the first stops, a new one starts.
import re

import pytest

from harness import make_message, run_cli, split_trace
from wire import Smtp


def pointed_at(other, data_dir):
    """pointed_at - other's config (its own ports) naming data_dir instead of its own; its path."""
    text = other.config_path.read_text()
    assert f'data_dir = "{other.data_dir}"' in text
    other.config_path.write_text(text.replace(f'data_dir = "{other.data_dir}"', f'data_dir = "{data_dir}"'))
    return other.config_path


@pytest.mark.parametrize("which", ["same-config", "other-config"])
def test_second_daemon_on_a_data_dir_is_refused(mailkeep_factory, which):
    mk = mailkeep_factory()
    config = mk.config_path if which == "same-config" else pointed_at(mailkeep_factory(start=False), mk.data_dir)
    msg = make_message("in flight", b"sent while a second daemon tried to start\r\n" * 20)
    half = len(msg) // 2
    with Smtp(mk.ports["smtp"]) as s:
        s.greet()
        s.expect("MAIL FROM:<sender@example.org>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        s.send(msg[:half])
        second = run_cli("serve", "--config", str(config), timeout=15)
        s.send(msg[half:] + b".\r\n")
        r = s.reply()
        assert r.code == 250, f"the first daemon's DATA in progress got {r}"
        s.cmd("QUIT")
    out = second.stdout + second.stderr
    assert second.returncode != 0, f"the second daemon ran (rc {second.returncode}):\n{out}"
    assert re.search(rf"\bPID {mk.proc.pid}\b", out) and str(mk.data_dir) in out, out
    assert split_trace(mk.wait_for_messages("anna", 1)[0])[2] == msg
    assert (mk.data_dir / "control.sock").exists(), "the second daemon removed the first one's control socket"
    assert mk.status().startswith("relay:"), "the CLI no longer reaches the first daemon"
    assert (mk.data_dir / "mailkeep.pid").read_text().strip() == str(mk.proc.pid)

    mk.restart()
    assert mk.status().startswith("relay:")
    assert (mk.data_dir / "mailkeep.pid").read_text().strip() == str(mk.proc.pid)
