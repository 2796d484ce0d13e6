# tests/blackbox/crashutil.py — what the SIGKILL trials of the crash tests share with the soak
# (scripts/soak.sh, tests/blackbox/soak.py): the trial count and seeds from the environment, and one
# trial's outcome in numbers (acknowledged, lost, duplicated) beside the problems in words.
import os
import random
from dataclasses import dataclass, field


def trials(var, default):
    """trials - the number of trials a crash test runs: the environment variable var (such as
    INTAKE_CRASH_TRIALS), else default."""
    return int(os.environ.get(var, str(default)))


def seeds(var, default):
    """seeds - one seed per trial: CRASH_SEED alone if set (a replay), else trials(var, default) fresh ones."""
    if "CRASH_SEED" in os.environ:
        return [int(os.environ["CRASH_SEED"])]
    return [random.randrange(1 << 30) for _ in range(trials(var, default))]


@dataclass
class Outcome:
    """Outcome - one trial (or, for the fetcher, one round of trials: kills) of one area.
    acked: messages mailkeep acknowledged (a 250, a tagged OK, a DELE it sent the provider);
    lost: acknowledged messages not there after the restart; duplicated: extra copies in all;
    window: how many of the duplicates the area's documented in-flight window allows (the relay's and
    the ODMR hand-over's one message per connection whose 250 was in flight at the kill; 0 elsewhere);
    kills: SIGKILLs in this outcome; problems: everything wrong, in words (lost, duplicates beyond
    the window, partial or altered files, failures); note: what the trial did, for the log."""
    area: str
    seed: int
    acked: int = 0
    lost: int = 0
    duplicated: int = 0
    window: int = 0
    kills: int = 1
    problems: list = field(default_factory=list)
    note: str = ""

    def check(self):
        """check - fail (for pytest) when the outcome has problems, the note first."""
        assert not self.problems, (f"{self.area} CRASH_SEED={self.seed}: {self.note}\n"
                                   + "\n".join(p[:3000] for p in self.problems[:40]))
