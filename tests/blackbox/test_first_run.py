# tests/blackbox/test_first_run.py — `mailkeep serve --data DIR` with no config on a fresh machine:
# it writes DIR/mailkeep.toml and a self-signed certificate, creates postmaster with a password
# printed once, listens on the default ports (2525, 2587, 2465, 2110, 2995, 2143, 2993), and the config it wrote
# passes check-config while a broken copy fails with file:line. Skipped if a default port is busy.
import os
import poplib
import queue
import re
import signal
import socket
import ssl
import subprocess
import threading

import pytest

from harness import MAILKEEP_BIN, port_accepts, run_cli, wait_until
from wire import insecure_context

DEFAULT_PORTS = {"smtp": 2525, "submission": 2587, "submissions": 2465, "pop3": 2110, "pop3s": 2995, "imap": 2143,
                 "imaps": 2993}


def ports_free():
    for port in DEFAULT_PORTS.values():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # TIME_WAIT is not busy
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


class Serve:
    """Serve - `mailkeep serve --data DIR`, its stdout collected line by line on a thread."""

    def __init__(self, data_dir, cwd):
        self.lines = queue.Queue()
        self.seen = []
        self.err = open(os.path.join(cwd, "serve.stderr"), "ab")
        self.proc = subprocess.Popen([MAILKEEP_BIN, "serve", "--data", str(data_dir)], cwd=cwd,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.err)
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.decode("utf-8", "replace"))

    def drain(self):
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return self.seen

    def wait_line(self, pattern, deadline=10):
        def found():
            if self.proc.poll() is not None:
                raise AssertionError(f"mailkeep serve exited with {self.proc.returncode}: {self.drain()}")
            return next((l for l in self.drain() if re.search(pattern, l)), None)
        return wait_until(found, deadline, f"a stdout line matching {pattern!r}; got {self.seen}")

    def stop(self):
        rc, needed_kill = None, False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                needed_kill = True
                self.proc.kill()
                self.proc.wait(10)
        self.err.close()
        self.pump.join(5)                  # stdout reaches EOF once the process is gone
        if rc is None and not needed_kill:
            rc = self.proc.returncode
        return rc, needed_kill

    def output(self):
        """output - stdout so far plus stderr (where it logs)."""
        err = open(self.err.name, "rb").read().decode("utf-8", "replace")
        return "".join(self.drain()) + err


def password_candidates(line):
    """password_candidates - the likely password in a line such as "postmaster password: XYZ"."""
    tail = re.split(r"password", line, flags=re.I)[-1]
    tail = re.sub(r"^\s*(is\b)?\s*[:=]?\s*", "", tail).strip()
    cands = []
    if tail:
        cands.append(tail.split()[0].strip("\"'`"))
    last = line.split()[-1].strip("\"'`") if line.split() else ""
    if last and last not in cands:
        cands.append(last)
    return [c for c in cands if c]


def find_password(line):
    cands = password_candidates(line)
    password = next((c for c in cands if pop_login(DEFAULT_PORTS["pop3"], "postmaster", c)), None)
    assert password, f"no POP3 login as postmaster with {cands} from {line!r}"
    return password


def pop_login(port, user, password, tls=False):
    try:
        if tls:
            p = poplib.POP3_SSL("127.0.0.1", port, timeout=10, context=insecure_context())
        else:
            p = poplib.POP3("127.0.0.1", port, timeout=10)
        p.user(user)
        p.pass_(password)
        p.stat()
        p.quit()
        return True
    except poplib.error_proto:
        return False


@pytest.fixture
def first_run(tmp_path):
    if not os.path.exists(MAILKEEP_BIN):
        pytest.fail(f"mailkeep binary not found at {MAILKEEP_BIN}")
    if not ports_free():
        pytest.skip(f"a default port {sorted(DEFAULT_PORTS.values())} is busy")
    data = tmp_path / "data"
    srv = Serve(data, tmp_path)
    try:
        line = srv.wait_line(r"(?i)password")
        wait_until(lambda: all(port_accepts(p) for p in DEFAULT_PORTS.values()), 10, "the default ports")
        yield srv, data, line, tmp_path
    finally:
        rc, needed_kill = srv.stop()
    assert not needed_kill and rc == 0, f"serve --data did not stop cleanly on SIGTERM: rc={rc}"


def test_first_run(first_run):
    srv, data, line, tmp_path = first_run
    config = data / "mailkeep.toml"
    assert config.is_file()
    cert, key = data / "tls" / "cert.pem", data / "tls" / "key.pem"
    assert cert.is_file() and key.is_file()
    x509 = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-subject"], capture_output=True, text=True)
    assert x509.returncode == 0, x509.stderr
    assert os.stat(key).st_mode & 0o077 == 0, f"private key is readable by others: {oct(os.stat(key).st_mode)}"

    # The password works for POP3 (plain on loopback and pop3s), and pop3s presents the new cert.
    password = find_password(line)
    assert pop_login(DEFAULT_PORTS["pop3s"], "postmaster", password, tls=True)
    with socket.create_connection(("127.0.0.1", DEFAULT_PORTS["pop3s"]), timeout=10) as raw:
        with insecure_context().wrap_socket(raw, server_hostname="mail.home.arpa") as t:
            served = t.getpeercert(binary_form=True)
    assert served == ssl.PEM_cert_to_DER_cert(cert.read_text())

    # The password is printed once, and what it printed is what it listens on.
    stdout = "".join(srv.drain())
    assert stdout.count(password) == 1, f"password printed {stdout.count(password)} times"
    out = srv.output()
    for port in DEFAULT_PORTS.values():
        assert str(port) in out, f"port {port} not in what serve printed:\n{out}"

    # The written config is valid; a broken copy is not, with file:line.
    r = run_cli("check-config", str(config))
    assert r.returncode == 0, r.stdout + r.stderr
    broken = tmp_path / "broken.toml"
    lines = config.read_text().splitlines()
    lines.insert(2, "no_such_key_at_all = 1")
    broken.write_text("\n".join(lines) + "\n")
    r = run_cli("check-config", str(broken))
    assert r.returncode != 0
    assert f"{broken}:3:" in r.stdout + r.stderr, r.stdout + r.stderr


def test_second_start_keeps_config_and_does_not_print_password(first_run):
    srv, data, line, tmp_path = first_run
    password = find_password(line)
    before = (data / "mailkeep.toml").read_text()
    rc, needed_kill = srv.stop()
    assert not needed_kill and rc == 0
    again = Serve(data, tmp_path)
    try:
        wait_until(lambda: all(port_accepts(p) for p in DEFAULT_PORTS.values()), 10, "the default ports")
        assert pop_login(DEFAULT_PORTS["pop3"], "postmaster", password), "password changed on restart"
    finally:
        rc, needed_kill = again.stop()
    assert not needed_kill and rc == 0
    assert (data / "mailkeep.toml").read_text() == before, "the second start rewrote mailkeep.toml"
    assert password not in again.output(), "the password was printed again"
