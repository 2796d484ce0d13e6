# tests/blackbox/test_delivery_lmtp.py — downstream delivery (issue 3, [delivery] mode = "lmtp"):
# mail for local users is not written to mailkeep's Maildir but handed over LMTP (RFC 2033) to a
# real Dovecot, which stores it; a recipient Dovecot refuses comes back to the sender as a DSN.
import email
import os

import pytest

from dovecot import DOVECOT, Dovecot
from harness import make_message, wait_until
from smtputil import send

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot is not installed")

UNPRIVILEGED = 65534   # Dovecot refuses mail users with uid 0


def dovecot_messages(mail_root, user):
    new = mail_root / user / "new"
    return [p.read_bytes() for p in sorted(new.iterdir())] if new.is_dir() else []


@pytest.fixture
def lmtp_dovecot(tmp_path):
    mail_root = tmp_path / "dovecot-mail"
    mail_root.mkdir()
    if os.geteuid() == 0:
        os.chown(mail_root, UNPRIVILEGED, UNPRIVILEGED)
    # ben is a mailkeep user but unknown to Dovecot: its LMTP refuses him (550 5.1.1).
    d = Dovecot(tmp_path / "dovecot", mail_root, {"anna": "x", "postmaster": "x"}, lmtp=True,
                uid=UNPRIVILEGED if os.geteuid() == 0 else None,
                gid=UNPRIVILEGED if os.geteuid() == 0 else None)
    d.start()
    yield d, mail_root
    d.stop()


def test_local_mail_goes_downstream_over_lmtp(mailkeep_factory, lmtp_dovecot):
    dovecot, mail_root = lmtp_dovecot
    mk = mailkeep_factory(extra_toml=f'[delivery]\nmode = "lmtp"\nhost = "127.0.0.1"\nport = {dovecot.lmtp_port}\n')
    msg = make_message("downstream", b"handed to Dovecot over LMTP\r\n")
    send(mk, "sender@example.org", ["anna@home.arpa"], msg)

    got = wait_until(lambda: dovecot_messages(mail_root, "anna"), 15, "Dovecot to store anna's mail")
    assert len(got) == 1
    stored = email.message_from_bytes(got[0])
    assert stored["Subject"] == "downstream"
    assert b"handed to Dovecot over LMTP" in got[0]
    assert not mk.maildir_messages("anna"), "delivered to mailkeep's own Maildir as well"
    wait_until(lambda: not list((mk.data_dir / "queue").glob("*.env")), 10, "the queue to empty")
    assert not dovecot.errors(), dovecot.errors()


def test_recipient_refused_downstream_is_bounced(mailkeep_factory, lmtp_dovecot):
    dovecot, mail_root = lmtp_dovecot
    mk = mailkeep_factory(extra_toml=f'[delivery]\nmode = "lmtp"\nhost = "127.0.0.1"\nport = {dovecot.lmtp_port}\n')
    msg = make_message("for ben", b"Dovecot does not know ben\r\n")
    send(mk, "anna@home.arpa", ["ben@home.arpa"], msg)
    # The DSN to anna goes downstream too, into Dovecot's Maildir.
    got = wait_until(lambda: dovecot_messages(mail_root, "anna"), 15, "the DSN for anna")
    dsn = email.message_from_bytes(got[0])
    assert dsn.get_content_type() == "multipart/report"
    status = [p for p in dsn.walk() if p.get_content_type() == "message/delivery-status"][0]
    blocks = status.get_payload()
    rcpt = blocks[1]
    assert rcpt["Final-Recipient"].lower().endswith("ben@home.arpa")
    assert rcpt["Action"] == "failed" and rcpt["Status"].startswith("5.")
