# tests/blackbox/test_imap_mbsync.py — the IMAP server (issue 12) with isync's mbsync (written
# elsewhere) as the client: a full two-way sync of 200 messages in seven folders (INBOX, the
# special-use ones, a created folder and its child on the server, a folder that exists only in the
# local Maildir) with flags into mbsync's own MaildirStore; then changes on both sides (locally: a
# flag set, a message seen, one deleted, one moved to another folder, one added; on the server over
# imaplib: seen, expunged, \Deleted without expunge, MOVE, new SMTP mail, a new folder, a flag on a
# message mbsync uploaded) and a second sync, after which both sides hold the same messages (bytes
# and Message-IDs) with the same flags in every folder; a third sync changes nothing. Also a short
# sync over STARTTLS and over IMAPS with the test certificate as CertificateFile.
# The server side is read with imaplib, the local side from the Maildir files (imapsync.py).
import re
import shutil
import subprocess

import pytest

from harness import DEFAULT_USERS
from imapsync import (assert_agree, counts, deliver, imap, maildir_files_by_msgid, maildir_folder_state,
                      message, normalized, ok, server_state, set_maildir_flags, uid_of, write_local)

MBSYNC = shutil.which("mbsync")
pytestmark = pytest.mark.skipif(MBSYNC is None, reason="mbsync (isync) is not installed")

ANNA_PW = DEFAULT_USERS["anna"][0]
MBSYNC_DEADLINE = 180   # seconds for one mbsync run over a few hundred messages (2 shared cores)

# transport -> the IMAPAccount lines that choose it
TRANSPORTS = {
    "plain": "SSLType None\nAuthMechs LOGIN",
    "starttls": "SSLType STARTTLS\nCertificateFile {cert}\nAuthMechs PLAIN",
    "imaps": "SSLType IMAPS\nCertificateFile {cert}",
}


def write_config(tmp_path, mk, tls_pair, transport="plain", channel_extra=""):
    """write_config - an mbsyncrc for anna on mk into tmp_path: all folders, both directions, with
    creation, removal and expunge on both sides; returns (rc file, local Maildir root)."""
    local = tmp_path / "local-mail"
    local.mkdir(exist_ok=True)
    port = mk.ports["imaps" if transport == "imaps" else "imap"]
    # mbsync 1.4 matches the certificate against DNS names only (not the IP address SAN): over TLS
    # it connects to "localhost", which the test certificate names (mailkeep listens on 127.0.0.1).
    host = "127.0.0.1" if transport == "plain" else "localhost"
    rc = tmp_path / "mbsyncrc"
    rc.write_text(f"""\
IMAPAccount mk
Host {host}
Port {port}
User anna
Pass {ANNA_PW}
{TRANSPORTS[transport].format(cert=tls_pair[0])}
Timeout 60

IMAPStore mk-far
Account mk

MaildirStore mk-near
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel mk
Far :mk-far:
Near :mk-near:
Patterns *
Create Both
Remove Both
Expunge Both
Sync All
SyncState *
{channel_extra}""")
    return rc, local


def protocol_excerpt(log, n=80):
    """protocol_excerpt - the last n IMAP lines (">>>" client, the rest server) and every error line
    of an mbsync -D log."""
    lines = log.splitlines()
    proto = [l for l in lines if re.match(r"^[FN]: (>>>|\* |\+ |[0-9]+ (OK|NO|BAD))", l)]
    errors = [l for l in lines if re.search(r"error|Error|IMAP command|unexpected|Warning", l)]
    return "\n".join(proto[-n:] + ["--- errors/warnings ---"] + errors[-30:])


def mbsync(rc, log_path):
    """mbsync - one run of `mbsync -D -a` (the debug log to log_path); returns (returncode, log)."""
    with open(log_path, "w") as out:
        r = subprocess.run([MBSYNC, "-c", str(rc), "-D", "-a"], stdin=subprocess.DEVNULL, stdout=out,
                           stderr=subprocess.STDOUT, timeout=MBSYNC_DEADLINE)
    return r.returncode, log_path.read_text(errors="replace")


def sync_ok(rc, log_path):
    code, log = mbsync(rc, log_path)
    assert code == 0, f"mbsync exited {code}; log {log_path}:\n{protocol_excerpt(log)}"
    return log


def local_state(local):
    """local_state - {folder: {Message-ID: (flags, bytes)}} of mbsync's Verbatim Maildir tree, the
    folder named as the server names it (hierarchy separator ".")."""
    state = {}
    for cur in sorted(local.rglob("cur")):
        folder = cur.parent.relative_to(local).as_posix().replace("/", ".")
        state[folder] = maildir_folder_state(cur.parent)
    return state


def test_two_way_sync_of_200_messages_in_several_folders(mailkeep, tmp_path, tls_pair):
    mk = mailkeep
    # --- the server: 140 by SMTP into INBOX, spread over folders; 30 appended; flags ------------------
    inbox_msgs = [message("smtp", i) for i in range(140)]
    deliver(mk, inbox_msgs)
    c = imap(mk)
    ok(c.create("Projects"))
    ok(c.create("Projects.2024"))
    ok(c.select("INBOX"))
    ok(c.uid("MOVE", "1:40", "Archive"))
    ok(c.uid("MOVE", "41:60", "Projects"))
    ok(c.uid("MOVE", "61:70", '"Projects.2024"'))
    ok(c.uid("STORE", "71:100", "+FLAGS.SILENT", "(\\Seen)"))
    ok(c.uid("STORE", "95:105", "+FLAGS.SILENT", "(\\Flagged)"))
    ok(c.uid("STORE", "110:112", "+FLAGS.SILENT", "(\\Answered \\Seen)"))
    for i in range(30):
        flags = "(\\Seen)" if i % 3 else "(\\Seen \\Flagged)"
        ok(c.append("Archive", flags, None, message("appended", i, "Archive")))
    ok(c.select("Projects"))
    ok(c.store("1:5", "+FLAGS.SILENT", "(\\Draft)"))
    c.logout()
    # --- the local side: a folder only mbsync's Maildir has (20 new, 10 seen) -------------------------
    rc, local = write_config(tmp_path, mk, tls_pair)
    for i in range(30):
        write_local(local / "Notes", message("local", i, "Notes"), flags="S" if i >= 20 else "")
    # --- first sync: everything both ways ---------------------------------------------------------
    sync_ok(rc, tmp_path / "mbsync-1.log")
    first = assert_agree(mk, local_state(local), "after the first sync")
    assert counts(first) == {"Archive": 70, "Drafts": 0, "INBOX": 70, "Junk": 0, "Notes": 30, "Projects": 20,
                             "Projects.2024": 10, "Sent": 0, "Trash": 0}, counts(first)
    assert sum(counts(first).values()) == 200
    # --- changes on the local side ----------------------------------------------------------------
    inbox = maildir_files_by_msgid(local / "INBOX")
    unflagged = sorted(m for m, (f, _) in first["INBOX"].items() if not f)
    x, y, z, w = unflagged[:4]           # flag, seen, delete, move to Archive
    a, d = unflagged[4], unflagged[5]    # server: seen, move to Projects
    set_maildir_flags(inbox[x], {"\\Flagged"})
    set_maildir_flags(inbox[y], {"\\Seen"})
    inbox[z].unlink()
    moved = local / "Archive" / "cur" / re.sub(r",U=\d+", "", inbox[w].name)
    inbox[w].rename(moved)               # a mail reader's move: a new file there, gone here
    added = message("local-new", 0, "Projects")
    write_local(local / "Projects", added)
    # --- changes on the server --------------------------------------------------------------------
    archive_ids = sorted(first["Archive"])
    b, c_del = archive_ids[0], archive_ids[1]
    notes_e = sorted(first["Notes"])[0]
    c = imap(mk)

    ok(c.select("INBOX"))
    ok(c.uid("STORE", uid_of(c, a), "+FLAGS.SILENT", "(\\Seen)"))
    ok(c.uid("MOVE", uid_of(c, d), "Projects"))
    ok(c.select("Archive"))
    ok(c.uid("STORE", uid_of(c, b), "+FLAGS.SILENT", "(\\Deleted)"))
    ok(c.expunge())
    ok(c.uid("STORE", uid_of(c, c_del), "+FLAGS.SILENT", "(\\Deleted)"))   # left for mbsync to expunge
    ok(c.select("Notes"))
    ok(c.uid("STORE", uid_of(c, notes_e), "+FLAGS.SILENT", "(\\Answered)"))
    ok(c.create("Travel"))
    travel = [message("travel", i, "Travel") for i in range(2)]
    for m in travel:
        ok(c.append("Travel", None, None, m))
    c.logout()
    new_mail = [message("late", i) for i in range(10)]
    deliver(mk, new_mail)
    # --- second sync: both sides agree, and each change went where it should -----------------------
    sync_ok(rc, tmp_path / "mbsync-2.log")
    second = assert_agree(mk, local_state(local), "after the second sync")
    assert second["INBOX"][x][0] == {"\\Flagged"}
    assert second["INBOX"][y][0] == {"\\Seen"}
    assert z not in second["INBOX"] and all(z not in box for box in second.values()), "locally deleted message"
    assert w not in second["INBOX"] and w in second["Archive"], "locally moved message"
    assert added.replace(b"\r\n", b"\n") in [raw for _, raw in second["Projects"].values()] or \
        any(mid.startswith("<local-new.0.") for mid in second["Projects"]), "locally added message"
    assert second["INBOX"][a][0] == {"\\Seen"}
    assert d not in second["INBOX"] and d in second["Projects"]
    assert b not in second["Archive"] and c_del not in second["Archive"]
    assert second["Notes"][notes_e][0] == {"\\Answered"} | first["Notes"][notes_e][0]
    assert len(second["Travel"]) == 2
    assert counts(second) == {"Archive": 69, "Drafts": 0, "INBOX": 70 - 3 + 10, "Junk": 0, "Notes": 30,
                              "Projects": 22, "Projects.2024": 10, "Sent": 0, "Trash": 0, "Travel": 2}, counts(second)
    # --- a third sync has nothing to do ----------------------------------------------------------------
    sync_ok(rc, tmp_path / "mbsync-3.log")
    third = assert_agree(mk, local_state(local), "after the third sync")
    assert third == second


@pytest.mark.parametrize("transport", ["starttls", "imaps"])
def test_sync_over_tls_with_the_certificate_file(mailkeep, tmp_path, tls_pair, transport):
    mk = mailkeep
    deliver(mk, [message("tls", i) for i in range(5)])
    rc, local = write_config(tmp_path, mk, tls_pair, transport)
    sync_ok(rc, tmp_path / "mbsync.log")
    state = assert_agree(mk, local_state(local), f"after a sync over {transport}")
    assert len(state["INBOX"]) == 5


def test_arrival_dates_size_limit_and_a_non_ascii_folder(mailkeep, tmp_path, tls_pair):
    """CopyArrivalDate: INTERNALDATE -> file time and back (APPEND with a date-time); MaxSize: the
    big message comes as a placeholder (BODY.PEEK[HEADER] and RFC822.SIZE), the server keeps it
    whole; a folder named in modified UTF-7 (Entwürfe) syncs both ways."""
    import imaplib
    import os
    import time
    mk = mailkeep
    old = time.time() - 40 * 86400
    c = imap(mk)
    ok(c.create("Entw&APw-rfe"))
    ok(c.append("Entw&APw-rfe", "(\\Seen)", imaplib.Time2Internaldate(old), message("old", 0, "Entwuerfe")))
    big = message("big", 0) + b"".join(b"%06d " % i + b"z" * 70 + b"\r\n" for i in range(4000))
    ok(c.append("INBOX", None, None, big))
    c.logout()
    rc, local = write_config(tmp_path, mk, tls_pair, channel_extra="CopyArrivalDate yes\nMaxSize 100k\n")
    sync_ok(rc, tmp_path / "mbsync-1.log")
    files = maildir_files_by_msgid(local / "Entw&APw-rfe")
    assert len(files) == 1
    (f,) = files.values()
    assert abs(f.stat().st_mtime - old) < 2, "CopyArrivalDate: the file's time is the INTERNALDATE"
    (placeholder,) = maildir_files_by_msgid(local / "INBOX").values()
    assert placeholder.stat().st_size < 100 * 1024 < len(big)
    # A message filed locally with a date of its own reaches the server with that INTERNALDATE.
    when = 1735819200   # 2025-01-02 12:00:00 UTC
    mine = write_local(local / "Entw&APw-rfe", message("mine", 0, "Entwuerfe"), flags="S")
    os.utime(mine, (when, when))
    sync_ok(rc, tmp_path / "mbsync-2.log")
    c = imap(mk)
    ok(c.select("Entw&APw-rfe", readonly=True))
    data = ok(c.fetch("1:*", "(INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    dates = {}
    for item in data:
        if isinstance(item, tuple):
            m = re.search(rb'INTERNALDATE "([^"]+)"', item[0])
            dates[item[1].strip().decode()] = imaplib.Internaldate2tuple(b'INTERNALDATE "' + m.group(1) + b'"')
    c.logout()
    assert len(dates) == 2, dates
    got = {subject: time.mktime(t) for subject, t in dates.items()}
    assert abs(got["Subject: mine 0 for Entwuerfe"] - when) < 2, got
    assert abs(got["Subject: old 0 for Entwuerfe"] - old) < 2, got
    (kept,) = server_state(mk)["INBOX"].values()
    assert kept[1] == normalized(big), "the server keeps the big message whole"
