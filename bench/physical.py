# bench/physical.py — the machine's own limits, measured in the same run as the scenarios: durable
# small writes per second on the data directory's disk (what one message costs at the least) and the
# loopback TCP bandwidth. Works only inside the directory it is given.
import os
import socket
import threading
import time


def fsync_rate(directory, seconds=3.0, size=4096, max_ops=100_000):
    """fsync_rate - one thread: create a file, write size bytes, fsync it, close, fsync the directory;
    as often as it can for `seconds`. Returns operations per second (one op = one durable message
    written the way a Maildir delivery without batching writes it)."""
    d = os.path.join(directory, "fsync-probe")
    os.makedirs(d, exist_ok=True)
    payload = b"x" * size
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    names = []
    n = 0
    try:
        start = time.monotonic()
        end = start + seconds
        while time.monotonic() < end and n < max_ops:
            name = os.path.join(d, f"f{n}")
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.write(fd, payload)
            os.fsync(fd)
            os.close(fd)
            os.fsync(dfd)
            names.append(name)
            n += 1
        elapsed = time.monotonic() - start
    finally:
        os.close(dfd)
        for name in names:
            os.unlink(name)
        os.rmdir(d)
    return n / elapsed


def loopback_bandwidth(seconds=2.0, chunk=1 << 20):
    """loopback_bandwidth - bytes per second through one TCP connection on 127.0.0.1 (a connected
    pair of sockets, a sender thread and this thread reading)."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    tx = socket.create_connection(lsock.getsockname(), timeout=10)
    rx, _ = lsock.accept()
    lsock.close()
    rx.settimeout(10)
    stop = threading.Event()
    data = b"\0" * chunk

    def sender():
        try:
            while not stop.is_set():
                tx.sendall(data)
        except OSError:
            pass
        finally:
            try:
                tx.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    t = threading.Thread(target=sender, daemon=True)
    buf = bytearray(chunk)
    got = 0
    t.start()
    try:
        start = time.monotonic()
        end = start + seconds
        while time.monotonic() < end:
            n = rx.recv_into(buf)
            if n == 0:
                break
            got += n
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        rx.close()   # the sender's next sendall fails and it ends
        t.join(10)
        tx.close()
    return got / elapsed


def maildir_rate(directory, seconds=3.0, size=4096, max_ops=100_000):
    """maildir_rate - one thread, the way a Maildir delivery is made durable: create tmp/N, write size
    bytes, fsync, close, rename into new/, fsync new/. The name appears after the file's fsync, so
    on ext4 this costs a second journal commit that fsync_rate's create-then-fsync does not.
    Returns deliveries per second."""
    d = os.path.join(directory, "maildir-probe")
    tmp, new = os.path.join(d, "tmp"), os.path.join(d, "new")
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(new, exist_ok=True)
    payload = b"x" * size
    nfd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
    n = 0
    try:
        start = time.monotonic()
        end = start + seconds
        while time.monotonic() < end and n < max_ops:
            t = os.path.join(tmp, f"f{n}")
            fd = os.open(t, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.write(fd, payload)
            os.fsync(fd)
            os.close(fd)
            os.rename(t, os.path.join(new, f"f{n}"))
            os.fsync(nfd)
            n += 1
        elapsed = time.monotonic() - start
    finally:
        os.close(nfd)
        for i in range(n):
            os.unlink(os.path.join(new, f"f{i}"))
        os.rmdir(tmp)
        os.rmdir(new)
        os.rmdir(d)
    return n / elapsed
