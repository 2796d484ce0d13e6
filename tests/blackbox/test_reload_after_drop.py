# tests/blackbox/test_reload_after_drop.py — hardening (issue 15): a daemon started as root with
# run_as rereads its config and its TLS certificate on SIGHUP as the run_as user. The files are made
# readable by that user's group (root:nogroup 0640, as README says); then a user added to the config
# and a renewed certificate are in force after SIGHUP. A config only root can read is still served
# from its first reading, the start-up says that SIGHUP will not reload it, and a SIGHUP is refused
# with a log line while the daemon goes on.
import os
import shutil
import signal
import socket
import ssl
import subprocess

import pytest

from harness import crypt_hash, make_cert, wait_until
from smtputil import accepts_rcpt
from test_run_as import NOBODY, open_to_nobody, owned_by_nobody

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")


def served_cn(mk):
    """served_cn - the CN of the certificate the pop3s listener presents."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", mk.ports["pop3s"]), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            der = s.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(), capture_output=True, check=True)
    return out.stdout.decode().strip().split("CN", 1)[1].lstrip(" =")


def for_group(path, mode=0o640):
    os.chown(path, 0, NOBODY)
    os.chmod(path, mode)


def own_tls(mk):
    """own_tls - the instance's certificate and key in its own directory (root:nogroup), put in its config."""
    tls = mk.root / "tls"
    tls.mkdir()
    os.chmod(tls, 0o755)
    cert, key = tls / "cert.pem", tls / "key.pem"
    shutil.copy(mk.cert, cert)
    shutil.copy(mk.key, key)
    text = mk.config_path.read_text().replace(str(mk.cert), str(cert)).replace(str(mk.key), str(key))
    mk.config_path.write_text(text)
    for f in (cert, key):
        for_group(f)
    return cert, key


def add_dora(mk):
    text = mk.config_path.read_text()
    text += (f'\n[[user]]\nname = "dora"\npassword = "{crypt_hash("dora-pw")}"\n'
             'addresses = ["dora@home.arpa"]\nforward_to = []\nkeep_copy = true\n')
    mk.config_path.write_text(text)


def test_sighup_after_the_drop_rereads_config_and_certificate(mailkeep_factory, tmp_path):
    open_to_nobody(tmp_path)
    mk = mailkeep_factory(run_as="nobody", start=False)
    owned_by_nobody(mk.data_dir)
    cert, key = own_tls(mk)
    for_group(mk.config_path)
    mk.start()
    assert "SIGHUP will not reload" not in mk.log_text()
    before = served_cn(mk)

    add_dora(mk)
    renewed = make_cert(tmp_path / "renewed", cn="renewed.home.arpa")
    shutil.copy(renewed[0], cert)
    shutil.copy(renewed[1], key)
    for f in (cert, key):
        for_group(f)
    mk.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: accepts_rcpt(mk, "dora@home.arpa"), 10, "dora to exist after SIGHUP")
    assert served_cn(mk) == "renewed.home.arpa" != before
    assert "reloaded the TLS certificate" in mk.log_text()


def test_a_config_only_root_can_read_is_not_reloaded_and_said_so(mailkeep_factory, tmp_path):
    open_to_nobody(tmp_path)
    mk = mailkeep_factory(run_as="nobody", start=False)
    owned_by_nobody(mk.data_dir)
    os.chmod(mk.config_path, 0o600)
    mk.start()
    assert f"{mk.config_path} cannot be read by the run_as user nobody: SIGHUP will not reload it" in mk.log_text()
    add_dora(mk)
    os.chmod(mk.config_path, 0o600)
    mk.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload refused, keeping the running config" in mk.log_text(), 10, "the refusal in the log")
    assert mk.running()
    assert accepts_rcpt(mk, "anna@home.arpa") and not accepts_rcpt(mk, "dora@home.arpa")
