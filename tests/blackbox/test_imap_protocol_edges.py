# tests/blackbox/test_imap_protocol_edges.py — transcript tests (raw socket, byte-exact commands)
# of IMAP server (issue 12) behaviour that the real-client tests (mbsync, offlineimap, curl,
# mailkeep's fetcher) came near and once got wrong, each checked against what the RFCs say and
# Dovecot 2.3 answers to the same commands: the hierarchy left by DELETE of a folder with children,
# sequence numbers beyond the mailbox, the extensions issue 12 lists, \Recent.
import re

from imapraw import MSG, Session


def test_delete_of_a_folder_with_children_leaves_a_noselect_level(mailkeep):
    # RFC 3501 6.3.4: a name with inferiors that is deleted acquires \Noselect; its example then shows
    # LIST "" % -> * LIST (\Noselect) "." foo. 6.3.8: levels of hierarchy that match "%" and are not
    # selectable are returned with \Noselect. Dovecot: * LIST (\Noselect \HasChildren) "." P1.
    s = Session(mailkeep)
    assert s.run("CREATE P1.P2")[1].startswith(b"OK")
    untagged, done = s.run("DELETE P1")
    if done.startswith(b"OK"):
        untagged, done = s.run('LIST "" %')
        assert done.startswith(b"OK")
        p1 = [l for l in untagged if re.search(rb' "?P1"?$', l)]
        assert p1 and b"\\Noselect" in p1[0], f'LIST "" % after DELETE P1 (P1.P2 left): {untagged}'
        assert s.run("SELECT P1")[1].startswith(b"NO")
    untagged, done = s.run('LIST "" P1.%')
    assert any(l.endswith(b'P1.P2"') or l.endswith(b"P1.P2") for l in untagged), untagged
    s.close()


def test_sequence_numbers_beyond_the_mailbox_are_bad(mailkeep):
    # RFC 3501 9 (seq-number) and RFC 9051 9: "The server should respond with a tagged BAD response
    # to a command that uses a message sequence number greater than the number of messages in the
    # selected mailbox. This includes "*" if the selected mailbox is empty." Dovecot: BAD Invalid
    # messageset. A partial COPY answered OK tells the client that all of 2:9 was copied.
    s = Session(mailkeep)
    assert s.run("CREATE Edge")[1].startswith(b"OK")
    assert s.run("SELECT Edge")[1].startswith(b"OK")
    wrong = []
    untagged, done = s.run("FETCH 1:* (FLAGS)")
    if not done.startswith(b"BAD"):
        wrong.append(f"FETCH 1:* (FLAGS) in an empty mailbox: {untagged} {done}")
    for _ in range(2):
        assert s.append("Edge", MSG)[1].startswith(b"OK")
    s.run("NOOP")
    for command in ("FETCH 5 (FLAGS)", "FETCH 1:5 (UID)", "STORE 7 +FLAGS (\\Seen)", "COPY 2:9 Trash"):
        untagged, done = s.run(command)
        if not done.startswith(b"BAD"):
            wrong.append(f"{command} with 2 messages: {untagged} {done}")
    assert not wrong, "\n".join(wrong)
    # UIDs are different: a UID that does not exist is ignored (RFC 3501 6.4.8).
    assert s.run("UID FETCH 99 (FLAGS)")[1].startswith(b"OK")
    s.close()


ISSUE_12_CAPABILITIES = ("IMAP4rev2", "IMAP4rev1", "IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "ENABLE", "NAMESPACE",
                         "ID", "SASL-IR", "CONDSTORE", "QRESYNC", "ESEARCH", "UNSELECT", "CHILDREN",
                         "LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE", "MULTIAPPEND", "UTF8=ACCEPT")


def test_the_extensions_issue_12_lists_are_advertised(mailkeep):
    s = Session(mailkeep)
    untagged, _ = s.run("CAPABILITY")
    caps = set(untagged[0].split()[2:])
    missing = [c for c in ISSUE_12_CAPABILITIES if c.encode() not in caps]
    assert not missing, f"not in CAPABILITY: {missing}; advertised: {untagged[0]}"
    assert b"APPENDLIMIT" in b" ".join(caps) and (b"LITERAL+" in caps or b"LITERAL-" in caps)
    s.close()


def test_qresync_is_enabled(mailkeep):
    s = Session(mailkeep)
    untagged, done = s.run("ENABLE QRESYNC")   # RFC 7162 3.2.3: also enables CONDSTORE
    assert done.startswith(b"OK") and any(b"QRESYNC" in l for l in untagged if l.startswith(b"* ENABLED")), untagged
    s.close()


def test_esearch(mailkeep):
    s = Session(mailkeep)
    assert s.append("INBOX", MSG)[1].startswith(b"OK")
    assert s.run("SELECT INBOX")[1].startswith(b"OK")
    untagged, done = s.run("SEARCH RETURN (MIN MAX COUNT) ALL")   # RFC 4731
    assert done.startswith(b"OK") and untagged == [b'* ESEARCH (TAG "t4") MIN 1 MAX 1 COUNT 1'], (untagged, done)
    s.close()


def test_recent_for_imap4rev1_clients(mailkeep):
    # RFC 3501 2.3.2 \Recent: the first session to see a new message gets it as recent, and SELECT
    # reports "* n RECENT" (IMAP4rev2 dropped it; a client that does not ENABLE it is a rev1 client).
    # Dovecot: "* 2 RECENT" here; a second session gets "* 0 RECENT".
    s = Session(mailkeep)
    assert s.run("CREATE Fresh")[1].startswith(b"OK")
    for _ in range(2):
        assert s.append("Fresh", MSG)[1].startswith(b"OK")
    untagged, done = s.run("SELECT Fresh")
    assert b"* 2 RECENT" in untagged, untagged
    second = Session(s.mk)
    assert b"* 0 RECENT" in second.run("SELECT Fresh")[0]
    second.close()
    s.close()
