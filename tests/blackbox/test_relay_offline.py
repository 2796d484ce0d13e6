# tests/blackbox/test_relay_offline.py — online detection: while the smarthost (a provider mailkeep)
# is not listening, mail waits in the queue and `mailkeep status` says offline with the unreachable
# hop; when the smarthost starts, everything queued arrives within probe_interval plus a bound, over
# at most CONNECTIONS_PER_HOP connections, and status says online again. `queue remove` and `queue flush` work on the
# running daemon meanwhile.
import re
import signal
import subprocess
import time

from harness import cpu_seconds, make_message, wait_until
from relayutil import CONNECTIONS_PER_HOP, provider_options, smarthost, wait_queue_empty
from smtputil import connect

N = 20
PROBE_INTERVAL = 1.0
ARRIVAL_BOUND = 10.0     # seconds allowed beyond one probe interval for all N to arrive
RCPT = "friend@provider.example"


def queue_n(home, n, tag):
    """queue_n - n messages from anna to RCPT over one SMTP session; returns their Message-IDs."""
    ids = []
    with connect(home, "smtp") as s:
        for i in range(n):
            msgid = f"<{tag}-{i}@home.arpa>"
            s.sendmail("anna@home.arpa", [RCPT], make_message(f"{tag} {i}", sender="anna@home.arpa", to=RCPT,
                                                              msgid=msgid))
            ids.append(msgid)
        s.quit()
    return ids


def arrived_ids(provider):
    out = []
    for raw in provider.maildir_messages("friend"):
        m = re.search(rb"^Message-ID: (\S+)\r$", raw, re.M)
        out.append(m.group(1).decode() if m else None)
    return out


def smtp_sessions(provider):
    """smtp_sessions - {client port: number of accepted messages logged between its connect and
    disconnect} for the provider's smtp connections, leaving out the harness's readiness checks."""
    sessions, open_ = {}, set()
    for line in provider.log_text().splitlines():
        m = re.search(r" smtp: (connect|disconnect) from \[127\.0\.0\.1\]:(\d+)$", line)
        if m:
            port = int(m.group(2))
            if m.group(1) == "connect":
                sessions[port] = 0
                open_.add(port)
            else:
                open_.discard(port)
        elif re.search(r": from=<anna@home\.arpa>, size=\d+, nrcpt=1", line):
            for port in open_:
                sessions[port] += 1
    return {p: n for p, n in sessions.items() if p not in provider.harness_ports}


def test_offline_then_all_at_once_over_a_few_connections(mailkeep_factory):
    provider = mailkeep_factory(name="provider", start=False, **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"],
                                                         probe_interval=f"{PROBE_INTERVAL:g}s"))
    ids = queue_n(home, N, "offline")

    def offline_status():
        out = home.status()
        return out if out.startswith("relay: offline since") else None

    status = wait_until(offline_status, 10, "status to say offline", interval=0.2)
    assert re.match(r"relay: offline since \d+s ago\n", status), status
    # the hop is named; whatever the spelling, it includes the port
    assert re.search(rf"^unreachable: \S*{provider.ports['smtp']}", status, re.M), status
    assert re.search(rf"^queue: {N} message\(s\), {N} recipient\(s\) pending(, oldest \d+s)?$", status, re.M), status
    listed = home.queue_list()
    assert len(listed) == N, listed
    summary = home.cli("queue", "list").stdout.splitlines()[-1]
    assert summary == f"-- {N} message(s) in the queue", summary

    provider.start()
    t0 = time.monotonic()
    wait_until(lambda: len(provider.maildir_files("friend")) >= N, PROBE_INTERVAL + ARRIVAL_BOUND,
               f"all {N} messages at the provider (have {len(provider.maildir_files('friend'))})")
    took = time.monotonic() - t0
    print(f"all {N} arrived {took:.2f}s after the smarthost started")
    assert sorted(arrived_ids(provider)) == sorted(ids), "lost or duplicated messages"
    wait_queue_empty(home, 10)

    status = home.status()
    assert status.startswith("relay: online\n"), status
    assert "unreachable:" not in status, status
    assert re.search(r"^queue: 0 message\(s\), 0 recipient\(s\) pending$", status, re.M), status

    # At most CONNECTIONS_PER_HOP connections carried the mail (mailkeep's destination concurrency).
    # Accepted besides them: at most one reachability probe (a bare TCP connect, or a greeting and
    # QUIT). The harness's own readiness connections are left out by their client ports. A message
    # is counted for every connection open while the provider logged it, so the counts overlap.
    sessions = smtp_sessions(provider)
    carrying = {p: n for p, n in sessions.items() if n}
    assert len(carrying) <= CONNECTIONS_PER_HOP, f"{len(carrying)} connections carried mail (port: messages): {sessions}"
    assert len(sessions) <= CONNECTIONS_PER_HOP + 1, f"{len(sessions)} connections to the smarthost: {sessions}"


def test_queue_remove_and_flush_while_offline(mailkeep_factory):
    provider = mailkeep_factory(name="provider", start=False, **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"]))
    ids = queue_n(home, 3, "cli")
    listed = home.queue_list()          # queued before the 250 (durable intake)
    assert len(listed) == 3, listed
    victim = next(line for line in listed if "anna@home.arpa" in line).split()[0]
    assert (home.queue_dir() / f"{victim}.eml").exists(), f"{victim} is not a queue file id: {listed}"

    r = home.cli("queue", "remove", victim)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert not any(line.split()[0] == victim for line in home.queue_list())
    assert not any(p.name.startswith(victim) for p in home.queue_files()), home.queue_files()
    r = home.cli("queue", "remove", "NOSUCHID0000")
    assert r.returncode != 0, f"removing an unknown id succeeded: {r.stdout}"

    r = home.cli("queue", "flush")          # the hop is still down: nothing is lost by trying
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert len(home.queue_list()) == 2

    provider.start()
    wait_queue_empty(home, 15)
    arrived = arrived_ids(provider)
    assert len(arrived) == 2 and set(arrived) < set(ids), arrived


def test_sigterm_while_offline_is_prompt_and_keeps_the_queue(mailkeep_factory):
    # A hop that is down must not hold up shutdown: SIGTERM ends the daemon (exit 0) well before
    # the next probe or retry is due, and the queued message is still there after a restart.
    home = mailkeep_factory(name="home", relay=smarthost(9, probe_interval="60s", retry=["10m"]))
    (msgid,) = queue_n(home, 1, "sigterm")
    wait_until(lambda: home.status().startswith("relay: offline"), 10, "status to say offline", interval=0.2)
    proc = home.proc
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(5)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t0
    home.stop()      # reaps it (SIGKILL after the harness's deadline if it is still running)
    assert rc == 0, f"SIGTERM while a hop is unreachable: still running after 5 s (rc={rc}, {took:.1f}s)\n" \
                    f"{home.log_tail(20)}"
    home.start()
    listed = home.queue_list()
    assert len(listed) == 1 and "friend@provider.example" in listed[0], listed


def test_waiting_for_an_unreachable_hop_costs_no_cpu(mailkeep_factory):
    # Mail waiting for a hop that is down must just wait: a scheduler that treats "due, but its hop
    # is down" as "due now" spins on a core for as long as the line is down.
    provider = mailkeep_factory(name="provider", start=False, **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"], probe_interval="1h"))
    queue_n(home, N, "waiting")
    wait_until(lambda: home.status().startswith("relay: offline since"), 10, "status to say offline", interval=0.2)
    pid = home.proc.pid
    before, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(2.0)   # measuring idleness over a fixed span: nothing to poll for
    used = cpu_seconds(pid) - before
    assert used < 0.2, f"the daemon used {used:.2f} s of CPU in {time.monotonic() - t0:.1f} s while idle"
    assert len(home.queue_list()) == N
