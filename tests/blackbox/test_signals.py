# tests/blackbox/test_signals.py — operations (issue 2): SIGTERM drains (stops accepting, lets a
# session in the middle of DATA finish, then exits 0); SIGHUP reloads the config, every time it comes, and
# a bad config is refused with a log line while the old one stays in force.
import signal

from harness import crypt_hash, make_message, port_accepts, sanitizer_report, split_trace, wait_until
from smtputil import accepts_rcpt
from wire import Smtp


def test_sigterm_drains_session_in_data(mailkeep):
    msg = make_message("drain", b"first half\r\n" * 50 + b"second half\r\n" * 50)
    half = len(msg) // 2
    with Smtp(mailkeep.ports["smtp"]) as s:
        s.greet()
        s.expect("MAIL FROM:<sender@example.org>", 250)
        s.expect("RCPT TO:<anna@home.arpa>", 250)
        s.expect("DATA", 354)
        s.send(msg[:half])
        mailkeep.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: not port_accepts(mailkeep.ports["pop3"]), 10, "listeners to close after SIGTERM")
        assert mailkeep.running(), "exited with a session in the middle of DATA"
        s.send(msg[half:] + b".\r\n")
        r = s.reply()
        assert r.code == 250, f"the draining session's message got {r}"
        s.cmd("QUIT")
    wait_until(lambda: not mailkeep.running(), 10, "exit after the last session ended")
    assert mailkeep.proc.returncode == 0, mailkeep.proc.returncode
    assert split_trace(mailkeep.maildir_messages("anna")[0])[2] == msg


def test_sighup_reloads_config(mailkeep):
    assert not accepts_rcpt(mailkeep, "dora@home.arpa")
    text = mailkeep.config_path.read_text()
    text += (f'\n[[user]]\nname = "dora"\npassword = "{crypt_hash("dora-pw")}"\n'
             'addresses = ["dora@home.arpa"]\nforward_to = []\nkeep_copy = true\n')
    mailkeep.config_path.write_text(text)
    mailkeep.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: accepts_rcpt(mailkeep, "dora@home.arpa"), 10, "dora to exist after SIGHUP")
    assert mailkeep.running()


def test_every_sighup_reloads(mailkeep):
    # Issue 9, item 4: each reload after the first read the config it had just replaced (freed
    # memory); the ASan build (scripts/asan.sh) ends the daemon at the second SIGHUP.
    for n, user in enumerate(("dora", "emil", "fritz"), start=1):
        mailkeep.config_path.write_text(
            mailkeep.config_path.read_text() +
            f'\n[[user]]\nname = "{user}"\npassword = "{crypt_hash(user + "-pw")}"\n'
            f'addresses = ["{user}@home.arpa"]\nforward_to = []\nkeep_copy = true\n')
        mailkeep.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: mailkeep.log_text().count(f"reloaded {mailkeep.config_path}:") >= n, 10,
                   f"reload {n} in the log")
        assert accepts_rcpt(mailkeep, f"{user}@home.arpa"), f"{user} unknown after reload {n}"
    assert mailkeep.running()
    assert sanitizer_report(mailkeep.log_text()) is None


def test_sighup_with_bad_config_keeps_old(mailkeep):
    good = mailkeep.config_path.read_text()
    log_before = mailkeep.log_path.read_text(errors="replace")
    mailkeep.config_path.write_text(good.replace("[limits]", "[limits]\nnot_a_key = 1", 1))
    mailkeep.proc.send_signal(signal.SIGHUP)
    # Wait for the refusal itself: other lines (the harness's own readiness connections) may come first.
    new_log = wait_until(lambda: (lambda t: t if "reload refused" in t else None)(
        mailkeep.log_path.read_text(errors="replace")[len(log_before):]), 10, "a log line about the refused reload")
    assert str(mailkeep.config_path) in new_log or "not_a_key" in new_log, new_log
    assert mailkeep.running(), "a bad config on SIGHUP stopped the daemon"
    assert accepts_rcpt(mailkeep, "anna@home.arpa"), "the old config is no longer in force"
    mailkeep.config_path.write_text(good)
