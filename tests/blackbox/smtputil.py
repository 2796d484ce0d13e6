# tests/blackbox/smtputil.py — small smtplib helpers shared by the SMTP test files.
import smtplib

from wire import insecure_context

HELO = "client.test"


def connect(mk, role="smtp", timeout=10):
    """connect - an smtplib client after EHLO; submission is upgraded with STARTTLS, submissions is TLS."""
    port = mk.ports[role]
    if role == "submissions":
        s = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname=HELO, timeout=timeout,
                             context=insecure_context())
    else:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname=HELO, timeout=timeout)
    s.ehlo()
    if role == "submission":
        s.starttls(context=insecure_context())
        s.ehlo()
    return s


def login(s, user, password, mechanism=None, initial_response_ok=True):
    s.user, s.password = user, password
    if mechanism is None:
        return s.login(user, password)
    return s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()), initial_response_ok=initial_response_ok)


def send(mk, sender, rcpts, msg, role="smtp", auth=None, mail_options=(), rcpt_options=()):
    """send - one transaction; returns smtplib's dict of refused recipients."""
    with connect(mk, role) as s:
        if auth:
            login(s, *auth)
        refused = s.sendmail(sender, rcpts, msg, mail_options=list(mail_options),
                             rcpt_options=list(rcpt_options))
        s.quit()
        return refused


def accepts_rcpt(mk, rcpt):
    """accepts_rcpt - whether the smtp listener takes rcpt in a transaction (a user the config has)."""
    with connect(mk) as s:
        s.mail("sender@example.org")
        return s.rcpt(rcpt)[0] == 250


def enhanced(resp):
    """enhanced - the RFC 3463 status code at the start of a reply text (bytes or str)."""
    if isinstance(resp, bytes):
        resp = resp.decode("utf-8", "replace")
    return resp.split(" ", 1)[0] if resp else ""
