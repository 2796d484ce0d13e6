# tests/blackbox/test_harness_selfcheck.py — the harness itself, without mailkeep: the configs it
# writes are valid TOML in the contract's shape, the certificate is usable, and the private Dovecot
# starts, serves a hand-made Maildir over IMAP and stops, and a sanitizer's report in a log is
# recognised (scripts/asan.sh); so a failure elsewhere points at mailkeep.
import imaplib
import os
import ssl
import tomllib

from dovecot import Dovecot
from harness import DEFAULT_USERS, ROLES, crypt_hash, free_ports, port_accepts, render_config, sanitizer_report


def test_free_ports_distinct():
    ports = free_ports(20)
    assert len(set(ports)) == 20


def test_sanitizer_reports_are_recognised():
    asan = ("2026-12-03T10:00:00.000 info reloaded\n=================================================================\n"
            "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x6070000001e0\n"
            "READ of size 8 at 0x6070000001e0 thread T0\n")
    ubsan = "src/x.cpp:12:5: runtime error: signed integer overflow: 2147483647 + 1\n"
    leak = "==77==ERROR: LeakSanitizer: detected memory leaks\n"
    assert sanitizer_report(asan).startswith("==4242==ERROR: AddressSanitizer: heap-use-after-free")
    assert sanitizer_report(ubsan).startswith("src/x.cpp:12:5: runtime error:")
    assert sanitizer_report(leak)
    clean = "2026-12-03T10:00:00.000 info smtp: connect from [127.0.0.1]:4000\n== a banner ==\n"
    assert sanitizer_report(clean) is None


def test_config_is_valid_toml_in_contract_shape(tmp_path, tls_pair):
    ports = dict(zip(ROLES, free_ports(len(ROLES))))
    text = render_config(tmp_path / "data", ports, *tls_pair, catch_all="postmaster",
                         aliases=[{"address": "family@home.arpa", "to": ["anna", "ben"]}])
    cfg = tomllib.loads(text)
    assert cfg["hostname"] == "mail.home.arpa" and cfg["local_domains"] == ["home.arpa"]
    assert cfg["catch_all"] == "postmaster"
    assert cfg["listen"]["pop3s"] == [f"127.0.0.1:{ports['pop3s']}"]
    assert cfg["limits"]["max_message_size"] == "1M"
    assert [u["name"] for u in cfg["user"]] == list(DEFAULT_USERS)
    assert cfg["alias"][0]["to"] == ["anna", "ben"]
    assert cfg["user"][0]["password"].startswith("$6$")


def test_crypt_hash_verifies():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    h = crypt_hash("pw-1")
    assert crypt.crypt("pw-1", h) == h


def test_cert_loads(tls_pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_pair)


def test_dovecot_harness_serves_a_maildir(tmp_path):
    mail = tmp_path / "mail"
    for d in ("new", "cur", "tmp"):
        (mail / "anna" / d).mkdir(parents=True)
    msg = b"Return-Path: <a@example.org>\r\nSubject: hand-made\r\n\r\nbody\r\n"
    (mail / "anna" / "new" / f"1700000000.M1P1Q1.host,S={len(msg)}").write_bytes(msg)
    uid = None
    if os.geteuid() == 0:
        uid = 65534
        for dirpath, _, files in os.walk(mail / "anna"):
            for n in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                os.chown(n, uid, uid)
    d = Dovecot(tmp_path / "dovecot", mail, {"anna": "pw"}, uid=uid, gid=uid).start()
    try:
        imap = imaplib.IMAP4("127.0.0.1", d.imap_port, timeout=10)
        imap.login("anna", "pw")
        imap.select("INBOX", readonly=True)
        typ, resp = imap.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
        imap.logout()
        assert resp[0][1] == msg and b"RFC822.SIZE %d" % len(msg) in resp[0][0]
    finally:
        d.stop()
    assert not port_accepts(d.imap_port), "dovecot still listening after stop"
    assert d.errors() == [], d.errors()


def test_postfix_harness_relays_over_verified_starttls(postfix_factory, smarthost_tls):
    # The private Postfix the relay tests use as smarthost, without mailkeep: STARTTLS verifies
    # against its certificate for 127.0.0.1 (the relay's ca_file), a known user's mail lands in its
    # Maildir (LF line ends, trace headers in front), an unknown one is 550, and it stops again.
    import smtplib
    pf = postfix_factory(domain="smarthost.test", users=("user",))
    assert pf.check() == "", pf.check()
    msg = b"From: <a@example.org>\r\nSubject: hand-sent\r\nMessage-ID: <1@x.test>\r\n" \
          b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\nbody\r\n"
    with smtplib.SMTP("127.0.0.1", pf.port, timeout=10) as s:
        s.starttls(context=ssl.create_default_context(cafile=str(smarthost_tls[0])))
        s.ehlo()
        refused = s.sendmail("a@example.org", ["user@smarthost.test", "nobody@smarthost.test"], msg)
        s.quit()
    assert list(refused) == ["nobody@smarthost.test"] and refused["nobody@smarthost.test"][0] == 550, refused
    (raw,) = pf.wait_for_messages("user", 1)
    assert raw.endswith(msg.replace(b"\r\n", b"\n")) and raw.startswith(b"Return-Path: <a@example.org>\n"), raw
    pf.stop()
    assert not port_accepts(pf.port), "postfix still listening after stop"


def test_relay_config_is_valid_toml_in_contract_shape(tmp_path, tls_pair):
    ports = dict(zip(ROLES, free_ports(len(ROLES))))
    relay = {"mode": "smarthost", "host": "127.0.0.1", "port": 2525, "tls": "starttls", "tls_verify": True,
             "ca_file": tls_pair[0], "retry": ["1s", "2s"], "warn_after": "3s", "give_up_after": "6s",
             "probe_interval": "1s",
             "sender": [{"address": "anna@home.arpa", "rewrite_from": "anna.schmidt@provider.example",
                         "host": "127.0.0.1", "port": 465, "tls": "implicit", "username": "a", "password": "p"}]}
    text = render_config(tmp_path / "data", ports, *tls_pair, relay=relay,
                         routes=[{"domain": "example.com", "host": "127.0.0.1", "port": 25, "tls": "none"}],
                         extra_toml='[delivery]\nmode = "maildir"\n')
    cfg = tomllib.loads(text)
    assert cfg["relay"]["ca_file"] == str(tls_pair[0]) and cfg["relay"]["retry"] == ["1s", "2s"]
    assert cfg["relay"]["sender"][0]["rewrite_from"] == "anna.schmidt@provider.example"
    assert cfg["route"] == [{"domain": "example.com", "host": "127.0.0.1", "port": 25, "tls": "none"}]
    assert cfg["delivery"] == {"mode": "maildir"}
    assert [u["name"] for u in cfg["user"]] == list(DEFAULT_USERS)
