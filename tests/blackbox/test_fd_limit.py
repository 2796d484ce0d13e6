# tests/blackbox/test_fd_limit.py — file descriptors (issue 9, item 10): out of descriptors, the accept
# loop pauses instead of spinning (CPU and log stay quiet, clients are served again once descriptors
# are free); started under a hard limit too low for max_connections, serve lowers the cap to what the
# limit can serve and says so, and check-config warns about it.
import os
import re
import resource
import socket
import time

from harness import cpu_seconds, fd_limit, run_cli, wait_until
from wire import Closed, Smtp, greeted

WINDOW = 2.0           # seconds over which CPU time and log growth are measured
CLIENTS = 40           # connections opened while descriptors are short
LOW_LIMIT = 128        # descriptors for the daemon started under a low hard limit


def test_out_of_descriptors_accept_pauses_instead_of_spinning(mailkeep_factory):
    mk = mailkeep_factory(limits={"max_connections": 500, "max_connections_per_ip": 500})
    pid = mk.proc.pid
    in_use = len(os.listdir(f"/proc/{pid}/fd"))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 4, in_use + 4))
    clients = [socket.create_connection(("127.0.0.1", mk.ports["smtp"]), timeout=5) for _ in range(CLIENTS)]
    try:
        wait_until(lambda: "Too many open files" in mk.log_text(), 10, "accept to run out of descriptors")
        log_size, cpu = mk.log_path.stat().st_size, cpu_seconds(pid)
        time.sleep(WINDOW)   # measuring over a fixed span: nothing to poll for
        used, grown = cpu_seconds(pid) - cpu, mk.log_path.stat().st_size - log_size
        assert used < 0.3, f"the daemon used {used:.2f} s of CPU in {WINDOW} s out of descriptors"
        assert grown < 2000, f"the log grew by {grown} bytes in {WINDOW} s out of descriptors"
    finally:
        for c in clients:
            c.close()
    with Smtp(mk.ports["smtp"], timeout=10) as s:
        s.greet()   # descriptors are free again: a new client is served
    assert mk.running()


def test_max_connections_lowered_to_what_the_fd_limit_serves(mailkeep_factory):
    limits = {"max_connections": 200, "max_connections_per_ip": 200}
    mk = mailkeep_factory(start=False, limits=limits)
    mk.start(preexec_fn=fd_limit(LOW_LIMIT))
    m = re.search(r"max_connections (\d+) lowered to (\d+)", mk.log_text())
    assert m and m.group(1) == "200", f"no warning about the lowered cap:\n{mk.log_tail(20)}"
    cap = int(m.group(2))
    assert 0 < cap < LOW_LIMIT // 2, cap
    held = [wait_until(lambda: greeted(mk.ports["smtp"]), 5, "a first connection")]
    try:
        while len(held) < cap:
            w = greeted(mk.ports["smtp"])
            assert w is not None, f"connection {len(held) + 1} of {cap} refused"
            held.append(w)
        cpu = cpu_seconds(mk.proc.pid)
        with Smtp(mk.ports["smtp"]) as extra:
            try:
                r = extra.reply()
                assert (r.code, r.enhanced) == (421, "4.7.0"), f"connection {cap + 1} of {cap}: {r}"
            except Closed:
                pass                                   # closing at once is also a refusal
        assert cpu_seconds(mk.proc.pid) - cpu < 0.3
    finally:
        for w in held:
            w.close()
    wait_until(lambda: greeted(mk.ports["smtp"]), 5, "a connection after the others closed").close()

    r = run_cli("check-config", str(mk.config_path), preexec_fn=fd_limit(LOW_LIMIT))
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(rf"warning: .*max_connections = 200 .*{cap}", r.stderr), r.stderr
    assert "warning" not in run_cli("check-config", str(mk.config_path)).stderr
