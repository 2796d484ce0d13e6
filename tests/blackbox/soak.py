#!/usr/bin/python3
# tests/blackbox/soak.py — the SIGKILL soak (issue 15; run by scripts/soak.sh, outside CI): many trials
# of the crash tests' own trial functions, round-robin over the areas, each on fresh daemons in a temp
# dir, with a tally per area of acknowledged, lost and duplicated messages, printed at the end and
# written to a file. The trials are the ones CI runs a handful of (test_crash.py, test_relay_crash.py,
# test_fetch_crash.py, test_odmr_crash.py, test_imap_crash.py); a failed trial prints its CRASH_SEED,
# which replays it there (e.g. CRASH_SEED=S pytest tests/blackbox/test_relay_crash.py).
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crashutil import Outcome  # noqa: E402
from dovecot import DOVECOT  # noqa: E402
from harness import Mailkeep, make_cert, sanitizer_report  # noqa: E402
import test_crash  # noqa: E402
import test_fetch_crash  # noqa: E402
import test_imap_crash  # noqa: E402
import test_odmr_crash  # noqa: E402
import test_relay_crash  # noqa: E402

AREAS = ("intake", "relay", "fetch", "odmr", "imap")
FETCH_ROUND = 20   # kills per fetch round (one Dovecot, 15 messages per kill): test_fetch_crash's default


class Factory:
    """Factory - conftest's mailkeep_factory outside pytest: start(name, start=True, **options) -> a
    Mailkeep under root; close() stops every daemon and returns what went wrong (a daemon that died, or
    did not exit 0 on SIGTERM, or whose log holds a sanitizer's report)."""

    def __init__(self, root, tls):
        self.root, self.tls, self.started = root, tls, []

    def __call__(self, name="mk", start=True, **options):
        mk = Mailkeep(self.root / f"{name}{len(self.started)}", *self.tls, **options)
        self.started.append(mk)
        return mk.start() if start else mk

    def close(self):
        problems = []
        for mk in self.started:
            was_running = mk.running()
            if mk.proc is not None and not was_running and mk.proc.returncode != 0:
                problems.append(f"{mk.root}: mailkeep died during the trial, rc={mk.proc.returncode}")
            rc, needed_kill = mk.stop()
            if was_running and (needed_kill or rc != 0):
                problems.append(f"{mk.root}: after SIGTERM rc={rc}, needed SIGKILL={needed_kill}")
            report = sanitizer_report(mk.log_text())
            if report:
                problems.append(f"{mk.root}: sanitizer report in the daemon's log:\n{report}")
        return problems


PORT_CLASH = "Address already in use"   # a port the harness chose was taken before the daemon bound it
PORT_RETRIES = 2


def run_area(area, variant, factory, root, seed, kills):
    """run_area - one trial of area (variant: the ODMR side or the IMAP operation) -> Outcome."""
    if area == "intake":
        return test_crash.intake_trial(factory, seed)
    if area == "relay":
        return test_relay_crash.relay_trial(factory, seed)
    if area == "fetch":
        return test_fetch_crash.fetch_round(factory, root, seed, kills)
    if area == "odmr":
        return test_odmr_crash.kill_mid_reversal(factory, variant, seed)
    return test_imap_crash.TRIAL_OF[variant](factory, seed)[0]


VARIANTS = {"intake": [None], "relay": [None], "fetch": [None], "odmr": ["provider", "customer"],
            "imap": ["append", "move", "expunge"]}


def plan(areas, total, rng):
    """plan - [(area, variant, seed, kills)], round-robin over areas (so that a run cut short by
    --minutes still covers each), about total // len(areas) kills per area; fetch in rounds of kills."""
    share = {a: total // len(areas) + (1 if i < total % len(areas) else 0) for i, a in enumerate(areas)}
    queues = {}
    for a in areas:
        items, left, k = [], share[a], 0
        while left > 0:
            kills = min(FETCH_ROUND, left) if a == "fetch" else 1
            variant = VARIANTS[a][k % len(VARIANTS[a])]
            items.append((a, variant, rng.randrange(1 << 30), kills))
            left -= kills
            k += 1
        queues[a] = items
    out = []
    while any(queues.values()):
        for a in areas:
            if queues[a]:
                out.append(queues[a].pop(0))
    return out


class Tally:
    """Tally - per area: trials (SIGKILLs), failed ones, acknowledged, lost, duplicated (and how many of
    those the in-flight window allows), errors (a trial that could not run to its checks)."""

    def __init__(self, areas):
        self.rows = {a: dict(trials=0, failed=0, acked=0, lost=0, duplicated=0, in_window=0, errors=0, seconds=0.0)
                     for a in areas}
        self.failures = []
        self.retried = 0   # trials run again (same seed) after a port clash at a daemon's start

    def add(self, area, out, seconds, failed):
        r = self.rows[area]
        r["trials"] += out.kills
        r["seconds"] += seconds
        r["acked"] += out.acked
        r["lost"] += out.lost
        r["duplicated"] += out.duplicated
        r["in_window"] += min(out.duplicated, out.window * out.kills)
        if failed:
            r["failed"] += 1
            self.failures.append((area, out.seed, out.note, out.problems))

    def error(self, area, seed, kills, seconds, text):
        r = self.rows[area]
        r["trials"] += kills
        r["seconds"] += seconds
        r["errors"] += 1
        self.failures.append((area, seed, "error", [text]))

    def table(self):
        head = f"{'area':8} {'trials':>6} {'failed':>6} {'errors':>6} {'acked':>8} {'lost':>5} {'dup':>5} " \
               f"{'dup in window':>13} {'s/trial':>7}"
        lines = [head, "-" * len(head)]
        total = dict(trials=0, failed=0, errors=0, acked=0, lost=0, duplicated=0, in_window=0, seconds=0.0)
        for a, r in self.rows.items():
            for k in total:
                total[k] += r[k]
            lines.append(self.line(a, r))
        lines.append(self.line("total", total))
        lines.append("dup in window: duplicates the area's documented in-flight window allows (the relay's and "
                     "the ODMR hand-over's one message per connection whose 250 was in flight at the SIGKILL); "
                     "every other duplicate or loss fails its trial")
        return "\n".join(lines)

    @staticmethod
    def line(a, r):
        per = r["seconds"] / r["trials"] if r["trials"] else 0
        return (f"{a:8} {r['trials']:>6} {r['failed']:>6} {r['errors']:>6} {r['acked']:>8} {r['lost']:>5} "
                f"{r['duplicated']:>5} {r['in_window']:>13} {per:>7.1f}")


def main():
    ap = argparse.ArgumentParser(description="SIGKILL soak over the crash tests' trials")
    ap.add_argument("--trials", type=int, default=1000, help="SIGKILLs in all, shared out over the areas")
    ap.add_argument("--seed", type=int, default=None, help="master seed (each trial's seed is drawn from it)")
    ap.add_argument("--areas", default=",".join(AREAS), help=f"comma-separated, of {','.join(AREAS)}")
    ap.add_argument("--minutes", type=float, default=None, help="start no trial after this many minutes")
    ap.add_argument("--out", default=None, help="the tally file (default soak-SEED.txt); trials go to .jsonl beside it")
    ap.add_argument("--work", default=None, help="where the trials' daemons live (default a temp dir); "
                    "a failed trial's directory is kept")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    areas = [a for a in args.areas.split(",") if a]
    unknown = set(areas) - set(AREAS)
    if unknown:
        ap.error(f"unknown areas: {sorted(unknown)}")
    if "fetch" in areas and not os.path.exists(DOVECOT):
        print(f"soak: {DOVECOT} is not installed: no fetch trials")
        areas.remove("fetch")
    out_path = Path(args.out or f"soak-{seed}.txt").resolve()
    trials_path = out_path.with_suffix(".jsonl")
    work = Path(args.work or tempfile.mkdtemp(prefix="mailkeep-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    tls = make_cert(Path(tempfile.mkdtemp(prefix="tls-", dir=work)))
    items = plan(areas, args.trials, random.Random(seed))
    print(f"soak: --seed {seed}, {args.trials} SIGKILLs over {', '.join(areas)} ({len(items)} trials), "
          f"binary {os.environ.get('MAILKEEP_BIN', 'build/mailkeep')}, work {work}", flush=True)
    tally = Tally(areas)
    start = time.monotonic()
    done_kills = 0
    stopped = None
    with open(trials_path, "w") as log:
        for i, (area, variant, tseed, kills) in enumerate(items):
            if args.minutes is not None and time.monotonic() - start > args.minutes * 60:
                stopped = f"stopped by --minutes {args.minutes:g} after {i} of {len(items)} trials"
                break
            name = f"{area}{'-' + variant if variant else ''}"
            t0 = time.monotonic()
            try:
                for attempt in range(PORT_RETRIES + 1):
                    root = work / f"{i:04d}-{area}-{tseed}" / str(attempt)
                    root.mkdir(parents=True)
                    factory = Factory(root, tls)
                    try:
                        out = run_area(area, variant, factory, root, tseed, kills)
                        break
                    except AssertionError as e:
                        # The harness picks free ports, then starts the daemon: in between, under a
                        # soak's thousands of connections (or another test run), one may be taken.
                        # That is no trial: run it again, same seed, on new ports.
                        if PORT_CLASH not in str(e) or attempt == PORT_RETRIES:
                            raise
                        factory.close()
                        tally.retried += 1
                        print(f"{name} CRASH_SEED={tseed}: a port was taken before the daemon bound it: again",
                              flush=True)
                out.problems += factory.close()
                seconds = time.monotonic() - t0
                failed = bool(out.problems) or out.lost > 0 or out.duplicated > out.window * out.kills
                tally.add(area, out, seconds, failed)
                status = "FAILED" if failed else "ok"
                rec = dict(area=name, seed=tseed, kills=kills, acked=out.acked, lost=out.lost,
                           duplicated=out.duplicated, window=out.window, seconds=round(seconds, 1),
                           status=status, note=out.note, problems=out.problems[:10])
            except KeyboardInterrupt:
                factory.close()
                stopped = f"interrupted after {i} of {len(items)} trials"
                break
            except Exception as e:   # a trial that could not run to its checks (a bounded wait ran out)
                factory.close()
                seconds = time.monotonic() - t0
                failed = True
                text = f"{type(e).__name__}: {e}"[:4000]
                tally.error(area, tseed, kills, seconds, text)
                status = "ERROR"
                rec = dict(area=name, seed=tseed, kills=kills, seconds=round(seconds, 1), status=status,
                           error=text, traceback=traceback.format_exc()[-3000:])
                out = Outcome(area, tseed)
            done_kills += kills
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(f"[{done_kills}/{args.trials}] {name} CRASH_SEED={tseed}: {status}, acked {out.acked}, lost {out.lost}, "
                  f"dup {out.duplicated}, {seconds:.1f} s" + (f": {rec.get('error') or out.problems[:3]}" if failed else ""),
                  flush=True)
            if not failed:
                shutil.rmtree(work / f"{i:04d}-{area}-{tseed}", ignore_errors=True)
    minutes = (time.monotonic() - start) / 60
    report = [f"mailkeep SIGKILL soak, --seed {seed}, {done_kills} of {args.trials} SIGKILLs in {minutes:.1f} min"
              + (f" ({stopped})" if stopped else ""),
              f"binary: {os.environ.get('MAILKEEP_BIN', 'build/mailkeep')}; trials: {trials_path}", "",
              tally.table()]
    if tally.retried:
        report.append(f"{tally.retried} trial(s) run again with the same seed: a port the harness had chosen "
                      "was taken before the daemon bound it")
    if tally.failures:
        report += ["", f"{len(tally.failures)} failed trial(s); replay one with CRASH_SEED=S and the area's test:"]
        for area, tseed, note, problems in tally.failures[:50]:
            report.append(f"  {area} CRASH_SEED={tseed}: {note[:300]}")
            report += [f"    {p[:500]}" for p in problems[:5]]
    text = "\n".join(report)
    print("\n" + text)
    out_path.write_text(text + "\n")
    print(f"\nsoak: tally written to {out_path}")
    bad = sum(r["failed"] + r["errors"] for r in tally.rows.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
