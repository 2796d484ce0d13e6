# tests/blackbox/test_imap_crash.py — durability of the IMAP server's writes (issue 12): a client does
# many APPENDs, or UID MOVEs between folders, or STORE \Deleted + UID EXPUNGE, one command at a time,
# and mailkeep is SIGKILLed at a random moment (after K acknowledged commands and a jitter, both drawn
# from the trial's seed); restarted on the same data dir, a fresh session finds that
#   APPEND:  every APPEND that got its tagged OK is there exactly once, byte for byte, with its flags;
#            the one in flight is there at most once; nothing else appeared;
#   MOVE:    every message is in exactly one folder (RFC 6851 3.3: none lost, none in both), one whose
#            MOVE was acknowledged in its destination, one never moved still in the source;
#   EXPUNGE: an acknowledged expunge is gone, a message never marked is there, none is doubled;
# and for the UIDs: every (UIDVALIDITY, UID) -> Message-ID the client learned before the kill
# (APPENDUID, COPYUID, FETCH) still names the same message if its UIDVALIDITY is unchanged (a SIGKILL
# is no reason to change it: the index is SQLite WAL with synchronous=FULL), and UIDNEXT is above every
# UID seen. start-up recovery leaves tmp/ empty (DESIGN.md, the durable write, step 7).
# A last test deletes or corrupts mailkeep-index.db while the daemon is stopped: it is rebuilt from the
# files with the same messages and system flags, and per folder the UIDVALIDITY either stays with the
# same UIDs or grows (store/mail_index.hpp: a new one per folder, never one it had before).
# IMAP_CRASH_TRIALS trials per operation (default 3), each with its own seed; CRASH_SEED replays one;
# scripts/soak.sh runs many (TRIAL_OF, tests/blackbox/soak.py).
import hashlib
import imaplib
import random
import re
import socket
import sqlite3
import threading
import time

import pytest

from crashutil import Outcome, seeds as crash_seeds
from harness import wait_until
from imapsync import ANNA_PW, deliver, imap, list_folders, msgid_of, ok

TRIALS = 3            # per operation (IMAP_CRASH_TRIALS)
TRIAL_BUDGET = 30.0   # seconds a trial may take, set-up included
N_SOURCE = 40         # messages in INBOX before a MOVE or EXPUNGE trial
N_APPEND = 60         # APPENDs a trial's client would do if never killed
JITTER = 0.06         # seconds: the kill lands up to this long after the K-th acknowledgement (about one command)


def build(tag, n):
    """build - message n of a trial: a Message-ID naming it, a 0.3-24 KB body ending in a checksum line."""
    rng = random.Random(f"{tag}/{n}")
    lines = [f"{n:03d} {k:04d} {rng.getrandbits(160):040x}" for k in range(rng.randint(5, 500))]
    body = "\r\n".join(lines) + "\r\n"
    body += f"checksum: {hashlib.sha256(body.encode()).hexdigest()}\r\n"
    head = (f"From: <crash@example.org>\r\nTo: <anna@home.arpa>\r\nSubject: imap crash {tag} {n}\r\n"
            f"Message-ID: <imap-crash.{tag}.{n}@crash.test>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\n")
    return (head + body).encode()


def code(c, name):
    return c.untagged_responses.get(name, [None])[-1]


class Client(threading.Thread):
    """Client - runs ops (callables taking an imaplib session, returning a record of what the server
    acknowledged) one after the other on one connection until they end or the connection dies; done
    holds the acknowledged records, in_flight the op that got no tagged answer."""

    def __init__(self, mk, ops):
        super().__init__(daemon=True)
        self.c = imap(mk)
        self.ops = ops
        self.done = []
        self.in_flight = None
        self.error = None

    def run(self):
        for op in self.ops:
            self.in_flight = op
            try:
                self.done.append(op.run(self.c))
            except (OSError, imaplib.IMAP4.abort, EOFError) as e:
                self.error = f"{type(e).__name__}: {e}"
                return
            except (imaplib.IMAP4.error, AssertionError) as e:   # a NO, a BAD, a reply without its code
                self.error = f"wrong reply: {e}"
                return
            self.in_flight = None


class Append:
    def __init__(self, folder, msg, flags):
        self.folder, self.msg, self.flags = folder, msg, flags
        self.mid = msgid_of(msg)

    def run(self, c):
        typ, data = c.append(self.folder, f"({' '.join(self.flags)})" if self.flags else None, None, self.msg)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"APPEND {self.mid}: {typ} {data}")
        m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
        assert m, data
        return self, int(m.group(1)), int(m.group(2))


class Move:
    def __init__(self, uids, dest):
        self.uids, self.dest = uids, dest

    def run(self, c):
        c.untagged_responses.pop("COPYUID", None)
        typ, data = c.uid("MOVE", ",".join(map(str, self.uids)), self.dest)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"UID MOVE {self.uids}: {typ} {data}")
        m = re.match(rb"(\d+) ([\d,:]+) ([\d,:]+)", code(c, "COPYUID") or b"")
        assert m, c.untagged_responses
        return self, int(m.group(1)), uid_set(m.group(2)), uid_set(m.group(3))


class Select:
    def __init__(self, folder):
        self.folder = folder

    def run(self, c):
        ok(c.select(self.folder))
        return self,


class Expunge:
    def __init__(self, uids):
        self.uids = uids

    def run(self, c):
        ok(c.uid("STORE", ",".join(map(str, self.uids)), "+FLAGS.SILENT", "(\\Deleted)"))
        ok(c.uid("EXPUNGE", ",".join(map(str, self.uids))))   # RFC 4315 UID EXPUNGE: only these
        return self,


def uid_set(text):
    """uid_set - the UIDs of a sequence set such as b"3,5:7", in its order."""
    out = []
    for part in text.decode().split(","):
        lo, _, hi = part.partition(":")
        out += range(int(lo), int(hi or lo) + 1) if int(hi or lo) >= int(lo) else range(int(lo), int(hi) - 1, -1)
    return out


def folder_state(c, folder):
    """folder_state - (uidvalidity, uidnext, {uid: (Message-ID, flags, bytes)}) read with EXAMINE."""
    data = ok(c.select(f'"{folder}"', readonly=True))
    uidvalidity = int(code(c, "UIDVALIDITY"))
    st = ok(c.status(f'"{folder}"', "(UIDNEXT)"))
    uidnext = int(re.search(rb"UIDNEXT (\d+)", st[0]).group(1))
    box = {}
    if int(data[0]) > 0:
        for item in ok(c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")):
            if isinstance(item, tuple):
                meta, raw = item
                uid = int(re.search(rb"UID (\d+)", meta).group(1))
                flags = frozenset(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split()) - {"\\Recent"}
                box[uid] = (msgid_of(raw), flags, raw)
    c.close()
    return uidvalidity, uidnext, box


def tmp_leftovers(mk, folders):
    out = []
    for folder in folders:
        d = mk.maildir("anna") / ("tmp" if folder == "INBOX" else f".{folder}/tmp")
        if d.is_dir():
            out += [f"{folder}/tmp/{p.name}" for p in d.iterdir()]
    return out


class Trial:
    """Trial - one daemon, one client, one SIGKILL, one restart; collects problems in words."""

    def __init__(self, mailkeep_factory, op, seed):
        self.op, self.seed = op, seed
        self.rng = random.Random(seed)
        self.tag = f"{op}-{seed}"
        self.end = time.monotonic() + TRIAL_BUDGET
        self.mk = mailkeep_factory(name=f"{op}-{seed}")
        self.seen = {}   # (folder, uidvalidity, uid) -> Message-ID, everything learned before the kill
        self.problems = []
        self.acked = self.lost = self.duplicated = 0   # messages, for the Outcome
        self.in_both = []   # MOVE: messages of the MOVE in flight found in the source and the destination

    def left(self, what):
        rest = self.end - time.monotonic()
        if rest <= 0:
            raise AssertionError(f"seed {self.seed}: the {TRIAL_BUDGET:.0f} s budget ran out before {what}")
        return rest

    def learn(self, c, folder):
        """learn - the UIDs of folder as a client sees them now, into seen; {uid: Message-ID}."""
        uv, _, box = folder_state(c, folder)
        for uid, (mid, _, _) in box.items():
            self.seen[(folder, uv, uid)] = mid
        return uv, {uid: mid for uid, (mid, _, _) in box.items()}

    def crash(self, ops):
        """crash - run ops on a Client, SIGKILL after K acknowledged ones plus a jitter, restart;
        returns the client (done, in_flight) and a context string."""
        k = self.rng.randint(0, max(0, len(ops) - 3))
        jitter = self.rng.uniform(0, JITTER)
        client = Client(self.mk, ops)
        client.start()
        wait_until(lambda: len(client.done) >= k or not client.is_alive(), self.left(f"{k} acknowledged ops"),
                   f"{k} acknowledged {self.op}s", interval=0.001)
        spin_end = time.monotonic() + jitter   # a random moment within about the next command: a spin
        while time.monotonic() < spin_end:
            pass
        self.mk.kill()
        client.join(min(15.0, self.left("the client to notice the kill")))
        assert not client.is_alive(), f"seed {self.seed}: the client did not notice the kill"
        finished = client.in_flight is None and len(client.done) == len(ops)
        self.context = (f"{self.op} trial CRASH_SEED={self.seed}: killed after {k} acks + {jitter * 1000:.0f} ms; "
                        f"{len(client.done)} of {len(ops)} acknowledged, in flight: "
                        f"{describe(client.in_flight)}, client saw: {client.error}"
                        + ("; (all done before the kill)" if finished else ""))
        if client.error and client.error.startswith("wrong reply"):
            self.problems.append(f"before the kill: {client.error}")
        for rec in client.done:
            self.record(rec)
        self.mk.start(deadline=min(10.0, self.left("the restart")))
        return client

    def record(self, rec):
        if isinstance(rec[0], Append):
            op, uv, uid = rec
            self.seen[(op.folder, uv, uid)] = op.mid
        elif isinstance(rec[0], Move):
            op, uv, _, to_uids = rec
            for uid, mid in zip(to_uids, self.moved_mids(rec)):
                self.seen[(op.dest, uv, uid)] = mid

    def check_uids(self, states):
        """check_uids - no UID seen before the kill names another message now (same UIDVALIDITY), the
        UIDVALIDITY of each folder did not change, and UIDNEXT is above every UID seen."""
        for (folder, uv, uid), mid in sorted(self.seen.items()):
            now_uv, uidnext, box = states[folder]
            if now_uv != uv:
                self.problems.append(f"{folder}: UIDVALIDITY {uv} before the kill, {now_uv} after")
                continue
            if uid in box and box[uid][0] != mid:
                self.problems.append(f"{folder}: UID {uid} was {mid}, now {box[uid][0]} (UID reused)")
            if uidnext <= uid:
                self.problems.append(f"{folder}: UIDNEXT {uidnext} not above UID {uid} seen before the kill")

    def where(self, states):
        """where - {Message-ID: [(folder, uid)]} over the trial's folders after the restart."""
        out = {}
        for folder, (_, _, box) in states.items():
            for uid, (mid, _, _) in box.items():
                out.setdefault(mid, []).append((folder, uid))
        return out

    def finish(self, folders):
        """finish - the trial's Outcome; the daemon stopped (SIGTERM, exit 0) unless something is wrong."""
        leftovers = tmp_leftovers(self.mk, folders)
        if leftovers:
            self.problems.append(f"tmp/ not emptied by start-up recovery: {leftovers[:10]}")
        summary = f"{self.context}; {time.monotonic() - (self.end - TRIAL_BUDGET):.1f} s"
        print(summary)
        out = Outcome("imap-" + self.op, self.seed, acked=self.acked, lost=self.lost, duplicated=self.duplicated,
                      problems=list(self.problems), note=summary)
        if out.problems:
            out.problems.append(f"--- mailkeep log (last lines) ---\n{self.mk.log_tail(40)}")
            return out
        rc, needed_kill = self.mk.stop()
        if rc != 0 or needed_kill:
            out.problems.append(f"on SIGTERM rc={rc}, SIGKILL needed={needed_kill}")
        return out

    def states(self, folders):
        c = imap(self.mk)
        try:
            return {f: folder_state(c, f) for f in folders}
        finally:
            c.logout()

    def fill_inbox(self):
        """fill_inbox - N_SOURCE messages into INBOX over SMTP; learn their UIDs; {Message-ID: bytes}."""
        msgs = [build(self.tag, n) for n in range(N_SOURCE)]
        deliver(self.mk, msgs, batch=N_SOURCE)
        c = imap(self.mk)
        self.inbox_uv, self.inbox_uids = self.learn(c, "INBOX")
        c.logout()
        assert len(self.inbox_uids) == N_SOURCE
        return {msgid_of(m): m for m in msgs}

    def moved_mids(self, rec):
        op, _, from_uids, _ = rec
        return [self.inbox_uids[u] for u in from_uids]


def describe(op):
    if op is None:
        return "nothing"
    if isinstance(op, Append):
        return f"APPEND {op.mid} to {op.folder}"
    if isinstance(op, Move):
        return f"UID MOVE {op.uids} to {op.dest}"
    if isinstance(op, Select):
        return f"SELECT {op.folder}"
    return f"UID EXPUNGE {op.uids}"


# --- APPEND ---------------------------------------------------------------------------------------
APPEND_FOLDERS = ("INBOX", "Sent", "Archive")


def append_trial(mailkeep_factory, seed):
    t = Trial(mailkeep_factory, "append", seed)
    flag_choices = [(), ("\\Seen",), ("\\Seen", "\\Answered"), ("\\Flagged", "$Forwarded"), ("\\Draft",)]
    ops = [Append(t.rng.choice(APPEND_FOLDERS), build(t.tag, n), t.rng.choice(flag_choices))
           for n in range(N_APPEND)]
    c = imap(t.mk)
    before = {f: t.learn(c, f)[0] for f in APPEND_FOLDERS}   # the UIDVALIDITYs (the folders are empty)
    c.logout()
    client = t.crash(ops)
    states = t.states(APPEND_FOLDERS)
    where = t.where(states)
    acked = {rec[0].mid: rec for rec in client.done}
    by_mid = {op.mid: op for op in ops}
    for mid, places in where.items():
        if mid not in by_mid:
            t.problems.append(f"{mid} at {places}: not one of the trial's messages")
        elif len(places) > 1:
            t.duplicated += len(places) - 1
            t.problems.append(f"{mid} doubled: at {places}")
        elif places[0][0] != by_mid[mid].folder:
            t.problems.append(f"{mid} in {places[0][0]}, appended to {by_mid[mid].folder}")
        elif mid not in acked and by_mid[mid] is not client.in_flight:
            t.problems.append(f"{mid} at {places}: never sent, yet there")
    t.acked = len(acked)
    for mid, (op, uv, uid) in acked.items():
        if mid not in where:
            t.lost += 1
            t.problems.append(f"{mid}: APPEND acknowledged ({op.folder} UID {uid}), lost")
            continue
        folder, now_uid = where[mid][0]
        _, flags, raw = states[folder][2][now_uid]
        if raw != op.msg:
            t.problems.append(f"{mid}: stored {len(raw)} octets, appended {len(op.msg)}: not the same bytes")
        if {f for f in flags if f.startswith("\\")} != set(f for f in op.flags if f.startswith("\\")) or \
                not {f for f in op.flags if not f.startswith("\\")} <= flags:
            t.problems.append(f"{mid}: flags {sorted(flags)}, appended with {list(op.flags)}")
    for folder, uv in before.items():
        if states[folder][0] != uv:
            t.problems.append(f"{folder}: UIDVALIDITY {uv} before the kill, {states[folder][0]} after")
    t.check_uids(states)
    fate = "none in flight"
    if isinstance(client.in_flight, Append):
        fate = "stored" if client.in_flight.mid in where else "not stored"
    return t.finish(APPEND_FOLDERS), fate


# --- MOVE -----------------------------------------------------------------------------------------
MOVE_DESTS = ("Archive", "Trash")


def move_trial(mailkeep_factory, seed):
    t = Trial(mailkeep_factory, "move", seed)
    sent = t.fill_inbox()
    uids = sorted(t.inbox_uids)
    t.rng.shuffle(uids)
    ops = []
    while uids:
        n = t.rng.randint(1, 3)
        ops.append(Move(sorted(uids[:n]), t.rng.choice(MOVE_DESTS)))
        uids = uids[n:]
    c = imap(t.mk)
    for d in MOVE_DESTS:
        t.learn(c, d)
    c.logout()
    client = t.crash([Select("INBOX")] + ops)
    done = [rec for rec in client.done if isinstance(rec[0], Move)]
    folders = ("INBOX",) + MOVE_DESTS
    states = t.states(folders)
    where = t.where(states)
    moved_to = {}
    for rec in done:
        for mid in t.moved_mids(rec):
            moved_to[mid] = rec[0].dest
    in_flight = set()
    if isinstance(client.in_flight, Move):
        in_flight = {t.inbox_uids[u] for u in client.in_flight.uids}
    t.acked = len(moved_to)
    for mid in sent:
        places = where.get(mid, [])
        if len(places) > 1:
            t.duplicated += len(places) - 1
        if not places:
            t.lost += 1
            t.problems.append(f"{mid} lost (moved to {moved_to.get(mid, 'nowhere')}, in flight: {mid in in_flight})")
        elif mid in in_flight and sorted(f for f, _ in places) == sorted(["INBOX", client.in_flight.dest]):
            t.in_both.append(f"{mid} at {places}")   # the bug fixed by a MOVE by rename: see below
        elif len(places) > 1:
            t.problems.append(f"{mid} in {len(places)} places {places} (MOVE acknowledged: {mid in moved_to}, "
                              f"in flight: {mid in in_flight})")
        elif mid in moved_to and places[0][0] != moved_to[mid]:
            t.problems.append(f"{mid}: MOVE to {moved_to[mid]} acknowledged, but it is in {places[0][0]}")
        elif mid not in moved_to and mid not in in_flight and places[0][0] != "INBOX":
            t.problems.append(f"{mid}: never moved, but it is in {places[0][0]}")
        elif mid in in_flight and places[0][0] not in ("INBOX", client.in_flight.dest):
            t.problems.append(f"{mid}: in flight to {client.in_flight.dest}, but it is in {places[0][0]}")
        for folder, uid in places:
            if not states[folder][2][uid][2].endswith(sent[mid]):
                t.problems.append(f"{mid} in {folder}: bytes altered")
    for mid in set(where) - set(sent):
        t.problems.append(f"{mid} at {where[mid]}: not one of the trial's messages")
    t.check_uids(states)
    if t.in_both:
        t.context += f"; {len(t.in_both)} message(s) of the MOVE in flight in both folders: {t.in_both}"
    fate = "none in flight" if not in_flight else \
        "in both" if t.in_both else fates({where.get(m, [("lost", 0)])[0][0] == "INBOX" for m in in_flight}, "not moved", "moved")
    return t.finish(folders), fate


# --- EXPUNGE --------------------------------------------------------------------------------------
def expunge_trial(mailkeep_factory, seed):
    t = Trial(mailkeep_factory, "expunge", seed)
    sent = t.fill_inbox()
    uids = sorted(t.inbox_uids)
    t.rng.shuffle(uids)
    uids = uids[:N_SOURCE * 3 // 4]   # a quarter is never marked
    ops = [Select("INBOX")]
    while uids:
        n = t.rng.randint(1, 3)
        ops.append(Expunge(sorted(uids[:n])))
        uids = uids[n:]
    client = t.crash(ops)
    done = [rec for rec in client.done if isinstance(rec[0], Expunge)]
    states = t.states(("INBOX",))
    where = t.where(states)
    gone = {t.inbox_uids[u] for rec in done for u in rec[0].uids}
    in_flight = {t.inbox_uids[u] for u in client.in_flight.uids} if isinstance(client.in_flight, Expunge) else set()
    marked = {t.inbox_uids[u] for op in ops if isinstance(op, Expunge) for u in op.uids}
    t.acked = len(gone)
    for mid in sent:
        places = where.get(mid, [])
        if len(places) > 1:
            t.duplicated += len(places) - 1
        elif not places and mid not in gone and mid not in in_flight:
            t.lost += 1
        if mid in gone and places:
            t.problems.append(f"{mid}: UID EXPUNGE acknowledged, still there at {places}")
        elif mid not in gone and mid not in in_flight and len(places) != 1:
            t.problems.append(f"{mid}: never expunged (marked later: {mid in marked}), found at {places}")
        elif mid in in_flight and len(places) > 1:
            t.problems.append(f"{mid}: in flight, now at {places}")
        for folder, uid in places:
            if not states[folder][2][uid][2].endswith(sent[mid]):
                t.problems.append(f"{mid}: bytes altered")
            if uid != next(u for u, m in t.inbox_uids.items() if m == mid):
                t.problems.append(f"{mid}: UID {uid}, was {next(u for u, m in t.inbox_uids.items() if m == mid)}")
    for mid in set(where) - set(sent):
        t.problems.append(f"{mid} at {where[mid]}: not one of the trial's messages")
    if states["INBOX"][0] != t.inbox_uv:
        t.problems.append(f"INBOX: UIDVALIDITY {t.inbox_uv} before the kill, {states['INBOX'][0]} after")
    t.check_uids(states)
    fate = fates({m in where for m in in_flight}, "kept", "expunged") if in_flight else "none in flight"
    return t.finish(("INBOX",)), fate


def fates(kept, if_kept, if_gone):
    """fates - one word for what became of the messages of the command in flight."""
    return if_kept if kept == {True} else if_gone if kept == {False} else f"partly {if_gone}"


TRIAL_OF = {"append": append_trial, "move": move_trial, "expunge": expunge_trial}


@pytest.mark.parametrize("op", ["append", "move", "expunge"])
def test_sigkill_during(mailkeep_factory, op):
    tally, failures = [], []
    for i, seed in enumerate(crash_seeds("IMAP_CRASH_TRIALS", TRIALS)):
        print(f"trial {i + 1}, {op}: CRASH_SEED={seed}")
        try:
            out, fate = TRIAL_OF[op](mailkeep_factory, seed)
            out.check()
        except AssertionError as e:   # the next trial still runs (its own daemon); all failures are listed
            failures.append(f"CRASH_SEED={seed}: {e}")
            print(f"trial {i + 1} FAILED: {str(e)[:2000]}")
            continue
        tally.append((seed, out.acked, fate, out.duplicated if op == "move" else 0))
    outcomes = {}
    for _, _, fate, _ in tally:
        outcomes[fate] = outcomes.get(fate, 0) + 1
    print(f"{op}: {len(tally)} trials passed, {len(failures)} failed; the command in flight at the kill: "
          f"{outcomes}; (seed, acknowledged, in flight, in both folders) per passed trial: {tally}")
    assert not failures, f"{len(failures)} of {len(failures) + len(tally)} {op} trials failed:\n" + \
        "\n\n".join(f[:3000] for f in failures[:5])
    doubled = [(seed, n) for seed, _, _, n in tally if n]
    assert not doubled, (f"the MOVE in flight left messages in both folders in {len(doubled)} of {len(tally)} "
                         f"trials (seed, count): {doubled}")


# --- a SIGKILL inside a MOVE leaves every message in one folder ---------------------------------------
# MailIndex::move was copy() then expunge(): hard links into the destination, committed, and only then
# the originals unlinked; a SIGKILL in between left the messages in both folders (35 of 50 random
# trials). It now renames each file and expunges the source rows in the destination's transaction.
# Issue 12 asks that no message be doubled; RFC 6851 3.3 says a server SHOULD NOT leave a message in
# both mailboxes. The random trials above rarely hit the window; this test aims the kill into it.
MOVE_BATCH = 150


def imap_line_reader(sock):
    """imap_line_reader - a function returning the bytes received so far (never blocks long)."""
    buf = bytearray()
    sock.settimeout(0.001)

    def read():
        try:
            chunk = sock.recv(65536)
            if chunk:
                buf.extend(chunk)
        except (TimeoutError, BlockingIOError, OSError):
            pass
        return bytes(buf)
    return read


def kill_inside_a_move(mailkeep_factory, attempt):
    """kill_inside_a_move - MOVE_BATCH messages in INBOX, one UID MOVE 1:* Archive on a raw socket,
    SIGKILL as soon as the first file appears in Archive; returns (mk, moved_acknowledged, msgs)."""
    mk = mailkeep_factory(name=f"move-window-{attempt}")
    msgs = [build(f"window-{attempt}", n) for n in range(MOVE_BATCH)]
    deliver(mk, msgs, batch=MOVE_BATCH)
    c = imap(mk)
    ok(c.select("Archive"))   # indexed before the MOVE, so that only the MOVE puts files there
    ok(c.select("INBOX"))
    c.logout()
    archive = mk.maildir("anna") / ".Archive"
    with socket.create_connection(("127.0.0.1", mk.ports["imap"]), timeout=10) as s:
        read = imap_line_reader(s)
        s.sendall(f"a LOGIN anna {ANNA_PW}\r\nb SELECT INBOX\r\n".encode())
        wait_until(lambda: b"\r\nb OK" in read(), 10, "SELECT INBOX")
        s.sendall(b"c UID MOVE 1:* Archive\r\n")
        wait_until(lambda: any(any((archive / sub).iterdir()) for sub in ("new", "cur")), 10,
                   "the first message linked into Archive", interval=0.0005)
        mk.kill()
        acked = b"\r\nc OK" in read()
    mk.start()
    return mk, acked, msgs


def test_sigkill_inside_a_move_leaves_no_message_in_both_folders(mailkeep_factory):
    for attempt in range(5):   # a MOVE that was over before the kill proves nothing: try again
        mk, acked, msgs = kill_inside_a_move(mailkeep_factory, attempt)
        if not acked:
            break
        mk.stop()
    else:
        pytest.fail(f"the UID MOVE of {MOVE_BATCH} messages was acknowledged before every kill")
    c = imap(mk)
    where = {}
    for folder in ("INBOX", "Archive"):
        for uid, (mid, _, raw) in folder_state(c, folder)[2].items():
            where.setdefault(mid, []).append((folder, uid))
    c.logout()
    mids = [msgid_of(m) for m in msgs]
    lost = [mid for mid in mids if mid not in where]
    assert not lost, f"lost by a MOVE cut short: {lost[:10]}"
    both = {mid: places for mid, places in where.items() if len(places) > 1}
    assert not both, (f"{len(both)} of {MOVE_BATCH} messages in both INBOX and Archive after a SIGKILL inside "
                      f"UID MOVE 1:* Archive, e.g. {list(both.items())[:3]}")


# --- the index lost or damaged while mailkeep is stopped -----------------------------------------
INDEX_FOLDERS = ("INBOX", "Sent", "Archive", "Projects.2026", "Entw&APw-rfe")


def damage(db, how):
    """damage - the index file deleted (with its -wal and -shm), its first page (the header and the
    schema) overwritten with garbage, or the root page of its messages table overwritten with garbage."""
    if how == "deleted":
        for suffix in ("", "-wal", "-shm"):
            p = db.with_name(db.name + suffix)
            if p.exists():
                p.unlink()
        return
    assert not db.with_name(db.name + "-wal").exists() or how == "header", "a -wal left after SIGTERM"
    offset = 0
    if how == "messages":
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            page_size = con.execute("PRAGMA page_size").fetchone()[0]
            (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'messages'").fetchone()
        con.close()
        offset = (root - 1) * page_size
    with open(db, "r+b") as f:
        f.seek(offset)
        f.write(random.Random(how).randbytes(4096))


@pytest.mark.parametrize("how", ["deleted", "header", "messages"])
def test_index_rebuilt_from_the_files(mailkeep_factory, how):
    """A stopped daemon's mailkeep-index.db deleted or corrupted: the next start rebuilds it from the
    Maildir, with the same messages (bytes) and system flags (file names) in every folder; a folder keeps
    its UIDVALIDITY only with the same UIDs, else gets a larger one (store/mail_index.hpp). Keywords live
    in the index only (mail_index.hpp), so they are not compared after a rebuild."""
    mk = mailkeep_factory(name=f"index-{how}")
    deliver(mk, [build(f"index-{how}-smtp", n) for n in range(15)])
    c = imap(mk)
    for folder in INDEX_FOLDERS[3:]:
        ok(c.create(folder))
    flag_choices = [None, "(\\Seen)", "(\\Seen \\Answered)", "(\\Flagged $Forwarded)", "(\\Draft)", "(\\Deleted)"]
    for n in range(60):
        folder = INDEX_FOLDERS[n % len(INDEX_FOLDERS)]
        ok(c.append(f'"{folder}"', flag_choices[n % len(flag_choices)], None, build(f"index-{how}", n)))
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1:5", "+FLAGS.SILENT", "(\\Seen \\Flagged)"))
    ok(c.uid("STORE", "6:7", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(c.expunge())   # so that INBOX's UIDs have a gap a rebuild from the files could not know of
    before = {f: folder_state(c, f) for f in INDEX_FOLDERS}
    c.logout()
    db = mk.maildir("anna") / "mailkeep-index.db"
    assert db.is_file(), sorted(p.name for p in mk.maildir("anna").iterdir())
    rc, needed_kill = mk.stop()
    assert rc == 0 and not needed_kill
    damage(db, how)
    mk.start()
    c = imap(mk)
    listed = set(list_folders(c))
    after = {f: folder_state(c, f) for f in INDEX_FOLDERS}
    problems = []
    assert listed >= set(INDEX_FOLDERS), listed
    for folder in INDEX_FOLDERS:
        (uv0, next0, box0), (uv1, next1, box1) = before[folder], after[folder]
        old = {mid: (uid, {f for f in flags if f.startswith("\\")}, raw) for uid, (mid, flags, raw) in box0.items()}
        new = {mid: (uid, {f for f in flags if f.startswith("\\")}, raw) for uid, (mid, flags, raw) in box1.items()}
        if len(new) != len(box1):
            problems.append(f"{folder}: a message twice after the rebuild")
        if set(old) != set(new):
            problems.append(f"{folder}: lost {sorted(set(old) - set(new))[:5]}, new {sorted(set(new) - set(old))[:5]}")
        for mid in set(old) & set(new):
            if old[mid][1:] != new[mid][1:]:
                problems.append(f"{folder}: {mid} flags {sorted(old[mid][1])} -> {sorted(new[mid][1])} "
                                f"or bytes changed")
            if uv1 == uv0 and old[mid][0] != new[mid][0]:
                problems.append(f"{folder}: UIDVALIDITY {uv0} kept, but {mid} UID {old[mid][0]} -> {new[mid][0]}")
        if uv1 == uv0 and next1 < next0:
            problems.append(f"{folder}: UIDVALIDITY {uv0} kept, but UIDNEXT {next0} -> {next1}")
        if uv1 < uv0:
            problems.append(f"{folder}: UIDVALIDITY {uv0} -> {uv1}: smaller, may be one it had before")
    # The rebuilt index works: a new message gets a UID above the rest.
    data = c.append("INBOX", None, None, build(f"index-{how}", 999))
    m = re.search(rb"APPENDUID (\d+) (\d+)", data[1][0])
    if not m or int(m.group(1)) != after["INBOX"][0] or int(m.group(2)) < after["INBOX"][1]:
        problems.append(f"APPEND after the rebuild: {data}, INBOX UIDVALIDITY/UIDNEXT {after['INBOX'][:2]}")
    c.logout()
    uvs = {f: (before[f][0], after[f][0]) for f in INDEX_FOLDERS}
    print(f"index {how}: UIDVALIDITY before -> after per folder: {uvs}")
    if how != "deleted":
        aside = [p.name for p in mk.maildir("anna").iterdir() if p.name.startswith("mailkeep-index.db.corrupt-")]
        if not aside:
            problems.append("a corrupt index was not moved aside (mailkeep-index.db.corrupt-<time>)")
        if all(a == b for a, b in uvs.values()):
            problems.append("an unreadable index was 'rebuilt' with every UIDVALIDITY unchanged")
    assert not problems, "\n".join(problems) + f"\n--- log ---\n{mk.log_tail(30)}"
