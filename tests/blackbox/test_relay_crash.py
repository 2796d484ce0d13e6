# tests/blackbox/test_relay_crash.py — durability of the outbound queue: 200 messages queue while the
# smarthost (a provider mailkeep) is down; it starts, mailkeep begins to flush, and is SIGKILLed after
# a random number of deliveries; restarted on the same config and data, it delivers the rest. Every
# message arrives, complete, and at most the in-flight window is delivered twice. RELAY_CRASH_TRIALS
# trials (default 1), each with its own seed; CRASH_SEED replays one; scripts/soak.sh runs many.
import hashlib
import random
import re

from crashutil import Outcome, seeds
from harness import split_trace, wait_until
from relayutil import CONNECTIONS_PER_HOP, provider_options, smarthost, strip_received, wait_queue_empty
from smtputil import connect

N = 200
RCPT = "friend@provider.example"
SENDER = "anna@home.arpa"
# The in-flight window. mailkeep sends one destination's queue over at most CONNECTIONS_PER_HOP
# connections, each one transaction at a time, and records a message as delivered (removes it from
# the queue, the removals of all connections sharing the intake's fsync) on the provider's 250
# before that connection starts the next one. A SIGKILL can therefore fall only between the
# provider's 250 for one message per connection and mailkeep's durable record of it: those messages
# are sent again after the restart. So at most one duplicate per relay connection (issue 3,
# Durability; issue 10, group commit). A larger count means mailkeep acknowledged messages lazily.
MAX_DUPLICATES = CONNECTIONS_PER_HOP


def build(n):
    """build - message n: unique Message-ID, 8-40 KB body (so that the flush takes a while and the
    kill lands in it) ending in a checksum line over the body."""
    rng = random.Random(n)
    lines = [f"{n:03d} {k:04d} {rng.getrandbits(256):064x}" for k in range(rng.randint(100, 500))]
    body = "\r\n".join(lines) + "\r\n"
    body += f"checksum: {hashlib.sha256(body.encode()).hexdigest()}\r\n"
    head = (f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\nSubject: relay crash {n}\r\n"
            f"Message-ID: <relay-crash-{n}@home.arpa>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\n")
    return (head + body).encode()


def relay_trial(mailkeep_factory, seed):
    """relay_trial - one trial: N messages queued while the smarthost is down, the smarthost started,
    mailkeep SIGKILLed after a random number of deliveries (from seed), restarted; the Outcome counts
    the acknowledged (queued) messages, those never delivered (lost) and the extra deliveries
    (duplicated; window: how many of them the in-flight window allows)."""
    kill_after = random.Random(seed).randint(5, 120)

    provider = mailkeep_factory(name="provider", start=False,
                                **provider_options(limits={"max_message_size": "4M"}))
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"]),
                            limits={"max_message_size": "4M"})
    with connect(home, "smtp") as s:
        for n in range(N):
            s.sendmail(SENDER, [RCPT], build(n))
        s.quit()
    assert len(home.queue_list()) == N

    provider.start()
    def delivered_enough():
        c = len(provider.maildir_files("friend"))
        return c if c >= kill_after else 0

    count = wait_until(delivered_enough, 30, f"{kill_after} deliveries to the provider", interval=0.002)
    home.kill()
    at_kill = len(provider.maildir_files("friend"))
    out = Outcome("relay", seed, acked=N, window=MAX_DUPLICATES,
                  note=f"SIGKILL after {count} deliveries seen ({at_kill} once the process was gone), "
                       f"aimed at {kill_after}")
    if at_kill >= N:
        out.problems.append(f"the flush had finished before the kill ({at_kill}/{N}): the trial proved nothing")

    home.start()
    try:
        wait_until(lambda: len(set(ids_at(provider))) >= N, 60,
                   f"all {N} Message-IDs at the provider after the restart")
        wait_queue_empty(home, 20)
    except AssertionError as e:
        out.problems.append(f"after the restart ({len(home.queue_list())} left in the queue): {str(e)[:3000]}")

    seen = {}
    for f in provider.maildir_files("friend"):
        raw = f.read_bytes()
        m = re.search(rb"^Message-ID: <relay-crash-(\d+)@home\.arpa>\r$", raw, re.M)
        if not m:
            out.problems.append(f"{f.name}: no Message-ID ({len(raw)} bytes)")
            continue
        n = int(m.group(1))
        _, _, rest = split_trace(raw)
        _, original = strip_received(rest)
        if original != build(n):
            out.problems.append(f"{f.name}: message {n} incomplete or altered")
        seen.setdefault(n, []).append(f.name)
    missing = [n for n in range(N) if n not in seen]
    dups = {n: names for n, names in seen.items() if len(names) > 1}
    out.lost = len(missing)
    out.duplicated = sum(len(v) - 1 for v in dups.values())
    if missing:
        out.problems.append(f"never delivered: {missing[:20]} ({len(missing)} in all)")
    if out.duplicated > MAX_DUPLICATES:
        out.problems.append(f"{out.duplicated} duplicate deliveries (allowed {MAX_DUPLICATES}): {sorted(dups)[:20]}")
    if home.maildir_files("anna"):
        out.problems.append("the sender got a DSN for mail that was delivered")
    out.note += f"; {len(seen)} distinct, {out.duplicated} duplicate(s): {sorted(dups)}"
    return out


def test_sigkill_mid_flush(mailkeep_factory):
    for seed in seeds("RELAY_CRASH_TRIALS", 1):
        print(f"CRASH_SEED={seed}")
        out = relay_trial(mailkeep_factory, seed)
        print(out.note)
        out.check()


def ids_at(provider):
    out = []
    for f in provider.maildir_files("friend"):
        m = re.search(rb"^Message-ID: (\S+)\r$", f.read_bytes(), re.M)
        if m:
            out.append(m.group(1))
    return out
