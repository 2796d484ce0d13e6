# tests/blackbox/test_odmr_crash.py — durability of the ATRN hand-over (RFC 2645; issue 11): a provider
# mailkeep holds N messages (8–40 KB, checksummed) for carl@customer.example, a customer mailkeep pulls
# them with ATRN, and one side is SIGKILLed at a random moment of the reversed session; restarted on
# the same data, the customer pulls again (`mailkeep odmr`) until the hold is empty. Every message
# arrives, complete; a message leaves the hold only after the customer's 250, so at any moment each
# one is in the hold or in carl's Maildir, and only the one whose 250 was in flight can come twice.
# Several trials per side (ODMR_CRASH_TRIALS, default 3), each with its own seed; CRASH_SEED replays one;
# scripts/soak.sh runs many (kill_mid_reversal, tests/blackbox/soak.py).
import hashlib
import random
import re
import subprocess
import time

from crashutil import Outcome, seeds as crash_seeds
from harness import MAILKEEP_BIN, sanitizer_report, wait_until
from smtputil import connect
from test_odmr_customer import customer, odmr_line, provider_with_hold

N = 150
RCPT = "carl@customer.example"
SENDER = "stranger@example.org"
# The provider hands the hold over on ONE connection, one transaction at a time, and removes a
# message from the hold on the customer's 250 before it sends the next one (relay/queue_manager.cpp,
# transfer). A SIGKILL of either side can therefore fall only between the customer's durable commit
# of one message and the provider's durable removal of it: that one message is pulled again. A
# larger count means the hold let messages go lazily (or the customer acknowledged one it lost).
MAX_DUPLICATES_PER_KILL = 1
TRIALS = 3   # per side (ODMR_CRASH_TRIALS)
TRIAL_BUDGET = 30.0   # seconds a trial may take, set-up included; every wait below is bounded by it
MAX_PULLS = 25        # `mailkeep odmr` runs after the restart before the hold must be empty (each is quick)
JITTER = 0.004        # seconds: the kill lands up to this long after the K-th message is seen (a message or two)


def build(n):
    """build - message n: unique Message-ID, 8-40 KB body ending in a checksum line over the body
    (as test_relay_crash.build), so that a cut-off or altered copy is told from a whole one."""
    rng = random.Random(n)
    lines = [f"{n:03d} {k:04d} {rng.getrandbits(256):064x}" for k in range(rng.randint(100, 500))]
    body = "\r\n".join(lines) + "\r\n"
    body += f"checksum: {hashlib.sha256(body.encode()).hexdigest()}\r\n"
    head = (f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\nSubject: odmr crash {n}\r\n"
            f"Message-ID: <odmr-crash-{n}@example.org>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\n")
    return (head + body).encode()


MESSAGES = [build(n) for n in range(N)]
MSGID = re.compile(rb"^Message-ID: <odmr-crash-(\d+)@example\.org>\r$", re.M)


class Budget:
    """Budget - the seconds left of one trial; each wait takes at most what is left."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self, what):
        rest = self.end - time.monotonic()
        if rest <= 0:
            raise AssertionError(f"the trial's {TRIAL_BUDGET:.0f} s budget ran out before {what}")
        return rest


def hold_all(provider, budget):
    """hold_all - the N messages sent to the provider's MX port as a stranger, one connection; wait
    until `queue list` shows them all held."""
    with connect(provider, "smtp", timeout=30) as s:
        for m in MESSAGES:
            assert s.sendmail(SENDER, [RCPT], m) == {}
        s.quit()
    wait_until(lambda: len(provider.queue_list()) == N, budget.left("the hold filled"), f"{N} messages held",
               interval=0.2)


def ids_in(files):
    """ids_in - {n: [file names]} for the test's messages among files (a file gone meanwhile is skipped)."""
    out = {}
    for f in files:
        try:
            raw = f.read_bytes()
        except FileNotFoundError:
            continue
        m = MSGID.search(raw)
        if m:
            out.setdefault(int(m.group(1)), []).append(f.name)
    return out


def odmr_log_lines(mk, n=40):
    """odmr_log_lines - the last n lines of mk's log about ATRN, the reversal and the hold."""
    keep = re.compile(r"atrn|odmr|ATRN|revers|lost connection|deferred|recover|smtp client|turned")
    return "\n".join([line for line in mk.log_text().splitlines() if keep.search(line)][-n:])


def kill_mid_reversal(mailkeep_factory, side, seed):
    """kill_mid_reversal - one trial: hold N, let the customer pull (its start-up run, or `mailkeep
    odmr` once its start-up run found nothing: the seed chooses), SIGKILL side ("provider" or
    "customer") once carl holds K messages (K and a short jitter from the seed), check that nothing
    is outside both the hold and the Maildir, restart it, pull until the hold is empty, and check
    every message once (plus at most the one in flight). Returns the Outcome: the held messages
    (acknowledged to the stranger), those that never arrived (lost), the extra copies (duplicated)."""
    rng = random.Random(seed)
    trigger = rng.choice(("start", "cli"))
    kill_at = rng.randint(1, N - 40)
    jitter = rng.uniform(0, JITTER)
    budget = Budget(TRIAL_BUDGET)
    t0 = time.monotonic()

    provider, port = provider_with_hold(mailkeep_factory)
    first_run = None
    if trigger == "start":
        hold_all(provider, budget)
        cust = customer(mailkeep_factory, port)   # its start-up ATRN run begins now (the first
        # messages may be in before the poll below starts: the kill then comes later than aimed)
    else:
        cust = customer(mailkeep_factory, port)
        wait_until(lambda: "last run" in odmr_line(cust), budget.left("the start-up run"),
                   "the customer's start-up ATRN run (453: nothing held yet)", interval=0.1)
        hold_all(provider, budget)
        first_run = subprocess.Popen([MAILKEEP_BIN, "odmr", "--config", str(cust.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

    wait_until(lambda: len(cust.maildir_files("carl")) >= kill_at, budget.left(f"{kill_at} messages at the customer"),
               f"{kill_at} messages pulled by the customer", interval=0.002)
    # A random moment within the next message or two: a spin, not a wait for anything.
    spin_end = time.monotonic() + jitter
    while time.monotonic() < spin_end:
        pass
    victim = provider if side == "provider" else cust
    victim.kill()
    pulled_at_kill = len(cust.maildir_files("carl"))
    context = (f"seed {seed} ({side} killed, pulled by the customer's {trigger} run, aimed at {kill_at} + "
               f"{jitter * 1000:.0f} ms, {pulled_at_kill} in carl's Maildir at the kill)")
    if first_run is not None:
        # The CLI run ends with its daemon (killed customer) or its connection (killed provider).
        try:
            out, _ = first_run.communicate(timeout=min(20.0, budget.left("the CLI's first run to end")))
        except subprocess.TimeoutExpired:
            first_run.kill()
            out, _ = first_run.communicate()
            raise AssertionError(f"{context}: `mailkeep odmr` did not end after the kill: {out}") from None
        report = sanitizer_report(out)
        assert report is None, f"{context}: `mailkeep odmr`: sanitizer report:\n{report}"
        context += f"; its `mailkeep odmr`: rc {first_run.returncode}, {out.strip()!r}"
    result = Outcome("odmr-" + side, seed, acked=N, window=MAX_DUPLICATES_PER_KILL)
    if pulled_at_kill >= N:
        result.problems.append("the reversal was over before the kill; the trial proved nothing")

    # At any moment each message is in the hold or in carl's Maildir: it leaves the hold only after the
    # customer's 250, which the customer gives only once it is stored. The dead side's files do not
    # change; the hold is read first, and a message leaving it is in the Maildir by then.
    held = ids_in(provider.queue_files(".eml"))
    stored = ids_in(cust.maildir_files("carl"))
    nowhere = sorted(set(range(N)) - set(held) - set(stored))
    if nowhere:
        result.problems.append(f"{len(nowhere)} message(s) neither held nor stored right after the kill: {nowhere[:20]}")

    # Restart the dead side on its data. A restarted customer pulls by itself at start; either way the
    # CLI then asks for runs of its own (each waits for a running one) until the hold is empty.
    victim.start(deadline=min(10.0, budget.left("the restart")))
    pulls = []
    while provider.queue_list() and len(pulls) < MAX_PULLS:
        r = cust.cli("odmr", timeout=min(20.0, budget.left(f"pull {len(pulls) + 1}")))
        pulls.append((r.returncode, (r.stdout + r.stderr).strip()))
    problems = result.problems
    left = provider.queue_list()
    if left:
        problems.append(f"the hold did not empty after {len(pulls)} pulls: {len(left)} left, e.g. {left[:3]}")
    # A restarted provider has nothing in flight: its first ATRN hands over everything still held. (A
    # restarted customer may meet the provider still letting go of the dead session's messages, so
    # which of its runs brings them is not fixed.)
    leftovers = provider.queue_files()
    if not left and leftovers:
        problems.append(f"the hold is empty but its queue directory is not: {[p.name for p in leftovers[:10]]}")
    # No partial file stays behind at the customer (a message cut off by the kill was in tmp/: start-up
    # recovery empties it, and nothing is being written now).
    partial = [p.name for p in (cust.maildir("carl") / "tmp").glob("*")]
    if partial:
        problems.append(f"carl's tmp/ holds {len(partial)} file(s) after the pulls: {partial[:10]}")
    if side == "provider" and len(pulls) != 1:
        problems.append(f"the restarted provider's first ATRN did not hand over all it held: {pulls}")
    for rc, out in pulls:
        if rc != 0:
            problems.append(f"`mailkeep odmr` after the restart failed (rc {rc}): {out}")

    # Every message in carl's Maildir, each copy whole (byte-exact after the customer's trace headers
    # and the provider's Received:), at most one of them twice.
    copies = {}
    for f in cust.maildir_files("carl"):
        raw = f.read_bytes()
        m = MSGID.search(raw)
        if not m:
            problems.append(f"{f.name}: not one of the test's messages ({len(raw)} bytes): {raw[:200]!r}")
            continue
        n = int(m.group(1))
        if not raw.endswith(MESSAGES[n]):
            problems.append(f"{f.name}: message {n} incomplete or altered ({len(raw)} bytes)")
        copies.setdefault(n, []).append(f.name)
    missing = [n for n in range(N) if n not in copies]
    dups = sorted(n for n, names in copies.items() if len(names) > 1)
    extra = sum(len(names) - 1 for names in copies.values())
    result.lost, result.duplicated = len(missing), extra
    if missing:
        problems.append(f"never arrived: {missing[:20]} ({len(missing)} in all)")
    if extra > MAX_DUPLICATES_PER_KILL:
        problems.append(f"{extra} duplicate deliveries (allowed {MAX_DUPLICATES_PER_KILL} for one kill): {dups[:20]}")
    received = [re.findall(r"(\d+) received", out) for _, out in pulls]
    summary = (f"{context}: {len(copies)} distinct, {extra} duplicate(s) {dups}, pulls after the restart: "
               f"{received}, {time.monotonic() - t0:.1f} s")
    print(summary)
    result.note = summary
    if problems:
        problems.append(f"--- provider ---\n{odmr_log_lines(provider)}\n--- customer ---\n{odmr_log_lines(cust)}")
        return result

    # The trial's daemons stop here (SIGTERM, exit 0), so that the next trial has the machine.
    for mk in (cust, provider):
        rc, needed_kill = mk.stop()
        if rc != 0 or needed_kill:
            problems.append(f"{mk.root} on SIGTERM: rc={rc}, SIGKILL needed={needed_kill}")
    return result


def run_trials(mailkeep_factory, side):
    results = []
    for i, seed in enumerate(crash_seeds("ODMR_CRASH_TRIALS", TRIALS)):
        print(f"trial {i + 1}, {side} killed: CRASH_SEED={seed}")
        out = kill_mid_reversal(mailkeep_factory, side, seed)
        out.check()
        results.append((seed, out.duplicated))
    print(f"{side} killed: (seed, duplicates) per trial: {results}")


def test_provider_killed_mid_reversal(mailkeep_factory):
    """The provider dies while it hands the hold over: the customer's run ends with the connection, the
    restarted provider still holds every message not yet 250-acknowledged, and the next ATRN brings them."""
    run_trials(mailkeep_factory, "provider")


def test_customer_killed_mid_reversal(mailkeep_factory):
    """The customer dies while it takes the hold: the provider's session sees the connection drop and keeps
    the message in flight (its 250 never came) held; the restarted customer pulls at start and on the CLI."""
    run_trials(mailkeep_factory, "customer")
