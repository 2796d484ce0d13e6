# tests/blackbox/postfix.py — a private, self-contained Postfix 3.x on 127.0.0.1 at a high port, used
# as the smarthost mailkeep relays to. Its own main.cf/master.cf in a temp dir (`postfix -c DIR start`,
# `postfix -c DIR stop`), its own queue and data directories, chroot off, logging to a file (there is
# no /dev/log here: without maillog_file Postfix fails silently). It accepts mail from 127.0.0.0/8
# (mynetworks), offers STARTTLS with a given certificate, and delivers every address of its virtual
# domain to a Maildir the test reads: virtual_mailbox_base/<domain>/<local part>/new/.
# It can also be a backup MX: relay_domains it accepts for anyone and queues, a transport table that
# sends them on (to a mailkeep's smtp port), fast flush (ETRN) for them, and slow retry times so that
# only an ETRN (or `postqueue -f`) makes it try again within a test.
import os
import shutil
import subprocess
from pathlib import Path

from dovecot import make_traversable
from harness import free_ports, port_accepts, wait_until

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTQUEUE = shutil.which("postqueue") or "/usr/sbin/postqueue"
VMAIL_UID = 65534   # nobody: the virtual(8) agent refuses uids below virtual_minimum_uid (100)
START_DEADLINE = 20.0
STOP_DEADLINE = 20.0

MAIN_CF = """\
# written by tests/blackbox/postfix.py
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-test-{port}
maillog_file = {root}/log/maillog
maillog_file_prefixes = {root}/log
myhostname = {hostname}
mydomain = {hostname}
myorigin = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
relay_domains = {relay_domains}
fast_flush_domains = $relay_domains
transport_maps = {transport_maps}
alias_maps =
alias_database =
relayhost =
biff = no
smtputf8_enable = yes
message_size_limit = 20480000
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_received_header = no
smtpd_tls_loglevel = 1
# never touch the headers of what a client sends (the test compares bytes)
local_header_rewrite_clients =
smtp_tls_security_level = none
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {root}/vmail
virtual_mailbox_maps = texthash:{root}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{uid}
virtual_minimum_uid = 100
queue_run_delay = {queue_run_delay}
minimal_backoff_time = {minimal_backoff_time}
maximal_backoff_time = {maximal_backoff_time}
"""

# chroot (5th column) off everywhere: the queue lives in a temp dir, not under /var/spool/postfix.
MASTER_CF = """\
# written by tests/blackbox/postfix.py
127.0.0.1:{port} inet n   -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


# Retry times (queue_run_delay, minimal_backoff_time, maximal_backoff_time): a smarthost retries at once;
# a backup MX holding mail for ETRN does not retry within a test's lifetime.
FAST_RETRY = ("1s", "1s", "2s")
NO_RETRY = ("3600s", "3600s", "3600s")


class Postfix:
    """Postfix - one private instance. domain: its virtual mailbox domain; users: the local parts
    that exist there (anything else is rejected 550 5.1.1 at RCPT); cert/key: for STARTTLS;
    port: its smtpd port (default: a free one); relay_domains: domains it accepts from anyone and
    queues for the next hop, also its fast_flush_domains (ETRN); transport: {domain: nexthop}
    (e.g. "smtp:[127.0.0.1]:2525"), a texthash transport_maps; retry: FAST_RETRY or NO_RETRY;
    extra_main_cf: lines appended to main.cf (later settings win)."""

    def __init__(self, root, cert, key, domain="smarthost.test", users=("user",), hostname="smtp.smarthost.test",
                 port=None, relay_domains=(), transport=None, retry=FAST_RETRY, extra_main_cf=""):
        self.root = Path(root)
        self.domain = domain
        self.users = tuple(users)
        self.port = port or free_ports(1)[0]
        for d in ("queue", "data", "log", "vmail"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        # data_directory must belong to the mail owner; the mailboxes to the virtual uid.
        shutil.chown(self.root / "data", "postfix")
        os.chown(self.root / "vmail", VMAIL_UID, VMAIL_UID)
        (self.root / "vmailbox").write_text(
            "".join(f"{u}@{domain} {domain}/{u}/\n" for u in self.users))
        transport_maps = ""
        if transport:
            (self.root / "transport").write_text("".join(f"{d} {hop}\n" for d, hop in transport.items()))
            transport_maps = f"texthash:{self.root}/transport"
        # Postfix's own processes (uid postfix, uid nobody) must reach the queue, the mailboxes
        # and the certificate through pytest's 0700 temp dirs.
        for p in (self.root / "queue", self.root / "vmail", self.root / "vmailbox", Path(cert).parent) + \
                 ((self.root / "transport",) if transport else ()):
            make_traversable(p)
        # The configuration directory apart from the queue: postfix-script wants everything below
        # the config directory owned by root, and the queue subdirectories belong to postfix.
        self.conf = self.root / "conf"
        self.conf.mkdir(exist_ok=True)
        (self.conf / "main.cf").write_text(MAIN_CF.format(
            root=self.root, port=self.port, hostname=hostname, cert=cert, key=key, domains=domain,
            uid=VMAIL_UID, relay_domains=", ".join(relay_domains), transport_maps=transport_maps,
            queue_run_delay=retry[0], minimal_backoff_time=retry[1], maximal_backoff_time=retry[2]) + extra_main_cf)
        (self.conf / "master.cf").write_text(MASTER_CF.format(port=self.port))
        self.log = self.root / "log" / "maillog"
        self.started = False

    def _postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", str(self.conf), *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def check(self):
        """check - `postfix check` output (empty when the configuration is sound)."""
        r = self._postfix("check")
        return (r.stdout + r.stderr).strip()

    def start(self, deadline=START_DEADLINE):
        r = self._postfix("start")
        self.started = True   # whatever came up must be stopped again
        assert r.returncode == 0, f"postfix -c {self.conf} start: rc={r.returncode}\n{r.stdout}{r.stderr}\n" \
                                  f"{self.log_text()}"
        wait_until(lambda: port_accepts(self.port), deadline, f"postfix smtpd on 127.0.0.1:{self.port}")
        return self

    def stop(self):
        if not self.started:
            return
        self._postfix("stop")
        pidfile = self.root / "queue" / "pid" / "master.pid"

        def stopped():
            if not pidfile.exists():
                return True
            try:
                pid = int(pidfile.read_text().split()[0])
                os.kill(pid, 0)
            except (ValueError, IndexError, ProcessLookupError):
                return True
            return False

        try:
            wait_until(stopped, STOP_DEADLINE, "postfix master to exit")
        finally:
            self.started = False

    # --- its queue ---------------------------------------------------------------------------
    def queue_ids(self, queue="deferred"):
        """queue_ids - the ids of the messages in one of Postfix's queue directories (maildrop,
        incoming, active, deferred, hold), read from the files (hashed subdirectories included)."""
        d = self.root / "queue" / queue
        return sorted(p.name for p in d.rglob("*") if p.is_file()) if d.is_dir() else []

    def postqueue(self):
        """postqueue - `postqueue -p` (the mailq listing, asked of the running showq service)."""
        r = subprocess.run([POSTQUEUE, "-c", str(self.conf), "-p"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"postqueue -p: rc={r.returncode}\n{r.stdout}{r.stderr}"
        return r.stdout

    # --- what arrived ----------------------------------------------------------------------
    def maildir(self, user):
        return self.root / "vmail" / self.domain / user

    def maildir_files(self, user):
        files = []
        for sub in ("new", "cur"):
            d = self.maildir(user) / sub
            if d.is_dir():
                files += [p for p in d.iterdir() if p.is_file()]
        return sorted(files, key=lambda p: p.name)

    def wait_for_messages(self, user, n, deadline=20.0):
        wait_until(lambda: len(self.maildir_files(user)) >= n, deadline,
                   f"{n} message(s) in postfix's {self.maildir(user)} "
                   f"(have {len(self.maildir_files(user))})\npostfix log:\n{self.log_tail()}")
        return [p.read_bytes() for p in self.maildir_files(user)]

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log_text().splitlines()[-n:])
