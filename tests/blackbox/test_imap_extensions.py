# tests/blackbox/test_imap_extensions.py — transcripts (raw socket, every untagged line in order) of
# the IMAP extensions a resynchronising or IMAP4rev2 client turns on with ENABLE or a command
# option: QRESYNC (RFC 7162), IMAP4rev2 (RFC 9051), UTF8=ACCEPT (RFC 6855), SEARCHRES (RFC 5182),
# LIST-EXTENDED and LIST-STATUS (RFC 5258, 5819), and \Recent for IMAP4rev1 clients (RFC 3501).
# Python's imaplib, as a client nobody here wrote, enables UTF8=ACCEPT at the end.
import imaplib
import re

from imapraw import ANNA_PW, Session


def message(n):
    return f"From: <a@example.org>\r\nSubject: number {n}\r\nMessage-ID: <{n}@ext.test>\r\n\r\nbody {n}\r\n".encode()


def code(untagged, name):
    """code - the number in the first "* OK [NAME n]" line."""
    for line in untagged:
        m = re.match(rb"\* OK \[" + name.encode() + rb" (\d+)\]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no [{name}] in {untagged}")


def filled(mk, folder, count):
    """filled - a session with folder made and count messages appended (UIDs 1..count)."""
    s = Session(mk)
    assert s.run(f"CREATE {folder}")[1].startswith(b"OK")
    for n in range(1, count + 1):
        assert s.append(folder, message(n))[1].startswith(b"OK")
    return s


def test_qresync_select_tells_what_a_client_missed(mailkeep):
    writer = filled(mailkeep, "Q", 6)
    reader = Session(mailkeep)
    assert reader.run("ENABLE QRESYNC")[0] == [b"* ENABLED QRESYNC"]
    untagged, done = reader.run("SELECT Q")
    uidvalidity, modseq = code(untagged, "UIDVALIDITY"), code(untagged, "HIGHESTMODSEQ")
    assert reader.run("LOGOUT")[1].startswith(b"OK")
    # While the reader is away: UID 2 flagged, 3 and 4 expunged.
    assert writer.run("SELECT Q")[1].startswith(b"OK")
    assert writer.run("UID STORE 2 +FLAGS (\\Flagged)")[1].startswith(b"OK")
    assert writer.run("UID STORE 3:4 +FLAGS (\\Deleted)")[1].startswith(b"OK")
    assert writer.run("EXPUNGE")[1].startswith(b"OK")

    back = Session(mailkeep)
    back.run("ENABLE QRESYNC")
    untagged, done = back.run(f"SELECT Q (QRESYNC ({uidvalidity} {modseq}))")
    assert done.startswith(b"OK"), done
    assert b"* VANISHED (EARLIER) 3:4" in untagged, untagged
    flagged = [l for l in untagged if b"FETCH" in l]
    assert len(flagged) == 1 and re.match(rb"\* 2 FETCH \(FLAGS \(\\Flagged\) UID 2 MODSEQ \(\d+\)\)", flagged[0]), untagged
    assert untagged.index(b"* VANISHED (EARLIER) 3:4") < untagged.index(flagged[0])   # RFC 7162 3.2.5.1
    # Known UIDs narrow it: the client knew only 1:2.
    untagged, _ = back.run(f"SELECT Q (QRESYNC ({uidvalidity} {modseq} 1:2))")
    assert b"* OK [CLOSED] previous mailbox closed" in untagged
    assert not [l for l in untagged if l.startswith(b"* VANISHED")], untagged
    # Another UIDVALIDITY: nothing beyond a plain SELECT.
    untagged, _ = back.run(f"SELECT Q (QRESYNC ({uidvalidity + 1} {modseq}))")
    assert not [l for l in untagged if l.startswith(b"* VANISHED") or b"FETCH" in l], untagged
    # UID FETCH ... (CHANGEDSINCE VANISHED): the same, on demand.
    untagged, done = back.run(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
    assert done.startswith(b"OK") and untagged[0] == b"* VANISHED (EARLIER) 3:4", untagged
    assert len(untagged) == 2 and b"UID 2" in untagged[1], untagged
    for s in (writer, back):
        s.close()


def test_qresync_reports_expunges_as_vanished_and_needs_enable(mailkeep):
    writer = filled(mailkeep, "V", 3)
    plain = Session(mailkeep)
    assert plain.run("SELECT V (QRESYNC (1 1))")[1].startswith(b"BAD")   # not enabled
    assert plain.run("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")[1].startswith(b"BAD")
    reader = Session(mailkeep)
    reader.run("ENABLE QRESYNC")
    assert reader.run("SELECT V")[1].startswith(b"OK")
    assert writer.run("SELECT V")[1].startswith(b"OK")
    assert writer.run("STORE 2 +FLAGS.SILENT (\\Deleted)")[1].startswith(b"OK")
    untagged, _ = writer.run("EXPUNGE")
    assert untagged == [b"* 2 EXPUNGE"], untagged   # the writer did not enable QRESYNC
    untagged, _ = reader.run("NOOP")
    assert untagged == [b"* VANISHED 2"], untagged
    for s in (writer, plain, reader):
        s.close()


def test_imap4rev2_select_search_and_utf8_names(mailkeep):
    s = filled(mailkeep, "R2", 2)
    assert s.run("ENABLE IMAP4rev2")[0] == [b"* ENABLED IMAP4rev2"]
    untagged, done = s.run("SELECT R2")
    assert done.startswith(b"OK [READ-WRITE]")
    assert b'* LIST () "." "R2"' in untagged, untagged   # RFC 9051 6.3.2
    assert not [l for l in untagged if b"RECENT" in l or b"[UNSEEN" in l], untagged
    untagged, done = s.run("SEARCH ALL")
    assert untagged == [b'* ESEARCH (TAG "t' + str(s.n).encode() + b'") ALL 1:2'], untagged
    untagged, _ = s.run("UID SEARCH SUBJECT nothing-like-this")
    assert untagged == [b'* ESEARCH (TAG "t' + str(s.n).encode() + b'") UID'], untagged
    # Mailbox names are UTF-8 in IMAP4rev2; an IMAP4rev1 session sees the same folder in modified UTF-7.
    assert s.run('CREATE "Grüße"'.encode())[1].startswith(b"OK")
    untagged, _ = s.run('LIST "" "Gr*"')
    assert untagged == ['* LIST (\\HasNoChildren) "." "Grüße"'.encode()], untagged
    rev1 = Session(mailkeep)
    untagged, _ = rev1.run('LIST "" "Gr*"')
    assert untagged == [b'* LIST (\\HasNoChildren) "." "Gr&APwA3w-e"'], untagged
    rev1.close()
    s.close()


def test_searchres_saves_a_result_for_later_commands(mailkeep):
    s = filled(mailkeep, "S", 5)
    assert s.run("SELECT S")[1].startswith(b"OK")
    assert s.run("STORE 2,4 +FLAGS.SILENT (\\Flagged)")[1].startswith(b"OK")
    untagged, done = s.run("SEARCH RETURN (SAVE) FLAGGED")
    assert untagged == [] and done.startswith(b"OK"), (untagged, done)   # SAVE alone answers nothing
    untagged, _ = s.run("FETCH $ (UID)")
    assert untagged == [b"* 2 FETCH (UID 2)", b"* 4 FETCH (UID 4)"], untagged
    untagged, _ = s.run("UID SEARCH UNDELETED NOT UID $")
    assert untagged == [b"* SEARCH 1 3 5"], untagged
    assert s.run("UID SEARCH RETURN (SAVE MAX) ALL")[0] == [b'* ESEARCH (TAG "t' + str(s.n).encode() + b'") UID MAX 5']
    untagged, _ = s.run("UID COPY $ Trash")
    assert re.search(rb"\[COPYUID \d+ 5 \d+\]", _), _
    # A SEARCH ... SAVE that fails leaves "$" empty (RFC 5182 2.1).
    assert s.run("SEARCH RETURN (SAVE) 99")[1].startswith(b"BAD")
    assert s.run("FETCH $ (UID)")[0] == []
    s.close()


def test_list_extended_and_list_status(mailkeep):
    s = filled(mailkeep, "Top.Kid", 2)
    assert s.run("CREATE Gone")[1].startswith(b"OK")
    for name in ("Top.Kid", "Gone"):
        assert s.run(f"SUBSCRIBE {name}")[1].startswith(b"OK")
    assert s.run("DELETE Gone")[1].startswith(b"OK")
    untagged, done = s.run('LIST (SUBSCRIBED RECURSIVEMATCH) "" %')
    assert done.startswith(b"OK"), done
    assert b'* LIST (\\HasChildren) "." "Top" ("CHILDINFO" ("SUBSCRIBED"))' in untagged, untagged
    assert b'* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "." "Gone"' in untagged, untagged
    assert b'* LSUB (\\Noselect) "." "Gone"' in s.run('LSUB "" Gone')[0]
    assert s.run('LIST (RECURSIVEMATCH) "" %')[1].startswith(b"BAD")   # RFC 5258 3
    untagged, done = s.run('LIST "" (Top Top.Kid) RETURN (STATUS (MESSAGES UNSEEN))')
    assert done.startswith(b"OK"), done
    assert untagged == [b'* LIST (\\HasChildren) "." "Top"', b'* STATUS "Top" (MESSAGES 0 UNSEEN 0)',
                        b'* LIST (\\HasNoChildren) "." "Top.Kid"', b'* STATUS "Top.Kid" (MESSAGES 2 UNSEEN 2)'], untagged
    s.close()


def test_recent_is_claimed_once_and_new_mail_is_recent(mailkeep):
    s = filled(mailkeep, "New", 1)
    other = Session(mailkeep)
    assert b"* 1 RECENT" in other.run("EXAMINE New")[0]   # EXAMINE looks without claiming
    untagged, _ = s.run("SELECT New")
    assert b"* 1 RECENT" in untagged, untagged
    assert s.run("FETCH 1 (FLAGS)")[0] == [b"* 1 FETCH (FLAGS (\\Recent))"]
    assert s.run("SEARCH RECENT")[0] == [b"* SEARCH 1"]
    assert other.append("New", message(2))[1].startswith(b"OK")
    untagged, _ = s.run("NOOP")
    assert untagged == [b"* 2 EXISTS", b"* 2 RECENT"], untagged
    assert b"* 0 RECENT" in other.run("SELECT New")[0]
    untagged, _ = other.run("STATUS Trash (RECENT)")
    assert s.run("SEARCH NEW")[0] == [b"* SEARCH 1 2"]
    for c in (s, other):
        c.close()


def test_imaplib_with_utf8_accept(mailkeep):
    c = imaplib.IMAP4("127.0.0.1", mailkeep.ports["imap"], timeout=10)
    try:
        c.login("anna", ANNA_PW)
        typ, data = c.enable("UTF8=ACCEPT")   # imaplib then sends its strings in UTF-8
        assert typ == "OK" and c.untagged_responses.pop("ENABLED") == [b"UTF8=ACCEPT"], data
        assert c.create('"Räksmörgås"')[0] == "OK"
        typ, data = c.list('""', '"R*"')
        assert typ == "OK" and data == ['(\\HasNoChildren) "." "Räksmörgås"'.encode()], data
        # No APPEND here: Debian 12's imaplib (3.11) puts "UTF8 (" and ")" inside the literal in UTF-8
        # mode (CPython gh-78319, fixed in 3.14), which any server stores as part of the message.
        typ, data = c.select('"Räksmörgås"')
        assert typ == "OK" and data == [b"0"], data
    finally:
        c.logout()


def test_append_utf8_data_extension(mailkeep):
    # RFC 6855 4 (and what imaplib sends since gh-78319): APPEND mailbox UTF8 (~{n}<message>).
    s = Session(mailkeep)
    s.run("ENABLE UTF8=ACCEPT")
    raw = "From: <jörg@example.org>\r\nSubject: Grüße\r\n\r\nbody\r\n".encode()
    untagged, done = s.run(b"APPEND INBOX (\\Seen) UTF8 (~{" + str(len(raw)).encode() + b"+}\r\n" + raw + b")")
    assert done.startswith(b"OK [APPENDUID"), (untagged, done)
    uid = int(done.split()[3].rstrip(b"]"))
    s.run("SELECT INBOX")
    s.sock.sendall(f"f UID FETCH {uid} (FLAGS BODY.PEEK[])\r\n".encode())
    head = s.f.readline()
    assert head.endswith(b"{%d}\r\n" % len(raw)) and b"\\Seen" in head, head
    assert s.f.read(len(raw)) == raw
    s.f.readline()
    assert s.f.readline().startswith(b"f OK")
    # Without the closing parenthesis the command is malformed.
    assert s.run(b"APPEND INBOX UTF8 (~{4+}\r\nx\r\n\r\n")[1].startswith(b"BAD")
    s.close()
