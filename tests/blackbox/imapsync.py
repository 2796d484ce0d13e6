# tests/blackbox/imapsync.py — pieces shared by the IMAP server's tests: a logged-in imaplib session
# and `ok`, and for the tests that sync it with a real client (mbsync, offlineimap) mail put on the
# server (SMTP batches, imaplib) and the state of each side read independently of the client — the
# server's over imaplib, the client's from its Maildir files — as {folder: {Message-ID: (flags,
# normalized bytes)}} so they compare.
import imaplib
import re
import time
import uuid
from pathlib import Path

from harness import DEFAULT_USERS, make_message
from smtputil import connect

ANNA_PW = DEFAULT_USERS["anna"][0]

# IMAP system flag <-> Maildir info letter (the letters both clients write, in Maildir's order).
FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
LETTER_FLAGS = {v: k for k, v in FLAG_LETTERS.items()}


def message(tag, i, folder="INBOX"):
    """message - a small distinct message whose Message-ID names it (<tag.i@sync.test>)."""
    return make_message(f"{tag} {i} for {folder}", f"{tag} message {i}\r\nline two of {i}\r\n.dot line\r\n",
                        msgid=f"<{tag}.{i}.{uuid.uuid4().hex[:8]}@sync.test>")


def deliver(mk, msgs, batch=50):
    """deliver - each message to anna over SMTP, batch messages per connection; waits for them all."""
    before = len(mk.maildir_files("anna"))
    for start in range(0, len(msgs), batch):
        with connect(mk) as s:
            for m in msgs[start:start + batch]:
                assert s.sendmail("sender@example.org", ["anna@home.arpa"], m) == {}
            s.quit()
    mk.wait_for_messages("anna", before + len(msgs), deadline=60)


def imap(mk, user="anna", password=ANNA_PW):
    """imap - a session logged in on mk's imap listener (plaintext: loopback)."""
    c = imaplib.IMAP4("127.0.0.1", mk.ports["imap"], timeout=30)
    typ, data = c.login(user, password)
    assert typ == "OK", data
    return c


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def uid_of(c, mid):
    """uid_of - the UID of the one message with Message-ID mid in c's selected folder."""
    data = ok(c.uid("SEARCH", None, "HEADER", "Message-ID", f'"{mid}"'))
    uids = data[0].split()
    assert len(uids) == 1, (mid, data)
    return uids[0].decode()


def msgid_of(raw):
    m = re.search(rb"^Message-ID:\s*(<[^>\r\n]*>)", raw, re.I | re.M)
    return m.group(1).decode() if m else None


def normalized(raw):
    """normalized - message bytes with LF line ends and without the header lines a sync client adds
    to messages it copies (mbsync's X-TUID:), so that a server copy and a Maildir copy compare."""
    text = raw.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    head = b"\n".join(line for line in head.split(b"\n") if not line.lower().startswith(b"x-tuid:"))
    return head + sep + body


def decode_mutf7(name):
    """decode_mutf7 - an IMAP mailbox name in modified UTF-7 (RFC 3501 5.1.3) as Unicode."""
    import base64

    def one(m):
        b64 = m.group(1).replace(",", "/")
        if not b64:
            return "&"
        return base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode("utf-16-be")
    return re.sub(r"&([A-Za-z0-9+,]*)-", one, name)


def list_folders(c):
    """list_folders - the names LIST "" * returns (quoted or atom), as str."""
    names = []
    for line in ok(c.list('""', "*")):
        if line is None:
            continue
        m = re.match(rb'\((?P<attrs>[^)]*)\) (?:"(?:\\.|[^"])*"|NIL) (?P<name>.+)$', line)
        assert m, line
        name = m.group("name")
        if name.startswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        if b"\\noselect" not in m.group("attrs").lower():
            names.append(name.decode())
    return names


def server_state(mk, user="anna", password=ANNA_PW):
    """server_state - {folder: {Message-ID: (flags frozenset, normalized bytes)}} read with imaplib
    (EXAMINE, BODY.PEEK: reading changes nothing); \\Recent is left out, as Maildir has no letter."""
    c = imap(mk, user, password)
    state = {}
    try:
        for folder in list_folders(c):
            typ, data = c.select(f'"{folder}"', readonly=True)
            assert typ == "OK", (folder, data)
            box = {}
            if int(data[0]) > 0:
                for item in ok(c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")):
                    if not isinstance(item, tuple):
                        continue
                    meta, raw = item
                    m = re.search(rb"FLAGS \(([^)]*)\)", meta)
                    assert m, meta
                    flags = frozenset(f for f in m.group(1).decode().split() if f != "\\Recent")
                    mid = msgid_of(raw)
                    assert mid not in box, f"{folder}: {mid} twice on the server"
                    box[mid] = (flags, normalized(raw))
            state[folder] = box
            c.close()
    finally:
        c.logout()
    return state


def maildir_flags(name, delim=":"):
    """maildir_flags - the IMAP system flags of a Maildir file name's ':2,LETTERS' info."""
    if delim + "2," not in name:
        return frozenset()
    letters = name.rsplit(delim + "2,", 1)[1]
    return frozenset(LETTER_FLAGS[ch] for ch in letters if ch in LETTER_FLAGS)


def maildir_folder_state(path):
    box = {}
    for sub in ("new", "cur"):
        d = Path(path) / sub
        if not d.is_dir():
            continue
        for f in d.iterdir():
            if f.is_file() and not f.name.startswith("."):
                raw = f.read_bytes()
                mid = msgid_of(raw)
                assert mid not in box, f"{path}: {mid} twice in the Maildir"
                box[mid] = (maildir_flags(f.name), normalized(raw))
    return box


def maildir_files_by_msgid(path):
    """maildir_files_by_msgid - {Message-ID: file path} in one Maildir folder (new/ and cur/)."""
    out = {}
    for sub in ("new", "cur"):
        d = Path(path) / sub
        if d.is_dir():
            for f in d.iterdir():
                if f.is_file() and not f.name.startswith("."):
                    out[msgid_of(f.read_bytes())] = f
    return out


def set_maildir_flags(path, flags):
    """set_maildir_flags - rename a Maildir file (in cur/) to carry exactly these IMAP flags."""
    path = Path(path)
    base = path.name.split(":2,", 1)[0]
    letters = "".join(sorted(FLAG_LETTERS[f] for f in flags))
    target = path.parent.parent / "cur" / f"{base}:2,{letters}"
    path.rename(target)
    return target


def describe_difference(server, local):
    """describe_difference - the folders and messages where two states differ, in words."""
    out = []
    for folder in sorted(set(server) | set(local)):
        if folder not in server:
            out.append(f"{folder}: only in the local Maildir ({len(local[folder])} messages)")
            continue
        if folder not in local:
            out.append(f"{folder}: only on the server ({len(server[folder])} messages)")
            continue
        s, l = server[folder], local[folder]
        for mid in sorted(set(s) - set(l)):
            out.append(f"{folder}: {mid} only on the server (flags {sorted(s[mid][0])})")
        for mid in sorted(set(l) - set(s)):
            out.append(f"{folder}: {mid} only locally (flags {sorted(l[mid][0])})")
        for mid in sorted(set(s) & set(l)):
            if s[mid][0] != l[mid][0]:
                out.append(f"{folder}: {mid} flags server {sorted(s[mid][0])} local {sorted(l[mid][0])}")
            if s[mid][1] != l[mid][1]:
                out.append(f"{folder}: {mid} bytes differ: server {s[mid][1][:300]!r} local {l[mid][1][:300]!r}")
    return out


def counts(state):
    return {folder: len(box) for folder, box in sorted(state.items())}


def assert_agree(mk, local, when):
    """assert_agree - the server's state equals local (a client's Maildir read with
    maildir_folder_state per folder) and no \\Deleted message is left on the server; the server's state."""
    server = server_state(mk)
    diff = describe_difference(server, local)
    assert not diff, f"{when}: server and local Maildir differ ({len(diff)}):\n" + "\n".join(diff[:40])
    for folder, box in server.items():
        assert not any("\\Deleted" in flags for flags, _ in box.values()), f"{when}: \\Deleted left in {folder}"
    return server


def write_local(folder_dir, raw, flags=""):
    """write_local - a message file written into a local Maildir folder as a mail reader would: new/
    without flags, cur/ with ':2,FLAGS' (LF line ends, a name with the time offlineimap's maxage reads)."""
    for sub in ("new", "cur", "tmp"):
        (folder_dir / sub).mkdir(parents=True, exist_ok=True)
    name = f"{int(time.time())}.{uuid.uuid4().hex[:12]}.localhost"
    path = folder_dir / ("cur" if flags else "new") / (f"{name}:2,{flags}" if flags else name)
    path.write_bytes(raw.replace(b"\r\n", b"\n"))
    return path
