# tests/blackbox/test_smtp_limits.py — SMTP limits and protocol errors: message size (552 5.3.4),
# recipient count (452 4.5.3), line lengths, syntax (501), command order (503 5.5.1); nothing is
# delivered by a refused transaction.
import pytest

from harness import make_message, split_trace
from smtputil import connect, enhanced, send
from wire import Closed, Smtp

SENDER = "sender@example.org"


def sentinel_only(mk, user):
    """sentinel_only - deliver a sentinel to user and check it is the only message there, which
    proves that whatever was refused before it was not written (without sleeping)."""
    msg = make_message("sentinel")
    send(mk, SENDER, [f"{user}@home.arpa"], msg)
    msgs = mk.wait_for_messages(user, 1)
    assert [split_trace(m)[2] for m in msgs] == [msg], f"{user} has {len(msgs)} messages, want the sentinel only"


def test_size_declared_too_big_552_at_mail(mailkeep):
    with connect(mailkeep) as s:
        code, resp = s.mail(SENDER, ["SIZE=2000000"])
        assert (code, enhanced(resp)) == (552, "5.3.4"), (code, resp)


def test_size_too_big_552_at_end_of_data(mailkeep):
    big = make_message("big", (b"x" * 998 + b"\r\n") * 1150)   # ~1.15 MB > 1M
    with Smtp(mailkeep.ports["smtp"]) as s:            # raw: no SIZE= parameter to refuse early
        s.greet()
        s.expect(f"MAIL FROM:<{SENDER}>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        s.send(big + b".\r\n")
        r = s.reply()
        assert (r.code, r.enhanced) == (552, "5.3.4"), r
    sentinel_only(mailkeep, "anna")


def test_under_size_limit_accepted(mailkeep):
    msg = make_message("900k", (b"y" * 998 + b"\r\n") * 900)
    assert send(mailkeep, SENDER, ["anna@home.arpa"], msg) == {}
    assert split_trace(mailkeep.wait_for_messages("anna", 1)[0])[2] == msg


def test_too_many_recipients_452(mailkeep_factory):
    users = {f"u{i}": (f"pw{i}", [f"u{i}@home.arpa"]) for i in range(1, 6)}
    users["postmaster"] = ("pm-pw", ["postmaster@home.arpa"])
    mk = mailkeep_factory(users=users, limits={"max_recipients": 3})
    msg = make_message("limit")
    with connect(mk) as s:
        assert s.mail(SENDER)[0] == 250
        for i in (1, 2, 3):
            assert s.rcpt(f"u{i}@home.arpa")[0] == 250
        code, resp = s.rcpt("u4@home.arpa")
        assert (code, enhanced(resp)) == (452, "4.5.3"), (code, resp)
        assert s.data(msg)[0] == 250
    for i in (1, 2, 3):
        assert split_trace(mk.wait_for_messages(f"u{i}", 1)[0])[2] == msg
    assert mk.maildir_files("u4") == []


@pytest.mark.parametrize("steps", [
    ["RCPT TO:<anna@home.arpa>"],                                        # RCPT before MAIL
    ["DATA"],                                                            # DATA before MAIL
    [f"MAIL FROM:<{SENDER}>", "DATA"],                                  # DATA before RCPT
    [f"MAIL FROM:<{SENDER}>", f"MAIL FROM:<{SENDER}>"],                # nested MAIL
], ids=["rcpt-before-mail", "data-before-mail", "data-before-rcpt", "nested-mail"])
def test_out_of_sequence_503(mailkeep, steps):
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        for line in steps[:-1]:
            s.expect(line, 250)
        r = s.cmd(steps[-1])
        assert (r.code, r.enhanced) == (503, "5.5.1"), f"{steps[-1]!r}: {r}"


def test_mail_before_ehlo_503(mailkeep):
    with Smtp(mailkeep.ports["smtp"]) as s:
        assert s.reply().code == 220
        r = s.cmd(f"MAIL FROM:<{SENDER}>")
        # Before EHLO, ENHANCEDSTATUSCODES is not negotiated (RFC 2034 3): the code may be absent.
        assert r.code == 503 and r.enhanced in ("", "5.5.1"), r


@pytest.mark.parametrize("line", ["MAIL TO:<sender@example.org>", "EHLO", "HELO"])
def test_bad_command_syntax_501(mailkeep, line):
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        r = s.cmd(line)
        assert r.code == 501 and r.enhanced in ("5.5.2", "5.5.4"), f"{line!r}: {r}"


# Address syntax: 501 with 5.5.2/5.5.4 (the contract), or with RFC 3463's address-specific codes,
# 5.1.7 for a sender and 5.1.3 for a recipient (what Postfix answers).
@pytest.mark.parametrize("line,address_code", [
    ("MAIL FROM:bogus", "5.1.7"),
    ("MAIL FROM:<unterminated@example.org", "5.1.7"),
    ("RCPT TO:<>", "5.1.3"),
    ("RCPT TO:<a b@home.arpa>", "5.1.3"),
])
def test_bad_address_syntax_501(mailkeep, line, address_code):
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        if line.startswith("RCPT"):
            s.expect(f"MAIL FROM:<{SENDER}>", 250)
        r = s.cmd(line)
        assert r.code == 501 and r.enhanced in ("5.5.2", "5.5.4", address_code), f"{line!r}: {r}"


def test_command_of_512_octets_accepted(mailkeep):
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        line = "NOOP " + "a" * (512 - 2 - 5)             # 512 octets with CRLF: RFC 5321 4.5.3.1.4
        assert len(line) + 2 == 512
        assert s.cmd(line).code == 250


def test_overlong_command_500(mailkeep):
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        r = s.cmd("NOOP " + "a" * 600)
        assert (r.code, r.enhanced) == (500, "5.5.2"), r


def test_overlong_mail_command_not_executed(mailkeep):
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        r = s.cmd(f"MAIL FROM:<{'a' * 700}@example.org>")
        assert (r.code, r.enhanced) == (500, "5.5.2"), r


def test_data_line_of_1000_octets_accepted(mailkeep):
    msg = make_message("998", b"z" * 998 + b"\r\n")    # 1000 octets with CRLF: RFC 5321 4.5.3.1.6
    assert send(mailkeep, SENDER, ["anna@home.arpa"], msg) == {}
    assert split_trace(mailkeep.wait_for_messages("anna", 1)[0])[2] == msg


def test_data_line_of_998_octets_beginning_with_dot_accepted(mailkeep):
    # RFC 5321 4.5.2 / 4.5.3.1.6: smtplib sends this line as ".." + 997 octets + CRLF, 1001 octets on
    # the wire; the stuffed dot is transparency, so the line is 998 octets and legal.
    line = b"." + b"d" * 997
    msg = make_message("998 dot", b"before\r\n" + line + b"\r\nafter\r\n")
    assert send(mailkeep, SENDER, ["anna@home.arpa"], msg) == {}
    stored = split_trace(mailkeep.wait_for_messages("anna", 1)[0])[2]
    assert stored == msg
    assert line + b"\r\n" in stored


def test_data_line_of_999_octets_after_stuffed_dot_rejected(mailkeep):
    # One octet more than the test above: 999 octets after the stuffed dot is over the limit.
    line = b"." + b"d" * 998
    msg = make_message("999 dot", b"before\r\n" + line + b"\r\nafter\r\n")
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        s.expect(f"MAIL FROM:<{SENDER}>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        s.send(msg.replace(b"\r\n.", b"\r\n..") + b".\r\n")   # dot-stuffed by hand
        r = s.reply()
        assert (r.code, r.enhanced) == (554, "5.6.0"), r
    sentinel_only(mailkeep, "anna")


def test_overlong_data_line_rejected_not_delivered(mailkeep):
    msg = make_message("long line", b"short\r\n" + b"L" * 5000 + b"\r\nafter\r\n")
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        s.expect(f"MAIL FROM:<{SENDER}>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        try:
            s.send(msg + b".\r\n")
        except OSError:
            pass                                       # the server may answer and close at once
        try:
            r = s.reply()
        except Closed:
            pytest.fail("connection closed without a reply to the overlong data line")
        assert r.code in (552, 554), r
    sentinel_only(mailkeep, "anna")

