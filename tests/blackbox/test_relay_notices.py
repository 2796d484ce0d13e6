# tests/blackbox/test_relay_notices.py — who hears of a failure, and what they are told (issue 9,
# items 8 and 9): a DSN that cannot reach its sender and a bounce that fails both go to the
# postmaster, once; a notice about a message a local user forwards names the address the sender
# wrote to, never the private forward_to address or the server behind it.
from harness import free_ports, make_message
from relayutil import (Dsn, dsns, provider_options, send_transaction, smarthost, wait_queue_empty)

UNKNOWN = "stranger@provider.example"   # the provider refuses it with 550 5.1.1


def only_dsn(mk, user, deadline=20):
    mk.wait_for_messages(user, 1, deadline=deadline)
    found = dsns(mk, user)
    assert len(found) == 1 and len(mk.maildir_files(user)) == 1, found
    return found[0]


def test_dsn_for_an_unknown_local_sender_goes_to_the_postmaster(mailkeep_factory):
    provider = mailkeep_factory(name="provider", **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"]))
    # The README's own example: a sender in a local domain that is no user (trusted network).
    sender = "me@home.arpa"
    send_transaction(home, sender, [UNKNOWN], make_message("from nobody here", sender=sender, to=UNKNOWN))
    d = only_dsn(home, "postmaster")
    assert d.final_recipients() == [UNKNOWN]
    assert d.actions() == ["failed"]
    assert "from nobody here" in d.returned_bytes().decode("utf-8", "replace")
    wait_queue_empty(home)
    assert "<me@home.arpa> cannot be routed (no such user); it goes to the postmaster" in home.log_text()


def test_a_bounce_that_fails_goes_to_the_postmaster_and_no_further(mailkeep_factory):
    provider = mailkeep_factory(name="provider", **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"]))
    # A bounce from elsewhere (null sender) that a local trusted client passes on, to an address the
    # provider refuses: a double bounce.
    send_transaction(home, "", [UNKNOWN], make_message("a bounce in transit", sender="", to=UNKNOWN))
    d = only_dsn(home, "postmaster")
    assert d.final_recipients() == [UNKNOWN] and d.actions() == ["failed"]
    assert "a bounce in transit" in d.returned_bytes().decode("utf-8", "replace")
    wait_queue_empty(home)
    assert len(home.maildir_files("postmaster")) == 1


def test_our_own_dsn_that_fails_goes_to_the_postmaster(mailkeep_factory):
    provider = mailkeep_factory(name="provider", **provider_options())
    home = mailkeep_factory(name="home", relay=smarthost(provider.ports["smtp"]))
    # A trusted client relays for a remote sender; the recipient is refused, and so is the DSN to the
    # sender (the provider relays for nobody unauthenticated): the DSN, asking for no DSN itself,
    # must still not vanish.
    sender = "someone@elsewhere.example"
    send_transaction(home, sender, [UNKNOWN], make_message("lost twice", sender=sender, to=UNKNOWN))
    d = only_dsn(home, "postmaster")
    assert d.final_recipients() == [sender], d.final_recipients()
    assert d.actions() == ["failed"]
    returned = d.returned_bytes().decode("utf-8", "replace")
    assert "Undelivered Mail Returned to Sender" in returned, "the failed DSN itself is attached"
    wait_queue_empty(home)
    assert len(home.maildir_files("postmaster")) == 1


def test_a_postmaster_notice_that_fails_is_logged_and_dropped(mailkeep_factory):
    # The postmaster forwards everything to an address the provider refuses: the double bounce
    # fails too, and that is where it ends (logged), not in a loop.
    provider = mailkeep_factory(name="provider", **provider_options())
    users = {"anna": ("anna-secret-1", ["anna@home.arpa"]),
             "postmaster": ("pm-secret-3", ["postmaster@home.arpa"],
                            {"forward_to": ["pm.gone@provider.example"], "keep_copy": False})}
    home = mailkeep_factory(name="home", users=users, relay=smarthost(provider.ports["smtp"]))
    send_transaction(home, "", [UNKNOWN], make_message("a bounce in transit", sender="", to=UNKNOWN))
    wait_queue_empty(home)
    log = home.log_text()
    assert "postmaster notice" in log and "dropped" in log, log[-3000:]
    assert home.maildir_files("postmaster") == [] and home.maildir_files("anna") == []


def test_failure_notice_about_a_forward_names_the_address_written_to(mailkeep_factory):
    provider = mailkeep_factory(name="provider", **provider_options())
    users = {"anna": ("anna-secret-1", ["anna@home.arpa"]),
             "ben": ("ben-secret-2", ["ben@home.arpa"], {"forward_to": [UNKNOWN], "keep_copy": False}),
             "postmaster": ("pm-secret-3", ["postmaster@home.arpa"])}
    home = mailkeep_factory(name="home", users=users, relay=smarthost(provider.ports["smtp"]))
    send_transaction(home, "anna@home.arpa", ["ben@home.arpa"],
                     make_message("for ben", sender="anna@home.arpa", to="ben@home.arpa"))
    d = only_dsn(home, "anna")
    assert d.final_recipients() == ["ben@home.arpa"], d.final_recipients()
    assert d.actions() == ["failed"]
    b = d.recipient("ben@home.arpa")
    assert (Dsn.field(b, "Status") or "").startswith("5."), Dsn.field(b, "Status")
    report = d.raw.decode("utf-8", "replace")
    assert "stranger" not in report and "provider.example" not in report, report
    wait_queue_empty(home)
    # The postmaster's log still says where it went.
    assert UNKNOWN in home.log_text()


def test_delay_notice_about_a_forward_names_the_address_written_to(mailkeep_factory):
    dead_port = free_ports(1)[0]
    users = {"anna": ("anna-secret-1", ["anna@home.arpa"]),
             "ben": ("ben-secret-2", ["ben@home.arpa"], {"forward_to": ["ben.private@elsewhere.example"],
                                                         "keep_copy": False}),
             "postmaster": ("pm-secret-3", ["postmaster@home.arpa"])}
    home = mailkeep_factory(name="home", users=users, relay=smarthost(
        dead_port, retry=["1s"], probe_interval="1s", warn_after="2s", give_up_after="1h"))
    send_transaction(home, "anna@home.arpa", ["ben@home.arpa"],
                     make_message("for ben, later", sender="anna@home.arpa", to="ben@home.arpa"))
    d = only_dsn(home, "anna", deadline=2 + 12)
    assert d.actions() == ["delayed"] and d.final_recipients() == ["ben@home.arpa"], (d.actions(), d.final_recipients())
    assert "ben.private" not in d.raw.decode("utf-8", "replace")
