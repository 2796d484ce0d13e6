#!/usr/bin/python3
# bench/run.py — mailkeep side by side with Postfix, Dovecot and fetchmail, in one command (issue 5).
# Sets up every peer itself in a temporary directory on 127.0.0.1 high ports (a private Postfix, a
# private Dovecot, mailkeep, smtp-sink; fetchmail with a Maildir MDA; for ODMR a mailkeep provider and customer),
# runs each scenario for mailkeep and the peer alternately, prints a markdown report, and stops
# everything it started. Needs root (Postfix's `postfix start`).
#
#   /usr/bin/python3 bench/run.py --smoke            # a few messages per scenario, under a minute
#   /usr/bin/python3 bench/run.py --full             # the real run, about 15 minutes
#   options: --bin PATH (mailkeep binary), --only 1,2,3,4,6,8,9, --json FILE, --write-results FILE, --keep
#
# See bench/README.md for what each scenario measures and the caveats.
import argparse
import datetime
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BLACKBOX = REPO / "tests" / "blackbox"

SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
POSTQUEUE = shutil.which("postqueue") or "/usr/sbin/postqueue"
FETCHMAIL = shutil.which("fetchmail") or "/usr/bin/fetchmail"
CC = shutil.which("cc") or "/usr/bin/cc"

SENDER = "bench@client.example"
LOCAL_DOMAIN = "home.arpa"
REMOTE_RCPT = "someone@relay.example"   # not a local domain: mailkeep and Postfix relay it
PASSWORD = "bench-pw-1"
VMAIL_UID = 65534                       # Dovecot will not serve mail owned by root
POP3_WINDOW = 4                         # RETR+DELE pairs in flight in scenario 2
FETCH_PROVIDER = "fetch"                # scenario 3: the Dovecot user both fetchers empty
FETCH_ACCOUNTS = {"pop3": ("bench-pop3", "fetchp"), "imap": ("bench-imap", "fetchi")}   # account, deliver_to
ODMR_RCPT = "carl@customer.example"     # scenario 8: held at the provider for anna, carl's at the customer
SEARCH_WORD = "kumquat"                 # scenario 9: in every SEARCH_EVERY-th message's body, nowhere else
SEARCH_EVERY = 10
IMAP_REPEATS = 3                        # scenario 9: UID FETCH and SEARCH are timed this often
IMAP_WARM = 5                           # scenario 9a: warm login+SELECTs (Dovecot's settle after the first few)
FLAT_LIMIT = 1.25                       # scenario 9b: "flat" per-message cost, largest ÷ smallest INBOX (noise ±15 %)

# What each mode does. Counts are per run of one system. Scenarios 1 and 2 are run "repeats" times,
# alternating which system goes first; the pair with the median ratio is reported (the machine is shared).
MODES = {
    "smoke": dict(s1_counts={4096: 12, 102400: 4}, sessions=(1, 16, 64), s1_repeats=1, pop3=40, pop3_repeats=1,
                  fetch=20, fetch_repeats=1, relay=20, odmr=20, odmr_repeats=1, growth_pop3=(50, 200), growth_queue=(20, 60),
                  imap_growth=(50, 200), imap_body=200, imap_search=200, imap_idle=3, fsync_seconds=0.5,
                  bandwidth_seconds=0.3, settle=0.3, deadline=240),
    "full": dict(s1_counts={4096: 2000, 102400: 500}, sessions=(1, 16, 64), s1_repeats=3, pop3=5000, pop3_repeats=3,
                 fetch=5000, fetch_repeats=1, relay=5000, odmr=5000, odmr_repeats=1, growth_pop3=(1000, 10000, 100000), growth_queue=(1000, 10000),
                 imap_growth=(1000, 10000, 100000), imap_body=5000, imap_search=10000, imap_idle=20, fsync_seconds=3.0,
                 bandwidth_seconds=2.0, settle=2.0, deadline=2400),
}


class BenchError(Exception):
    pass


class Deadline(BaseException):
    """Deadline - the whole run took longer than its mode allows (or a signal asked us to stop);
    BaseException so that no except clause in a scenario swallows it before the servers stop."""


def parse_args(argv):
    ap = argparse.ArgumentParser(description="mailkeep vs Postfix, Dovecot and fetchmail (see bench/README.md)")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true", help="a few messages per scenario, targets not checked")
    mode.add_argument("--full", action="store_true", help="the real run (about 15 minutes)")
    ap.add_argument("--bin", default=os.environ.get("MAILKEEP_BIN", str(REPO / "build" / "mailkeep")),
                    help="the mailkeep binary (default: $MAILKEEP_BIN or build/mailkeep)")
    ap.add_argument("--only", default="1,2,3,4,5,6,7,8,9",
                    help="comma-separated scenarios to run (5 footprint and 7 limits are always measured)")
    ap.add_argument("--max-growth", type=int, default=None,
                    help="leave out growth sizes above this many messages (e.g. 10000 to skip 100k)")
    ap.add_argument("--json", help="also write every raw figure to this file")
    ap.add_argument("--write-results", metavar="FILE", help="write the markdown report to FILE (bench/RESULTS.md)")
    ap.add_argument("--tmpdir", help="parent of the temporary directory (default: the system's)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, configs)")
    return ap.parse_args(argv)


ARGS = parse_args(sys.argv[1:])
os.environ["MAILKEEP_BIN"] = str(Path(ARGS.bin).resolve())   # harness.py reads it at import
sys.path.insert(0, str(BLACKBOX))
sys.path.insert(0, str(HERE))

import harness  # noqa: E402  (tests/blackbox: the mailkeep instance, config, ports)
from harness import Mailkeep, free_ports, make_cert, port_accepts, wait_until  # noqa: E402
from postfix import Postfix  # noqa: E402
from dovecot import Dovecot  # noqa: E402
from fetchutil import account_toml  # noqa: E402
from test_odmr_customer import ODMR_PASSWORD, customer, provider_with_hold, ran_once  # noqa: E402

import imapload  # noqa: E402
import physical  # noqa: E402
import pop3load  # noqa: E402
from procs import Daemon, Group, PeakSampler, pid_from_file  # noqa: E402

harness.MAILKEEP_BIN = os.environ["MAILKEEP_BIN"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- small helpers --------------------------------------------------------------------------------

def count_files(directory, suffix=None):
    """count_files - regular entries of one directory (not recursive), optionally by name suffix."""
    try:
        with os.scandir(directory) as it:
            return sum(1 for e in it if not e.name.startswith(".") and (suffix is None or e.name.endswith(suffix)))
    except FileNotFoundError:
        return 0


def count_tree(directory):
    n = 0
    for _, _, files in os.walk(directory):
        n += len(files)
    return n


def wait_count(what, predicate, deadline, interval=0.01):
    """wait_count - poll predicate (fast: a directory count) until true; bounded by deadline."""
    return wait_until(predicate, deadline, what, interval=interval)


def run_tool(cmd, deadline, what):
    """run_tool - run a load tool to completion within deadline; its CPU seconds are returned."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=deadline)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: still running after {deadline}s: {' '.join(cmd)}") from None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise BenchError(f"{what}: {' '.join(cmd)} exited {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def smtp_source(port, sessions, count, size, rcpt, deadline):
    return run_tool([SMTP_SOURCE, "-s", str(sessions), "-m", str(count), "-l", str(size), "-f", SENDER,
                     "-t", rcpt, f"127.0.0.1:{port}"], deadline, "smtp-source")


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def quiesce(settle):
    """quiesce - write back what earlier runs left dirty, so that it does not land in the next one."""
    os.sync()
    time.sleep(settle)


def slope(points):
    """slope - least-squares (intercept, slope) of seconds over message count."""
    if len(points) < 2:
        return None, None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None, None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


# ---- message files for the POP3 maildrops ---------------------------------------------------------

def message_bytes(i, size=4096):
    """message_bytes - one CRLF message of exactly size bytes as a delivery would have stored it
    (Return-Path, Received, header, body of 78-column lines, one of them dot-leading)."""
    head = (f"Return-Path: <{SENDER}>\r\n"
            f"Received: from client.example ([127.0.0.1])\r\n\tby mail.home.arpa (bench) id B{i:08d};\r\n"
            f"\tSun, 22 Nov 2026 00:00:00 +0000\r\n"
            f"From: <{SENDER}>\r\nTo: <pop@{LOCAL_DOMAIN}>\r\nSubject: bench message {i}\r\n"
            f"Message-ID: <bench.{i}@client.example>\r\nDate: Sun, 22 Nov 2026 00:00:00 +0000\r\n\r\n").encode()
    lines = []
    n = len(head)
    k = 0
    while size - n > 80:   # full lines while more than one line's worth is left
        line = (b"." if k == 3 else b"") + (b"%05d" % k) + b"x" * 70 + b"\r\n"
        lines.append(line)
        n += len(line)
        k += 1
    lines.append(b"y" * (size - n - 2) + b"\r\n")
    return head + b"".join(lines)


def with_word(data, word):
    """with_word - data with word written over the middle of its last 70-x body line (same size):
    late in the message, so that a full-text search reads the whole body to find it."""
    i = data.rfind(b"x" * 70) + 30
    return data[:i] + b" " + word + b" " + data[i + len(word) + 2:]


def fill_maildir(root, count, crlf, uid=None, start=0, marked=None):
    """fill_maildir - count messages in root/new, named the way the owner names them: mailkeep's
    `<sec>.M<usec>P<pid>I<queue id>.<host>,S=<size>,W=<size>` (CRLF files) or Dovecot's
    `<sec>.M<usec>P<pid>.<host>,S=<size>,W=<crlf size>` (LF files, as Dovecot's own delivery stores them).
    marked: (word, every): message i (0-based) carries word in its body when i % every == 0."""
    for sub in ("new", "cur", "tmp"):
        os.makedirs(root / sub, exist_ok=True)
    base = 1795000000
    template = message_bytes(0)
    for i in range(start, start + count):
        data = message_bytes(i) if i < start + 16 else template.replace(b"B00000000", b"B%08d" % i, 1)
        if marked and i % marked[1] == 0:
            data = with_word(data, marked[0])
        if crlf:
            name = f"{base + i}.M{i % 1000000}P4242I{i:016X}.benchhost,S={len(data)},W={len(data)}"
        else:
            lf = data.replace(b"\r\n", b"\n")
            name = f"{base + i}.M{i % 1000000}P4242.benchhost,S={len(lf)},W={len(data)}"
            data = lf
        path = root / "new" / name
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, data)
            if uid is not None:
                os.fchown(fd, uid, uid)
        finally:
            os.close(fd)
    if uid is not None:
        for p in (root, root / "new", root / "cur", root / "tmp"):
            os.chown(p, uid, uid)


def clear_maildir(root):
    """clear_maildir - remove the mailbox directory and everything in it (indexes included)."""
    shutil.rmtree(root, ignore_errors=True)


def maildir_count(root):
    return count_files(root / "new") + count_files(root / "cur")


# ---- the systems ----------------------------------------------------------------------------------

class Systems:
    """Systems - the servers of one run, each started once and stopped at the end."""

    def __init__(self, top, mode):
        self.top = top
        self.mode = mode
        self.cert, self.key = make_cert(top / "tls")
        self.sink_port = free_ports(1)[0]
        self.s1_users = [f"s{size // 1024}k{s}" for size in mode["s1_counts"] for s in mode["sessions"]]
        self.pop_users = ["pop"] + [f"g{n}" for n in mode["growth_pop3"]]
        fetch_users = [u for _, u in FETCH_ACCOUNTS.values()]
        # scenario 9: one INBOX per growth size (the largest is the one of 9a/9b), BODY[], SEARCH, IDLE
        self.imap_users = [f"i{n}" for n in mode["imap_growth"]] + ["ibody", "isearch", "idle"]
        users = {u: (PASSWORD, [f"{u}@{LOCAL_DOMAIN}"])
                 for u in self.s1_users + self.pop_users + fetch_users + self.imap_users}
        users["postmaster"] = (PASSWORD, [f"postmaster@{LOCAL_DOMAIN}"])
        # Dovecot: the POP3 peer of scenarios 2 and 6, the provider of scenario 3, the IMAP peer of 9
        # (LMTP on: its own delivery, the counterpart of mailkeep's SMTP intake in 9e)
        self.dv_mail = top / "dovecot-mail"
        self.dv_mail.mkdir()
        os.chown(self.dv_mail, VMAIL_UID, VMAIL_UID)
        self.dv = Dovecot(top / "dovecot", self.dv_mail,
                          {u: PASSWORD for u in self.pop_users + [FETCH_PROVIDER] + self.imap_users},
                          uid=VMAIL_UID, gid=VMAIL_UID, lmtp=True)
        # Scenario 3: one single-drop account per protocol on the same provider mailbox, fetched only
        # by `mailkeep fetch ACCOUNT` (interval 1h; no IMAP IDLE, which would fetch while the mailbox
        # is filled, also for fetchmail's run), everything in one cycle.
        accounts = "\n".join(
            account_toml(name, proto, self.dv.pop3_port if proto == "pop3" else self.dv.imap_port,
                         FETCH_PROVIDER, PASSWORD, mailbox="single", deliver_to=user, keep="delete",
                         max_per_cycle=mode["fetch"], **({"idle": False} if proto == "imap" else {}))
            for proto, (name, user) in FETCH_ACCOUNTS.items())
        # The relay: the smarthost is smtp-sink, started only for a flush; probes every hour, so
        # that nothing but `mailkeep queue flush` sends the queue while a run measures it.
        relay = {"mode": "smarthost", "host": "127.0.0.1", "port": self.sink_port, "tls": "none",
                 "probe_interval": "1h", "retry": ["1h"], "warn_after": "1d", "give_up_after": "5d"}
        self.mk = Mailkeep(top / "mailkeep", self.cert, self.key, users=users, relay=relay,
                           limits={"max_message_size": "25M", "max_recipients": 100, "max_connections": 500,
                                   "max_connections_per_ip": 300},
                           extra_toml=accounts)
        # Postfix: smtpd -> cleanup -> qmgr -> virtual(8) into Maildirs; remote mail to the sink as
        # relayhost, held back (defer_transports) until `postqueue -f`.
        self.pf = Postfix(top / "postfix", self.cert, self.key, domain=LOCAL_DOMAIN, users=self.s1_users,
                          hostname="mx.home.arpa")
        r = subprocess.run([POSTCONF, "-c", str(self.pf.conf), "-e", f"relayhost = [127.0.0.1]:{self.sink_port}",
                            "defer_transports = smtp",
                            # Postfix's stock queue timers (postfix.py shortens them for its tests); a
                            # 1 s queue run would move every deferred message around all the time
                            "queue_run_delay = 300s", "minimal_backoff_time = 300s",
                            "maximal_backoff_time = 4000s"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise BenchError(f"postconf: {r.stdout}{r.stderr}")
        self.daemons = {
            "mailkeep": mk_daemon("mailkeep", self.mk),
            "postfix": Daemon("postfix", pid_from_file(self.pf.root / "queue" / "pid" / "master.pid")),
            "dovecot": Daemon("dovecot", pid_from_file(self.dv.root / "run" / "master.pid")),
        }
        self.sink = None
        self.odmr = []   # scenario 8's provider and customer, made only when it runs

    def odmr_instance(self, name="mk", start=True, **options):
        """odmr_instance - a mailkeep of scenario 8 made as the black-box tests' mailkeep_factory makes
        one (the ODMR tests' helpers take this as their factory); stopped with the others at the end."""
        mk = Mailkeep(self.top / f"odmr-{name}", self.cert, self.key, **options)
        self.odmr.append(mk)
        return mk.start() if start else mk

    def start(self):
        self.dv.start()   # first: the provider of mailkeep's accounts (scenario 3)
        self.mk.start()
        self.pf.start()
        # Each account's first scheduled cycle comes at a random moment in mailkeep's first 5 s:
        # wait for them (on the empty provider), or one could take messages during a measured run.
        wait_count("mailkeep's first fetch cycles", lambda: "not run yet" not in self.mk.cli("status").stdout, 20)

    def stop(self):
        problems = []
        self.stop_sink()
        stops = ([("mailkeep", self.mk.stop)] + [(f"mailkeep {mk.root.name}", mk.stop) for mk in self.odmr if mk.proc]
                 + [("postfix", self.pf.stop), ("dovecot", self.dv.stop)])
        for name, stop in stops:
            try:
                result = stop()
                if name.startswith("mailkeep") and result and (result[0] != 0 or result[1]):
                    problems.append(f"{name}: rc={result[0]} needed SIGKILL={result[1]}")
            except Exception as e:   # stop the others whatever happened to one
                problems.append(f"{name}: {e}")
        return problems

    # -- smtp-sink, the smarthost of scenario 4 --
    def start_sink(self):
        out = open(self.top / f"sink-{time.monotonic_ns()}.out", "wb")
        self.sink = (subprocess.Popen([SMTP_SINK, "-c", "-u", "nobody", f"127.0.0.1:{self.sink_port}", "100"],
                                      stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT), out)
        wait_until(lambda: port_accepts(self.sink_port), 10, f"smtp-sink on {self.sink_port}")

    def sink_count(self):
        """sink_count - messages the running smtp-sink took so far: the last `mesg=` of its -c
        counter line, which it writes unbuffered; reading the file's tail is cheap enough to poll."""
        if self.sink is None:
            return 0
        with open(self.sink[1].name, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 200))
            counts = re.findall(rb"mesg=(\d+)", f.read())
        return int(counts[-1]) if counts else 0

    def stop_sink(self):
        """stop_sink - stop it and return how many messages it took."""
        if self.sink is None:
            return None
        count = self.sink_count()
        proc, out = self.sink
        self.sink = None
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        out.close()
        return count

    # -- where things are --
    def mk_new(self, user):
        return self.mk.maildir(user) / "new"

    def pf_new(self, user):
        return self.pf.maildir(user) / "new"

    def mk_queue(self):
        return queue_size(self.mk)

    def pf_queue(self, dirs=("maildrop", "incoming", "active", "deferred", "hold")):
        return sum(count_tree(self.pf.root / "queue" / d) for d in dirs)


def mk_daemon(name, mk):
    """mk_daemon - the Daemon of a harness Mailkeep (its pid while it runs)."""
    return Daemon(name, lambda: mk.proc.pid if mk.proc else None)


def queue_size(mk):
    """queue_size - messages in a mailkeep's queue directory (one .env each)."""
    return count_files(mk.data_dir / "queue", ".env")


def measure(daemon, fn):
    """measure - run fn (which returns a dict with at least "seconds") while tracking the daemon's
    CPU seconds (all its processes, before/after) and peak RSS/PSS (sampled)."""
    cpu0 = daemon.cpu()
    with PeakSampler(daemon) as peak:
        result = fn()
    result["cpu"] = daemon.cpu() - cpu0
    result["peak_rss_kb"] = peak.peak_rss_kb
    result["peak_pss_kb"] = peak.peak_pss_kb
    return result


# ---- scenarios ------------------------------------------------------------------------------------

def clear_new(directory):
    """clear_new - remove the message files of a Maildir's new/ (the directory stays: mailkeep
    creates a mailbox once and keeps using it)."""
    try:
        with os.scandir(directory) as it:
            for e in it:
                os.unlink(e.path)
    except FileNotFoundError:
        pass


def pick_median_pair(row):
    """pick_median_pair - of the repeated runs, the repetition whose mailkeep/peer ratio is the median:
    its two runs were made next to each other, under the same load from the rest of the machine, so
    the table's rates and ratio come from one pair (every run is listed in the report)."""
    pairs = list(zip(row["runs"]["mailkeep"], row["runs"]["peer"]))
    pairs.sort(key=lambda p: p[1]["seconds"] / p[0]["seconds"])
    mk, peer = pairs[len(pairs) // 2]
    row["mailkeep"], row["peer"] = dict(mk), dict(peer)


def scenario1(sy, mode, report):
    """SMTP intake into a local Maildir, counted until every message is a file in new/."""
    cells = [(size, s) for size in mode["s1_counts"] for s in mode["sessions"]]
    rows = {}
    for rep in range(mode["s1_repeats"]):
        for k, (size, sessions) in enumerate(cells):
            count = mode["s1_counts"][size]
            user = f"s{size // 1024}k{sessions}"
            rcpt = f"{user}@{LOCAL_DOMAIN}"
            deadline = 60 + count / 20
            row = rows.setdefault((size, sessions), {
                "scenario": f"1. SMTP→Maildir {size // 1024} KiB, {sessions} session(s)",
                "key": f"s1-{size}-{sessions}", "count": count, "size": size, "peer_name": "Postfix",
                "durability": "both fsync", "fsync_bound": True, "runs": {"mailkeep": [], "peer": []}})

            def run(port, newdir, daemon):
                def go():
                    t0 = time.monotonic()
                    client_cpu = smtp_source(port, sessions, count, size, rcpt, deadline)
                    t_sent = time.monotonic()
                    wait_count(f"{count} files in {newdir}", lambda: count_files(newdir) >= count, deadline)
                    t1 = time.monotonic()
                    return {"seconds": t1 - t0, "sent_seconds": t_sent - t0, "client_cpu": client_cpu}
                clear_new(newdir)
                quiesce(mode["settle"] / 4)
                return measure(daemon, go)

            order = [("mailkeep", lambda: run(sy.mk.ports["smtp"], sy.mk_new(user), sy.daemons["mailkeep"])),
                     ("peer", lambda: run(sy.pf.port, sy.pf_new(user), sy.daemons["postfix"]))]
            for who, fn in (order if (k + rep) % 2 == 0 else order[::-1]):
                r = fn()
                row["runs"][who].append(r)
                log(f"  {row['scenario']} run {rep + 1}: {who} {count / r['seconds']:.0f} msg/s")
    for (size, sessions), row in rows.items():
        pick_median_pair(row)
        clear_new(sy.mk_new(f"s{size // 1024}k{sessions}"))
        clear_new(sy.pf_new(f"s{size // 1024}k{sessions}"))
        report["rows"].append(row)


def pop3_session(port, user, count, window):
    """pop3_session - one timed session: login, UIDL, RETR+DELE of every message, QUIT (the deletes
    happen there); returns the figures."""
    t0 = time.monotonic()
    c = pop3load.Pop3(port)
    c.login(user, PASSWORD)
    listed = c.uidl()
    if listed != count:
        c.close()
        raise BenchError(f"POP3 {port}: UIDL lists {listed}, expected {count}")
    latencies, received = c.retr_dele_all(count, window)
    c.quit()
    t1 = time.monotonic()
    latencies.sort()
    return {"seconds": t1 - t0, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            "bytes": received}


def login_uidl(port, user, count):
    """login_uidl - connect, log in, UIDL, QUIT; seconds."""
    t0 = time.monotonic()
    c = pop3load.Pop3(port)
    c.login(user, PASSWORD)
    listed = c.uidl()
    c.quit()
    t1 = time.monotonic()
    if listed != count:
        raise BenchError(f"POP3 {port}: UIDL lists {listed}, expected {count}")
    return t1 - t0


def scenario2(sy, mode, report):
    """POP3: login, UIDL, RETR+DELE of N 4 KiB messages."""
    n = mode["pop3"]
    row = {"scenario": f"2. POP3 RETR+DELE {n} × 4 KiB", "key": "s2", "count": n, "size": 4096,
           "peer_name": "Dovecot", "durability": "deletions at QUIT (Dovecot: mail_fsync=always)",
           "fsync_bound": False, "runs": {"mailkeep": [], "peer": []}}
    mk_root, dv_root = sy.mk.maildir("pop"), sy.dv_mail / "pop"

    def run_mk():
        clear_maildir(mk_root)
        fill_maildir(mk_root, n, crlf=True)
        quiesce(mode["settle"] / 4)
        cold = login_uidl(sy.mk.ports["pop3"], "pop", n)
        r = measure(sy.daemons["mailkeep"], lambda: pop3_session(sy.mk.ports["pop3"], "pop", n, POP3_WINDOW))
        r["cold_login_uidl"] = cold
        left = maildir_count(mk_root)
        if left:
            raise BenchError(f"mailkeep: {left} message(s) left after DELE+QUIT")
        return r

    def run_dv():
        clear_maildir(dv_root)
        fill_maildir(dv_root, n, crlf=False, uid=VMAIL_UID)
        quiesce(mode["settle"] / 4)
        # The first login builds Dovecot's index and uidlist (its delivery agent would have): untimed.
        cold = login_uidl(sy.dv.pop3_port, "pop", n)
        r = measure(sy.daemons["dovecot"], lambda: pop3_session(sy.dv.pop3_port, "pop", n, POP3_WINDOW))
        r["cold_login_uidl"] = cold
        left = maildir_count(dv_root)
        if left:
            raise BenchError(f"dovecot: {left} message(s) left after DELE+QUIT")
        return r

    for k in range(mode["pop3_repeats"]):
        order = [("mailkeep", run_mk), ("peer", run_dv)]
        for who, fn in (order if k % 2 == 0 else order[::-1]):
            r = fn()
            row["runs"][who].append(r)
            log(f"  {row['scenario']} run {k + 1}: {who} {n / r['seconds']:.0f} msg/s")
    pick_median_pair(row)
    clear_maildir(mk_root)
    clear_maildir(dv_root)
    report["rows"].append(row)


def fill_provider(root, count, start):
    """fill_provider - count distinct LF messages of about 4 KiB in the provider's Maildir (named as
    Dovecot names its deliveries, owned by the mail uid): the Message-ID and the Received id carry
    the number, so that no run's messages look like an earlier run's (mailkeep's fetcher drops a
    message it already delivered to the user, by Message-ID or content)."""
    for sub in ("new", "cur", "tmp"):
        os.makedirs(root / sub, exist_ok=True)
    template = message_bytes(0).replace(b"<bench.0@", b"<bench.F%08d@" % 0, 1)
    for i in range(start, start + count):
        data = (template.replace(b"B00000000", b"B%08d" % i, 1)
                .replace(b"<bench.F00000000@", b"<bench.F%08d@" % i, 1).replace(b"\r\n", b"\n"))
        crlf_size = len(data) + data.count(b"\n")
        name = f"{1795000000 + i}.M{i % 1000000}P4243.benchhost,S={len(data)},W={crlf_size}"
        fd = os.open(root / "new" / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, data)
            os.fchown(fd, VMAIL_UID, VMAIL_UID)
        finally:
            os.close(fd)
    for p in (root, root / "new", root / "cur", root / "tmp"):
        os.chown(p, VMAIL_UID, VMAIL_UID)


def build_mda(top):
    """build_mda - compile bench/maildir_mda.c (fetchmail's MDA: tmp/, fsync, rename, fsync new/)."""
    out = top / "maildir_mda"
    if not out.exists():
        run_tool([CC, "-O2", "-o", str(out), str(HERE / "maildir_mda.c")], 60, "cc maildir_mda.c")
    return out


def fetchmail_run(top, proto, port, maildir, mda, deadline):
    """fetchmail_run - one fetchmail 6.4 run (daemon mode off, fetchall, no keep) into the MDA; the
    run's CPU seconds (fetchmail and the MDAs it reaped, from wait4) and peak RSS: the larger of
    the sampled sum over fetchmail and its MDA child and the largest single process (wait4)."""
    return fetchmail_exec(top, proto, deadline,
                          "set no bouncemail\n"
                          f"poll 127.0.0.1 service {port} protocol {proto.upper()} auth password timeout 60\n"
                          f"  user \"{FETCH_PROVIDER}\" there with password \"{PASSWORD}\" is root here\n"
                          "  sslproto ''\n"            # no STLS/STARTTLS (Dovecot offers none here anyway)
                          "  fetchall\n  no keep\n"
                          f"  mda \"{mda} {maildir}\"\n")


def fetchmail_exec(top, what, deadline, rc_text, also=()):
    """fetchmail_exec - run fetchmail once with rc_text as its rc file, within deadline; its seconds,
    CPU seconds (fetchmail and the children it reaped, from wait4) and peak RSS/PSS: the sampled sum
    over fetchmail's tree and the daemons in also, at least its largest single process (wait4)."""
    home = top / "fetchmail-home"
    home.mkdir(exist_ok=True)
    os.chmod(home, 0o700)
    rc = home / "fetchmailrc"
    rc.write_text(rc_text)
    os.chmod(rc, 0o600)
    ids = home / "fetchids"
    if ids.exists():
        ids.unlink()
    env = dict(os.environ, HOME=str(home), FETCHMAILHOME=str(home))
    cmd = [FETCHMAIL, "-f", str(rc), "-i", str(ids), "--nosyslog", "--silent"]
    errfile = home / "fetchmail.out"
    holder = {}
    sampler = PeakSampler(Group("fetchmail", Daemon("fetchmail", lambda: holder.get("pid")), *also))
    with open(errfile, "wb") as err, sampler:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT, env=env)
        holder["pid"] = proc.pid
        status = usage = None
        try:
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    status, usage = st, ru
                    break
                time.sleep(0.005)
            else:
                raise BenchError(f"fetchmail {what}: still running after {deadline}s")
        finally:
            if usage is None:   # the deadline, a signal: do not leave it running
                proc.kill()
                try:
                    os.waitpid(proc.pid, 0)
                except ChildProcessError:
                    pass
                proc.returncode = -9
        t1 = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)   # reaped by wait4: keep Popen from waiting
        holder["pid"] = None
    if proc.returncode != 0:
        raise BenchError(f"fetchmail {what} exited {proc.returncode}: {errfile.read_text(errors='replace')[-2000:]}")
    return {"seconds": t1 - t0, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_rss_kb": max(sampler.peak_rss_kb, usage.ru_maxrss), "peak_pss_kb": sampler.peak_pss_kb}


def scenario3(sy, mode, report):
    """Fetching from Dovecot over POP3 and IMAP into the local Maildir: mailkeep's fetcher vs fetchmail."""
    n = mode["fetch"]
    deadline = 60 + n / 10
    mda = build_mda(sy.top)
    fm_mail = sy.top / "fetchmail-mail"
    for sub in ("new", "cur", "tmp"):
        (fm_mail / sub).mkdir(parents=True, exist_ok=True)
    provider = sy.dv_mail / FETCH_PROVIDER
    fills = [0]

    def refill():
        """refill - a fresh provider mailbox of n new messages, its index built by one untimed
        POP3 login+UIDL (Dovecot's delivery would have); both fetchers start from the same state."""
        clear_maildir(provider)
        fill_provider(provider, n, 10_000_000 + fills[0] * n)
        fills[0] += 1
        quiesce(mode["settle"] / 4)
        login_uidl(sy.dv.pop3_port, FETCH_PROVIDER, n)

    def provider_emptied(who):
        wait_count(f"{who}: the provider mailbox to be emptied", lambda: maildir_count(provider) == 0, 30)

    def delivered(newdir, cur, who):
        got = count_files(newdir) + count_files(cur)
        if got != n:
            raise BenchError(f"{who}: {got} message(s) in the Maildir, expected {n}")

    for k, proto in enumerate(("pop3", "imap")):
        account, user = FETCH_ACCOUNTS[proto]
        port = sy.dv.pop3_port if proto == "pop3" else sy.dv.imap_port
        row = {"scenario": f"3. Fetch {n} × 4 KiB from Dovecot over {proto.upper()}", "key": f"s3-{proto}",
               "count": n, "size": 4096, "peer_name": "fetchmail",
               "durability": "both fsync (fetchmail: MDA tmp/, fsync, rename, fsync new/)",
               "fsync_bound": True, "runs": {"mailkeep": [], "peer": []}}
        mk_new, mk_cur = sy.mk_new(user), sy.mk.maildir(user) / "cur"

        def run_mk():
            clear_new(mk_new)
            clear_new(mk_cur)
            refill()
            dv0 = sy.daemons["dovecot"].cpu()

            def go():
                t0 = time.monotonic()
                r = sy.mk.cli("fetch", account, timeout=deadline)
                if r.returncode != 0:
                    raise BenchError(f"mailkeep fetch {account}: rc={r.returncode} {r.stdout}{r.stderr}")
                wait_count(f"{n} files in {mk_new}", lambda: count_files(mk_new) >= n, deadline)
                return {"seconds": time.monotonic() - t0, "cli": r.stdout.strip()[-200:]}

            r = measure(sy.daemons["mailkeep"], go)
            delivered(mk_new, mk_cur, "mailkeep")
            provider_emptied("mailkeep")
            r["provider_cpu"] = sy.daemons["dovecot"].cpu() - dv0
            return r

        def run_fm():
            clear_new(fm_mail / "new")
            clear_new(fm_mail / "cur")
            refill()
            dv0 = sy.daemons["dovecot"].cpu()
            r = fetchmail_run(sy.top, proto, port, fm_mail, mda, deadline)
            delivered(fm_mail / "new", fm_mail / "cur", "fetchmail")
            provider_emptied("fetchmail")
            r["provider_cpu"] = sy.daemons["dovecot"].cpu() - dv0
            return r

        for rep in range(mode["fetch_repeats"]):
            order = [("mailkeep", run_mk), ("peer", run_fm)]
            for who, fn in (order if (k + rep) % 2 == 0 else order[::-1]):
                r = fn()
                row["runs"][who].append(r)
                log(f"  {row['scenario']} run {rep + 1}: {who} {n / r['seconds']:.0f} msg/s")
        pick_median_pair(row)
        clear_new(mk_new)
        clear_new(fm_mail / "new")
        report["rows"].append(row)
    clear_maildir(provider)


def queue_into(mk, count, rcpt, deadline):
    """queue_into - count messages of 4 KiB for rcpt into mk's queue (smtp-source, 16 sessions),
    until its queue directory holds them; seconds."""
    base = queue_size(mk)
    t0 = time.monotonic()
    smtp_source(mk.ports["smtp"], 16, count, 4096, rcpt, deadline)
    wait_count(f"{count} messages in {mk.root.name}'s queue", lambda: queue_size(mk) >= base + count, deadline)
    return time.monotonic() - t0


def queue_mk(sy, count, deadline):
    """queue_mk - count messages for the relay into mailkeep (smarthost down); seconds."""
    return queue_into(sy.mk, count, REMOTE_RCPT, deadline)


def queue_pf(sy, count, deadline):
    """queue_pf - count messages for the relay into Postfix, until all sit in its deferred queue."""
    base = sy.pf_queue()
    t0 = time.monotonic()
    smtp_source(sy.pf.port, 16, count, 4096, REMOTE_RCPT, deadline)
    wait_count(f"{count} messages in Postfix's deferred queue",
               lambda: sy.pf_queue(("deferred",)) >= base + count and sy.pf_queue() == sy.pf_queue(("deferred",)),
               deadline, interval=0.05)
    return time.monotonic() - t0


def flush_mk(sy):
    """flush_mk - `mailkeep queue flush` against the running daemon."""
    r = sy.mk.cli("queue", "flush")
    if r.returncode != 0:
        raise BenchError(f"mailkeep queue flush: rc={r.returncode} {r.stdout}{r.stderr}")


def flush_pf(sy):
    """flush_pf - `postqueue -f` for the private Postfix."""
    r = subprocess.run([POSTQUEUE, "-c", str(sy.pf.conf), "-f"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise BenchError(f"postqueue -f: rc={r.returncode} {r.stdout}{r.stderr}")


def flush_timed(sy, name, daemon, queue_size, flush, count, deadline):
    """flush_timed - start smtp-sink, flush name's queue of count messages, and time it until the
    sink holds them all and the queue is empty (the sink's counter first: cheap to poll; then the
    queue directory, a scan of thousands)."""
    if queue_size() != count:
        raise BenchError(f"{name}'s queue holds {queue_size()} messages, expected {count}")
    sy.start_sink()

    def go():
        t0 = time.monotonic()
        flush(sy)
        wait_count(f"smtp-sink to take {count} messages", lambda: sy.sink_count() >= count, deadline)
        wait_count(f"{name}'s queue to empty", lambda: queue_size() == 0, deadline)
        return {"seconds": time.monotonic() - t0}

    try:
        r = measure(sy.daemons[daemon], go)
    finally:
        r_sink = sy.stop_sink()
    if r_sink != count:
        raise BenchError(f"smtp-sink took {r_sink} messages from {name}, expected {count}")
    r["sink_messages"] = r_sink
    return r


def relay_pair(sy, count, mode, first_mk=True):
    """relay_pair - queue count messages into each system with the smarthost down, then flush each
    to smtp-sink; returns {mailkeep: {...}, peer: {...}} with the queue-in time too."""
    deadline = 60 + count / 10
    out = {}
    steps = [("mailkeep", queue_mk, ("mailkeep", "mailkeep", sy.mk_queue, flush_mk)),
             ("peer", queue_pf, ("Postfix", "postfix", sy.pf_queue, flush_pf))]
    for who, queue, (name, daemon, queue_size, flush) in (steps if first_mk else steps[::-1]):
        quiesce(mode["settle"] / 4)
        queued = queue(sy, count, deadline)
        quiesce(mode["settle"] / 4)
        r = flush_timed(sy, name, daemon, queue_size, flush, count, deadline)
        r["queue_in_seconds"] = queued
        out[who] = r
    return out


def scenario4(sy, mode, report):
    """Relay: N queued messages flushed to smtp-sink."""
    n = mode["relay"]
    row = {"scenario": f"4. Relay flush {n} × 4 KiB → smtp-sink", "key": "s4", "count": n, "size": 4096,
           "peer_name": "Postfix", "durability": "mailkeep: each removal fsynced (queue/) before its connection goes on, 4 connections sharing the fsyncs; Postfix unlinks, no fsync",
           "fsync_bound": True}
    row.update(relay_pair(sy, n, mode))
    for who in ("mailkeep", "peer"):
        log(f"  {row['scenario']}: {who} {n / row[who]['seconds']:.0f} msg/s "
            f"(queued at {n / row[who]['queue_in_seconds']:.0f} msg/s)")
    report["rows"].append(row)


def scenario6(sy, mode, report, max_growth):
    """Growth: POP3 login+UIDL on ever larger maildrops; queue flush of ever larger queues."""
    g = report["growth"]
    sizes = [n for n in mode["growth_pop3"] if max_growth is None or n <= max_growth]
    for k, n in enumerate(sizes):
        user = f"g{n}"
        mk_root, dv_root = sy.mk.maildir(user), sy.dv_mail / user
        t0 = time.monotonic()
        fill_maildir(mk_root, n, crlf=True)
        fill_maildir(dv_root, n, crlf=False, uid=VMAIL_UID)
        quiesce(mode["settle"])
        log(f"  growth: filled two maildrops of {n} in {time.monotonic() - t0:.1f}s")
        entry = {"n": n}
        systems = [("mailkeep", sy.mk.ports["pop3"], sy.daemons["mailkeep"]),
                   ("peer", sy.dv.pop3_port, sy.daemons["dovecot"])]
        for who, port, daemon in (systems if k % 2 == 0 else systems[::-1]):
            cold = login_uidl(port, user, n)
            r = measure(daemon, lambda: {"seconds": min(login_uidl(port, user, n) for _ in range(3))})
            r["cold"] = cold
            entry[who] = r
            log(f"  growth POP3 {n}: {who} cold {cold * 1e3:.1f} ms, warm {r['seconds'] * 1e3:.1f} ms")
        g["pop3"].append(entry)
        clear_maildir(mk_root)
        clear_maildir(dv_root)
    for k, n in enumerate(mode["growth_queue"]):
        r = relay_pair(sy, n, mode, first_mk=(k % 2 == 1))
        r["n"] = n
        g["queue"].append(r)
        for who in ("mailkeep", "peer"):
            log(f"  growth queue {n}: {who} flush {n / r[who]['seconds']:.0f} msg/s, "
                f"queue-in {n / r[who]['queue_in_seconds']:.0f} msg/s")


def scenario8(sy, mode, report):
    """ODMR: N held messages handed over one ATRN reversal from a mailkeep provider, pulled by a mailkeep
    customer (`mailkeep odmr`) vs fetchmail's ODMR client relaying the session to the customer's smtp."""
    n = mode["odmr"]
    deadline = 60 + n / 5   # fetchmail's relay takes ~90 ms a message here (see bench/README.md)
    # The black-box tests' provider (holds customer.example for anna, CRAM-MD5 secret, strangers only)
    # and customer ([odmr.client] to it, tls none, interval 1h); the customer's relay probes hourly.
    provider, port = provider_with_hold(sy.odmr_instance)
    cust = customer(sy.odmr_instance, port, relay=dict(harness.PARKED_RELAY, probe_interval="1h"))
    ran_once(cust)   # its start-up ATRN (nothing held yet) is over: only ours run from here
    provider_d, cust_d = mk_daemon("provider", provider), mk_daemon("customer", cust)
    newdir, cur = cust.maildir("carl") / "new", cust.maildir("carl") / "cur"
    row = {"scenario": f"8. ODMR hand-over {n} × 4 KiB, one ATRN, mailkeep provider → mailkeep customer",
           "key": "s8", "count": n, "size": 4096, "peer_name": "fetchmail's ODMR → the customer's smtp",
           "durability": "same receiver: the customer fsyncs each message before its 250; the provider fsyncs each removal",
           "fsync_bound": True, "runs": {"mailkeep": [], "peer": []}}

    def hold():
        """hold - n messages for carl held at the provider, the customer's new/ empty, nothing dirty."""
        clear_new(newdir)
        clear_new(cur)
        if queue_size(provider):
            raise BenchError(f"the provider holds {queue_size(provider)} message(s) before the fill")
        queue_into(provider, n, ODMR_RCPT, deadline)
        quiesce(mode["settle"] / 4)

    def handed_over(who):
        """handed_over - wait until all n are in carl's new/ and the provider's queue is empty (the
        session is over: each was committed before its 250, removed before the next MAIL)."""
        wait_count(f"{who}: {n} files in {newdir}", lambda: count_files(newdir) >= n, 30)
        wait_count(f"{who}: the provider's queue to empty", lambda: queue_size(provider) == 0, 30)

    def delivered(who):
        got = count_files(newdir) + count_files(cur)
        if got != n:
            raise BenchError(f"{who}: {got} message(s) in the customer's Maildir, expected {n}")

    def run_mk():
        hold()
        p0 = provider_d.cpu()

        def go():
            t0 = time.monotonic()
            r = cust.cli("odmr", timeout=deadline)
            if r.returncode != 0 or f", {n} received" not in r.stdout:
                raise BenchError(f"mailkeep odmr: rc={r.returncode} {r.stdout}{r.stderr} (expected {n} received)")
            handed_over("mailkeep")
            return {"seconds": time.monotonic() - t0, "cli": r.stdout.strip()[-200:]}

        r = measure(cust_d, go)
        delivered("mailkeep")
        r["provider_cpu"] = provider_d.cpu() - p0
        return r

    def run_fm():
        hold()
        p0, c0 = provider_d.cpu(), cust_d.cpu()
        t0 = time.monotonic()
        r = fetchmail_exec(sy.top, "ODMR", deadline,
                           f"poll 127.0.0.1 service {port} protocol ODMR auth cram-md5 timeout 60\n"
                           f"  user \"anna\" there with password \"{ODMR_PASSWORD}\"\n"
                           "  fetchdomains customer.example\n"
                           f"  smtphost 127.0.0.1/{cust.ports['smtp']}\n"
                           "  sslproto ''\n", also=(cust_d,))
        handed_over("fetchmail")
        r["seconds"] = time.monotonic() - t0
        delivered("fetchmail")
        # the peer's side is fetchmail plus the mailkeep it relays into (as the MDA is in scenario 3)
        r["fetchmail_cpu"], r["customer_cpu"] = r["cpu"], cust_d.cpu() - c0
        r["cpu"] = r["fetchmail_cpu"] + r["customer_cpu"]
        r["provider_cpu"] = provider_d.cpu() - p0
        return r

    for rep in range(mode["odmr_repeats"]):
        order = [("mailkeep", run_mk), ("peer", run_fm)]
        for who, fn in (order if rep % 2 == 0 else order[::-1]):
            r = fn()
            row["runs"][who].append(r)
            log(f"  {row['scenario']} run {rep + 1}: {who} {n / r['seconds']:.0f} msg/s")
    pick_median_pair(row)
    clear_new(newdir)
    for mk in (cust, provider):
        rc, needed_kill = mk.stop()
        if rc != 0 or needed_kill:
            raise BenchError(f"mailkeep {mk.root.name}: rc={rc} needed SIGKILL={needed_kill}\n{mk.log_tail(30)}")
    report["rows"].append(row)


def imap_open(port, user, expect):
    """imap_open - connect, LOGIN and SELECT INBOX; (seconds, the session). SELECT must report
    expect messages."""
    t0 = time.monotonic()
    c = imapload.Imap(port)
    c.login(user, PASSWORD)
    n = c.select()
    t1 = time.monotonic()
    if n != expect:
        c.close()
        raise BenchError(f"IMAP {port} {user}: SELECT says {n} EXISTS, expected {expect}")
    return t1 - t0, c


def imap_login_select(port, user, expect):
    """imap_login_select - LOGIN + SELECT INBOX timed, then LOGOUT; seconds."""
    seconds, c = imap_open(port, user, expect)
    c.logout()
    return seconds


def uid_fetch_flags_size(c, n):
    """uid_fetch_flags_size - `UID FETCH 1:* (FLAGS RFC822.SIZE)` on the selected INBOX of n 4 KiB
    messages; seconds. Checked: n FETCH responses, each with RFC822.SIZE 4096 (both servers give the
    CRLF size)."""
    t0 = time.monotonic()
    r = c.command("UID FETCH 1:* (FLAGS RFC822.SIZE)")
    t1 = time.monotonic()
    got, sized = r.count(b" FETCH ("), r.count(b"RFC822.SIZE 4096")
    if got != n or sized != n:
        raise BenchError(f"UID FETCH 1:*: {got} FETCH responses, {sized} with RFC822.SIZE 4096, expected {n}")
    return t1 - t0


def timed_noop(c):
    """timed_noop - one NOOP on the selected INBOX, nothing changed since: what a client's every
    poll costs (not a target of issue 12; shows a per-command cost that grows with the INBOX)."""
    t0 = time.monotonic()
    c.command("NOOP")
    return time.monotonic() - t0


def fill_pair(sy, user, n, settle, marked=None):
    """fill_pair - the same n 4 KiB messages in mailkeep's (CRLF) and Dovecot's (LF) INBOX of user,
    written straight into new/ as in scenario 2, then synced."""
    mk_root, dv_root = sy.mk.maildir(user), sy.dv_mail / user
    clear_maildir(mk_root)
    clear_maildir(dv_root)
    fill_maildir(mk_root, n, crlf=True, marked=marked)
    fill_maildir(dv_root, n, crlf=False, uid=VMAIL_UID, marked=marked)
    quiesce(settle)
    return mk_root, dv_root


def scenario9(sy, mode, report, max_growth):
    """IMAP server: mailkeep vs Dovecot on the same corpus: (a) login+SELECT of a large INBOX, first
    and warm; (b) UID FETCH 1:* (FLAGS RFC822.SIZE) over it, also at smaller sizes (growth); (c) FETCH
    1:N BODY[]; (d) SEARCH TEXT; (e) IDLE notification latency after a delivery."""
    imap = report["imap"] = {"growth": [], "repeats": IMAP_REPEATS, "warm_repeats": IMAP_WARM}
    servers = {"mailkeep": (sy.mk.ports["imap"], sy.daemons["mailkeep"]),
               "peer": (sy.dv.imap_port, sy.daemons["dovecot"])}

    def in_turn(k):
        """in_turn - the two systems, alternating which goes first from one measurement to the next."""
        order = ["mailkeep", "peer"]
        return order if k % 2 == 0 else order[::-1]

    # (a), (b) and the growth of (b): one INBOX per size; the largest is the one of 9a/9b
    sizes = [n for n in mode["imap_growth"] if max_growth is None or n <= max_growth]
    for k, n in enumerate(sizes):
        user = f"i{n}"
        t0 = time.monotonic()
        mk_root, dv_root = fill_pair(sy, user, n, mode["settle"])
        log(f"  IMAP: filled two INBOXes of {n} in {time.monotonic() - t0:.1f}s")
        entry = {"n": n}
        for who in in_turn(k):
            port, daemon = servers[who]

            def go():
                # the first SELECT after the fill: each server builds its index (Dovecot also moves
                # new/ to cur/); then warm login+SELECTs (best of IMAP_WARM) and UID FETCHes (best of IMAP_REPEATS)
                cold = imap_login_select(port, user, n)
                warm = [imap_login_select(port, user, n) for _ in range(IMAP_WARM)]
                _, c = imap_open(port, user, n)
                fetch = [uid_fetch_flags_size(c, n) for _ in range(IMAP_REPEATS)]
                noop = [timed_noop(c) for _ in range(IMAP_REPEATS)]
                c.logout()
                return {"seconds": min(fetch), "fetch_runs": fetch, "cold_select": cold,
                        "warm_select": min(warm), "warm_runs": warm, "noop": min(noop)}

            r = entry[who] = measure(daemon, go)
            log(f"  IMAP {n}: {who} first SELECT {r['cold_select'] * 1e3:.1f} ms, warm "
                f"{r['warm_select'] * 1e3:.1f} ms, UID FETCH 1:* {r['seconds'] * 1e3:.1f} ms "
                f"({n / r['seconds']:,.0f} msg/s), NOOP {r['noop'] * 1e3:.2f} ms")
        imap["growth"].append(entry)
        clear_maildir(mk_root)
        clear_maildir(dv_root)

    # (c) FETCH 1:N BODY[]: after an untimed login+SELECT (the index build, as in scenario 2); the first
    # FETCH sets \Seen on every message (both servers rename the files), a second one is timed too
    n = mode["imap_body"]
    mk_root, dv_root = fill_pair(sy, "ibody", n, mode["settle"] / 4)
    body = imap["body"] = {"n": n}
    for who in in_turn(1):
        port, daemon = servers[who]
        imap_login_select(port, "ibody", n)

        def go():
            _, c = imap_open(port, "ibody", n)
            runs = []
            for _ in range(2):
                t0 = time.monotonic()
                r = c.command(f"FETCH 1:{n} BODY[]", keep=False)
                runs.append({"seconds": time.monotonic() - t0, "literals": r.literals, "bytes": r.literal_bytes})
            c.logout()
            for x in runs:
                if x["literals"] != n or x["bytes"] != n * 4096:
                    raise BenchError(f"FETCH 1:{n} BODY[] on {who}: {x['literals']} literals, {x['bytes']} bytes, "
                                     f"expected {n} and {n * 4096}")
            return {"seconds": runs[0]["seconds"], "again": runs[1]["seconds"], "bytes": runs[0]["bytes"]}

        r = body[who] = measure(daemon, go)
        log(f"  IMAP FETCH 1:{n} BODY[]: {who} {n / r['seconds']:,.0f} msg/s, "
            f"{r['bytes'] / r['seconds'] / 1e6:.1f} MB/s (again: {n / r['again']:,.0f} msg/s)")
    clear_maildir(mk_root)
    clear_maildir(dv_root)

    # (d) SEARCH TEXT word over N messages, every SEARCH_EVERY-th carrying the word in its body
    n = mode["imap_search"]
    expect = len(range(0, n, SEARCH_EVERY))
    mk_root, dv_root = fill_pair(sy, "isearch", n, mode["settle"] / 4, marked=(SEARCH_WORD.encode(), SEARCH_EVERY))
    search = imap["search"] = {"n": n, "hits": expect}
    for who in in_turn(0):
        port, daemon = servers[who]
        imap_login_select(port, "isearch", n)

        def go():
            _, c = imap_open(port, "isearch", n)
            runs = []
            for _ in range(IMAP_REPEATS):
                t0 = time.monotonic()
                hits = c.search_count(f"TEXT {SEARCH_WORD}")
                runs.append(time.monotonic() - t0)
                if hits != expect:
                    raise BenchError(f"SEARCH TEXT {SEARCH_WORD} on {who}: {hits} hits, expected {expect}")
            c.logout()
            return {"seconds": statistics.median(runs), "runs": runs}

        r = search[who] = measure(daemon, go)
        log(f"  IMAP SEARCH TEXT over {n}: {who} {r['seconds'] * 1e3:.1f} ms (median of {IMAP_REPEATS}), {expect} hits")
    clear_maildir(mk_root)
    clear_maildir(dv_root)

    # (e) IDLE: deliveries to an idling INBOX, mailkeep's over SMTP, Dovecot's over its LMTP
    imap["idle"] = {"n": mode["imap_idle"]}
    for who in in_turn(1):
        imap["idle"][who] = idle_latency(sy, who, mode["imap_idle"])
        r = imap["idle"][who]
        log(f"  IMAP IDLE: {who} median {r['p50'] * 1e3:.1f} ms, p90 {r['p90'] * 1e3:.1f} ms after the delivery's reply")
    clear_maildir(sy.mk.maildir("idle"))
    clear_maildir(sy.dv_mail / "idle")


def idle_latency(sy, who, count):
    """idle_latency - count deliveries to user idle while a client idles on its INBOX; per delivery,
    from the delivery's final reply (SMTP 250 after DATA / LMTP 250) to the recv that brought
    `* N EXISTS` (negative: the notification came first). Deliveries start at random moments
    (0.1-0.6 s apart), so that a server polling at a fixed period is met at every phase."""
    if who == "mailkeep":
        root, port, rcpt = sy.mk.maildir("idle"), sy.mk.ports["imap"], f"idle@{LOCAL_DOMAIN}"
        clear_maildir(root)
        fill_maildir(root, 0, crlf=True)
        client = smtplib.SMTP("127.0.0.1", sy.mk.ports["smtp"], timeout=30)
    else:
        root, port, rcpt = sy.dv_mail / "idle", sy.dv.imap_port, f"idle@{LOCAL_DOMAIN}"
        clear_maildir(root)
        fill_maildir(root, 0, crlf=False, uid=VMAIL_UID)
        client = smtplib.LMTP("127.0.0.1", sy.dv.lmtp_port, timeout=30)
    rng = random.Random(9)
    latencies, spans = [], []
    try:
        client.ehlo_or_helo_if_needed()
        _, c = imap_open(port, "idle", 0)
        c.idle()
        for k in range(1, count + 1):
            time.sleep(rng.uniform(0.1, 0.6))
            msg = harness.make_message(subject=f"idle {k}", sender=SENDER, to=rcpt,
                                       msgid=f"<idle.{who}.{k}@client.example>")
            done = {}

            def deliver():
                try:
                    done["start"] = time.monotonic()
                    refused = client.sendmail(SENDER, [rcpt], msg)
                    done["end"] = time.monotonic()
                    done["refused"] = refused
                except Exception as e:   # handed to the main thread
                    done["error"] = e

            th = threading.Thread(target=deliver, daemon=True)
            th.start()
            try:
                seen = c.wait_exists(k, 15)
            finally:
                th.join(30)
            if th.is_alive() or "error" in done or done.get("refused"):
                raise BenchError(f"IDLE {who}: delivery {k} failed: {done.get('error') or done.get('refused') or 'hung'}")
            latencies.append(seen - done["end"])
            spans.append(seen - done["start"])
        c.done()
        c.logout()
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
    got = maildir_count(root)
    if got != count:
        raise BenchError(f"IDLE {who}: {got} message(s) in the INBOX, expected {count}")
    latencies.sort()
    spans.sort()
    return {"p50": statistics.median(latencies), "p90": percentile(latencies, 0.9), "runs": latencies,
            "from_start_p50": statistics.median(spans)}


def footprint(sy, report, when, settle):
    time.sleep(settle)
    entry = {"when": when}
    for name, d in sy.daemons.items():
        entry[name] = d.footprint()
    report["footprint"].append(entry)
    log(f"  footprint {when}: " + ", ".join(
        f"{n} {v['processes']}p rss {v['rss_kb'] / 1024:.1f} pss {v['pss_kb'] / 1024:.1f} MiB"
        for n, v in entry.items() if n != "when"))


# ---- the machine ----------------------------------------------------------------------------------

def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine(top):
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal:")), "0")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    df = sh(["df", "-T", str(top)]).splitlines()[-1:] or [""]
    dev = df[0].split()[0] if df[0] else ""
    fstype = df[0].split()[1] if df[0] else "?"
    lsblk = sh(["lsblk", "-d", "-n", "-o", "NAME,TYPE,ROTA,SIZE,MODEL", dev]) if dev.startswith("/dev/") else ""
    commit = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    binary = Path(ARGS.bin).resolve()
    built = datetime.datetime.fromtimestamp(binary.stat().st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "mem_gib": int(mem) / 1024 / 1024, "kernel": platform.release(),
        "fs": fstype, "device": dev, "lsblk": " ".join(lsblk.split()) or "n/a",
        "postfix": sh([POSTCONF, "-h", "-d", "mail_version"]), "dovecot": sh(["dovecot", "--version"]),
        "mailkeep": f"{binary} built {built} UTC (tree at {commit})", "python": platform.python_version(),
    }


def loadavg():
    return open("/proc/loadavg").read().split()[:3]


# ---- the report -----------------------------------------------------------------------------------

def mib(kb):
    return f"{kb / 1024:.1f}"


def fmt_rate(r):
    return f"{r:,.0f}" if r >= 100 else f"{r:.1f}"


def fmt_lat(m):
    if m.get("p50") is None:
        return "n/a"
    return f"{m['p50'] * 1e3:.2f} / {m['p99'] * 1e3:.2f}"


def limit_fraction(rate, size, limits, fsync_bound):
    bw = rate * size / limits["loopback_bytes_s"]
    text = f"{bw * 100:.2f} % lo"
    if fsync_bound:
        text = f"{rate / limits['fsync_s']:.2f}× fs, " + text
    return text


def targets(report):
    """targets - issue 5's targets against this run's figures: stated, never tuned for."""
    rows = {r["key"]: r for r in report["rows"]}

    def ratio(r):
        return (r["count"] / r["mailkeep"]["seconds"]) / (r["count"] / r["peer"]["seconds"])

    def verdict(ok):
        return "met" if ok else "**missed**"

    out = ["", "## Targets of issue 5 (this run)", ""]
    if report["mode"] != "full":
        out.append("(a smoke run: too few messages for the ratios to mean anything)")
    r = rows.get("s1-4096-16")
    if r:
        out.append(f"- scenario 1, 4 KiB at 16 sessions ≥ 2× Postfix: {ratio(r):.2f}× — {verdict(ratio(r) >= 2)}")
    s1 = [x for k, x in rows.items() if k.startswith("s1-")]
    if s1:
        worst = min(s1, key=ratio)
        out.append(f"- scenario 1, no worse than Postfix anywhere: lowest {ratio(worst):.2f}× ({worst['scenario'][3:]}) — "
                   f"{verdict(ratio(worst) >= 1)}")
    if "s2" in rows:
        out.append(f"- scenario 2, POP3 ≥ 1× Dovecot: {ratio(rows['s2']):.2f}× — {verdict(ratio(rows['s2']) >= 1)}")
    for proto in ("pop3", "imap"):
        r = rows.get(f"s3-{proto}")
        if r:
            out.append(f"- scenario 3, fetching over {proto.upper()} ≥ 3× fetchmail: {ratio(r):.2f}× — {verdict(ratio(r) >= 3)}")
    if not any(k.startswith("s3-") for k in rows):
        out.append("- scenario 3, fetching ≥ 3× fetchmail: not measured in this run (--only)")
    if "s4" in rows:
        out.append(f"- scenario 4, relay ≥ 1× Postfix: {ratio(rows['s4']):.2f}× — {verdict(ratio(rows['s4']) >= 1)}")
    out += imap_targets(report, verdict)
    if report["footprint"]:
        f = report["footprint"][0]["mailkeep"]
        rss = f["rss_kb"] / 1024
        out.append(f"- idle RSS ≤ 10 MiB: {rss:.1f} MiB VmRSS after start (PSS {f['pss_kb'] / 1024:.1f} MiB) — "
                   f"{verdict(rss <= 10)}; largest idle VmRSS in this run "
                   f"{max(x['mailkeep']['rss_kb'] for x in report['footprint']) / 1024:.1f} MiB")
    return out


def imap_targets(report, verdict):
    """imap_targets - issue 12's targets for scenario 9: mailkeep at least Dovecot's rate in each
    measurement, and the per-message cost of UID FETCH flat from the smallest INBOX to the largest."""
    im = report.get("imap")
    if not im:
        return []
    out = []

    def line(what, mk_s, dv_s):
        speed = dv_s / mk_s if mk_s > 0 else float("inf")
        out.append(f"- scenario 9, {what} ≥ 1× Dovecot: {speed:.2f}× — {verdict(speed >= 1)}")

    if im["growth"]:
        g = im["growth"][-1]
        n = g["n"]
        line(f"(a) first login+SELECT of {n:,} (index build)", g["mailkeep"]["cold_select"], g["peer"]["cold_select"])
        line(f"(a) warm login+SELECT of {n:,}", g["mailkeep"]["warm_select"], g["peer"]["warm_select"])
        line(f"(b) UID FETCH 1:* (FLAGS RFC822.SIZE) of {n:,}", g["mailkeep"]["seconds"], g["peer"]["seconds"])
        if len(im["growth"]) > 1:
            flat = {who: flatness(im["growth"], who) for who in ("mailkeep", "peer")}
            out.append(f"- scenario 9, (b) cost per message flat from {im['growth'][0]['n']:,} to {n:,} "
                       f"(at the largest ÷ at the smallest ≤ {FLAT_LIMIT}): mailkeep {flat['mailkeep']:.2f} "
                       f"(Dovecot {flat['peer']:.2f}) — {verdict(flat['mailkeep'] <= FLAT_LIMIT)}")
    if "body" in im:
        line(f"(c) FETCH 1:{im['body']['n']} BODY[]", im["body"]["mailkeep"]["seconds"], im["body"]["peer"]["seconds"])
    if "search" in im:
        line(f"(d) SEARCH TEXT over {im['search']['n']:,}", im["search"]["mailkeep"]["seconds"],
             im["search"]["peer"]["seconds"])
    if "idle" in im:
        line("(e) IDLE notification, median latency", im["idle"]["mailkeep"]["p50"], im["idle"]["peer"]["p50"])
        line("(e) IDLE notification, p90 latency", im["idle"]["mailkeep"]["p90"], im["idle"]["peer"]["p90"])
    return out


def flatness(growth, who):
    """flatness - scenario 9's UID FETCH cost per message at the largest INBOX ÷ at the smallest."""
    first, last = growth[0], growth[-1]
    return (last[who]["seconds"] / last["n"]) / (first[who]["seconds"] / first["n"])


def render_imap(im):
    """render_imap - scenario 9's section of the report: the measurements, then the growth table."""
    out = ["", "## 9. IMAP server vs Dovecot (issue 12; same Maildir corpus, 127.0.0.1)", "",
           "| measurement | messages | mailkeep | Dovecot | mailkeep/Dovecot speed | CPU s mailkeep | CPU s Dovecot |",
           "|---|--:|--:|--:|--:|--:|--:|"]

    def row(what, n, mk_s, dv_s, mk_text, dv_text, cpu=None):
        cpus = f"{cpu[0]:.2f} | {cpu[1]:.2f}" if cpu else " | "
        out.append(f"| {what} | {n:,} | {mk_text} | {dv_text} | **{dv_s / mk_s:.2f}** | {cpus} |")

    def ms(s):
        return f"{s * 1e3:,.1f} ms"

    if im["growth"]:
        g = im["growth"][-1]
        n, mk, dv = g["n"], g["mailkeep"], g["peer"]
        cpu = (mk["cpu"], dv["cpu"])
        row("(a) login+SELECT, first after the fill (index build)", n, mk["cold_select"], dv["cold_select"],
            ms(mk["cold_select"]), ms(dv["cold_select"]), cpu)
        row(f"(a) login+SELECT, warm (best of {im['warm_repeats']})", n, mk["warm_select"], dv["warm_select"],
            ms(mk["warm_select"]), ms(dv["warm_select"]))
        row(f"(b) UID FETCH 1:* (FLAGS RFC822.SIZE) (best of {im['repeats']})", n, mk["seconds"], dv["seconds"],
            f"{ms(mk['seconds'])}, {n / mk['seconds']:,.0f} msg/s", f"{ms(dv['seconds'])}, {n / dv['seconds']:,.0f} msg/s")
    if "body" in im:
        b = im["body"]
        n, mk, dv = b["n"], b["mailkeep"], b["peer"]

        def rate(s):
            return f"{n / s:,.0f} msg/s, {b['mailkeep']['bytes'] / s / 1e6:,.1f} MB/s"

        row("(c) FETCH 1:N BODY[], first (sets \\Seen)", n, mk["seconds"], dv["seconds"], rate(mk["seconds"]),
            rate(dv["seconds"]), (mk["cpu"], dv["cpu"]))
        row("(c) FETCH 1:N BODY[], again", n, mk["again"], dv["again"], rate(mk["again"]), rate(dv["again"]))
    if "search" in im:
        s = im["search"]
        mk, dv = s["mailkeep"], s["peer"]
        row(f"(d) SEARCH TEXT {SEARCH_WORD} ({s['hits']:,} hits; median of {im['repeats']})", s["n"],
            mk["seconds"], dv["seconds"], ms(mk["seconds"]), ms(dv["seconds"]), (mk["cpu"], dv["cpu"]))
    if "idle" in im:
        i = im["idle"]
        mk, dv = i["mailkeep"], i["peer"]
        row("(e) IDLE: delivery's reply → `* N EXISTS`, median", i["n"], mk["p50"], dv["p50"], ms(mk["p50"]), ms(dv["p50"]))
        row("(e) IDLE: delivery's reply → `* N EXISTS`, p90", i["n"], mk["p90"], dv["p90"], ms(mk["p90"]), ms(dv["p90"]))
    out.append("")
    out.append("Speed = Dovecot's seconds ÷ mailkeep's (above 1: mailkeep faster or sooner). CPU: user+system of the")
    out.append("daemon over the whole measurement ((a)/(b): the first SELECT, the warm ones and the UID FETCHes;")
    out.append("(c): both FETCHes; (d): every SEARCH). (e): mailkeep's delivery is SMTP to its smtp listener,")
    out.append("Dovecot's LMTP to its lmtp listener; negative = the notification came before the reply.")
    if "idle" in im:
        out.append("- (e) every latency, ms: mailkeep " + ", ".join(f"{x * 1e3:.0f}" for x in im["idle"]["mailkeep"]["runs"])
                   + "; Dovecot " + ", ".join(f"{x * 1e3:.0f}" for x in im["idle"]["peer"]["runs"]))
    if "search" in im:
        out.append("- (d) every SEARCH, ms: mailkeep " + ", ".join(f"{x * 1e3:.1f}" for x in im["search"]["mailkeep"]["runs"])
                   + "; Dovecot " + ", ".join(f"{x * 1e3:.1f}" for x in im["search"]["peer"]["runs"]))
    if len(im["growth"]) > 1:
        out += ["", "### 9b. Growth: UID FETCH 1:* (FLAGS RFC822.SIZE), login+SELECT and NOOP per INBOX size", "",
                "| messages | mailkeep UID FETCH ms | mailkeep µs/msg | Dovecot UID FETCH ms | Dovecot µs/msg | "
                "mailkeep/Dovecot speed | first SELECT ms mailkeep / Dovecot | warm SELECT ms mailkeep / Dovecot | "
                "NOOP ms mailkeep / Dovecot |",
                "|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for e in im["growth"]:
            n, mk, dv = e["n"], e["mailkeep"], e["peer"]
            out.append(f"| {n:,} | {mk['seconds'] * 1e3:,.1f} | {mk['seconds'] / n * 1e6:.2f} | {dv['seconds'] * 1e3:,.1f} | "
                       f"{dv['seconds'] / n * 1e6:.2f} | {dv['seconds'] / mk['seconds']:.2f} | "
                       f"{mk['cold_select'] * 1e3:,.1f} / {dv['cold_select'] * 1e3:,.1f} | "
                       f"{mk['warm_select'] * 1e3:,.1f} / {dv['warm_select'] * 1e3:,.1f} | "
                       f"{mk['noop'] * 1e3:,.2f} / {dv['noop'] * 1e3:,.2f} |")
        out.append("")
        for label, key in (("UID FETCH", "seconds"), ("first SELECT", "cold_select"), ("warm SELECT", "warm_select"),
                           ("NOOP", "noop")):
            pts = {who: [(e["n"], e[who][key]) for e in im["growth"]] for who in ("mailkeep", "peer")}
            per = {who: (p[-1][1] / p[-1][0]) / (p[0][1] / p[0][0]) for who, p in pts.items()}
            sl = {who: slope(p)[1] for who, p in pts.items()}
            out.append(f"- {label}: slope mailkeep {sl['mailkeep'] * 1e6:.2f} µs/msg, Dovecot {sl['peer'] * 1e6:.2f} µs/msg; "
                       f"cost per message at {pts['mailkeep'][-1][0]:,} ÷ at {pts['mailkeep'][0][0]:,}: mailkeep "
                       f"{per['mailkeep']:.2f}, Dovecot {per['peer']:.2f} (1.00 = flat)")
    return out


def render(report):
    L = report["limits"]
    m = report["machine"]
    out = []
    out.append(f"# mailkeep benchmark — {report['mode']} run")
    out.append("")
    out.append(f"- date: {report['date']} (UTC), {report['seconds']:.0f} s, load average at start "
               f"{' '.join(report['load_start'])}, at end {' '.join(report['load_end'])}")
    out.append(f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_gib']:.1f} GiB RAM, kernel {m['kernel']}, "
               f"data on {m['fs']} on {m['device']} ({m['lsblk']})")
    out.append(f"- software: mailkeep {m['mailkeep']}, Postfix {m['postfix']}, Dovecot {m['dovecot']}, "
               f"Python {m['python']}")
    out.append(f"- command: `{report['command']}`")
    out.append(f"- physical limits (scenario 7): {L['fsync_s']:,.0f} durable 4 KiB writes/s "
               f"(create, write, fsync file, fsync dir; one thread; {L['fsync_s_end']:,.0f}/s at the end of the run); "
               f"{L['maildir_s']:,.0f} Maildir-style deliveries/s (tmp/, fsync, rename into new/, fsync new/); "
               f"loopback TCP {L['loopback_bytes_s'] / 1e9:.2f} GB/s")
    out.append("")
    out.append("| scenario | durability | mailkeep msg/s | peer msg/s | mailkeep/peer | p50 / p99 ms mailkeep | "
               "p50 / p99 ms peer | CPU s mailkeep | CPU s peer | peak RSS (PSS) MiB mailkeep | "
               "peak RSS (PSS) MiB peer | mailkeep of limit | peer of limit |")
    out.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in report["rows"]:
        mk, pr = row["mailkeep"], row["peer"]
        rm, rp = row["count"] / mk["seconds"], row["count"] / pr["seconds"]
        out.append(
            f"| {row['scenario']} vs {row['peer_name']} | {row['durability']} | {fmt_rate(rm)} | {fmt_rate(rp)} | "
            f"**{rm / rp:.2f}** | {fmt_lat(mk)} | {fmt_lat(pr)} | {mk['cpu']:.2f} | {pr['cpu']:.2f} | "
            f"{mib(mk['peak_rss_kb'])} ({mib(mk['peak_pss_kb'])}) | {mib(pr['peak_rss_kb'])} ({mib(pr['peak_pss_kb'])}) | "
            f"{limit_fraction(rm, row['size'], L, row['fsync_bound'])} | "
            f"{limit_fraction(rp, row['size'], L, row['fsync_bound'])} |")
    out.append("")
    out.append("Scenario 3: CPU and RSS of mailkeep are the daemon's; of fetchmail, fetchmail's and its MDA's (the")
    out.append("reaped MDAs included); Dovecot's CPU as the provider is listed below.")
    if any(row["key"] == "s8" for row in report["rows"]):
        out.append("Scenario 8: CPU and RSS of mailkeep are the customer daemon's (ODMR client and receiver); of")
        out.append("fetchmail, fetchmail's plus the customer daemon's (its smtp receives what fetchmail relays); the")
        out.append("provider's CPU is listed below.")
    out.append("Latency per message is n/a for smtp-source (it reports none) and for a queue flush; for POP3 it is")
    out.append(f"per RETR, from sending it to the end of its response, with {POP3_WINDOW} RETR+DELE pairs in flight.")
    out.append("\"of limit\": rate ÷ the disk's durable-write rate (× fs, where a message needs an fsync), and")
    out.append("bytes/s ÷ loopback bandwidth (% lo). CPU: user+system of all the daemon's processes (load")
    out.append("generators not included). RSS: sum of VmRSS over the daemon's processes, sampled every 0.25 s;")
    out.append("PSS (shared pages divided among the processes sharing them) in parentheses.")
    extras = []
    for row in report["rows"]:
        if row["key"] == "s2":
            extras.append(f"- scenario 2, first (untimed) login+UIDL on the fresh maildrop: mailkeep "
                          f"{row['mailkeep']['cold_login_uidl'] * 1e3:.1f} ms, Dovecot "
                          f"{row['peer']['cold_login_uidl'] * 1e3:.1f} ms (builds its index); the median pair of "
                          f"{len(row['runs']['mailkeep'])} run(s): mailkeep "
                          + ", ".join(f"{row['count'] / r['seconds']:,.0f}" for r in row["runs"]["mailkeep"])
                          + " msg/s; Dovecot "
                          + ", ".join(f"{row['count'] / r['seconds']:,.0f}" for r in row["runs"]["peer"]) + " msg/s")
        if row["key"].startswith("s3-"):
            extras.append(f"- {row['scenario']}: Dovecot's CPU seconds as the provider: mailkeep's run "
                          f"{row['mailkeep']['provider_cpu']:.2f}, fetchmail's run {row['peer']['provider_cpu']:.2f}; "
                          f"runs, msg/s mailkeep "
                          + ", ".join(f"{row['count'] / r['seconds']:,.0f}" for r in row["runs"]["mailkeep"])
                          + "; fetchmail "
                          + ", ".join(f"{row['count'] / r['seconds']:,.0f}" for r in row["runs"]["peer"])
                          + f"; mailkeep's CLI said: {row['mailkeep']['cli']!r}")
        if row["key"] == "s8":
            mk, fm = row["mailkeep"], row["peer"]
            extras.append(f"- scenario 8, CPU seconds: the provider in mailkeep's run {mk['provider_cpu']:.2f}, in "
                          f"fetchmail's run {fm['provider_cpu']:.2f}; in fetchmail's run fetchmail "
                          f"{fm['fetchmail_cpu']:.2f} and the customer {fm['customer_cpu']:.2f}; runs, msg/s mailkeep "
                          + ", ".join(f"{row['count'] / r['seconds']:,.0f}" for r in row["runs"]["mailkeep"])
                          + "; fetchmail "
                          + ", ".join(f"{row['count'] / r['seconds']:,.0f}" for r in row["runs"]["peer"])
                          + f"; `mailkeep odmr` said: {mk['cli']!r}")
        if row["key"] == "s4":
            extras.append(f"- scenario 4, queueing the {row['count']} messages (smtp-source, 16 sessions, "
                          f"smarthost down): mailkeep {row['count'] / row['mailkeep']['queue_in_seconds']:,.0f} msg/s, "
                          f"Postfix {row['count'] / row['peer']['queue_in_seconds']:,.0f} msg/s")
    s1 = [r for r in report["rows"] if r["key"].startswith("s1-")]
    if s1:
        def rates(r, who):
            return "/".join(f"{r['count'] / x['seconds']:,.0f}" for x in r["runs"][who])
        extras.append(f"- scenario 1, every run (the table has the pair with the median ratio), msg/s "
                      "mailkeep ; Postfix: " + "; ".join(
                          f"{r['size'] // 1024}K×{r['key'].split('-')[2]} {rates(r, 'mailkeep')} ; {rates(r, 'peer')}"
                          for r in s1))
        extras.append("- scenario 1, smtp-source's own CPU seconds (mailkeep / Postfix): " + ", ".join(
            f"{r['size'] // 1024}K×{r['key'].split('-')[2]} {r['mailkeep']['client_cpu']:.2f}/{r['peer']['client_cpu']:.2f}"
            for r in s1))
    if extras:
        out.append("")
        out += extras

    out += targets(report)
    if report.get("imap"):
        out += render_imap(report["imap"])
    out.append("")
    out.append(f"## 5. Footprint (whole daemon: all processes; idle, {report['settle']:g} s after start or after "
               "the scenario)")
    out.append("")
    out.append("| when | mailkeep procs | mailkeep RSS MiB | mailkeep PSS MiB | Postfix procs | Postfix RSS MiB | "
               "Postfix PSS MiB | Dovecot procs | Dovecot RSS MiB | Dovecot PSS MiB |")
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for f in report["footprint"]:
        cells = []
        for n in ("mailkeep", "postfix", "dovecot"):
            v = f[n]
            cells += [str(v["processes"]), mib(v["rss_kb"]), mib(v["pss_kb"])]
        out.append(f"| {f['when']} | " + " | ".join(cells) + " |")

    g = report["growth"]
    if g["pop3"] or g["queue"]:
        out.append("")
        out.append("## 6. Growth (cost per message; slope = least-squares seconds per extra message)")
        out.append("")
        out.append("| what | messages | mailkeep ms | mailkeep µs/msg | peer ms | peer µs/msg | mailkeep/peer speed |")
        out.append("|---|--:|--:|--:|--:|--:|--:|")

        def line(what, n, a, b):
            out.append(f"| {what} | {n:,} | {a * 1e3:,.1f} | {a / n * 1e6:,.2f} | {b * 1e3:,.1f} | "
                       f"{b / n * 1e6:,.2f} | {b / a:.2f} |")

        for e in g["pop3"]:
            line("POP3 login+UIDL, warm (best of 3) vs Dovecot", e["n"], e["mailkeep"]["seconds"], e["peer"]["seconds"])
        for e in g["pop3"]:
            line("POP3 login+UIDL, first login vs Dovecot (index build)", e["n"], e["mailkeep"]["cold"], e["peer"]["cold"])
        for e in g["queue"]:
            line("queue flush to smtp-sink vs Postfix", e["n"], e["mailkeep"]["seconds"], e["peer"]["seconds"])
        for e in g["queue"]:
            line("queueing (SMTP in, 16 sessions, hop down) vs Postfix", e["n"], e["mailkeep"]["queue_in_seconds"],
                 e["peer"]["queue_in_seconds"])
        out.append("")
        series = [
            ("POP3 login+UIDL warm", [(e["n"], e["mailkeep"]["seconds"]) for e in g["pop3"]],
             [(e["n"], e["peer"]["seconds"]) for e in g["pop3"]]),
            ("queue flush", [(e["n"], e["mailkeep"]["seconds"]) for e in g["queue"]],
             [(e["n"], e["peer"]["seconds"]) for e in g["queue"]]),
            ("queueing", [(e["n"], e["mailkeep"]["queue_in_seconds"]) for e in g["queue"]],
             [(e["n"], e["peer"]["queue_in_seconds"]) for e in g["queue"]]),
        ]
        for name, mkp, prp in series:
            if len(mkp) < 2:
                continue
            _, bm = slope(mkp)
            _, bp = slope(prp)
            flat_m = (mkp[-1][1] / mkp[-1][0]) / (mkp[0][1] / mkp[0][0])
            flat_p = (prp[-1][1] / prp[-1][0]) / (prp[0][1] / prp[0][0])
            out.append(f"- {name}: slope mailkeep {bm * 1e6:.2f} µs/msg, peer {bp * 1e6:.2f} µs/msg; cost per "
                       f"message at {mkp[-1][0]:,} ÷ at {mkp[0][0]:,}: mailkeep {flat_m:.2f}, peer {flat_p:.2f} "
                       f"(1.00 = flat)")
    return "\n".join(out) + "\n"


# ---- main -----------------------------------------------------------------------------------------

def main():
    mode_name = "smoke" if ARGS.smoke else "full"
    mode = MODES[mode_name]
    only = {int(x) for x in ARGS.only.split(",") if x.strip()}
    if os.geteuid() != 0:
        print("bench/run.py needs root: Postfix's `postfix start` and Dovecot's privilege separation", file=sys.stderr)
        return 1
    for tool in ((SMTP_SOURCE, SMTP_SINK, POSTCONF, POSTQUEUE, harness.MAILKEEP_BIN)
                 + ((FETCHMAIL,) if only & {3, 8} else ()) + ((CC,) if 3 in only else ())):
        if not os.path.exists(tool):
            print(f"bench/run.py: missing {tool}", file=sys.stderr)
            return 1

    def on_signal(signum, frame):
        raise Deadline(f"signal {signum}")

    def on_alarm(signum, frame):
        raise Deadline(f"the {mode_name} run exceeded its {mode['deadline']} s")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(mode["deadline"])

    top = Path(tempfile.mkdtemp(prefix="mailkeep-bench-", dir=ARGS.tmpdir))
    started = time.monotonic()
    report = {"mode": mode_name, "command": " ".join(["/usr/bin/python3", "bench/run.py"] + sys.argv[1:]),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
              "load_start": loadavg(), "settle": mode["settle"], "rows": [], "footprint": [], "growth": {"pop3": [], "queue": []}}
    sy = None
    problems = []
    rc = 0
    try:
        report["machine"] = machine(top)
        # Run a private copy: a rebuild of the binary by someone else during the run changes nothing.
        private_bin = top / "mailkeep-binary"
        shutil.copy2(harness.MAILKEEP_BIN, private_bin)
        harness.MAILKEEP_BIN = str(private_bin)
        log(f"{mode_name} run in {top}; load {' '.join(report['load_start'])}")
        # 7. physical limits, before any server runs
        report["limits"] = {"fsync_s": physical.fsync_rate(top, mode["fsync_seconds"]),
                            "maildir_s": physical.maildir_rate(top, mode["fsync_seconds"]),
                            "loopback_bytes_s": physical.loopback_bandwidth(mode["bandwidth_seconds"])}
        log(f"limits: {report['limits']['fsync_s']:.0f} durable writes/s, "
            f"loopback {report['limits']['loopback_bytes_s'] / 1e9:.2f} GB/s")
        sy = Systems(top, mode)
        sy.start()
        footprint(sy, report, "after start", mode["settle"])
        if 1 in only:
            log("scenario 1: SMTP intake to Maildir")
            scenario1(sy, mode, report)
            footprint(sy, report, "after 1 (SMTP)", mode["settle"])
        if 2 in only:
            log("scenario 2: POP3 retrieval")
            scenario2(sy, mode, report)
            footprint(sy, report, "after 2 (POP3)", mode["settle"])
        if 3 in only:
            log("scenario 3: fetching")
            scenario3(sy, mode, report)
            footprint(sy, report, "after 3 (fetch)", mode["settle"])
        if 4 in only:
            log("scenario 4: relay")
            scenario4(sy, mode, report)
            footprint(sy, report, "after 4 (relay)", mode["settle"])
        if 6 in only:
            log("scenario 6: growth")
            scenario6(sy, mode, report, ARGS.max_growth)
            footprint(sy, report, "after 6 (growth)", mode["settle"])
        if 8 in only:   # its own two mailkeeps, stopped at its end: no footprint of the shared daemons
            log("scenario 8: ODMR")
            scenario8(sy, mode, report)
        if 9 in only:
            log("scenario 9: IMAP server")
            scenario9(sy, mode, report, ARGS.max_growth)
            footprint(sy, report, "after 9 (IMAP)", mode["settle"])
        report["limits"]["fsync_s_end"] = physical.fsync_rate(top, mode["fsync_seconds"])
    except (BenchError, AssertionError, pop3load.Pop3Error, imapload.ImapError, OSError) as e:
        log(f"FAILED: {e}")
        rc = 1
    except Deadline as e:
        log(f"STOPPED: {e}")
        rc = 1
    finally:
        signal.alarm(0)
        if sy is not None:
            try:
                problems = sy.stop()
            except Deadline:
                problems = ["interrupted while stopping"]
            for p in problems:
                log(f"stop: {p}")
            if rc:
                for mk in [sy.mk] + sy.odmr:
                    if mk.log_path.exists():
                        log(f"mailkeep log tail ({mk.root.name}):\n" + mk.log_tail(30))
        if ARGS.keep or rc:
            log(f"kept {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)
    if problems:
        rc = 1
    if rc:
        return rc
    report["seconds"] = time.monotonic() - started
    report["load_end"] = loadavg()
    text = render(report)
    print(text)
    if ARGS.json:
        Path(ARGS.json).write_text(json.dumps(report, indent=1, default=str))
    if ARGS.write_results:
        Path(ARGS.write_results).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
