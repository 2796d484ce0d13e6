# tests/blackbox/relayutil.py — shared pieces of the relay tests: a second mailkeep acting as the
# provider (smarthost / MX) for provider.example, [relay] tables in the contract's format, waiting for
# the queue to drain, and reading RFC 3464 DSNs with Python's email package.
import email
import email.policy
import re
import smtplib

from harness import split_trace, wait_until

# The provider's users: name -> (password, addresses). anna.schmidt and ben.b are the accounts the
# household's members send through; friend and pal receive; stranger@provider.example does not exist.
PROVIDER_USERS = {
    "anna.schmidt": ("provider-anna-7", ["anna.schmidt@provider.example"]),
    "ben.b": ("provider-ben-8", ["ben.b@provider.example"]),
    "friend": ("friend-secret-9", ["friend@provider.example"]),
    "pal": ("pal-secret-10", ["pal@provider.example"]),
    "postmaster": ("provider-pm-11", ["postmaster@provider.example"]),
}

# Quick schedules for tests that are not about them: retry soon, never warn or give up in a test's time.
FAST = {"retry": ["1s", "2s"], "warn_after": "1h", "give_up_after": "2h", "probe_interval": "1s"}

# Connections mailkeep opens to one destination at once (relay/queue_manager.hpp kConnectionsPerHop).
CONNECTIONS_PER_HOP = 4

QUEUE_POLL = 0.2   # seconds between `queue list` runs (each is a process)


def provider_options(**extra):
    """provider_options - mailkeep_factory options for a provider instance: local domain
    provider.example, 127.0.0.1 not trusted (trusted: 10.99.0.0/16), so relaying needs AUTH."""
    opts = dict(hostname="mail.provider.example", local_domains=["provider.example"],
                postmaster="postmaster@provider.example", users=PROVIDER_USERS,
                trusted_networks=["10.99.0.0/16"])
    opts.update(extra)
    return opts


def smarthost(port, tls="none", host="127.0.0.1", **extra):
    """smarthost - a [relay] table in smarthost mode to host:port, with the FAST schedule."""
    relay = {"mode": "smarthost", "host": host, "port": port, "tls": tls, **FAST}
    relay.update(extra)
    return relay


def wait_queue_empty(mk, deadline=20.0):
    """wait_queue_empty - `mailkeep queue list` shows no message within deadline seconds."""
    last = []

    def empty():
        last[:] = mk.queue_list()
        return not last

    try:
        wait_until(empty, deadline, "mailkeep's queue to empty", interval=QUEUE_POLL)
    except AssertionError as e:
        raise AssertionError(f"{e}; still queued:\n" + "\n".join(last[:20])) from None


def send_transaction(mk, sender, rcpts, msg, role="smtp", auth=None, mail_options=(), rcpt_options=None):
    """send_transaction - one SMTP transaction with per-recipient options (rcpt_options: {rcpt: [opts]});
    returns {rcpt: (code, text)} of every RCPT reply. smtplib's sendmail cannot vary options per
    recipient, hence MAIL/RCPT/DATA by hand."""
    from smtputil import connect, login
    rcpt_options = rcpt_options or {}
    replies = {}
    with connect(mk, role) as s:
        if auth:
            login(s, *auth)
        code, text = s.mail(sender, list(mail_options))
        assert code == 250, (code, text)
        for r in rcpts:
            replies[r] = s.rcpt(r, list(rcpt_options.get(r, ())))
        assert any(c == 250 for c, _ in replies.values()), replies
        code, text = s.data(msg)
        assert code == 250, (code, text)
        s.quit()
    return replies


def header(raw, name):
    """header - the first value of header name in raw message bytes, unfolded, or None."""
    m = re.search(rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*(?:\r?\n[ \t].*)*)", raw, re.M | re.I)
    if not m:
        return None
    return re.sub(r"\s+", " ", m.group(1).decode("utf-8", "replace")).strip()


def message_id(raw):
    return header(raw, "Message-ID")


class Dsn:
    """Dsn - one RFC 3464 report as stored in a local Maildir: return_path line, the parsed message,
    the per-message fields, the per-recipient field blocks, and the returned content part."""

    def __init__(self, raw):
        self.raw = raw
        self.return_path, _, rest = split_trace(raw)
        self.msg = email.message_from_bytes(rest, policy=email.policy.compat32)
        self.report = None
        self.recipients = []
        self.returned = None
        if self.msg.get_content_type() != "multipart/report":
            return
        for part in self.msg.get_payload():
            ctype = part.get_content_type()
            if ctype == "message/delivery-status" and self.report is None:
                blocks = part.get_payload()   # email parses this into a list of field blocks
                self.report = blocks[0]
                self.recipients = blocks[1:]
            elif ctype in ("message/rfc822", "text/rfc822-headers", "message/global",
                           "message/global-headers"):
                self.returned = part

    @staticmethod
    def field(block, name):
        v = block.get(name)
        return None if v is None else re.sub(r"\s+", " ", str(v)).strip()

    def recipient(self, address):
        """recipient - the per-recipient block whose Final-Recipient is address, or None."""
        for b in self.recipients:
            fr = self.field(b, "Final-Recipient") or ""
            if fr.split(";", 1)[-1].strip().strip("<>").lower() == address.lower():
                return b
        return None

    def final_recipients(self):
        return sorted((self.field(b, "Final-Recipient") or "").split(";", 1)[-1].strip().strip("<>").lower()
                      for b in self.recipients)

    def actions(self):
        return sorted((self.field(b, "Action") or "").lower() for b in self.recipients)

    def returned_bytes(self):
        """returned_bytes - the returned message or headers as bytes ('' when none)."""
        if self.returned is None:
            return b""
        if self.returned.get_content_type() in ("message/rfc822", "message/global"):
            inner = self.returned.get_payload()
            inner = inner[0] if isinstance(inner, list) else inner
            return inner.as_bytes() if hasattr(inner, "as_bytes") else str(inner).encode()
        return self.returned.get_payload(decode=True) or b""

    def __repr__(self):
        return f"Dsn({self.msg.get('Subject')!r}, {self.final_recipients()}, {self.actions()})"


def dsns(mk, user):
    """dsns - every message in user's Maildir that is a DSN (from the null sender), as Dsn objects."""
    out = []
    for raw in mk.maildir_messages(user):
        if raw.startswith(b"Return-Path: <>\r\n"):
            out.append(Dsn(raw))
    return out


def probe_rcpt_reply(mk, rcpt, sender="probe@example.org", role="smtp"):
    """probe_rcpt_reply - what mk answers to RCPT TO:<rcpt> (then RSET): (code, text)."""
    with smtplib.SMTP("127.0.0.1", mk.ports[role], local_hostname="client.test", timeout=10) as s:
        s.ehlo()
        s.mail(sender)
        code, text = s.rcpt(rcpt)
        s.rset()
        s.quit()
    return code, text.decode("utf-8", "replace")


def strip_received(rest):
    """strip_received - (the first header, folded lines included; what follows) of CRLF bytes that
    begin with a Received: header (the relaying mailkeep's, which travels with the message)."""
    lines = rest.split(b"\r\n")
    assert lines[0].startswith(b"Received: "), f"not a Received: header: {lines[0][:200]!r}"
    j = 1
    while j < len(lines) and lines[j][:1] in (b" ", b"\t"):
        j += 1
    return b"\r\n".join(lines[:j]), b"\r\n".join(lines[j:])
