# tests/blackbox/test_pop3_foreign_files.py — mailkeep's POP3 serves Maildir files that other
# programs wrote (Dovecot's LDA, mutt, scripts) with CRLF line ends and exact sizes: what STAT,
# LIST and the RETR status line say is the length of what RETR sends (CRLF, before dot-stuffing),
# whether the file has LF or CRLF line ends, a ",W=" (CRLF size, Dovecot), only ",S=" (on-disk
# size) or no size in its name; UIDLs stay stable across sessions.
import os
import poplib
import re
import subprocess

import pytest

from dovecot import DOVECOT, Dovecot, hand_over
from harness import make_message
from smtputil import send

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot is not installed")

DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"


def crlf(data):
    """crlf - data with every bare LF made CRLF (what RETR must send for a file)."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def retrieve_all(mk, user="anna"):
    """retrieve_all - one POP3 session: {uidl: (LIST size, RETR status size, RETR bytes)} and STAT."""
    p = poplib.POP3("127.0.0.1", mk.ports["pop3"], timeout=10)
    try:
        p.user(user)
        p.pass_(mk.password(user))
        count, octets = p.stat()
        sizes = {int(n): int(s) for n, s in (l.split() for l in p.list()[1])}
        uidls = {int(n): u.decode() for n, u in (l.split() for l in p.uidl()[1])}
        out = {}
        for n in sorted(sizes):
            resp, lines, _ = p.retr(n)
            said = int(re.match(rb"\+OK (\d+) octets", resp).group(1))
            out[uidls[n]] = (sizes[n], said, b"".join(l + b"\r\n" for l in lines))
        p.quit()   # nothing marked deleted: nothing removed
        return out, (count, octets)
    finally:
        p.close()


def assert_exact(served, stat):
    """assert_exact - every message's LIST size and RETR status size are the RETR length; STAT sums them."""
    for uidl, (listed, said, data) in served.items():
        assert listed == len(data), f"{uidl}: LIST says {listed}, RETR sent {len(data)}"
        assert said == len(data), f"{uidl}: RETR says {said} octets, sent {len(data)}"
        assert b"\n" not in data.replace(b"\r\n", b""), f"{uidl}: a bare LF in RETR"
    assert stat == (len(served), sum(len(d) for _, _, d in served.values()))


def test_dovecot_lda_delivered_lf_files_have_exact_sizes(mailkeep, tmp_path):
    # One message of mailkeep's own (CRLF, S= and W= in its name), then Dovecot's LDA delivers two
    # into the same Maildir with LF line ends (its default), named ",S=<LF size>,W=<CRLF size>".
    own = make_message("own", b"mine\r\n.dot line\r\n")
    send(mailkeep, "sender@example.org", ["anna@home.arpa"], own)
    mailkeep.wait_for_messages("anna", 1)
    mail_root = mailkeep.data_dir / "mail"
    uid = hand_over(mail_root / "anna")
    d = Dovecot(tmp_path / "dovecot", mail_root, {"anna": "imap-pw"}, uid=uid, gid=uid).start()
    try:
        bodies = [b"line one\r\n.leading dot\r\n\r\nlast\r\n", b"x" * 998 + b"\r\n" + b"short\r\n" * 40]
        for i, body in enumerate(bodies):
            msg = make_message(f"lda {i}", body, msgid=f"<lda-{i}@client.test>")
            r = subprocess.run([DOVECOT_LDA, "-c", str(d.config), "-d", "anna", "-f", "sender@example.org"],
                               input=msg, capture_output=True, timeout=30)
            assert r.returncode == 0, r.stderr.decode(errors="replace") + d.log_text()
    finally:
        d.stop()
    files = mailkeep.maildir_files("anna")
    assert len(files) == 3
    foreign = [f for f in files if b"\r\n" not in f.read_bytes()]
    assert len(foreign) == 2, "Dovecot's LDA did not write LF files: the test proves nothing"
    assert all(",W=" in f.name for f in foreign), [f.name for f in foreign]

    served, stat = retrieve_all(mailkeep)
    assert_exact(served, stat)
    by_file = {f.name.split(",")[0].split(":")[0]: f.read_bytes() for f in files}
    assert {u: d for u, (_, _, d) in served.items()} == {u: crlf(b) for u, b in by_file.items()}
    again, _ = retrieve_all(mailkeep)
    assert again == served, "UIDLs or bytes changed between sessions"


def test_hand_written_files_have_exact_sizes(mailkeep):
    # What mutt, a script or an older tool leaves: LF without any size in the name, LF with only
    # S= (its on-disk size, as Courier names it), LF with only W=, CRLF without a size, and mixed.
    new = mailkeep.maildir("anna") / "new"
    cur = mailkeep.maildir("anna") / "cur"
    for sub in (new, cur, mailkeep.maildir("anna") / "tmp"):
        sub.mkdir(parents=True, exist_ok=True)
    lf = make_message("lf", b"a\r\n.b\r\n\r\nc\r\n").replace(b"\r\n", b"\n")
    mixed = make_message("mixed", b"crlf\r\nlf\nboth\r\n\n")
    files = {
        new / "1700000001.12345_1.mutthost": lf,
        new / f"1700000002.M1P2V3I4.courier,S={len(lf)}": lf,
        cur / f"1700000003.M5P6.other,W={len(crlf(lf))}:2,S": lf,
        new / "1700000004.R1a2b3c.script": make_message("crlf", b"already\r\n"),
        new / "1700000005.mixed": mixed,
    }
    for path, data in files.items():
        path.write_bytes(data)
    served, stat = retrieve_all(mailkeep)
    assert_exact(served, stat)
    want = {p.name.split(",")[0].split(":")[0]: crlf(data) for p, data in files.items()}
    assert {u: d for u, (_, _, d) in served.items()} == want
    again, _ = retrieve_all(mailkeep)
    assert again == served, "UIDLs or bytes changed between sessions"
