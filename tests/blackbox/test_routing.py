# tests/blackbox/test_routing.py — routing beyond plain users (issue 2, "route each recipient"):
# forward_to with and without keep_copy, an alias to a remote address, one copy per mailbox when a
# recipient is named twice or reached twice (directly and through an alias).
import json

from harness import DEFAULT_USERS, make_message, split_trace
from smtputil import send

SENDER = "sender@example.org"


def queued_recipients(mk):
    out = []
    for env in mk.queue_files(".env"):
        text = env.read_text()
        json.loads(text)
        out.append(text)
    return out


def with_forward(keep_copy):
    users = dict(DEFAULT_USERS)
    users["fred"] = ("fred-pw", ["fred@home.arpa"], {"forward_to": ["fred@elsewhere.example"],
                                                      "keep_copy": keep_copy})
    return users


def test_forward_with_keep_copy(mailkeep_factory):
    mk = mailkeep_factory(users=with_forward(True))
    msg = make_message("forward keep", to="fred@home.arpa")
    assert send(mk, SENDER, ["fred@home.arpa"], msg) == {}
    assert split_trace(mk.wait_for_messages("fred", 1)[0])[2] == msg
    envs = queued_recipients(mk)
    assert len(envs) == 1 and "fred@elsewhere.example" in envs[0], envs
    assert msg in mk.queue_files(".eml")[0].read_bytes()


def test_forward_without_keep_copy(mailkeep_factory):
    mk = mailkeep_factory(users=with_forward(False))
    msg = make_message("forward only", to="fred@home.arpa")
    assert send(mk, SENDER, ["fred@home.arpa"], msg) == {}
    envs = queued_recipients(mk)
    assert len(envs) == 1 and "fred@elsewhere.example" in envs[0], envs
    assert mk.maildir_files("fred") == [], "keep_copy = false kept a local copy"


def test_alias_to_remote_address(mailkeep_factory):
    mk = mailkeep_factory(aliases=[{"address": "team@home.arpa", "to": ["anna", "carol@remote.example"]}])
    msg = make_message("team", to="team@home.arpa")
    assert send(mk, SENDER, ["team@home.arpa"], msg) == {}
    assert split_trace(mk.wait_for_messages("anna", 1)[0])[2] == msg
    envs = queued_recipients(mk)
    assert len(envs) == 1 and "carol@remote.example" in envs[0], envs


def test_same_mailbox_named_twice_gets_one_copy(mailkeep):
    msg = make_message("twice")
    send(mailkeep, SENDER, ["anna@home.arpa", "ANNA@home.arpa", "family@home.arpa"], msg)
    sentinel = make_message("sentinel")
    send(mailkeep, SENDER, ["anna@home.arpa"], sentinel)
    msgs = mailkeep.wait_for_messages("anna", 2)
    assert sorted(split_trace(m)[2] for m in msgs) == sorted([msg, sentinel]), \
        f"anna has {len(msgs)} messages, want the message once and the sentinel"
    assert [split_trace(m)[2] for m in mailkeep.wait_for_messages("ben", 1)] == [msg]
