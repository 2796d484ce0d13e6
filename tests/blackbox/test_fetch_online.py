# tests/blackbox/test_fetch_online.py — "when the relay reports the internet reachable again, a
# cycle starts at once" (issue 4): the relay's smarthost is down, so the relay is offline; a
# message waits at the provider; the smarthost comes up, the relay's probe sees it, and the fetcher
# runs every account then, long before its one-hour interval.
import os

import pytest

from dovecot import DOVECOT
from fetchutil import account_toml, body_of, place, provider
from harness import make_message, wait_until
from relayutil import provider_options, smarthost
from smtputil import send

pytestmark = pytest.mark.skipif(not os.path.exists(DOVECOT), reason="dovecot is not installed")


def test_line_up_again_fetches_at_once(mailkeep_factory, tmp_path):
    d, mail_root = provider(tmp_path, {"annap": "pw-a"})
    try:
        upstream = mailkeep_factory(name="upstream", start=False, **provider_options())
        home = mailkeep_factory(name="home", relay=smarthost(upstream.ports["smtp"], probe_interval="1s"),
                                extra_toml=account_toml("anna-provider", "pop3", d.pop3_port, "annap", "pw-a",
                                                        mailbox="single", deliver_to="anna"))
        # The first cycle runs at start-up (within its start spread) and finds nothing.
        wait_until(lambda: "fetch anna-provider: delivered=0" in home.log_text(), 10, "the first, empty cycle")
        send(home, "anna@home.arpa", ["friend@provider.example"], make_message("out", sender="anna@home.arpa"))
        wait_until(lambda: home.status().startswith("relay: offline since"), 10, "the relay to be offline")

        m = make_message("waiting at the provider", b"fetched when the line came back\r\n")
        place(mail_root, "annap", m)
        upstream.start()
        got = wait_until(lambda: home.maildir_messages("anna"), 15,
                         "the fetch triggered by the relay coming back online (the interval is 1h)")
        assert [body_of(b) for b in got] == [m]
        assert home.status().startswith("relay: online"), home.status()
    finally:
        d.stop()
