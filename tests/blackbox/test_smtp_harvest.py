# tests/blackbox/test_smtp_harvest.py — recipient harvesting (issue 15): Python's smtplib probes
# addresses that do not exist. The first three refusals come at once; each further one is answered a
# second late (the daemon's tarpit); the log has the first three refusals one by one and then one
# summary line for the session, not a line per probe. (Twenty errors end the session with 421:
# SmtpTranscript.RefusedRecipientsAreErrorsAndSlowedDown, where the tarpit costs no time.)
import smtplib
import time

from harness import wait_until


def test_unknown_recipients_are_tarpitted_counted_and_summarised(mailkeep):
    s = smtplib.SMTP("127.0.0.1", mailkeep.ports["smtp"], timeout=30)
    s.ehlo("prober.test")
    assert s.mail("probe@example.org")[0] == 250
    start = time.monotonic()
    for n in range(3):
        assert s.rcpt(f"nobody{n}@home.arpa")[0] == 550
    assert time.monotonic() - start < 0.9, "the first refusals were slowed down"
    before = time.monotonic()
    assert s.rcpt("nobody3@home.arpa")[0] == 550
    assert time.monotonic() - before >= 0.9, "the fourth refusal came at once"
    assert s.rcpt("anna@home.arpa")[0] == 250   # a real recipient is not slowed down
    s.quit()
    wait_until(lambda: "4 recipients refused in this session, 1 of them not logged" in mailkeep.log_text(), 10,
               "the session's summary line")
    assert mailkeep.log_text().count("reject: RCPT") == 3

