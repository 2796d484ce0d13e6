# tests/blackbox/test_crash.py — durability under a crash: 200 messages sent concurrently while the
# daemon is SIGKILLed at a random moment, restarted on the same config, the rest sent; every message
# that got 250 is in the mailbox exactly once and complete, nothing partial is visible in new/ or cur/,
# and start-up recovery leaves tmp/ empty. INTAKE_CRASH_TRIALS trials (default 1), each with its own seed;
# CRASH_SEED replays one. scripts/soak.sh runs intake_trial many times (tests/blackbox/soak.py).
import hashlib
import os
import random
import re
import smtplib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from crashutil import Outcome, seeds
from harness import split_trace, wait_until

N = 200
WORKERS = 16
SENDER = "crash@example.org"
RCPT = "anna@home.arpa"


def build(n, attempt):
    """build - the exact bytes of message n, attempt a: unique Message-ID, 0.4-48 KB body ending in
    a checksum line over the body before it."""
    rng = random.Random(n * 1000 + attempt)
    lines = [f"{n:03d}.{attempt} {k:04d} {rng.getrandbits(256):064x}" for k in range(rng.randint(5, 600))]
    body = "\r\n".join(lines) + "\r\n"
    body += f"checksum: {hashlib.sha256(body.encode()).hexdigest()}\r\n"
    head = (f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\nSubject: crash {n} attempt {attempt}\r\n"
            f"Message-ID: <crash-{n}-{attempt}@client.test>\r\n\r\n")
    return (head + body).encode()


def checksum_ok(rest):
    m = re.search(rb"\r\n\r\n(.*\r\n)checksum: ([0-9a-f]{64})\r\n\Z", rest, re.S)
    return bool(m) and hashlib.sha256(m.group(1)).hexdigest().encode() == m.group(2)


class Flood:
    """Flood - sends messages on a thread pool, records which got 250, and can SIGKILL the daemon
    right after the k-th 250."""

    def __init__(self, mk, kill_after=None, kill_delay=0.0):
        self.mk = mk
        self.lock = threading.Lock()
        self.acked = set()
        self.kill_after = kill_after
        self.kill_delay = kill_delay
        self.reached = threading.Event()

    def send_one(self, n, attempt):
        s = None
        try:
            s = smtplib.SMTP("127.0.0.1", self.mk.ports["smtp"], local_hostname="client.test", timeout=15)
            s.sendmail(SENDER, [RCPT], build(n, attempt))     # returns only after the 250 to DATA
            with self.lock:
                self.acked.add((n, attempt))
                if self.kill_after is not None and len(self.acked) >= self.kill_after:
                    self.reached.set()
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass
            return True
        except (smtplib.SMTPException, OSError):
            return False
        finally:
            if s is not None:
                s.close()

    def killer(self):
        self.reached.wait()
        time.sleep(self.kill_delay)
        self.mk.kill()

    def run(self, items):
        k = None
        if self.kill_after is not None:
            k = threading.Thread(target=self.killer, daemon=True)
            k.start()
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(lambda it: self.send_one(*it), items))
        if k is not None:
            self.reached.set()          # fewer 250s than kill_after: kill now, the test goes on
            k.join(20)
        return results


def crash_run(mk, seed, n_messages):
    rng = random.Random(seed)
    flood = Flood(mk, kill_after=rng.randint(10, int(n_messages * 0.75)), kill_delay=rng.uniform(0, 0.03))
    first = flood.run([(n, 0) for n in range(n_messages)])
    assert not mk.running(), "the daemon was not killed"
    acked_before_kill = set(flood.acked)
    print(f"killed after {flood.kill_after}+ acks: {len(acked_before_kill)} acknowledged, "
          f"{first.count(False)} sends failed")
    mk.start()                                   # same config, same data dir
    flood.kill_after = None
    rest = [(n, 1) for n in range(n_messages) if (n, 0) not in acked_before_kill]
    results = flood.run(rest)
    failed = [it for it, ok in zip(rest, results) if not ok]
    return flood, acked_before_kill, failed


def intake_trial(mailkeep_factory, seed, n_messages=N):
    """intake_trial - one trial: a daemon, n_messages sent concurrently, a SIGKILL after a random
    number of 250s (from seed), a restart, the rest sent again; the Outcome counts the acknowledged
    messages, those not stored (lost) and the extra copies (duplicated)."""
    mk = mailkeep_factory(name="crash", limits={"max_connections_per_ip": 64, "max_message_size": "4M"})
    flood, acked_before_kill, failed = crash_run(mk, seed, n_messages)
    out = Outcome("intake", seed, acked=len(flood.acked),
                  note=f"killed after {flood.kill_after}+ acks, {len(acked_before_kill)} acknowledged before the kill")
    if failed:
        out.problems.append(f"after the restart {len(failed)} sends failed: {failed[:10]}")

    seen = {}
    for f in mk.maildir_files("anna"):
        raw = f.read_bytes()
        m = re.search(rb"^Message-ID: <crash-(\d+)-(\d)@client\.test>\r$", raw, re.M)
        if not m:
            out.problems.append(f"{f}: no Message-ID (partial or foreign file, {len(raw)} bytes)")
            continue
        key = (int(m.group(1)), int(m.group(2)))
        try:
            _, _, rest = split_trace(raw)
        except AssertionError as e:
            out.problems.append(f"{f}: {e}")
            continue
        if rest != build(*key) or not checksum_ok(rest):
            out.problems.append(f"{f}: message {key} incomplete or altered ({len(rest)} of {len(build(*key))} bytes)")
        seen.setdefault(key, []).append(f.name)
    lost = [key for key in sorted(flood.acked) if key not in seen]
    out.lost = len(lost)
    out.duplicated = sum(len(names) - 1 for names in seen.values())
    if lost:
        out.problems.append(f"{len(lost)} acknowledged message(s) not stored: {lost[:20]}")
    for key, names in seen.items():
        if len(names) > 1:
            out.problems.append(f"message {key} stored {len(names)} times: {names}")
    missing = [n for n in range(n_messages) if not any((n, a) in seen for a in (0, 1))]
    if missing:
        out.problems.append(f"messages never stored: {missing[:20]}")
    return out


def test_sigkill_during_concurrent_intake(mailkeep_factory):
    for seed in seeds("INTAKE_CRASH_TRIALS", 1):
        print(f"CRASH_SEED={seed}")
        intake_trial(mailkeep_factory, seed).check()


def test_recovery_empties_tmp(mailkeep_factory):
    # DESIGN.md, the durable write, step 7: "At start-up, recover: empty tmp/".
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    print(f"CRASH_SEED={seed}")
    mk = mailkeep_factory(name="tmpcheck", limits={"max_connections_per_ip": 64, "max_message_size": "4M"})
    crash_run(mk, seed, 60)
    tmp = mk.maildir("anna") / "tmp"
    wait_until(lambda: not tmp.is_dir() or not any(tmp.iterdir()), 5,
               f"tmp/ to be emptied after restart: {sorted(os.listdir(tmp)) if tmp.is_dir() else []}")
