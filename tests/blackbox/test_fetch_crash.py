# tests/blackbox/test_fetch_crash.py — exactly once under SIGKILL (issue 4): the daemon is killed at
# random moments while it fetches 300 messages from a real Dovecot, over 20 trials; after the last
# restart every message is in the mailbox exactly once and complete, and none is left on the provider.
import os
import random
import subprocess

import pytest

from dovecot import DOVECOT
from fetchutil import account_toml, body_of, place, provider, provider_count
from harness import MAILKEEP_BIN, make_message, wait_until

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot is not installed")

MESSAGES = 300
TRIALS = 20
PER_CYCLE = 15   # so that the 300 messages take all 20 trials, each cycle killed somewhere inside


def test_sigkill_while_fetching_loses_and_duplicates_nothing(mailkeep_factory, tmp_path):
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    d, mail_root = provider(tmp_path, {"family": "pw-f"})
    try:
        msgs = {}
        for i in range(MESSAGES):
            m = make_message(f"crash {i}", f"message {i}\r\n".encode() + b"x" * rng.randrange(100, 20000) + b"\r\n",
                             msgid=f"<crash-{i}@test>")
            msgs[f"<crash-{i}@test>"] = m
            place(mail_root, "family", m)
        mk = mailkeep_factory(extra_toml=account_toml("family", "pop3", d.pop3_port, "family", "pw-f",
                                                      mailbox="single", deliver_to="anna", keep="delete",
                                                      max_per_cycle=PER_CYCLE))
        for trial in range(TRIALS):
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
        # The rest, without crashes, until the provider is empty.
        wait_until(lambda: (mk.cli("fetch", timeout=60), provider_count(mail_root, "family") == 0)[1], 120,
                   "the provider mailbox to be emptied")
        stored = [body_of(b) for b in mk.maildir_messages("anna")]
        by_id = {}
        for s in stored:
            mid = [l for l in s.split(b"\r\n") if l.startswith(b"Message-ID: ")][0][12:].decode()
            by_id.setdefault(mid, []).append(s)
        dups = {k: len(v) for k, v in by_id.items() if len(v) > 1}
        missing = set(msgs) - set(by_id)
        print(f"seed {seed}: {fetched_during_trials} delivered during the {TRIALS} crashing trials; "
              f"{mk.log_text().count('recover:')} interrupted deliveries settled at restarts")
        assert 0 < fetched_during_trials, f"seed {seed}: the trials fetched nothing: the kills tested nothing"
        assert not missing, f"seed {seed}: {len(missing)} message(s) lost: {sorted(missing)[:5]}"
        assert not dups, f"seed {seed}: duplicated: {dups}"
        for mid, copies in by_id.items():
            assert copies[0] == msgs[mid], f"seed {seed}: {mid} is not complete"
    finally:
        d.stop()
