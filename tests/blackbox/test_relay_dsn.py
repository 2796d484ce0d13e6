# tests/blackbox/test_relay_dsn.py — delivery status notifications (RFC 3464), read with Python's email
# package from the local sender's Maildir: a 550 for one of three recipients bounces that one at once
# (Status 5.x.x, Action failed, the remote reply in Diagnostic-Code) while the other two are
# delivered; an unreachable hop gives one delay DSN after warn_after and one failure DSN (4.4.7)
# after give_up_after, then the message leaves the queue; NOTIFY=NEVER is silence; RET=HDRS returns
# the headers only; ENVID and ORCPT come back in the report.
import re

from harness import free_ports, make_message, split_trace
from relayutil import (Dsn, dsns, probe_rcpt_reply, provider_options, send_transaction, smarthost,
                       wait_queue_empty)

SENDER = "anna@home.arpa"
KNOWN = ["friend@provider.example", "pal@provider.example"]
UNKNOWN = "stranger@provider.example"
STATUS_5XX = re.compile(r"^5\.\d{1,3}\.\d{1,3}$")
SECRET_BODY = "body-only-marker-4b1d"


def collapse(text):
    return re.sub(r"\s+", " ", text).strip()


def one_dsn(mk, user="anna", deadline=20):
    mk.wait_for_messages(user, 1, deadline=deadline)
    found = dsns(mk, user)
    assert len(found) == 1 and len(mk.maildir_files(user)) == 1, \
        f"want exactly one DSN for {user}, have {len(mk.maildir_files(user))} message(s): {found}"
    return found[0]


def check_report_shape(d, original_subject):
    assert d.return_path == b"Return-Path: <>", f"a DSN comes from the null sender: {d.return_path!r}"
    assert d.msg.get_content_type() == "multipart/report", d.msg.get_content_type()
    assert (d.msg.get_param("report-type") or "").lower() == "delivery-status", d.msg["Content-Type"]
    assert d.report is not None, "no message/delivery-status part"
    assert Dsn.field(d.report, "Reporting-MTA"), "no Reporting-MTA"
    parts = [p.get_content_type() for p in d.msg.get_payload()]
    # RFC 6522: first a human-readable part, then the machine-readable report
    assert len(parts) >= 2 and parts[1] == "message/delivery-status" and parts[0].startswith(("text/", "multipart/")), parts
    assert original_subject in d.returned_bytes().decode("utf-8", "replace"), \
        f"the original's headers are not returned: {parts}"


def test_550_for_one_of_three(mailkeep_factory):
    provider = mailkeep_factory(name="provider", **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"]))
    code, remote_text = probe_rcpt_reply(provider, UNKNOWN)
    assert code == 550, (code, remote_text)    # what the provider says; the DSN must carry it

    msg = make_message("three recipients", sender=SENDER, to=", ".join(KNOWN + [UNKNOWN]),
                       body=f"{SECRET_BODY}\r\n")
    send_transaction(home, SENDER, KNOWN + [UNKNOWN], msg)

    for user in ("friend", "pal"):
        (raw,) = provider.wait_for_messages(user, 1)
        assert split_trace(raw)[0] == f"Return-Path: <{SENDER}>".encode()
    d = one_dsn(home)
    check_report_shape(d, "three recipients")
    assert d.final_recipients() == [UNKNOWN], f"only the refused recipient is reported: {d.final_recipients()}"
    b = d.recipient(UNKNOWN)
    assert (Dsn.field(b, "Action") or "").lower() == "failed", Dsn.field(b, "Action")
    assert STATUS_5XX.match(Dsn.field(b, "Status") or ""), Dsn.field(b, "Status")
    diag = Dsn.field(b, "Diagnostic-Code") or ""
    assert diag.lower().startswith("smtp;") and "550" in diag, diag
    assert collapse(remote_text) in collapse(diag), f"remote reply {remote_text!r} not in {diag!r}"
    # RET not given: the full message comes back
    assert SECRET_BODY in d.returned_bytes().decode("utf-8", "replace"), "RET default returns the message"
    wait_queue_empty(home)


def test_delay_then_failure_when_unreachable(mailkeep_factory):
    dead_port = free_ports(1)[0]     # nothing listens there
    home = mailkeep_factory(name="home", relay=smarthost(
        dead_port, retry=["1s"], probe_interval="1s", warn_after="3s", give_up_after="6s"))
    rcpt = "someone@elsewhere.example"
    msg = make_message("waits too long", sender=SENDER, to=rcpt, body=f"{SECRET_BODY}\r\n")
    send_transaction(home, SENDER, [rcpt], msg, mail_options=["RET=HDRS"])

    delay = one_dsn(home, deadline=3 + 12)
    check_report_shape(delay, "waits too long")
    assert delay.actions() == ["delayed"], delay.actions()
    b = delay.recipient(rcpt)
    assert re.match(r"^4\.\d{1,3}\.\d{1,3}$", Dsn.field(b, "Status") or ""), Dsn.field(b, "Status")
    assert len(home.queue_list()) == 1, "a delay warning does not end the message"

    home.wait_for_messages("anna", 2, deadline=6 + 12)
    found = dsns(home, "anna")
    assert len(found) == 2, found
    failure = next(d for d in found if d.raw != delay.raw)
    check_report_shape(failure, "waits too long")
    assert failure.actions() == ["failed"], failure.actions()
    assert Dsn.field(failure.recipient(rcpt), "Status") == "4.4.7", Dsn.field(failure.recipient(rcpt), "Status")
    wait_queue_empty(home, 10)
    assert home.queue_files() == []
    # RET=HDRS: headers only, in both reports
    for d in (delay, failure):
        assert SECRET_BODY not in d.raw.decode("utf-8", "replace"), "RET=HDRS returned the body"
        assert d.returned is not None and d.returned.get_content_type() in ("text/rfc822-headers",
                                                                           "message/global-headers")
    # one of each, no second warning
    assert sorted(tuple(d.actions()) for d in dsns(home, "anna")) == [("delayed",), ("failed",)]


def test_notify_never_is_silent(mailkeep_factory):
    provider = mailkeep_factory(name="provider", **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"]))
    quiet = make_message("quiet failure", sender=SENDER, to=UNKNOWN)
    send_transaction(home, SENDER, [KNOWN[0], UNKNOWN], quiet, rcpt_options={UNKNOWN: ["NOTIFY=NEVER"]})
    provider.wait_for_messages("friend", 1)
    wait_queue_empty(home)       # every recipient final: a DSN would already be in the Maildir
    assert home.maildir_files("anna") == [], "NOTIFY=NEVER produced a DSN"

    # Control: the same refusal without NOTIFY=NEVER does bounce, and only this message does.
    loud = make_message("loud failure", sender=SENDER, to=UNKNOWN)
    send_transaction(home, SENDER, [UNKNOWN], loud)
    d = one_dsn(home)
    assert "loud failure" in d.returned_bytes().decode("utf-8", "replace")
    assert d.final_recipients() == [UNKNOWN]


def test_envid_and_orcpt_are_reported(mailkeep_factory):
    provider = mailkeep_factory(name="provider", **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"]))
    msg = make_message("with envid", sender=SENDER, to=UNKNOWN)
    send_transaction(home, SENDER, [UNKNOWN], msg, mail_options=["ENVID=QQ314159"],
                     rcpt_options={UNKNOWN: ["NOTIFY=FAILURE", "ORCPT=rfc822;first.spelling@provider.example"]})
    d = one_dsn(home)
    assert Dsn.field(d.report, "Original-Envelope-Id") == "QQ314159", d.report.items()
    b = d.recipient(UNKNOWN)
    assert b is not None, d.final_recipients()
    orcpt = Dsn.field(b, "Original-Recipient") or ""
    assert re.fullmatch(r"(?i)rfc822; ?first\.spelling@provider\.example", orcpt), orcpt


def test_internationalised_recipient_gets_a_global_report(mailkeep_factory):
    # RFC 6533: a refused UTF-8 address comes back typed utf-8 in message/global-delivery-status, and
    # an original with UTF-8 in its header comes back as message/global.
    provider = mailkeep_factory(name="provider", **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"]))
    rcpt = "jörg@provider.example"
    msg = ("From: anna@home.arpa\r\nTo: jörg@provider.example\r\nSubject: Grüße\r\n"
           "Message-ID: <utf8-dsn@home.arpa>\r\n\r\nhallo\r\n").encode()
    send_transaction(home, SENDER, [rcpt], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    home.wait_for_messages("anna", 1, deadline=20)
    (raw,) = home.maildir_messages("anna")
    assert b"Content-Type: message/global-delivery-status\r\n" in raw, raw[:2000]
    assert "Final-Recipient: utf-8;jörg@provider.example\r\n".encode() in raw, raw[:2000]
    assert b"Content-Type: message/global\r\n" in raw
    assert "Subject: Grüße".encode() in raw, "the original's header is returned"
    wait_queue_empty(home)
