# tests/blackbox/test_fetch_crash.py — exactly once under SIGKILL (issue 4): the daemon is killed at
# random moments while it fetches 300 messages from a real Dovecot, over 20 trials (FETCH_CRASH_TRIALS
# kills, 15 messages each); after the last restart every message is in the mailbox exactly once and
# complete, and none is left on the provider. CRASH_SEED replays a run; scripts/soak.sh runs many.
import os
import random
import subprocess

import pytest

from dovecot import DOVECOT
from fetchutil import account_toml, body_of, place, provider, provider_count
from crashutil import Outcome, trials
from harness import MAILKEEP_BIN, make_message, wait_until

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot is not installed")

TRIALS = 20      # SIGKILLs in one run (FETCH_CRASH_TRIALS)
PER_CYCLE = 15   # so that the messages (PER_CYCLE per kill) take all the trials, each cycle killed somewhere inside


def fetch_round(mailkeep_factory, tmp_path, seed, kills=TRIALS):
    """fetch_round - PER_CYCLE * kills messages on a Dovecot provider, kills SIGKILLs of the fetching
    daemon at random moments (from seed), the rest fetched without crashes; the Outcome counts the
    messages the provider held (each one mailkeep took, acknowledging it with DELE), those not in the
    mailbox (lost) and the extra copies (duplicated)."""
    rng = random.Random(seed)
    messages = PER_CYCLE * kills
    d, mail_root = provider(tmp_path, {"family": "pw-f"})
    try:
        msgs = {}
        for i in range(messages):
            m = make_message(f"crash {i}", f"message {i}\r\n".encode() + b"x" * rng.randrange(100, 20000) + b"\r\n",
                             msgid=f"<crash-{i}@test>")
            msgs[f"<crash-{i}@test>"] = m
            place(mail_root, "family", m)
        mk = mailkeep_factory(extra_toml=account_toml("family", "pop3", d.pop3_port, "family", "pw-f",
                                                      mailbox="single", deliver_to="anna", keep="delete",
                                                      max_per_cycle=PER_CYCLE))
        for trial in range(kills):
            # A cycle runs at start-up on its own, and `fetch` asks for one more: kill during either.
            fetcher = subprocess.Popen([MAILKEEP_BIN, "fetch", "--config", str(mk.config_path)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            delay = rng.uniform(0.0, 0.06)   # a cycle of 15 takes tens of milliseconds here
            try:
                fetcher.wait(delay)   # the random moment of the crash (not a synchronisation)
            except subprocess.TimeoutExpired:
                pass
            mk.kill()
            fetcher.wait(30)
            mk.start()
        fetched_during_trials = len(mk.maildir_messages("anna"))
        out = Outcome("fetch", seed, acked=messages, kills=kills,
                      note=f"{fetched_during_trials} delivered during the {kills} crashing trials; "
                           f"{mk.log_text().count('recover:')} interrupted deliveries settled at restarts")
        # The rest, without crashes, until the provider is empty.
        try:
            wait_until(lambda: (mk.cli("fetch", timeout=60), provider_count(mail_root, "family") == 0)[1], 120,
                       "the provider mailbox to be emptied")
        except AssertionError as e:
            out.problems.append(str(e))
        stored = [body_of(b) for b in mk.maildir_messages("anna")]
        by_id = {}
        for s in stored:
            mid = [l for l in s.split(b"\r\n") if l.startswith(b"Message-ID: ")][0][12:].decode()
            by_id.setdefault(mid, []).append(s)
        dups = {k: len(v) for k, v in by_id.items() if len(v) > 1}
        missing = set(msgs) - set(by_id)
        out.lost = len(missing)
        out.duplicated = sum(n - 1 for n in dups.values())
        if not fetched_during_trials:
            out.problems.append("the trials fetched nothing: the kills tested nothing")
        if missing:
            out.problems.append(f"{len(missing)} message(s) lost: {sorted(missing)[:5]}")
        if dups:
            out.problems.append(f"duplicated: {dups}")
        for mid, copies in by_id.items():
            if mid in msgs and copies[0] != msgs[mid]:
                out.problems.append(f"{mid} is not complete")
        return out
    finally:
        d.stop()


def test_sigkill_while_fetching_loses_and_duplicates_nothing(mailkeep_factory, tmp_path):
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    out = fetch_round(mailkeep_factory, tmp_path, seed, trials("FETCH_CRASH_TRIALS", TRIALS))
    print(f"seed {seed}: {out.note}")
    out.check()
