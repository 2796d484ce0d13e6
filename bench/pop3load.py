# bench/pop3load.py — a small POP3 reader of our own for the benchmark: raw socket, USER/PASS, UIDL,
# and RETR+DELE pipelined with a bounded window of outstanding commands (RFC 2449 PIPELINING style;
# both servers answer commands in order whether or not they announce it). Talks to a server the
# benchmark started on 127.0.0.1; every read has a timeout.
import socket
import time

TERMINATOR = b"\r\n.\r\n"


class Pop3Error(Exception):
    pass


class Pop3:
    """Pop3 - one connection. Responses are parsed from one growing buffer with bytes.find, so a
    20 MB retrieval costs the client little next to the server."""

    def __init__(self, port, host="127.0.0.1", timeout=60.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.bytes_in = 0
        self.greeting = self.read_line()
        if not self.greeting.startswith(b"+OK"):
            raise Pop3Error(f"greeting: {self.greeting!r}")

    def close(self):
        self.sock.close()

    def _fill(self):
        if self.pos > (1 << 20):
            # keep the last CRLF before pos: read_multi may still need it
            del self.buf[:self.pos - 2]
            self.pos = 2
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise Pop3Error("connection closed by the server")
        self.bytes_in += len(chunk)
        self.buf += chunk

    def read_line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def read_multi(self):
        """read_multi - a multi-line response: (status line, body bytes still dot-stuffed); -ERR has
        no body."""
        status = self.read_line()
        if not status.startswith(b"+OK"):
            raise Pop3Error(f"expected +OK, got {status!r}")
        # Searched from the status line's CRLF, which is the one before the final "." of an empty
        # body; `scanned` is relative to self.pos because _fill may move the buffer's contents.
        scanned = -2
        while True:
            i = self.buf.find(TERMINATOR, self.pos + scanned)
            if i >= 0:
                body = bytes(self.buf[self.pos:i + 2]) if i + 2 > self.pos else b""
                self.pos = i + len(TERMINATOR)
                return status, body
            scanned = max(-2, len(self.buf) - len(TERMINATOR) + 1 - self.pos)
            self._fill()

    def send(self, data):
        self.sock.sendall(data)

    def command(self, line):
        self.send(line.encode() + b"\r\n")
        reply = self.read_line()
        if not reply.startswith(b"+OK"):
            raise Pop3Error(f"{line.split()[0]}: {reply!r}")
        return reply

    def login(self, user, password):
        self.command(f"USER {user}")
        self.command(f"PASS {password}")

    def stat(self):
        return int(self.command("STAT").split()[1])

    def uidl(self):
        self.send(b"UIDL\r\n")
        _, body = self.read_multi()
        return body.count(b"\r\n")

    def quit(self):
        self.send(b"QUIT\r\n")
        reply = self.read_line()
        self.close()
        if not reply.startswith(b"+OK"):
            raise Pop3Error(f"QUIT: {reply!r}")
        return reply

    def retr_dele_all(self, count, window=16, deadline=600.0):
        """retr_dele_all - RETR i then DELE i for i = 1..count, at most `window` RETR+DELE pairs in
        flight. Returns (per-RETR latencies in seconds from sending the RETR to the end of its
        response, message bytes received). Raises on -ERR or when deadline seconds pass."""
        end = time.monotonic() + deadline
        sent_at = [0.0] * (count + 1)
        latencies = []
        received = 0
        next_send = 1
        for i in range(1, count + 1):
            # keep the pipe full: send until `window` pairs are outstanding
            if next_send <= count and next_send - i < window:
                batch = []
                now = time.monotonic()
                while next_send <= count and next_send - i < window:
                    batch.append(b"RETR %d\r\nDELE %d\r\n" % (next_send, next_send))
                    sent_at[next_send] = now
                    next_send += 1
                self.send(b"".join(batch))
            _, body = self.read_multi()
            latencies.append(time.monotonic() - sent_at[i])
            received += len(body)
            reply = self.read_line()
            if not reply.startswith(b"+OK"):
                raise Pop3Error(f"DELE {i}: {reply!r}")
            if time.monotonic() > end:
                raise Pop3Error(f"deadline of {deadline}s passed after {i} of {count} messages")
        return latencies, received
