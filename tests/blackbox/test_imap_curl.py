# tests/blackbox/test_imap_curl.py — the IMAP server (issue 12) with curl's IMAP support (libcurl,
# written elsewhere) as the client: LIST of the folders, a message fetched by UID and by sequence
# number (whole and one section) equal to the bytes stored, SEARCH in the URL, a custom command, an
# upload (APPEND) read back, STARTTLS verified against the test certificate, IMAPS, a wrong password.
import shutil
import subprocess

import pytest

from harness import DEFAULT_USERS, make_message
from smtputil import send

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")

ANNA_PW = DEFAULT_USERS["anna"][0]
CURL_DEADLINE = 20   # seconds for one curl run (each has its own --max-time too)


def curl(*args, user="anna", password=ANNA_PW):
    """curl - run curl -v with a login; returns (returncode, stdout bytes, stderr text). The -v
    transcript (">" client, "<" server) is in stderr for the assertion messages."""
    r = subprocess.run([CURL, "-sS", "-v", "--max-time", "15", "-u", f"{user}:{password}", *args],
                       capture_output=True, timeout=CURL_DEADLINE)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def transcript(err):
    return "\n".join(line for line in err.splitlines() if line[:2] in ("> ", "< "))


def ok(args, **kw):
    rc, out, err = curl(*args, **kw)
    assert rc == 0, f"curl {' '.join(args)} rc={rc}\n{transcript(err)}\n{err[-2000:]}"
    return out


@pytest.fixture
def delivered(mailkeep):
    """delivered - two messages for anna over SMTP; (mailkeep, [stored bytes in delivery order])."""
    msgs = [make_message("curl one", "first body\r\n.dot line\r\n"),
            make_message("curl two", "second body\r\n")]
    for m in msgs:
        assert send(mailkeep, "sender@example.org", ["anna@home.arpa"], m) == {}
    stored = mailkeep.wait_for_messages("anna", 2)
    stored.sort(key=lambda b: b.find(b"Subject: curl two") >= 0)
    return mailkeep, stored


def url(mk, path="", scheme="imap", role="imap"):
    return f"{scheme}://127.0.0.1:{mk.ports[role]}/{path}"


def test_list_folders(mailkeep):
    out = ok([url(mailkeep)]).decode()
    names = [line.rsplit(" ", 1)[1].strip('"') for line in out.splitlines() if line.startswith("* LIST ")]
    assert sorted(names) == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], out
    assert '"."' in out, out


def test_fetch_by_uid_and_by_index_is_the_stored_bytes(delivered):
    mk, stored = delivered
    assert ok([url(mk, "INBOX;UID=1")]) == stored[0]
    assert ok([url(mk, "INBOX;UID=2")]) == stored[1]
    assert ok([url(mk, "INBOX;MAILINDEX=2")]) == stored[1]
    assert ok([url(mk, "INBOX;UID=1;SECTION=TEXT")]) == b"first body\r\n.dot line\r\n"
    rc, out, err = curl(url(mk, "INBOX;UID=99"))
    assert rc != 0 and out == b"", f"a UID that does not exist: rc={rc} {out!r}\n{transcript(err)}"


def test_search_and_custom_command(delivered):
    mk, _ = delivered
    assert ok([url(mk, "INBOX?SUBJECT%20two")]).strip() == b"* SEARCH 2"
    assert ok([url(mk, "INBOX"), "-X", "UID SEARCH ALL"]).strip() == b"* SEARCH 1 2"
    out = ok([url(mk), "-X", "STATUS INBOX (MESSAGES UNSEEN)"]).strip()
    assert out in (b'* STATUS "INBOX" (MESSAGES 2 UNSEEN 2)', b"* STATUS INBOX (MESSAGES 2 UNSEEN 2)"), out


def test_upload_appends_and_reads_back(mailkeep, tmp_path):
    msg = make_message("uploaded by curl", "line one\r\nline two\r\n", sender="anna@home.arpa", to="ben@home.arpa")
    f = tmp_path / "up.eml"
    f.write_bytes(msg)
    ok(["-T", str(f), url(mailkeep, "Drafts")])
    assert ok([url(mailkeep, "Drafts;UID=1")]) == msg
    files = list((mailkeep.maildir("anna") / ".Drafts" / "cur").iterdir()) + \
        list((mailkeep.maildir("anna") / ".Drafts" / "new").iterdir())
    assert [p.read_bytes() for p in files] == [msg]


def test_starttls_verified_and_imaps(delivered, tls_pair):
    mk, stored = delivered
    cert = str(tls_pair[0])
    assert ok(["--ssl-reqd", "--cacert", cert, url(mk, "INBOX;UID=2")]) == stored[1]
    assert ok(["--cacert", cert, url(mk, "INBOX;UID=1", scheme="imaps", role="imaps")]) == stored[0]


def test_wrong_password_is_login_denied(mailkeep):
    rc, out, err = curl(url(mailkeep), password="wrong")
    assert rc == 67, f"rc={rc} (67: login denied)\n{transcript(err)}"
    assert out == b""
