# tests/blackbox/dovecot.py — a private Dovecot 2.3 on 127.0.0.1 high ports, reading a given Maildir
# root, for proving that mailkeep's Maildir is what a real IMAP server reads. Started with
# `dovecot -c FILE` (it daemonizes) and stopped with `doveadm -c FILE stop`.
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from harness import free_ports, port_accepts, wait_until

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"

CONFIG = """\
# written by tests/blackbox/dovecot.py
base_dir = {root}/run
state_dir = {root}/state
instance_name = mailkeep-test-{imap_port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap pop3{lmtp_protocol}
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail_root}/%u
first_valid_uid = 0
first_valid_gid = 0
mail_privileged_group =
default_login_user = dovenull
default_internal_user = dovecot
mail_fsync = always
# Tests fail logins on purpose (wrong-password cases): no delay, no penalty for the next login.
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s_port}
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{lmtp_service}"""

# LMTP (RFC 2033) for downstream-delivery tests: recipients are looked up by local part.
LMTP_SERVICE = """\
auth_username_format = %Ln
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
"""


# Dovecot refuses mail users with UID 0, so under root a maildir it reads is handed to an unprivileged
# uid (the passwd-file names the owner of the files, as the mail store expects).
UNPRIVILEGED = 65534


def hand_over(maildir):
    """hand_over - under root, give the maildir to UNPRIVILEGED and return that uid; else None
    (the passwd-file then names the files' own owner)."""
    if os.geteuid() != 0:
        return None
    for dirpath, _, filenames in os.walk(maildir):
        for name in [dirpath] + [os.path.join(dirpath, n) for n in filenames]:
            os.chown(name, UNPRIVILEGED, UNPRIVILEGED)
    return UNPRIVILEGED


def make_traversable(path, top=None):
    """make_traversable - add o+x (search, not read) to path and its ancestors below top (the
    system temp dir): pytest makes its temp dirs 0700, and Dovecot's auth (uid dovecot) and mail
    (the mail user's uid) processes must reach the passwd-file and the Maildir."""
    top = Path(top or tempfile.gettempdir()).resolve()
    p = Path(path).resolve()
    while p != top and top in p.parents:
        mode = p.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(p, stat.S_IMODE(mode) | stat.S_IXOTH)
        p = p.parent


class Dovecot:
    """Dovecot - one private instance; users is {name: password}; mail is at mail_root/<name>."""

    def __init__(self, root, mail_root, users, uid=None, gid=None, lmtp=False, tls=None):
        """tls: (cert, key) to offer STARTTLS/STLS and listen on imaps/pop3s too; None = plaintext only."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "run").mkdir(exist_ok=True)
        (self.root / "state").mkdir(exist_ok=True)
        self.imap_port, self.pop3_port, self.lmtp_port = free_ports(3)
        self.imaps_port, self.pop3s_port = free_ports(2) if tls else (0, 0)
        self.lmtp = lmtp
        self.tls = tls
        self.config = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        st = os.stat(mail_root)
        uid = st.st_uid if uid is None else uid
        gid = st.st_gid if gid is None else gid
        # name:password:uid:gid:(gecos):home
        (self.root / "passwd").write_text("".join(
            f"{n}:{{PLAIN}}{pw}:{uid}:{gid}::{mail_root}/{n}\n" for n, pw in users.items()))
        if os.geteuid() == 0:
            make_traversable(self.root)
            make_traversable(mail_root)
        lmtp_service = LMTP_SERVICE.format(lmtp_port=self.lmtp_port) if lmtp else ""
        self.config.write_text(CONFIG.format(root=self.root, mail_root=mail_root,
                                             imap_port=self.imap_port, pop3_port=self.pop3_port,
                                             lmtp_protocol=" lmtp" if lmtp else "", lmtp_service=lmtp_service,
                                             imaps_port=self.imaps_port, pop3s_port=self.pop3s_port,
                                             ssl=f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}" if tls else "ssl = no"))
        self.started = False

    def start(self, deadline=10):
        # it daemonizes and its children keep stdout/stderr: send them to a file, not a pipe
        with open(self.root / "dovecot.out", "wb") as out:
            r = subprocess.run([DOVECOT, "-c", str(self.config)], stdin=subprocess.DEVNULL,
                               stdout=out, stderr=out, timeout=30)
        assert r.returncode == 0, \
            f"dovecot did not start: {(self.root / 'dovecot.out').read_text()}\n{self.log_text()}"
        self.started = True
        wait_until(lambda: port_accepts(self.imap_port) and port_accepts(self.pop3_port)
                   and (not self.lmtp or port_accepts(self.lmtp_port))
                   and (not self.tls or (port_accepts(self.imaps_port) and port_accepts(self.pop3s_port))), deadline,
                   f"dovecot on {self.imap_port}/{self.pop3_port}")
        return self

    def stop(self):
        if not self.started:
            return
        subprocess.run([DOVEADM, "-c", str(self.config), "stop"], capture_output=True, timeout=30)
        pidfile = self.root / "run" / "master.pid"
        wait_until(lambda: not pidfile.exists(), 10, "dovecot to stop")
        self.started = False

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def errors(self):
        return [l for l in self.log_text().splitlines() if " Error: " in l or " Panic: " in l
                or " Fatal: " in l]
