# tests/blackbox/test_relay_smarthost_postfix.py — mailkeep relays through a real Postfix smarthost
# over STARTTLS, verifying its self-signed certificate (ca_file): the message arrives in Postfix's
# Maildir byte for byte as it was sent, apart from the trace headers (mailkeep's Received: line, which
# stays, and Postfix's Return-Path/X-Original-To/Delivered-To/Received), and leaves mailkeep's queue.
# With a ca_file that did not sign Postfix's certificate nothing is sent and the message stays queued.
import re

from harness import make_message, wait_until
from relayutil import FAST, wait_queue_empty
from smtputil import send

DOMAIN = "smarthost.test"
RCPTS = ["user@smarthost.test", "other@smarthost.test"]


def body():
    """body - content a relay client could damage: a leading dot (dot-stuffing), a lone dot with
    text, trailing blanks, a tab, 8-bit UTF-8, a 990-octet line, and enough lines to span many reads."""
    lines = [".leading dot", "..two dots", ". ", "trailing blanks   ", "tab\there",
             "8-bit: Grüße, naïve, ½", "x" * 990]
    lines += [f"line {i:05d} " + "abcdefghij" * 6 for i in range(2000)]
    return ("\r\n".join(lines) + "\r\n").encode()


def strip_postfix_trace(raw):
    """strip_postfix_trace - (postfix_headers, rest): the header lines Postfix's virtual(8) agent and
    smtpd put in front (Return-Path, X-Original-To, Delivered-To, then its own folded Received:), and
    everything after them."""
    lines = raw.split(b"\n")
    added, i = [], 0
    while i < len(lines) and lines[i].startswith((b"Return-Path: ", b"X-Original-To: ", b"Delivered-To: ")):
        added.append(lines[i])
        i += 1
    received, rest = split_received(b"\n".join(lines[i:]))
    assert received.startswith(b"Received: ") and b"(Postfix)" in received, f"no Postfix Received: {received[:300]!r}"
    return added + [received], rest


def split_received(rest):
    """split_received - (first header, folded lines joined; the remainder) of rest."""
    lines = rest.split(b"\n")
    j = 1
    while j < len(lines) and lines[j][:1] in (b" ", b"\t"):
        j += 1
    return b"\n".join(lines[:j]), b"\n".join(lines[j:])


def relay_to(pf, ca_file):
    return {"mode": "smarthost", "host": "127.0.0.1", "port": pf.port, "tls": "starttls",
            "tls_verify": True, "ca_file": ca_file, **FAST}


def test_postfix_smarthost_starttls_byte_identical(postfix_factory, mailkeep_factory, smarthost_tls):
    pf = postfix_factory(domain=DOMAIN, users=("user", "other"))
    mk = mailkeep_factory(name="home", relay=relay_to(pf, smarthost_tls[0]))
    msg = make_message("through postfix", body=body(), sender="anna@home.arpa", to=RCPTS[0],
                       extra_headers=(f"Cc: <{RCPTS[1]}>",))
    assert send(mk, "anna@home.arpa", RCPTS, msg, role="submission", auth=("anna", mk.password("anna"))) == {}

    for user in ("user", "other"):
        (raw,) = pf.wait_for_messages(user, 1)
        added, rest = strip_postfix_trace(raw)
        names = [a.split(b":", 1)[0] for a in added]
        assert names[0] == b"Return-Path" and b"Received" in names, f"postfix trace: {added}"
        assert added[0] == b"Return-Path: <anna@home.arpa>", added[0]
        postfix_received = next(a for a in added if a.startswith(b"Received: "))
        # Postfix names the protocol: ESMTPS = ESMTP over TLS, so STARTTLS was used.
        assert re.search(rb"\bwith ESMTPS\b", postfix_received), postfix_received
        received, original = split_received(rest)
        # mailkeep's own Received: line stays; its Return-Path: does not go out.
        assert received.startswith(b"Received: ") and b"mail.home.arpa" in received \
            and b"mailkeep" in received, received
        assert b"Return-Path:" not in original.split(b"\n\n", 1)[0], "mailkeep's Return-Path went out"
        # Postfix's Maildir has LF line ends; everything else is the exact bytes sent.
        assert original == msg.replace(b"\r\n", b"\n"), "message altered on the way through mailkeep"

    wait_queue_empty(mk)
    assert mk.queue_files() == []
    log = pf.log_text()
    assert re.search(r"TLS connection established from localhost\[127\.0\.0\.1\]", log), \
        "postfix logged no TLS connection"
    # both recipients went in one transaction
    assert len(re.findall(r": client=localhost\[127\.0\.0\.1\]", log)) == 1, log


def test_wrong_ca_file_sends_nothing(postfix_factory, mailkeep_factory, tls_pair):
    # ca_file is the home instance's own certificate, which did not sign Postfix's.
    pf = postfix_factory(domain=DOMAIN, users=("user",))
    mk = mailkeep_factory(name="home", relay=relay_to(pf, tls_pair[0]))
    msg = make_message("must not leave", sender="anna@home.arpa", to=RCPTS[0])
    assert send(mk, "anna@home.arpa", [RCPTS[0]], msg) == {}
    # Postfix logs the aborted handshake, then the disconnect of that session.
    wait_until(lambda: re.search(r"(SSL_accept error|lost connection after STARTTLS|"
                                 r"TLS handshake failed|certificate unknown|unknown ca)", pf.log_text()),
               15, f"postfix to see mailkeep abort STARTTLS; postfix log:\n{pf.log_tail()}")
    wait_until(lambda: "disconnect from localhost[127.0.0.1]" in pf.log_text().split("STARTTLS", 1)[-1],
               15, "the session to end")
    assert ": client=localhost" not in pf.log_text(), "a transaction started over an unverified TLS session"
    assert pf.maildir_files("user") == []
    assert len(mk.queue_list()) == 1, "the message left the queue without a verified delivery"
    # Postfix answered: the line is up and this is a TLS problem to fix, not "offline". The try is
    # counted and its reason shown.
    listed = wait_until(lambda: (lambda q: q if "tries" in q[0] else None)(mk.queue_list()), 10,
                        "the failed try to be recorded")
    assert re.search(r"\d+ tries: 451 4\.7\.0 .*TLS handshake: .*certificate verify failed", listed[0]), listed
    assert mk.status().startswith("relay: online"), mk.status()


def test_eight_bit_to_a_server_without_8bitmime_is_converted(postfix_factory, mailkeep_factory, smarthost_tls):
    # RFC 6152 3: Postfix here does not announce 8BITMIME, so the 8-bit body must arrive re-encoded
    # (every byte 7-bit, Content-Transfer-Encoding saying how) and decode to exactly what was sent.
    from email import message_from_bytes, policy
    from relayutil import send_transaction

    pf = postfix_factory(domain=DOMAIN, users=("user",), extra_main_cf="smtpd_discard_ehlo_keywords = 8bitmime\n")
    mk = mailkeep_factory(name="home", relay=relay_to(pf, smarthost_tls[0]))
    text = "Grüße aus Köln — naïve ½\r\nzweite Zeile\r\n"
    msg = (b"From: anna@home.arpa\r\nTo: user@smarthost.test\r\nSubject: eight bit\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           + text.encode())
    send_transaction(mk, "anna@home.arpa", ["user@smarthost.test"], msg, mail_options=["BODY=8BITMIME"])
    (raw,) = pf.wait_for_messages("user", 1)
    assert all(b < 0x80 for b in raw), "8-bit bytes reached a server that did not offer 8BITMIME"
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "eight bit"
    assert parsed["Content-Transfer-Encoding"] in ("quoted-printable", "base64"), parsed["Content-Transfer-Encoding"]
    assert parsed.get_content().replace("\r\n", "\n") == text.replace("\r\n", "\n")
    wait_queue_empty(mk)
    assert "converted to 7 bit" in mk.log_text()
