# tests/blackbox/test_smtp_smuggling.py — end of data is CRLF.CRLF only (SMTP smuggling,
# CVE-2023-51766): a "." line delimited by a bare LF or bare CR is refused with 554 5.5.2 at the real
# end of data and nothing smuggled behind it runs; a bare LF elsewhere is stored as CRLF.
import pytest

from harness import make_message, split_trace
from smtputil import send
from wire import Closed, Smtp

SENDER = "sender@example.org"

SEQUENCES = {
    "lf-dot-lf": b"\n.\n",
    "crlf-dot-lf": b"\r\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-cr": b"\r.\r",
    # The same rule ("a line '.' delimited by bare LF or bare CR") in the remaining combinations:
    "crlf-dot-cr": b"\r\n.\r",
    "cr-dot-crlf": b"\r.\r\n",
}


def replies_until_close(s):
    """replies_until_close - send QUIT and return every reply line the server sent after that."""
    try:
        s.send("QUIT\r\n")
    except OSError:
        pass
    return [l for l in s.read_until_closed(5).split(b"\r\n") if l]


@pytest.mark.parametrize("seq", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_smuggled_end_of_data_rejected(mailkeep, seq):
    payload = (b"From: <sender@example.org>\r\nSubject: carrier\r\n\r\nbody" + seq +
               b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<ben@home.arpa>\r\nDATA\r\n"
               b"From: <ceo@home.arpa>\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        s.expect(f"MAIL FROM:<{SENDER}>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        s.send(payload)
        try:
            first = s.reply()
        except Closed:
            pytest.fail("connection closed without a reply at the end of data")
        rest = replies_until_close(s)
    assert (first.code, first.enhanced) == (554, "5.5.2"), \
        f"first reply after the data is {first}, then {rest}"
    assert all(l.startswith(b"221") for l in rest), f"extra replies after the 554 (smuggled commands ran?): {rest}"
    for user in ("anna", "ben"):
        sentinel = make_message(f"sentinel for {user}")
        send(mailkeep, SENDER, [f"{user}@home.arpa"], sentinel)
        msgs = mailkeep.wait_for_messages(user, 1)
        assert [split_trace(m)[2] for m in msgs] == [sentinel], \
            f"{user}: {len(msgs)} messages; the carrier or the smuggled message was delivered"


def test_bare_lf_in_body_stored_as_crlf(mailkeep):
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        s.expect(f"MAIL FROM:<{SENDER}>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        s.send(b"Subject: bare lf\r\n\r\nline one\nline two\r\nline three\n\r\n.\r\n")
        r = s.reply()
        assert r.code == 250, r
        s.expect("QUIT", 221)
    raw = mailkeep.wait_for_messages("anna", 1)[0]
    assert split_trace(raw)[2] == b"Subject: bare lf\r\n\r\nline one\r\nline two\r\nline three\r\n\r\n"


def test_dot_not_at_line_start_is_data(mailkeep):
    # ".\r\n" only ends the data at the start of a line: "x.\r\n" is data.
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        s.expect(f"MAIL FROM:<{SENDER}>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        s.send(b"Subject: dots\r\n\r\nx.\r\n .\r\n..\r\n.\r\n")
        assert s.reply().code == 250
    raw = mailkeep.wait_for_messages("anna", 1)[0]
    assert split_trace(raw)[2] == b"Subject: dots\r\n\r\nx.\r\n .\r\n.\r\n"
