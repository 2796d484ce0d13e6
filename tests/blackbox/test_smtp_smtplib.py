# tests/blackbox/test_smtp_smtplib.py — SMTP with Python's smtplib (and raw pipelining): local delivery
# byte for byte, TLS (STARTTLS, implicit), AUTH, routing (alias, catch-all, unknown, remote -> queue),
# the EHLO extensions and DSN parameters stored with the envelope.
import email.utils
import json
import os
import re
import smtplib
import ssl

import pytest

from harness import make_message, split_trace
from smtputil import HELO, connect, enhanced, login, send
from wire import Smtp, insecure_context

SENDER = "sender@example.org"


def only_message(mk, user):
    msgs = mk.wait_for_messages(user, 1)
    assert len(msgs) == 1, f"{user} has {len(msgs)} messages, want 1"
    return msgs[0]


def test_plain_send_to_local_user_stores_exact_bytes(mailkeep):
    msg = make_message("plain", "first line\r\nsecond line\r\n")
    assert send(mailkeep, SENDER, ["anna@home.arpa"], msg) == {}
    # 250 is given only after the durable write: the file is there without waiting.
    files = mailkeep.maildir_files("anna")
    assert len(files) == 1, f"no message in new/ or cur/ right after 250: {files}"
    raw = files[0].read_bytes()
    rp, received, rest = split_trace(raw)
    assert rp == b"Return-Path: <sender@example.org>"
    assert rest == msg, f"stored message differs from the sent one:\n{rest!r}\n!=\n{msg!r}"
    assert files[0].parent.name == "new", f"fresh delivery not in new/: {files[0]}"


def test_received_header_has_from_by_and_date(mailkeep):
    send(mailkeep, SENDER, ["anna@home.arpa"], make_message("rcvd"))
    _, received, _ = split_trace(only_message(mailkeep, "anna"))
    text = re.sub(rb"\r\n[ \t]+", b" ", received).decode()
    assert re.search(r"\bfrom\s+\S+", text, re.I), text                    # RFC 5321 4.4 From-domain
    assert re.search(r"\bby\s+mail\.home\.arpa\b", text, re.I), text        # By-domain = hostname
    assert "127.0.0.1" in text, f"client address not recorded: {text}"
    assert ";" in text, text
    date = text.rsplit(";", 1)[1].strip()
    assert email.utils.parsedate_to_datetime(date) is not None, f"bad date-time {date!r}"


def test_stored_file_has_only_crlf_line_ends(mailkeep):
    send(mailkeep, SENDER, ["anna@home.arpa"], make_message("crlf", "a\r\nb\r\n"))
    raw = only_message(mailkeep, "anna")
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n"), "bare LF in the stored file"


def test_null_sender_return_path(mailkeep):
    send(mailkeep, "", ["anna@home.arpa"], make_message("bounce-like"))
    rp, _, _ = split_trace(only_message(mailkeep, "anna"))
    assert rp == b"Return-Path: <>"


def test_pipelined_multi_rcpt(mailkeep):
    msg = make_message("pipelined", "one body, two mailboxes\r\n")
    with Smtp(mailkeep.ports["smtp"]) as s:
        ehlo = s.greet()
        assert "PIPELINING" in [l.split(" ")[0].upper() for l in ehlo.lines]
        s.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<anna@home.arpa>\r\nRCPT TO:<ben@home.arpa>\r\n"
               "RCPT TO:<nobody@home.arpa>\r\nDATA\r\n")
        codes = [s.reply().code for _ in range(5)]
        assert codes == [250, 250, 250, 550, 354], codes
        s.send(msg + b".\r\nQUIT\r\n")
        assert s.reply().code == 250
        assert s.reply().code == 221
    for user in ("anna", "ben"):
        assert split_trace(only_message(mailkeep, user))[2] == msg


def test_smtplib_multi_rcpt(mailkeep):
    msg = make_message("multi")
    assert send(mailkeep, SENDER, ["anna@home.arpa", "ben@home.arpa"], msg) == {}
    assert split_trace(only_message(mailkeep, "anna"))[2] == msg
    assert split_trace(only_message(mailkeep, "ben"))[2] == msg


def test_multi_recipient_delivery_shares_one_file(mailkeep):
    # issue 2: "Multiple local recipients share one write where the filesystem allows (hard links)."
    send(mailkeep, SENDER, ["anna@home.arpa", "ben@home.arpa"], make_message("hardlink"))
    mailkeep.wait_for_messages("anna", 1)
    mailkeep.wait_for_messages("ben", 1)
    a, b = mailkeep.maildir_files("anna")[0], mailkeep.maildir_files("ben")[0]
    assert os.stat(a).st_ino == os.stat(b).st_ino, "two copies written instead of one hard-linked file"


def test_starttls_on_submission_then_auth(mailkeep):
    s = smtplib.SMTP("127.0.0.1", mailkeep.ports["submission"], local_hostname=HELO, timeout=10)
    try:
        s.ehlo()
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=insecure_context())
        assert code == 220
        s.ehlo()
        assert not s.has_extn("starttls"), "STARTTLS advertised after TLS (RFC 3207 4.2)"
        assert {"PLAIN", "LOGIN"} <= set(s.esmtp_features.get("auth", "").upper().split())
        code, _ = login(s, "anna", mailkeep.password("anna"))
        assert code == 235
        msg = make_message("via submission", sender="anna@home.arpa", to="ben@home.arpa")
        assert s.sendmail("anna@home.arpa", ["ben@home.arpa"], msg) == {}
        s.quit()
    finally:
        s.close()
    rp, _, rest = split_trace(only_message(mailkeep, "ben"))
    assert rp == b"Return-Path: <anna@home.arpa>" and rest == msg


def test_implicit_tls_on_submissions(mailkeep, tls_pair):
    s = smtplib.SMTP_SSL("127.0.0.1", mailkeep.ports["submissions"], local_hostname=HELO, timeout=10,
                         context=insecure_context())
    try:
        served = s.sock.getpeercert(binary_form=True)
        want = ssl.PEM_cert_to_DER_cert(open(tls_pair[0]).read())
        assert served == want, "submissions does not present the configured [tls] cert"
        s.ehlo()
        assert not s.has_extn("starttls"), "STARTTLS advertised on implicit TLS"
        assert login(s, "ben", mailkeep.password("ben"))[0] == 235
        msg = make_message("via submissions", sender="ben@home.arpa", to="anna@home.arpa")
        assert s.sendmail("ben@home.arpa", ["anna@home.arpa"], msg) == {}
        s.quit()
    finally:
        s.close()
    assert split_trace(only_message(mailkeep, "anna"))[2] == msg


@pytest.mark.parametrize("role", ["submission", "submissions"])
def test_submission_requires_auth_before_mail(mailkeep, role):
    with connect(mailkeep, role) as s:
        code, resp = s.docmd("MAIL", "FROM:<anna@home.arpa>")
        assert (code, enhanced(resp)) == (530, "5.7.0"), (code, resp)


def test_submission_mail_before_starttls_refused(mailkeep):
    with smtplib.SMTP("127.0.0.1", mailkeep.ports["submission"], local_hostname=HELO, timeout=10) as s:
        s.ehlo()
        code, resp = s.docmd("MAIL", "FROM:<anna@home.arpa>")
        assert (code, enhanced(resp)) == (530, "5.7.0"), (code, resp)


@pytest.mark.parametrize("mechanism,initial", [("PLAIN", True), ("PLAIN", False), ("LOGIN", True),
                                               ("LOGIN", False)])
def test_auth_mechanisms_plaintext_on_loopback(mailkeep, mechanism, initial):
    with connect(mailkeep, "smtp") as s:
        assert mechanism in s.esmtp_features.get("auth", "").upper().split()
        code, resp = login(s, "anna", mailkeep.password("anna"), mechanism, initial)
        assert code == 235, (code, resp)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_wrong_password_535(mailkeep, mechanism):
    with connect(mailkeep, "smtp") as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            login(s, "anna", "not-the-password", mechanism)
        assert (e.value.smtp_code, enhanced(e.value.smtp_error)) == (535, "5.7.8"), e.value


def test_authenticated_user_may_relay_from_untrusted(untrusted):
    msg = make_message("relay after auth", sender="anna@home.arpa", to="bob@remote.example")
    with connect(untrusted, "smtp") as s:
        login(s, "anna", untrusted.password("anna"))
        assert s.sendmail("anna@home.arpa", ["bob@remote.example"], msg) == {}
    assert len(untrusted.queue_files(".eml")) == 1
    assert any("bob@remote.example" in line for line in untrusted.queue_list())


def test_sender_not_owned_553(mailkeep):
    with connect(mailkeep, "submission") as s:
        login(s, "anna", mailkeep.password("anna"))
        code, resp = s.docmd("MAIL", "FROM:<ben@home.arpa>")
        assert (code, enhanced(resp)) == (553, "5.7.1"), (code, resp)


def test_alias_expands_to_two_users(mailkeep):
    msg = make_message("family", to="family@home.arpa")
    assert send(mailkeep, SENDER, ["family@home.arpa"], msg) == {}
    assert split_trace(only_message(mailkeep, "anna"))[2] == msg
    assert split_trace(only_message(mailkeep, "ben"))[2] == msg
    assert mailkeep.maildir_files("postmaster") == []


def test_catch_all(mailkeep_factory):
    mk = mailkeep_factory(catch_all="postmaster")
    msg = make_message("to nobody", to="nobody@home.arpa")
    assert send(mk, SENDER, ["nobody@home.arpa"], msg) == {}
    assert split_trace(only_message(mk, "postmaster"))[2] == msg


def test_unknown_local_user_550(mailkeep):
    with connect(mailkeep, "smtp") as s:
        assert s.mail(SENDER)[0] == 250
        code, resp = s.rcpt("nobody@home.arpa")
        assert (code, enhanced(resp)) == (550, "5.1.1"), (code, resp)


def test_remote_recipient_is_queued(mailkeep):
    msg = make_message("outbound", to="bob@remote.example")
    assert send(mailkeep, SENDER, ["bob@remote.example"], msg) == {}
    emls, envs = mailkeep.queue_files(".eml"), mailkeep.queue_files(".env")
    assert len(emls) == 1 and len(envs) == 1, (emls, envs)
    assert emls[0].stem == envs[0].stem
    assert msg in emls[0].read_bytes()
    json.loads(envs[0].read_text())
    lines = mailkeep.queue_list()
    assert len(lines) == 1, lines
    assert emls[0].stem in lines[0] and SENDER in lines[0] and "bob@remote.example" in lines[0], lines


def test_local_and_remote_in_one_transaction(mailkeep):
    msg = make_message("mixed")
    assert send(mailkeep, SENDER, ["anna@home.arpa", "bob@remote.example"], msg) == {}
    assert split_trace(only_message(mailkeep, "anna"))[2] == msg
    assert len(mailkeep.queue_files(".eml")) == 1
    env = mailkeep.queue_files(".env")[0].read_text()
    assert "bob@remote.example" in env and "anna@home.arpa" not in env, env


def features(s):
    return {k.upper(): v for k, v in s.esmtp_features.items()}


@pytest.mark.parametrize("role", ["smtp", "submission", "submissions"])
def test_ehlo_extensions(mailkeep, role):
    with connect(mailkeep, role) as s:
        f = features(s)
    for ext in ("PIPELINING", "8BITMIME", "SIZE", "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN"):
        assert ext in f, f"{role}: {ext} not advertised: {sorted(f)}"
    assert {"PLAIN", "LOGIN"} <= set(f.get("AUTH", "").upper().split()), f"{role}: AUTH {f.get('AUTH')!r}"
    if f["SIZE"].strip():
        assert int(f["SIZE"]) == 1024 * 1024, f"SIZE {f['SIZE']} for max_message_size = 1M"


@pytest.mark.parametrize("role", ["smtp", "submission"])
def test_starttls_advertised_before_tls(mailkeep, role):
    with smtplib.SMTP("127.0.0.1", mailkeep.ports[role], local_hostname=HELO, timeout=10) as s:
        s.ehlo()
        assert s.has_extn("starttls"), f"{role}: STARTTLS not advertised"


def test_starttls_discards_pipelined_plaintext(mailkeep):
    # CVE-2011-0411: commands sent in the same packet as STARTTLS must not run inside TLS.
    with Smtp(mailkeep.ports["submission"]) as s:
        s.greet()
        s.send("STARTTLS\r\nMAIL FROM:<anna@home.arpa>\r\n")
        r = s.reply()
        if r.code != 220:
            assert 400 <= r.code < 600, r     # refusing STARTTLS with input buffered is fine
            return
        s.buf = b""
        try:
            s.starttls()
        except ssl.SSLError:
            return                            # the injected bytes broke the handshake: not executed
        r = s.cmd("NOOP")
        assert r.code == 250, f"first reply inside TLS is {r}: the injected command was executed"


def flatten(v, out):
    """flatten - every key and scalar value of a JSON document as strings."""
    if isinstance(v, dict):
        for k, x in v.items():
            out.append(str(k))
            flatten(x, out)
    elif isinstance(v, list):
        for x in v:
            flatten(x, out)
    elif v is not None:
        out.append(str(v))
    return out


def recipient_record(env, address):
    """recipient_record - the innermost JSON object that holds this recipient address."""
    found = []

    def walk(v):
        if isinstance(v, dict):
            if any(isinstance(x, str) and x.lower() == address for x in v.values()):
                found.append(v)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(env)
    assert found, f"{address} not in the envelope {env}"
    return found[0]


def queue_dsn(mk, mail_options, rcpt_options):
    before = set(mk.queue_files(".env"))
    with connect(mk, "smtp") as s:
        assert s.has_extn("dsn")
        code, resp = s.mail(SENDER, mail_options)
        assert code == 250, resp
        code, resp = s.rcpt("bob@remote.example", rcpt_options)
        assert code == 250, resp
        assert s.data(make_message("dsn", to="bob@remote.example"))[0] == 250
    new = set(mk.queue_files(".env")) - before
    assert len(new) == 1, new
    return json.loads(new.pop().read_text())


def test_dsn_parameters_stored_in_envelope(mailkeep):
    env = queue_dsn(mailkeep, ["RET=HDRS", "ENVID=QQ314159"],
                    ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@remote.example"])
    blob = "\n".join(flatten(env, [])).upper()
    for want in ("QQ314159", "HDRS", "RFC822", "BOB@REMOTE.EXAMPLE"):
        assert want in blob, f"{want} not in the envelope JSON: {env}"


def test_dsn_notify_stored_per_recipient(mailkeep):
    # The encoding of NOTIFY is the implementation's; each distinct NOTIFY must be stored distinctly.
    stored = {}
    for notify in ("SUCCESS,FAILURE", "NEVER", "DELAY", "SUCCESS", None):
        env = queue_dsn(mailkeep, [], [f"NOTIFY={notify}"] if notify else [])
        rec = recipient_record(env, "bob@remote.example")
        keys = [k for k in rec if "notify" in k.lower()]
        stored[notify] = json.dumps({k: rec[k] for k in keys}, sort_keys=True) if keys else json.dumps(rec)
    values = list(stored.values())
    assert len(set(values)) == len(values), f"NOTIFY values not kept apart: {stored}"


def test_8bitmime_body_stored_exactly(mailkeep):
    msg = make_message("8bit", "caf\xe9 na\xefve \u2603\r\n".encode("utf-8") + b"raw \xff\xfe bytes\r\n",
                       extra_headers=("Content-Type: text/plain; charset=utf-8",
                                      "Content-Transfer-Encoding: 8bit"))
    assert send(mailkeep, SENDER, ["anna@home.arpa"], msg, mail_options=["BODY=8BITMIME"]) == {}
    assert split_trace(only_message(mailkeep, "anna"))[2] == msg


def test_smtputf8_sender(mailkeep):
    msg = make_message("utf8", sender="j\xf6rg@example.org")
    assert send(mailkeep, "j\xf6rg@example.org", ["anna@home.arpa"], msg, mail_options=["SMTPUTF8"]) == {}
    rp, _, _ = split_trace(only_message(mailkeep, "anna"))
    assert rp == "Return-Path: <j\xf6rg@example.org>".encode()


def test_dot_lines_survive_smtp(mailkeep):
    body = b".starts with a dot\r\n..two dots\r\n.\r\nend\r\n"
    msg = make_message("dots", body)
    send(mailkeep, SENDER, ["anna@home.arpa"], msg)
    assert split_trace(only_message(mailkeep, "anna"))[2] == msg


def test_vrfy_help_noop_rset(mailkeep):
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        assert s.cmd("VRFY anna").code == 252
        assert s.cmd("HELP").code in (211, 214)
        assert s.cmd("NOOP").code == 250
        assert s.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert s.cmd("RSET").code == 250
        assert s.cmd("RCPT TO:<anna@home.arpa>").code == 503, "RSET did not end the transaction"
        assert s.cmd("QUIT").code == 221
