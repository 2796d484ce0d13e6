# tests/blackbox/test_imap_dovecot_imapc.py — the IMAP server (issue 12) with Dovecot 2.3 as its IMAP
# *client*: Dovecot's imapc storage reads mailkeep, and `doveadm backup -R imapc:` (dsync) copies every
# folder into a Maildir of Dovecot's own, as an admin migrating away from (or backing up) mailkeep does.
# A few hundred messages in INBOX, Sent, Archive, a nested Projects.2026 and a folder with a non-ASCII
# name (Entwürfe, modified UTF-7 on the wire), APPENDed with flags, keywords and INTERNALDATEs, some
# SMTP-delivered, some flags and keywords changed afterwards with STORE. Then every folder, message
# bytes, system flags, keywords, INTERNALDATE, RFC822.SIZE, UIDs and UIDVALIDITY on Dovecot's side must
# equal mailkeep's. A second backup after changes on mailkeep (expunges, flag and keyword changes, new
# mail, a new folder) brings Dovecot's copy equal again; a third changes nothing.
# mailkeep is read over imaplib (EXAMINE, BODY.PEEK); Dovecot's copy from its Maildir files.
#
# Deliberate differences (not compared as octets, each for a reason that is Dovecot's, not mailkeep's):
# - line ends: Dovecot's Maildir saves LF (it strips the CR), so bytes are compared with CRLF -> LF;
#   the CRLF size Dovecot records in the name (",W=") must still equal mailkeep's RFC822.SIZE.
# - \Recent is not compared (a session property; Maildir has no letter for it).
# - keywords are compared as sets of names, case kept: Dovecot keeps them in dovecot-keywords, named
#   by a letter in the file name.
# - a parent level that mailkeep lists as \Noselect (none here: Projects exists as a folder) would be
#   a plain empty folder in Dovecot's Maildir++.
import imaplib
import os
import re
import subprocess
import time
from pathlib import Path

from dovecot import DOVEADM, UNPRIVILEGED, make_traversable
from harness import DEFAULT_USERS, make_message
from imapsync import decode_mutf7, deliver, imap, list_folders, message, msgid_of, ok

ANNA_PW = DEFAULT_USERS["anna"][0]
BACKUP_DEADLINE = 120   # seconds for one doveadm backup of a few hundred messages (2 shared cores)
NON_ASCII = "Entw&APw-rfe"   # "Entwürfe", RFC 3501 5.1.3
FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
LETTER_FLAGS = {v: k for k, v in FLAG_LETTERS.items()}

# A doveadm-only configuration (no Dovecot daemon: dsync runs in the doveadm process). Without -u,
# doveadm takes the user from $USER and $HOME (no userdb, so no auth service is needed); mail_uid and
# mail_gid are the uid it drops to. imapc reads mailkeep in plaintext on loopback.
CONFIG = """\
# written by tests/blackbox/test_imap_dovecot_imapc.py
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 0
first_valid_gid = 0
mail_fsync = never
imapc_host = 127.0.0.1
imapc_port = {port}
imapc_user = anna
imapc_password = {password}
imapc_ssl = no
imapc_features = rfc822.size fetch-headers
# several FETCHes in flight at once, as a migration is run
mail_prefetch_count = 20
"""


class DoveadmImapc:
    """DoveadmImapc - a Dovecot Maildir for anna under root, filled from mk by `doveadm backup -R imapc:`."""

    def __init__(self, root, mk):
        self.root = Path(root)
        (self.root / "mail").mkdir(parents=True)
        if os.geteuid() == 0:   # Dovecot refuses to run mail processes as root (dovecot.py)
            uid = gid = UNPRIVILEGED
            os.chown(self.root / "mail", uid, gid)
            make_traversable(self.root / "mail")
        else:
            uid, gid = os.getuid(), os.getgid()
        self.config = self.root / "dovecot.conf"
        self.config.write_text(CONFIG.format(root=self.root, uid=uid, gid=gid, port=mk.ports["imap"],
                                             password=ANNA_PW))
        self.maildir = self.root / "mail" / "anna"

    def backup(self):
        """backup - one `doveadm -v backup -R imapc:`; asserts exit 0 and no error; returns its output."""
        env = dict(os.environ, USER="anna", HOME=str(self.root / "home"))
        r = subprocess.run([DOVEADM, "-c", str(self.config), "-v", "backup", "-R", "imapc:"], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BACKUP_DEADLINE)
        out = r.stdout + r.stderr
        assert r.returncode == 0, f"doveadm backup exited {r.returncode}:\n{out[-6000:]}"
        errors = [line for line in out.splitlines() if re.search(r"Error:|Panic:|Fatal:|Warning:", line)]
        assert not errors, "doveadm backup reported:\n" + "\n".join(errors[:40])
        return out

    def subscriptions(self):
        """subscriptions - the names in Dovecot's subscriptions file (version 2: a tab separates the
        levels of a name, written here as mailkeep's ".")."""
        lines = (self.maildir / "subscriptions").read_text().splitlines()
        assert lines[0] == "V\t2", lines[:2]
        return {line.replace("\t", ".") for line in lines[1:] if line}

    def state(self):
        """state - {folder: Folder} read from Dovecot's Maildir++ files (folder names decoded)."""
        out = {"INBOX": read_dovecot_folder(self.maildir)}
        for d in sorted(self.maildir.iterdir()):
            if d.is_dir() and d.name.startswith(".") and d.name not in (".", ".."):
                out[decode_mutf7(d.name[1:])] = read_dovecot_folder(d)
        return out


class Message:
    """Message - what both sides must agree on for one message."""

    def __init__(self, uid, flags, keywords, internal_date, size, raw_lf):
        self.uid, self.flags, self.keywords = uid, frozenset(flags), frozenset(keywords)
        self.internal_date, self.size, self.raw_lf = int(internal_date), size, raw_lf

    def differences(self, other):
        out = []
        for what in ("uid", "flags", "keywords", "internal_date", "size"):
            a, b = getattr(self, what), getattr(other, what)
            if a != b:
                out.append(f"{what}: mailkeep {sorted(a) if isinstance(a, frozenset) else a} "
                           f"dovecot {sorted(b) if isinstance(b, frozenset) else b}")
        if self.raw_lf != other.raw_lf:
            out.append(f"bytes: mailkeep {self.raw_lf[:200]!r} dovecot {other.raw_lf[:200]!r}")
        return out


def read_dovecot_folder(path):
    """read_dovecot_folder - (uidvalidity, {Message-ID: Message}) of one Dovecot Maildir folder: UIDs and
    UIDVALIDITY from dovecot-uidlist, keyword letters from dovecot-keywords, system flags from the
    file name, INTERNALDATE from the file's mtime, the CRLF size from ",W=", the bytes as saved (LF)."""
    uidlist = (path / "dovecot-uidlist").read_text().splitlines()
    m = re.match(r"3 V(\d+) ", uidlist[0])
    assert m, f"{path}: dovecot-uidlist header {uidlist[0]!r}"
    uidvalidity = int(m.group(1))
    uids = {}
    for line in uidlist[1:]:
        uid, _, name = line.partition(":")   # "UID [extensions] :NAME"
        uids[name.split(":2,")[0]] = int(uid.split()[0])
    keyword_names = {}
    kw_file = path / "dovecot-keywords"
    if kw_file.exists():
        for line in kw_file.read_text().splitlines():
            idx, _, name = line.partition(" ")
            keyword_names[chr(ord("a") + int(idx))] = name
    box = {}
    for sub in ("new", "cur"):
        for f in sorted((path / sub).iterdir()):
            base, _, info = f.name.partition(":2,")
            raw = f.read_bytes()
            mid = msgid_of(raw)
            assert mid not in box, f"{path}: {mid} twice in Dovecot's Maildir"
            w = re.search(r",W=(\d+)", base)
            assert w, f"{path}: {f.name} has no W= size"
            assert base in uids, f"{path}: {f.name} not in dovecot-uidlist"
            flags = {LETTER_FLAGS[ch] for ch in info if ch in LETTER_FLAGS}
            keywords = {keyword_names[ch] for ch in info if ch.islower()}
            box[mid] = Message(uids[base], flags, keywords, f.stat().st_mtime, int(w.group(1)), raw)
    return uidvalidity, box


def mailkeep_state(mk):
    """mailkeep_state - {folder: (uidvalidity, {Message-ID: Message})} over imaplib, folder names
    decoded; EXAMINE and BODY.PEEK change nothing."""
    c = imap(mk)
    out = {}
    try:
        for folder in list_folders(c):
            typ, data = c.select(f'"{folder}"', readonly=True)
            assert typ == "OK", (folder, data)
            uidvalidity = int(c.untagged_responses["UIDVALIDITY"][-1])
            box = {}
            if int(data[0]) > 0:
                for item in ok(c.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")):
                    if not isinstance(item, tuple):
                        continue
                    meta, raw = item
                    flags_m = re.search(rb"FLAGS \(([^)]*)\)", meta)
                    uid = int(re.search(rb"UID (\d+)", meta).group(1))
                    size = int(re.search(rb"RFC822.SIZE (\d+)", meta).group(1))
                    date = time.mktime(imaplib.Internaldate2tuple(meta))
                    names = flags_m.group(1).decode().split()
                    flags = {f for f in names if f.startswith("\\") and f != "\\Recent"}
                    keywords = {f for f in names if not f.startswith("\\")}
                    mid = msgid_of(raw)
                    assert mid not in box, f"{folder}: {mid} twice on mailkeep"
                    assert size == len(raw), f"{folder} UID {uid}: RFC822.SIZE {size} but {len(raw)} octets"
                    box[mid] = Message(uid, flags, keywords, date, size, raw.replace(b"\r\n", b"\n"))
            out[decode_mutf7(folder)] = (uidvalidity, box)
            c.close()
    finally:
        c.logout()
    return out


def mailkeep_subscriptions(mk):
    """mailkeep_subscriptions - the names LSUB "" * lists (modified UTF-7, as Dovecot stores them)."""
    c = imap(mk)
    try:
        names = set()
        for line in ok(c.lsub('""', "*")):
            m = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) "?(.*?)"?$', line)
            assert m, line
            names.add(m.group(1).decode())
        return names
    finally:
        c.logout()


def differences(source, copy):
    """differences - where Dovecot's copy differs from mailkeep's folders, in words."""
    out = []
    for folder in sorted(set(source) | set(copy)):
        if folder not in copy:
            out.append(f"{folder}: not copied ({len(source[folder][1])} messages on mailkeep)")
            continue
        if folder not in source:
            out.append(f"{folder}: only in Dovecot's copy ({len(copy[folder][1])} messages)")
            continue
        (sv, s), (cv, c) = source[folder], copy[folder]
        if sv != cv:
            out.append(f"{folder}: UIDVALIDITY mailkeep {sv} dovecot {cv}")
        for mid in sorted(set(s) - set(c)):
            out.append(f"{folder}: {mid} (UID {s[mid].uid}) not copied")
        for mid in sorted(set(c) - set(s)):
            out.append(f"{folder}: {mid} only in Dovecot's copy")
        for mid in sorted(set(s) & set(c)):
            out += [f"{folder}: {mid}: {d}" for d in s[mid].differences(c[mid])]
    return out


def assert_equal_copy(mk, dc, when):
    source = mailkeep_state(mk)
    diff = differences(source, dc.state())
    assert not diff, f"{when}: Dovecot's copy differs from mailkeep ({len(diff)}):\n" + "\n".join(diff[:40])
    return source


# folder -> how many messages are APPENDed to it
FOLDERS = {"INBOX": 100, "Sent": 60, "Archive": 50, "Projects": 10, "Projects.2026": 40, NON_ASCII: 30}
KEYWORDS = ["$Forwarded", "$Junk", "$NotJunk", "Projekt-X", "$MDNSent"]
SYSTEM = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft"]


def flags_for(i):
    """flags_for - a deterministic mix of system flags and keywords for message i (some none)."""
    chosen = [f for k, f in enumerate(SYSTEM) if (i >> k) & 1]
    if i % 23 == 5:
        chosen.append("\\Deleted")   # left unexpunged: a client's \Deleted is a flag like any other
    chosen += [kw for k, kw in enumerate(KEYWORDS) if i % (k + 3) == 0]
    return chosen


def body_variant(folder, i):
    """body_variant - a message; every 25th is 8-bit, every 40th about 150 KB, others small with a dot line."""
    m = message("imapc", i, folder)
    if i % 25 == 3:
        return make_message(f"Grüße {i}", "Übermorgen früh\r\nÄrger? Nein.\r\n".encode(),
                            msgid=f"<imapc-8bit.{i}.{folder.replace('&', '_')}@sync.test>",
                            extra_headers=("Content-Type: text/plain; charset=utf-8",
                                           "Content-Transfer-Encoding: 8bit"))
    if i % 40 == 7:
        return m + b"".join(b"%05d " % k + b"y" * 90 + b"\r\n" for k in range(1500))
    return m


def fill(mk):
    """fill - the folders of FOLDERS with APPENDed messages (flags, keywords, dates 1..60 days old), 20
    more delivered over SMTP into INBOX, then a few STOREs on both kinds; returns the count."""
    deliver(mk, [message("smtp", i) for i in range(20)])
    now = int(time.time())
    c = imap(mk)
    total = 20
    for folder in FOLDERS:
        if folder not in ("INBOX", "Sent", "Archive"):
            ok(c.create(folder))
        for i in range(FOLDERS[folder]):
            flags = flags_for(i)
            date = imaplib.Time2Internaldate(now - 86400 * (1 + i % 60) - i * 37)
            ok(c.append(f'"{folder}"', f"({' '.join(flags)})" if flags else None, date, body_variant(folder, i)))
            total += 1
    ok(c.subscribe("Projects.2026"))
    ok(c.subscribe(NON_ASCII))
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1:10", "+FLAGS.SILENT", "(\\Seen $Forwarded Projekt-X)"))   # SMTP-delivered ones
    ok(c.uid("STORE", "5:8", "-FLAGS.SILENT", "(Projekt-X)"))
    ok(c.uid("STORE", "30:40", "FLAGS.SILENT", "(\\Answered $Label1)"))
    c.logout()
    return total


def change(mk):
    """change - changes on mailkeep between two backups: expunge, flags and keywords set and cleared,
    a MOVE, new APPENDs and SMTP mail, a new folder."""
    c = imap(mk)
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "11:15", "+FLAGS.SILENT", "(\\Deleted)"))
    ok(c.expunge())
    ok(c.uid("STORE", "16:20", "+FLAGS.SILENT", "(\\Flagged $Junk)"))
    ok(c.uid("STORE", "30:33", "-FLAGS.SILENT", "(\\Answered $Label1)"))
    ok(c.uid("MOVE", "21:25", "Archive"))
    ok(c.select('"Projects.2026"'))
    ok(c.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Seen)"))
    ok(c.create("Travel"))
    ok(c.subscribe("Travel"))
    ok(c.unsubscribe("Projects.2026"))
    for i in range(5):
        ok(c.append("Travel", "(\\Seen $Reise)", None, message("travel", i, "Travel")))
    c.logout()
    deliver(mk, [message("late", i) for i in range(5)])


def test_doveadm_backup_over_imapc_copies_every_folder(mailkeep, tmp_path):
    mk = mailkeep
    total = fill(mk)
    dc = DoveadmImapc(tmp_path / "dovecot", mk)
    t0 = time.monotonic()
    dc.backup()
    took = time.monotonic() - t0
    source = assert_equal_copy(mk, dc, "after the first backup")
    assert set(source) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Projects", "Projects.2026",
                           "Entwürfe"}, sorted(source)
    assert sum(len(box) for _, box in source.values()) == total
    # What the test meant to put there is there (so equality above is not the equality of two empties).
    assert len(source["Entwürfe"][1]) == FOLDERS[NON_ASCII]
    assert any(m.keywords for _, box in source.values() for m in box.values())
    assert any("\\Deleted" in m.flags for _, box in source.values() for m in box.values())
    assert (dc.maildir / f".{NON_ASCII}").is_dir()
    assert dc.subscriptions() == mailkeep_subscriptions(mk) >= {"INBOX", "Projects.2026", NON_ASCII}
    print(f"first backup: {total} messages in {took:.1f} s")

    change(mk)
    dc.backup()
    second = assert_equal_copy(mk, dc, "after changes on mailkeep and a second backup")
    assert len(second["Travel"][1]) == 5 and all("$Reise" in m.keywords for m in second["Travel"][1].values())
    # change() expunged UIDs 11:15 and what was \Deleted in INBOX already, and added 5 + 5
    expunged = [m for m in source["INBOX"][1].values() if 11 <= m.uid <= 15 or "\\Deleted" in m.flags]
    assert sum(len(box) for _, box in second.values()) == total - len(expunged) + 5 + 5
    assert dc.subscriptions() == mailkeep_subscriptions(mk)
    assert "Travel" in dc.subscriptions() and "Projects.2026" not in dc.subscriptions()

    dc.backup()
    third = assert_equal_copy(mk, dc, "after a third backup without changes")
    assert differences(second, third) == []
