# tests/blackbox/test_harness_selfcheck.py — the harness itself, without mailkeep: the configs it
# writes are valid TOML in the contract's shape, the certificate is usable, and the private Dovecot
# starts, serves a hand-made Maildir over IMAP and stops; so a failure elsewhere points at mailkeep.
import imaplib
import os
import ssl
import tomllib

from dovecot import Dovecot
from harness import DEFAULT_USERS, ROLES, crypt_hash, free_ports, port_accepts, render_config


def test_free_ports_distinct():
    ports = free_ports(20)
    assert len(set(ports)) == 20


def test_config_is_valid_toml_in_contract_shape(tmp_path, tls_pair):
    ports = dict(zip(ROLES, free_ports(5)))
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
