# tests/blackbox/test_delivery_smtp.py — downstream delivery over SMTP (issue 3, [delivery] mode =
# "smtp"): mailkeep is the edge, a second mailkeep stands in for the office's existing server;
# local mail is handed to it and nothing stays in the edge's own Maildir or queue.
from harness import make_message, split_trace, wait_until
from smtputil import send


def test_local_mail_goes_to_the_downstream_smtp_server(mailkeep_factory):
    office = mailkeep_factory(name="office")
    edge = mailkeep_factory(name="edge", extra_toml=(
        f'[delivery]\nmode = "smtp"\nhost = "127.0.0.1"\nport = {office.ports["smtp"]}\n'))
    msg = make_message("to the office server", b"via the edge\r\n")
    send(edge, "sender@example.org", ["anna@home.arpa", "ben@home.arpa"], msg)

    for user in ("anna", "ben"):
        got = office.wait_for_messages(user, 1, deadline=15)
        assert split_trace(got[0])[2].endswith(msg), "the office server did not get the message as sent"
    assert not edge.maildir_messages("anna") and not edge.maildir_messages("ben")
    wait_until(lambda: not list((edge.data_dir / "queue").glob("*.env")), 10, "the edge's queue to empty")
