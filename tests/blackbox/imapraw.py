# tests/blackbox/imapraw.py — a raw IMAP session for transcript tests that need byte-exact commands
# and every untagged line as sent (imaplib hides their order and folds them by name).
import socket

from harness import DEFAULT_USERS

ANNA_PW = DEFAULT_USERS["anna"][0]

MSG = b"From: <a@example.org>\r\nSubject: edge\r\n\r\nbody\r\n"


class Session:
    """Session - one logged-in IMAP connection; run() sends a tagged command (literals as
    LITERAL+) and returns the untagged lines and the tagged one."""

    def __init__(self, mk):
        self.mk = mk
        self.sock = socket.create_connection(("127.0.0.1", mk.ports["imap"]), timeout=10)
        self.f = self.sock.makefile("rb")
        self.n = 0
        assert self.f.readline().startswith(b"* OK")
        assert self.run(f"LOGIN anna {ANNA_PW}")[1].startswith(b"OK")

    def run(self, command):
        self.n += 1
        tag = f"t{self.n}".encode()
        self.sock.sendall(tag + b" " + (command.encode() if isinstance(command, str) else command) + b"\r\n")
        untagged = []
        while True:
            line = self.f.readline()
            assert line, f"connection closed after {command!r}; got {untagged}"
            if line.startswith(tag + b" "):
                return untagged, line[len(tag) + 1:].rstrip(b"\r\n")
            untagged.append(line.rstrip(b"\r\n"))

    def append(self, folder, raw):
        return self.run(f"APPEND {folder} {{{len(raw)}+}}\r\n".encode() + raw)

    def close(self):
        self.sock.close()
