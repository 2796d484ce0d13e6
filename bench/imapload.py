# bench/imapload.py — a small IMAP client of our own for the benchmark (scenario 9): raw socket, one
# tagged command at a time (no pipelining), literals read by their count ({n}\r\n then n bytes),
# and IDLE with the arrival time of each untagged line. Talks to a server the benchmark started on
# 127.0.0.1; every read has a timeout and every wait a deadline.
import re
import socket
import time

LITERAL_END = b"}\r\n"
LITERAL = re.compile(rb"\{(\d+)\+?\}$")   # the {n} (or LITERAL+ {n+}) that ends a line before n bytes


class ImapError(Exception):
    pass


class Response:
    """Response - one command's answer: the untagged lines as one bytes blob (literals inlined),
    the tagged status line, and how many literals and literal bytes came with it."""

    __slots__ = ("untagged", "status", "literals", "literal_bytes")

    def __init__(self, untagged, status, literals, literal_bytes):
        self.untagged, self.status, self.literals, self.literal_bytes = untagged, status, literals, literal_bytes

    def count(self, needle):
        return self.untagged.count(needle)

    def number_before(self, word):
        """number_before - N of the first untagged `* N WORD` line (EXISTS, RECENT), or None."""
        m = re.search(rb"(?:^|\r\n)\* (\d+) " + word + rb"\r\n", self.untagged)
        return int(m.group(1)) if m else None


class Imap:
    """Imap - one connection. A response is found in one growing buffer with bytes.find: the next
    literal marker (`}\\r\\n`) or the tagged line, whichever comes first; a literal is skipped by its
    count. So 100,000 one-line FETCH responses cost two searches, not a Python loop per line."""

    def __init__(self, port, host="127.0.0.1", timeout=120.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.serial = 0
        self.bytes_in = 0
        self.greeting = self.read_line()
        if not self.greeting.startswith(b"* OK"):
            raise ImapError(f"greeting: {self.greeting[:200]!r}")

    def close(self):
        self.sock.close()

    def _compact(self):
        """_compact - drop the consumed head of the buffer; only between responses, as offsets into
        the buffer are held while one is read."""
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0

    def _fill(self):
        """_fill - one recv appended to the buffer; returns the time it returned."""
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise ImapError("connection closed by the server")
        self.bytes_in += len(chunk)
        self.buf += chunk
        return time.monotonic()

    def read_line(self):
        """read_line - one line without its CRLF (no literal handling: greeting, continuations)."""
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def send(self, data):
        self.sock.sendall(data)

    def command(self, text, deadline=600.0, keep=True):
        """command - send `TAG text`, read every untagged line up to the tagged one; raise unless OK.
        keep=False: the untagged lines are not copied out (a 20 MB FETCH of bodies needs only the
        literals' count and size)."""
        self.serial += 1
        tag = b"T%d" % self.serial
        self._compact()
        self.send(tag + b" " + text.encode() + b"\r\n")
        r = self.read_response(tag, deadline, keep)
        if not r.status.startswith(tag + b" OK"):
            raise ImapError(f"{text.split()[0] if text else text}: {r.status[:300]!r}")
        return r

    def read_response(self, tag, deadline, keep=True):
        end = time.monotonic() + deadline
        start = self.pos
        tagged = b"\r\n" + tag + b" "
        literals = literal_bytes = 0
        if self._starts_with(tag + b" ", start):
            return self._finish(start, start, literals, literal_bytes, keep)
        scan = start
        while True:
            m = self.buf.find(LITERAL_END, scan)
            # the tagged line only matters before the next literal marker: search no further
            t = self.buf.find(tagged, scan) if m < 0 else self.buf.find(tagged, scan, m + 1)
            if m >= 0 and (t < 0 or m < t):
                eol = self.buf.rfind(b"\r\n", start, m)
                line_start = eol + 2 if eol >= 0 else start
                lit = LITERAL.search(bytes(self.buf[line_start:m + 1]))
                if lit is None:       # a "}" ending a line that is no literal: go on after it
                    scan = m + 1
                    continue
                n = int(lit.group(1))
                while len(self.buf) < m + 3 + n:
                    self._fill_by(end)
                literals += 1
                literal_bytes += n
                scan = m + 3 + n      # the line goes on after the literal's bytes
                continue
            if t >= 0:
                eol = self.buf.find(b"\r\n", t + 2)
                while eol < 0:
                    self._fill_by(end)
                    eol = self.buf.find(b"\r\n", t + 2)
                return self._finish(start, t + 2, literals, literal_bytes, keep)
            # neither yet: read more, searching again from where a marker may straddle the end
            scan = max(scan, len(self.buf) - len(tagged))
            self._fill_by(end)

    def _fill_by(self, end):
        if time.monotonic() > end:
            raise ImapError("deadline passed while reading a response")
        self._fill()

    def _starts_with(self, prefix, at):
        while len(self.buf) < at + len(prefix):
            # the greeting or a previous response may have left us right at the tagged line
            if self.buf.find(b"\r\n", at) >= 0:
                break
            self._fill()
        return self.buf.startswith(prefix, at)

    def _finish(self, start, tag_at, literals, literal_bytes, keep):
        eol = self.buf.find(b"\r\n", tag_at)
        while eol < 0:
            self._fill()
            eol = self.buf.find(b"\r\n", tag_at)
        untagged = b""
        if keep:
            with memoryview(self.buf) as view:   # one copy, not a bytearray slice and then bytes of it
                untagged = bytes(view[start:tag_at])
        status = bytes(self.buf[tag_at:eol])
        self.pos = eol + 2
        return Response(untagged, status, literals, literal_bytes)

    # -- the commands of scenario 9 --
    def login(self, user, password):
        return self.command(f"LOGIN {user} {password}")

    def select(self, mailbox="INBOX"):
        """select - SELECT; the EXISTS count."""
        r = self.command(f"SELECT {mailbox}")
        n = r.number_before(b"EXISTS")
        if n is None:
            raise ImapError(f"SELECT {mailbox}: no EXISTS in {r.untagged[:300]!r}")
        return n

    def search_count(self, criteria):
        """search_count - SEARCH criteria; how many message numbers it returned."""
        r = self.command(f"SEARCH {criteria}")
        m = re.search(rb"(?:^|\r\n)\* SEARCH([ 0-9]*)\r\n", r.untagged)
        if m is None:
            raise ImapError(f"SEARCH: no * SEARCH line in {r.untagged[:300]!r}")
        return len(m.group(1).split())

    def logout(self):
        self.serial += 1
        tag = b"T%d" % self.serial
        self._compact()
        self.send(tag + b" LOGOUT\r\n")
        try:
            r = self.read_response(tag, 30)
        finally:
            self.close()
        if not r.status.startswith(tag + b" OK"):
            raise ImapError(f"LOGOUT: {r.status!r}")

    def idle(self):
        """idle - start IDLE and wait for the server's continuation."""
        self.serial += 1
        self.idle_tag = b"T%d" % self.serial
        self._compact()
        self.send(self.idle_tag + b" IDLE\r\n")
        line = self.read_line()
        while line.startswith(b"* "):   # updates queued before the continuation
            line = self.read_line()
        if not line.startswith(b"+"):
            raise ImapError(f"IDLE: {line[:200]!r}")

    def wait_exists(self, n, deadline):
        """wait_exists - while idling, read until `* n EXISTS`; the monotonic time the recv that
        brought it returned (data already in the buffer counts as arrived at the last recv)."""
        end = time.monotonic() + deadline
        needle = b"* %d EXISTS\r\n" % n
        self._compact()
        arrived = getattr(self, "_last_recv", time.monotonic())
        while True:
            i = self.buf.find(needle, self.pos)
            if i >= 0:   # "* 2 EXISTS" is no substring of "* 12 EXISTS": no line-start check needed
                self.pos = i + len(needle)
                return arrived
            left = end - time.monotonic()
            if left <= 0:
                raise ImapError(f"no '* {n} EXISTS' within {deadline}s; got {bytes(self.buf[self.pos:])[-300:]!r}")
            self.sock.settimeout(min(left, 1.0))
            try:
                arrived = self._last_recv = self._fill()
            except socket.timeout:
                pass
            finally:
                self.sock.settimeout(120.0)

    def done(self):
        """done - end IDLE (DONE) and read its tagged OK."""
        self.send(b"DONE\r\n")
        r = self.read_response(self.idle_tag, 30)
        if not r.status.startswith(self.idle_tag + b" OK"):
            raise ImapError(f"IDLE DONE: {r.status!r}")
        return r
