# tests/blackbox/wire.py — byte-exact SMTP and POP3 clients over a raw socket, for what smtplib and
# poplib cannot send (pipelining, smuggling sequences, overlong lines) or would hide (dot-stuffing).
import socket
import ssl
import time


def insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Closed(Exception):
    pass


class Wire:
    """Wire - a line-buffered socket with a deadline on every read."""

    def __init__(self, port, tls=False, timeout=10.0, host="127.0.0.1"):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            self.sock = insecure_context().wrap_socket(self.sock, server_hostname="mail.home.arpa")
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed("peer closed the connection")
        self.buf += chunk

    def readline(self):
        """readline - one line including its CRLF/LF."""
        while b"\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def starttls(self):
        assert not self.buf, f"data buffered before TLS: {self.buf!r}"
        self.sock = insecure_context().wrap_socket(self.sock, server_hostname="mail.home.arpa")

    def read_until_closed(self, deadline=10.0):
        """read_until_closed - every byte until the peer closes (or the deadline passes)."""
        end = time.monotonic() + deadline
        data, self.buf = self.buf, b""
        while time.monotonic() < end:
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
        self.sock.settimeout(self.timeout)
        return data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SmtpReply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines          # texts after "NNN-" / "NNN "

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        """enhanced - the RFC 3463 code at the start of the first line, or ''."""
        first = self.lines[0].split(" ", 1)[0] if self.lines else ""
        parts = first.split(".")
        return first if len(parts) == 3 and all(p.isdigit() for p in parts) else ""

    def __repr__(self):
        return f"SmtpReply({self.code}, {self.lines!r})"


class Smtp(Wire):
    """Smtp - raw SMTP client: reply() reads one (multi-line) reply."""

    def reply(self):
        lines = []
        while True:
            line = self.readline().rstrip(b"\r\n").decode("utf-8", "replace")
            if len(line) < 3 or not line[:3].isdigit():
                raise AssertionError(f"malformed SMTP reply line {line!r}")
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return SmtpReply(int(line[:3]), lines)
            if line[3] != "-":
                raise AssertionError(f"malformed SMTP reply line {line!r}")

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def greet(self, helo="client.test"):
        banner = self.reply()
        assert banner.code == 220, banner
        r = self.cmd(f"EHLO {helo}")
        assert r.code == 250, r
        return r

    def expect(self, line, code):
        r = self.cmd(line)
        assert r.code == code, f"{line!r}: want {code}, got {r}"
        return r


def greeted(port):
    """greeted - an SMTP connection that got its 220, or None."""
    w = Smtp(port)
    try:
        if w.reply().code == 220:
            return w
    except (Closed, OSError):
        pass
    w.close()
    return None


class Pop3(Wire):
    """Pop3 - raw POP3 client that keeps the wire form of multi-line answers."""

    def status(self):
        return self.readline().rstrip(b"\r\n")

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.status()

    def multiline_raw(self):
        """multiline_raw - the lines of a multi-line answer as on the wire (still dot-stuffed),
        each with its CRLF, without the final '.' line."""
        out = []
        while True:
            line = self.readline()
            if line == b".\r\n":
                return out
            out.append(line)
