# tests/blackbox/harness.py — start, watch and stop a real mailkeep daemon for the black-box tests;
# everything here talks to the binary only through its CLI, its files and its ports on 127.0.0.1.
import base64
import functools
import os
import re
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

MAILKEEP_BIN = os.environ.get("MAILKEEP_BIN", "/work/main/build/mailkeep")
START_DEADLINE = 10.0   # seconds until every port accepts
STOP_DEADLINE = 15.0    # seconds SIGTERM may take (drain) before SIGKILL
ROLES = ("smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps")

# Test users: name -> (password, addresses)
DEFAULT_USERS = {
    "anna": ("anna-secret-1", ["anna@home.arpa"]),
    "ben": ("ben-secret-2", ["ben@home.arpa"]),
    "postmaster": ("pm-secret-3", ["postmaster@home.arpa"]),
}


# A sanitizer's report, as an ASan/UBSan build of mailkeep (scripts/asan.sh) writes it to stderr:
# "==PID==ERROR: AddressSanitizer: ...", "file:line:col: runtime error: ...", and the SUMMARY line.
SANITIZER_REPORT = re.compile(r"^==\d+==ERROR: \w*Sanitizer|: runtime error: |^SUMMARY: \w*Sanitizer", re.M)


def sanitizer_report(text):
    """sanitizer_report - text from its first sanitizer report on (at most 6000 characters), or None."""
    m = SANITIZER_REPORT.search(text)
    if not m:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    return text[start:start + 6000]


def free_ports(n):
    """free_ports - n distinct ports that were free on 127.0.0.1 a moment ago (bind port 0)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_accepts(port, host="127.0.0.1", seen=None):
    """port_accepts - a TCP connection to host:port succeeds; its local port is appended to seen
    (when given), so that a test can tell the harness's own connections in a server's log."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            if seen is not None:
                seen.append(s.getsockname()[1])
            return True
    except OSError:
        return False


def cpu_seconds(pid):
    """cpu_seconds - the CPU time (user + system) a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def fd_limit(n):
    """fd_limit - a preexec_fn that gives the child at most n file descriptors (soft = hard = n)."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def wait_until(predicate, deadline, what, interval=0.05):
    """wait_until - poll predicate until it returns a truthy value or deadline seconds pass."""
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {deadline}s waiting for {what}")
        time.sleep(interval)


@functools.lru_cache(maxsize=None)
def crypt_hash(password):
    """crypt_hash - a sha512-crypt hash made by openssl, independent of `mailkeep passwd`."""
    out = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(),
                         capture_output=True, check=True)
    return out.stdout.decode().strip()


def make_cert(directory, cn="mail.home.arpa"):
    """make_cert - a self-signed RSA certificate for cn, also valid (subjectAltName) for localhost and
    127.0.0.1, so that a relay client verifying a hop given as host = "127.0.0.1" against this
    certificate as its ca_file accepts it; returns (cert, key) paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn},DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, os.PathLike):
        v = os.fspath(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


# The [relay] a test gets unless it names one: a smarthost on 127.0.0.1 port 9, where nothing listens
# (tests only ever take ephemeral ports), so that remote mail stays in the queue (the hop is
# unreachable) instead of going to real DNS and MX hosts, as the tests that inspect the queue expect.
# A short probe_interval keeps a SIGTERM during such a test independent of the probe timer (that a
# long one does not delay shutdown is test_relay_offline.py's business).
PARKED_RELAY = {"mode": "smarthost", "host": "127.0.0.1", "port": 9, "tls": "none", "probe_interval": "1s"}


def render_config(data_dir, ports, cert, key, users=None, aliases=(), trusted_networks=("127.0.0.0/8",),
                  catch_all=None, limits=None, hostname="mail.home.arpa", local_domains=("home.arpa",),
                  postmaster="postmaster@home.arpa", disabled_roles=(), run_as=None, relay=PARKED_RELAY, routes=(),
                  extra_toml=None):
    """render_config - the TOML text of a config in the contract's format.

    relay: the [relay] table as a dict (values as toml_value takes them: str, int, bool, list, Path);
    its key "sender" holds a list of dicts, each written as a [[relay.sender]] table. By default
    PARKED_RELAY; None or {} writes no [relay] table (mailkeep's own default: direct, system DNS).
    routes: dicts, each written as a [[route]] table. extra_toml: raw TOML text appended as is."""
    users = DEFAULT_USERS if users is None else users
    lim = {"max_message_size": "1M", "max_recipients": 100, "max_connections": 200,
           "max_connections_per_ip": 50}
    lim.update(limits or {})
    out = [
        "# written by tests/blackbox/harness.py",
        f"hostname = {toml_value(hostname)}",
        f"data_dir = {toml_value(str(data_dir))}",
        f"local_domains = {toml_value(list(local_domains))}",
        f"postmaster = {toml_value(postmaster)}",
        f"trusted_networks = {toml_value(list(trusted_networks))}",
    ]
    if catch_all:
        out.append(f"catch_all = {toml_value(catch_all)}")
    if run_as:
        out.append(f"run_as = {toml_value(run_as)}")
    out.append("")
    out.append("[listen]")
    for role in ROLES:
        addrs = [] if role in disabled_roles else [f"127.0.0.1:{ports[role]}"]
        out.append(f"{role} = {toml_value(addrs)}")
    out += ["", "[tls]", f"cert = {toml_value(str(cert))}", f"key = {toml_value(str(key))}", "", "[limits]"]
    for k, v in lim.items():
        out.append(f"{k} = {toml_value(v)}")
    for name, spec in users.items():
        password, addresses = spec[0], spec[1]
        extra = spec[2] if len(spec) > 2 else {}
        out += ["", "[[user]]", f"name = {toml_value(name)}",
                f"password = {toml_value(crypt_hash(password))}",
                f"addresses = {toml_value(addresses)}",
                f"forward_to = {toml_value(extra.get('forward_to', []))}",
                f"keep_copy = {toml_value(extra.get('keep_copy', True))}"]
        if "cram_md5" in extra:
            out.append(f"cram_md5 = {toml_value(extra['cram_md5'])}")
    for alias in aliases:
        out += ["", "[[alias]]", f"address = {toml_value(alias['address'])}", f"to = {toml_value(alias['to'])}"]
    if relay:
        out += ["", "[relay]"] + [f"{k} = {toml_value(v)}" for k, v in relay.items() if k != "sender"]
        for sender in relay.get("sender", ()):
            out += ["", "[[relay.sender]]"] + [f"{k} = {toml_value(v)}" for k, v in sender.items()]
    for route in routes:
        out += ["", "[[route]]"] + [f"{k} = {toml_value(v)}" for k, v in route.items()]
    if extra_toml:
        out += ["", extra_toml.rstrip("\n")]
    return "\n".join(out) + "\n"


def split_trace(raw):
    """split_trace - (return_path_line, received_header, rest) of a stored message; the contract says
    a stored message begins with Return-Path: then one Received: header (maybe folded), then the
    message as it was sent."""
    lines = raw.split(b"\r\n")
    assert lines[0].startswith(b"Return-Path: "), f"first line is not Return-Path: {lines[0][:200]!r}"
    assert lines[1].startswith(b"Received: "), f"second line is not Received: {lines[1][:200]!r}"
    i = 2
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    received = b"\r\n".join(lines[1:i])
    rest = b"\r\n".join(lines[i:])
    return lines[0], received, rest


class Mailkeep:
    """Mailkeep - one daemon instance with its own temp dir, config, ports and log."""

    def __init__(self, root, cert, key, **options):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.root / "data"
        self.config_path = self.root / "mailkeep.toml"
        self.log_path = self.root / "mailkeep.log"
        self.cert, self.key = Path(cert), Path(key)
        self.ports = dict(zip(ROLES, free_ports(len(ROLES))))
        self.options = options
        self.users = options.get("users") or DEFAULT_USERS
        self.disabled_roles = tuple(options.get("disabled_roles", ()))
        self.config_path.write_text(render_config(self.data_dir, self.ports, cert, key, **options))
        self.proc = None
        self.harness_ports = []   # local ports of the readiness connections start() made
        self.exits = []   # return codes of every stop, in order
        self.killed = False

    # --- process control -------------------------------------------------------------------
    def start(self, deadline=START_DEADLINE, preexec_fn=None):
        """start - run `serve` and wait until every port accepts; preexec_fn (such as fd_limit(n)) runs
        in the child before mailkeep does."""
        if not os.path.exists(MAILKEEP_BIN):
            raise AssertionError(f"mailkeep binary not found at {MAILKEEP_BIN} (build it or set MAILKEEP_BIN)")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([MAILKEEP_BIN, "serve", "--config", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                     preexec_fn=preexec_fn)
        self.killed = False

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"mailkeep exited with {self.proc.returncode} during start-up; "
                                     f"log:\n{self.log_tail()}")
            return all(port_accepts(self.ports[r], seen=self.harness_ports) for r in ROLES
                       if r not in self.disabled_roles)

        try:
            wait_until(ready, deadline, f"mailkeep ports {self.ports}")
        except AssertionError as e:
            self.kill()
            raise AssertionError(f"{e}\nlog:\n{self.log_tail()}") from None
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """stop - SIGTERM, wait up to STOP_DEADLINE, then SIGKILL; returns (returncode, needed_kill)."""
        if self.proc is None:
            return None, False
        needed_kill = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                needed_kill = True
                self.proc.kill()
                self.proc.wait(10)
        rc = self.proc.returncode
        self.exits.append((rc, needed_kill))
        self.proc = None
        self._log.close()
        return rc, needed_kill

    def kill(self):
        """kill - SIGKILL now (a crash), and reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.exits.append((self.proc.returncode, True))
        self.proc = None
        self._log.close()
        self.killed = True

    def restart(self):
        rc, needed_kill = self.stop()
        assert not needed_kill and rc == 0, f"SIGTERM stop: rc={rc} needed_kill={needed_kill}\n{self.log_tail()}"
        return self.start()

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    # --- CLI -----------------------------------------------------------------------------------
    def cli(self, *args, input=None, timeout=20):
        return run_cli(*args, "--config", str(self.config_path), input=input, timeout=timeout)

    def queue_list(self):
        """queue_list - the message lines of `queue list`; a Postfix-style summary line starting
        with "-- " (e.g. "-- 0 message(s) in the queue") is not a message and is left out."""
        r = self.cli("queue", "list")
        assert r.returncode == 0, f"queue list failed rc={r.returncode}: {r.stdout}{r.stderr}"
        return [line for line in r.stdout.splitlines() if line.strip() and not line.startswith("-- ")]

    def status(self):
        """status - the stdout of `mailkeep status` (asks the running daemon)."""
        r = self.cli("status")
        assert r.returncode == 0, f"status failed rc={r.returncode}: {r.stdout}{r.stderr}"
        return r.stdout

    # --- files ---------------------------------------------------------------------------------
    def maildir(self, user):
        return self.data_dir / "mail" / user

    def maildir_files(self, user, subdirs=("new", "cur")):
        """maildir_files - paths of the messages in new/ and cur/, sorted by name (delivery time)."""
        files = []
        for sub in subdirs:
            d = self.maildir(user) / sub
            if d.is_dir():
                files += [p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")]
        return sorted(files, key=lambda p: p.name)

    def maildir_messages(self, user):
        return [p.read_bytes() for p in self.maildir_files(user)]

    def wait_for_messages(self, user, n, deadline=10.0):
        """wait_for_messages - at least n messages for user within deadline; returns them all."""
        wait_until(lambda: len(self.maildir_files(user)) >= n, deadline,
                   f"{n} message(s) in {self.maildir(user)} (have {len(self.maildir_files(user))})")
        return self.maildir_messages(user)

    def queue_dir(self):
        return self.data_dir / "queue"

    def queue_files(self, suffix=None):
        d = self.queue_dir()
        if not d.is_dir():
            return []
        return sorted(p for p in d.rglob("*") if p.is_file() and (suffix is None or p.name.endswith(suffix)))

    def password(self, user):
        return self.users[user][0]


def run_cli(*args, input=None, timeout=20, cwd=None, preexec_fn=None):
    """run_cli - run the mailkeep binary with args; text in, text out."""
    if not os.path.exists(MAILKEEP_BIN):
        raise AssertionError(f"mailkeep binary not found at {MAILKEEP_BIN} (build it or set MAILKEEP_BIN)")
    r = subprocess.run([MAILKEEP_BIN, *args], input=input, capture_output=True, text=True,
                       timeout=timeout, cwd=cwd, preexec_fn=preexec_fn)
    report = sanitizer_report(r.stderr)
    assert report is None, f"mailkeep {' '.join(args)}: sanitizer report:\n{report}"
    return r


def auth_plain(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def make_message(subject="test", body="hello\r\n", sender="sender@example.org", to="anna@home.arpa",
                 msgid=None, extra_headers=()):
    """make_message - an RFC 5322 message as CRLF bytes, exactly as it should be stored."""
    import uuid
    msgid = msgid or f"<{uuid.uuid4().hex}@client.test>"
    head = [f"From: <{sender}>", f"To: <{to}>", f"Subject: {subject}", f"Message-ID: {msgid}",
            "Date: Mon, 01 Jan 2024 00:00:00 +0000", *extra_headers]
    if isinstance(body, str):
        body = body.encode()
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body
