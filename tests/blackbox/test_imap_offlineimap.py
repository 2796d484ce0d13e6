# tests/blackbox/test_imap_offlineimap.py — the IMAP server (issue 12) with offlineimap3 (written
# elsewhere, on Python's imaplib2) as the client: a two-way sync of 100 messages in INBOX, Archive,
# a created folder and its child and a folder that exists only locally, with flags, into
# offlineimap's Maildir; then changes on both sides (locally: flagged, seen, deleted, moved, added;
# on the server over imaplib: seen, expunged, MOVE, new SMTP mail, a new folder) and a second
# sync, after which both sides hold the same messages (bytes and Message-IDs) with the same flags in
# every folder; a third sync changes nothing. offlineimap runs one-shot: -c FILE -o -u basic.
import re
import shutil
import subprocess
import threading

import pytest

from harness import DEFAULT_USERS
from imapsync import (assert_agree, counts, decode_mutf7, deliver, describe_difference, imap,
                      maildir_files_by_msgid, maildir_folder_state, message, ok, server_state,
                      set_maildir_flags, uid_of, write_local)

OFFLINEIMAP = shutil.which("offlineimap")
pytestmark = pytest.mark.skipif(OFFLINEIMAP is None, reason="offlineimap (offlineimap3) is not installed")

ANNA_PW = DEFAULT_USERS["anna"][0]
OFFLINEIMAP_DEADLINE = 180   # seconds for one run over ~100 messages (2 shared cores)


def write_config(tmp_path, mk, tls_pair, transport="plain", account_extra="", remote_extra="", connections=1):
    """write_config - an offlineimaprc for anna on mk (all folders, both ways, folders created on
    either side); returns (config file, local Maildir root)."""
    local = tmp_path / "local-mail"
    local.mkdir(exist_ok=True)
    if transport == "plain":
        tls = "ssl = no\nstarttls = no"
        port = mk.ports["imap"]
    elif transport == "starttls":
        tls = f"ssl = no\nstarttls = yes\nsslcacertfile = {tls_pair[0]}"
        port = mk.ports["imap"]
    else:
        tls = f"ssl = yes\nsslcacertfile = {tls_pair[0]}"
        port = mk.ports["imaps"]
    # offlineimap's certificate check matches DNS names only (not the IP address SAN): over TLS it
    # connects to "localhost", which the test certificate names (mailkeep listens on 127.0.0.1).
    host = "127.0.0.1" if transport == "plain" else "localhost"
    rc = tmp_path / "offlineimaprc"
    rc.write_text(f"""\
[general]
accounts = mk
metadata = {tmp_path}/offlineimap-meta
maxsyncaccounts = 1

[Account mk]
localrepository = mk-local
remoterepository = mk-remote
{account_extra}
[Repository mk-local]
type = Maildir
localfolders = {local}
sep = .

[Repository mk-remote]
type = IMAP
remotehost = {host}
remoteport = {port}
remoteuser = anna
remotepass = {ANNA_PW}
{tls}
maxconnections = {connections}
createfolders = True
expunge = yes
{remote_extra}""")
    return rc, local


def offlineimap(rc, log_path):
    """offlineimap - one one-shot run with the IMAP protocol logged (-d imap) into log_path; returns
    (returncode, log)."""
    with open(log_path, "w") as out:
        r = subprocess.run([OFFLINEIMAP, "-c", str(rc), "-o", "-u", "basic", "-d", "imap"],
                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                           timeout=OFFLINEIMAP_DEADLINE)
    return r.returncode, log_path.read_text(errors="replace")


def excerpt(log, n=80):
    lines = log.splitlines()
    errors = [l for l in lines if re.search(r"ERROR|Error|error|Traceback|abort|BAD|WARNING", l)]
    proto = [l for l in lines if re.search(r" (writer > |reader < )", l)]
    return "\n".join(proto[-n:] + ["--- errors ---"] + errors[-40:])


def sync_ok(rc, log_path):
    code, log = offlineimap(rc, log_path)
    bad = [l for l in log.splitlines() if re.search(r"\bERROR\b|Traceback", l)]
    assert code == 0 and not bad, f"offlineimap exited {code}; log {log_path}:\n{excerpt(log)}"
    return log


def local_state(local):
    """local_state - {folder: {Message-ID: (flags, bytes)}} of offlineimap's Maildir (sep ".": a
    folder's directory name is its IMAP name)."""
    return {cur.parent.name: maildir_folder_state(cur.parent) for cur in sorted(local.glob("*/cur"))}


def test_two_way_sync_of_100_messages(mailkeep, tmp_path, tls_pair):
    mk = mailkeep
    deliver(mk, [message("smtp", i) for i in range(80)], batch=40)
    c = imap(mk)
    ok(c.create("Projects"))
    ok(c.create("Projects.2024"))
    ok(c.select("INBOX"))
    ok(c.uid("MOVE", "1:25", "Archive"))
    ok(c.uid("MOVE", "26:35", "Projects"))
    ok(c.uid("MOVE", "36:40", '"Projects.2024"'))
    ok(c.uid("STORE", "41:55", "+FLAGS.SILENT", "(\\Seen)"))
    ok(c.uid("STORE", "50:60", "+FLAGS.SILENT", "(\\Flagged)"))
    ok(c.uid("STORE", "61:62", "+FLAGS.SILENT", "(\\Answered \\Seen)"))
    ok(c.select("Archive"))
    ok(c.store("1:10", "+FLAGS.SILENT", "(\\Seen)"))
    c.logout()
    rc, local = write_config(tmp_path, mk, tls_pair)
    for i in range(20):
        write_local(local / "Notes", message("local", i, "Notes"), flags="S" if i >= 15 else "")
    # --- first sync -------------------------------------------------------------------------------
    sync_ok(rc, tmp_path / "offlineimap-1.log")
    first = assert_agree(mk, local_state(local), "after the first sync")
    assert counts(first) == {"Archive": 25, "Drafts": 0, "INBOX": 40, "Junk": 0, "Notes": 20, "Projects": 10,
                             "Projects.2024": 5, "Sent": 0, "Trash": 0}, counts(first)
    # --- changes on the local side ----------------------------------------------------------------
    inbox = maildir_files_by_msgid(local / "INBOX")
    unflagged = sorted(m for m, (f, _) in first["INBOX"].items() if not f)
    x, y, z, w, a, d = unflagged[:6]
    set_maildir_flags(inbox[x], {"\\Flagged"})
    set_maildir_flags(inbox[y], {"\\Seen"})
    inbox[z].unlink()
    # a mail reader's move: a new file in Archive (offlineimap's U= and FMD5= taken off its name)
    moved_name = re.sub(r",(U|FMD5)=[^,:]*", "", inbox[w].name)
    inbox[w].rename(local / "Archive" / "cur" / moved_name)
    write_local(local / "Projects", message("local-new", 0, "Projects"))
    # --- changes on the server --------------------------------------------------------------------
    b = sorted(first["Archive"])[0]
    c = imap(mk)

    ok(c.select("INBOX"))
    ok(c.uid("STORE", uid_of(c, a), "+FLAGS.SILENT", "(\\Seen)"))
    ok(c.uid("MOVE", uid_of(c, d), "Projects"))
    ok(c.select("Archive"))
    ok(c.uid("STORE", uid_of(c, b), "+FLAGS.SILENT", "(\\Deleted)"))
    ok(c.expunge())
    ok(c.create("Travel"))
    ok(c.append("Travel", "(\\Seen)", None, message("travel", 0, "Travel")))
    c.logout()
    deliver(mk, [message("late", i) for i in range(5)])
    # --- second sync ------------------------------------------------------------------------------
    sync_ok(rc, tmp_path / "offlineimap-2.log")
    second = assert_agree(mk, local_state(local), "after the second sync")
    assert second["INBOX"][x][0] == {"\\Flagged"}
    assert second["INBOX"][y][0] == {"\\Seen"}
    assert all(z not in box for box in second.values()), "the locally deleted message"
    assert w not in second["INBOX"] and w in second["Archive"], "the locally moved message"
    assert any(mid.startswith("<local-new.0.") for mid in second["Projects"]), "the locally added message"
    assert second["INBOX"][a][0] == {"\\Seen"}
    assert d not in second["INBOX"] and d in second["Projects"]
    assert b not in second["Archive"]
    assert len(second["Travel"]) == 1
    assert counts(second) == {"Archive": 25, "Drafts": 0, "INBOX": 40 - 3 + 5, "Junk": 0, "Notes": 20,
                              "Projects": 12, "Projects.2024": 5, "Sent": 0, "Trash": 0, "Travel": 1}, counts(second)
    # --- a third sync has nothing to do ------------------------------------------------------------
    sync_ok(rc, tmp_path / "offlineimap-3.log")
    assert assert_agree(mk, local_state(local), "after the third sync") == second


@pytest.mark.parametrize("transport", ["starttls", "imaps"])
def test_sync_over_tls_verified(mailkeep, tmp_path, tls_pair, transport):
    deliver(mailkeep, [message("tls", i) for i in range(3)])
    rc, local = write_config(tmp_path, mailkeep, tls_pair, transport)
    sync_ok(rc, tmp_path / "offlineimap.log")
    assert len(assert_agree(mailkeep, local_state(local), f"after a sync over {transport}")["INBOX"]) == 3


def test_three_connections_utf8_folder_names_while_mail_arrives(mailkeep, tmp_path, tls_pair):
    """maxconnections = 3 (folders synced in parallel sessions of one user), utf8foldernames (local
    "Entwürfe" <-> server "Entw&APw-rfe", local "Reisepläne" created on the server in modified
    UTF-7), maxage and maxsize (SEARCH SINCE / SMALLER), and SMTP deliveries during the first sync;
    a second sync brings both sides together."""
    mk = mailkeep
    deliver(mk, [message("smtp", i) for i in range(30)])
    c = imap(mk)
    ok(c.create("Entw&APw-rfe"))
    ok(c.select("INBOX"))
    ok(c.uid("MOVE", "1:5", "Entw&APw-rfe"))
    ok(c.uid("MOVE", "6:15", "Archive"))
    ok(c.uid("STORE", "16:20", "+FLAGS.SILENT", "(\\Seen)"))
    c.logout()
    rc, local = write_config(tmp_path, mk, tls_pair, account_extra="utf8foldernames = yes\nmaxage = 30\nmaxsize = 500000\n",
                             connections=3)
    for i in range(3):
        write_local(local / "Reisepläne", message("reise", i, "Reiseplaene"), flags="S" if i else "")
    late = [message("during", i) for i in range(20)]
    t = threading.Thread(target=deliver, args=(mk, late), kwargs={"batch": 5})
    t.start()
    try:
        sync_ok(rc, tmp_path / "offlineimap-1.log")
    finally:
        t.join(60)
    sync_ok(rc, tmp_path / "offlineimap-2.log")
    server = {decode_mutf7(f): box for f, box in server_state(mk).items()}
    near = local_state(local)
    diff = describe_difference(server, near)
    assert not diff, "after two syncs:\n" + "\n".join(diff[:40])
    assert "Reisepl&AOQ-ne" in [f for f in server_state(mk)], "the local folder created in modified UTF-7"
    assert counts(server)["INBOX"] == 15 + 20 and counts(server)["Entwürfe"] == 5 and counts(server)["Reisepläne"] == 3
