# tests/blackbox/test_smtp_hostile_input.py — bytes a client may send that must never reach a header,
# a log line or the queue in a form that cannot be read back (issue 9, items 1 and 5): EHLO is a
# domain or an address literal (RFC 5321 4.1.1.1) or 501; a UTF-8 address must be well-formed UTF-8;
# what the session accepted is in the queue after a restart, byte for byte; log lines are one line each.
import re

import pytest

from harness import auth_plain, make_message
from wire import Pop3, Smtp

REFUSED_HELO = [
    b"bad\xffhelo",                 # not UTF-8
    b"evil\rX-Injected:\x01yes",    # a bare CR and a control: a header of its own in Received:
    b"nul\x00byte",
    b"tab\there",
    b"-leading-hyphen",
    b"a..b",
    b"[127.0.0.1",                  # an address literal without its bracket
    b"x" * 64 + b".example",        # a label over 63 octets (RFC 1035 2.3.4)
    b"caf\xc3",                     # truncated UTF-8
]
ACCEPTED_HELO = [
    "client.test", "[127.0.0.1]", "[IPv6:::1]", "localhost", "DESKTOP-7H2K3L", "my_laptop.lan",
    "host.example.", "bücher.example",
]


def fresh_session(mk, banner=True):
    """fresh_session - a raw SMTP connection; with banner, its 220 already read (greet() reads it itself)."""
    s = Smtp(mk.ports["smtp"])
    if banner:
        assert s.reply().code == 220
    return s


@pytest.mark.parametrize("helo", REFUSED_HELO, ids=repr)
def test_ehlo_argument_that_is_no_domain_is_refused(mailkeep, helo):
    with fresh_session(mailkeep) as s:
        for verb in (b"EHLO ", b"HELO "):
            s.send(verb + helo + b"\r\n")
            r = s.reply()
            # No enhanced code before a successful EHLO has announced them (RFC 2034 3).
            assert r.code == 501 and r.enhanced == "", (helo, r)
        # Refused, not remembered: MAIL still wants a greeting first.
        assert s.cmd("MAIL FROM:<x@example.org>").code == 503
        s.expect("EHLO client.test", 250)
        s.send(b"EHLO " + helo + b"\r\n")
        r = s.reply()
        assert r.code == 501 and r.enhanced == "5.5.2", (helo, r)
        assert s.cmd("MAIL FROM:<x@example.org>").code == 250
    assert not log_lines_starting_with(mailkeep, "X-Injected")


@pytest.mark.parametrize("helo", ACCEPTED_HELO)
def test_real_clients_greetings_are_accepted_and_recorded(mailkeep, helo):
    with fresh_session(mailkeep) as s:
        s.send(f"EHLO {helo}\r\n".encode())
        assert s.reply().code == 250
        msg = make_message("greeting")
        s.expect("MAIL FROM:<sender@example.org>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        s.send(msg + b".\r\n")
        assert s.reply().code == 250
    (stored,) = mailkeep.wait_for_messages("anna", 1)
    received = stored.split(b"\r\n")[1]
    assert received.startswith(b"Received: from " + helo.encode() + b" ([127.0.0.1])"), received


@pytest.mark.parametrize("path", [b"<\xff@example.org>", b"<anna@caf\xc3.example>", b"<a\xc0\xafb@example.org>",
                                  b"<\xed\xa0\x80@example.org>"], ids=repr)
def test_malformed_utf8_addresses_are_refused(mailkeep, path):
    with fresh_session(mailkeep, banner=False) as s:
        s.greet()
        s.send(b"MAIL FROM:" + path + b" SMTPUTF8\r\n")
        r = s.reply()
        assert r.code == 501 and r.enhanced == "5.1.7", r
        s.expect("MAIL FROM:<sender@example.org> SMTPUTF8", 250)
        s.send(b"RCPT TO:" + path + b"\r\n")
        r = s.reply()
        assert r.code == 501 and r.enhanced == "5.1.3", r


def test_orcpt_address_type_must_be_an_atom(mailkeep):
    with fresh_session(mailkeep, banner=False) as s:
        s.greet()
        s.expect("MAIL FROM:<sender@example.org>", 250)
        s.send(b"RCPT TO:<anna@home.arpa> ORCPT=rfc\xff822;anna@home.arpa\r\n")
        r = s.reply()
        assert r.code == 501 and r.enhanced == "5.5.4", r


def test_queued_envelope_keeps_every_accepted_byte_across_a_restart(mailkeep_factory):
    # The forward sends every message for anna to the queue (the path any client reaches).
    users = {"anna": ("anna-secret-1", ["anna@home.arpa"], {"forward_to": ["anna.remote@example.net"]}),
             "postmaster": ("pm-secret-3", ["postmaster@home.arpa"])}
    mk = mailkeep_factory(users=users)
    sender = "grüße@bücher.example"
    with fresh_session(mk, banner=False) as s:
        s.greet("bücher.example")
        s.send(f"MAIL FROM:<{sender}> SMTPUTF8 ENVID=env+2Bid RET=HDRS\r\n".encode())
        assert s.reply().code == 250
        s.expect("RCPT TO:<anna@home.arpa> NOTIFY=FAILURE,DELAY ORCPT=rfc822;anna+2Bx@home.arpa", 250)
        s.expect("RCPT TO:<far@example.org>", 250)
        s.expect("DATA", 354)
        s.send(make_message("kept across restart", sender="x@example.org") + b".\r\n")
        assert s.reply().code == 250
    before = mk.queue_list()
    assert len(before) == 1 and sender in before[0], before
    mk.restart()
    after = mk.queue_list()
    # Every field but the age (third column), which may have ticked over during the restart.
    without_age = lambda lines: [l.split(None, 3)[:2] + l.split(None, 3)[3:] for l in lines]
    assert without_age(after) == without_age(before), (before, after)
    assert "DAMAGED" not in "\n".join(after) and "damaged" not in mk.log_text()
    env = next(p for p in mk.queue_files(".env")).read_bytes()
    assert sender.encode() in env and b"env+2Bid" in env and b"anna+2Bx@home.arpa" in env, env


def log_lines_starting_with(mk, word):
    return [line for line in mk.log_text().splitlines() if line.startswith(word)]


def test_client_strings_are_escaped_in_the_log(mailkeep):
    with fresh_session(mailkeep, banner=False) as s:
        s.greet()
        # An AUTH identity is whatever the client base64-encodes: a line feed and a fake log line.
        s.send(b"AUTH PLAIN " + auth_plain("nobody\nINJECTED 2026 info forged line", "x").encode() + b"\r\n")
        assert s.reply().code == 535
        s.send(b"MAIL FROM:<sender@example.org>\r\n")
        assert s.reply().code == 250
        s.send(b"RCPT TO:<nosuchuser\x7f@home.arpa>\r\n")
        assert s.reply().code in (501, 550)
    with Pop3(mailkeep.ports["pop3"]) as p:
        assert p.status().startswith(b"+OK")
        p.send(b"AUTH PLAIN " + auth_plain("evil\rINJECTED-POP3 forged", "x").encode() + b"\r\n")
        assert p.status().startswith(b"-ERR")
    text = mailkeep.log_text()
    assert not log_lines_starting_with(mailkeep, "INJECTED"), text[-2000:]
    assert "nobody\\x0aINJECTED" in text, text[-2000:]
    assert "evil\\x0dINJECTED-POP3" in text, text[-2000:]
    # Every line of the log is one event: a timestamp first.
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} ")
    events = [line for line in text.splitlines() if line and not line.startswith("mailkeep: ")]
    assert all(stamp.match(line) for line in events), [line for line in events if not stamp.match(line)][:5]
