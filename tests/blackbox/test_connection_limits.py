# tests/blackbox/test_connection_limits.py — caps on abuse (issue 2): max_connections_per_ip refuses
# the extra connection (SMTP 421 4.7.0, POP3 -ERR) and frees the slot when one closes; failed AUTH
# attempts from one IP are answered with a growing delay.
import smtplib
import time

from harness import wait_until
from smtputil import connect, login
from wire import Closed, Pop3, Smtp, greeted


def test_max_connections_per_ip(mailkeep_factory):
    mk = mailkeep_factory(limits={"max_connections_per_ip": 3})
    held = []
    try:
        # the start-up probes may still be counted for a moment: wait for the first free slot
        held.append(wait_until(lambda: greeted(mk.ports["smtp"]), 5, "a first connection"))
        for _ in range(2):
            w = greeted(mk.ports["smtp"])
            assert w is not None, "refused below the limit"
            held.append(w)
        extra = Smtp(mk.ports["smtp"])
        try:
            r = extra.reply()
            assert (r.code, r.enhanced) == (421, "4.7.0"), f"4th connection from one IP: {r}"
        except Closed:
            pass                                   # closing at once is also a refusal
        finally:
            extra.close()
        with Pop3(mk.ports["pop3"]) as p:
            try:
                assert p.status().startswith(b"-ERR"), "POP3 over the per-IP limit accepted"
            except Closed:
                pass
        held.pop().close()
        held.append(wait_until(lambda: greeted(mk.ports["smtp"]), 5, "the freed slot to be usable"))
    finally:
        for w in held:
            w.close()


def test_auth_failures_get_a_growing_delay(mailkeep):
    times = []
    for _ in range(3):
        with connect(mailkeep) as s:
            t = time.monotonic()
            try:
                login(s, "anna", "wrong", "PLAIN")
            except smtplib.SMTPAuthenticationError as e:
                assert e.smtp_code == 535
            times.append(time.monotonic() - t)
    assert times[2] > times[0] and times[2] >= 0.2, f"failure delays {times} do not grow"
    with connect(mailkeep) as s:                 # the right password still works
        assert login(s, "anna", mailkeep.password("anna"), "PLAIN")[0] == 235
