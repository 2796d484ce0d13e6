# tests/blackbox/dnsstub.py — a private dnsmasq on 127.0.0.1 serving fixed MX and address records,
# for tests that let mailkeep resolve MX (relay direct mode); started without a shell, never a
# system service, and it only ever answers from the records it is given.
import ctypes
import os
import signal
import socket
import struct
import subprocess
from pathlib import Path

from harness import port_accepts, wait_until

DNSMASQ = "/usr/sbin/dnsmasq"   # Debian's dnsmasq-base (scripts/deps.sh --test)
START_DEADLINE = 10.0           # seconds until dnsmasq accepts on its TCP port
STOP_DEADLINE = 5.0             # seconds SIGTERM may take before SIGKILL
START_ATTEMPTS = 5              # a free port may be taken between probing and binding
PR_SET_PDEATHSIG = 1            # <sys/prctl.h>


def free_udp_tcp_port():
    """free_udp_tcp_port - a port free for both UDP and TCP on 127.0.0.1 a moment ago."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP+TCP port on 127.0.0.1")


def _check_name(name):
    # dnsmasq options are comma-separated: a comma or blank would inject another field.
    if not name or any(c in name for c in ", \t\r\n/"):
        raise ValueError(f"unusable DNS name for dnsmasq: {name!r}")
    return name


def zone_args(records, local=None):
    """zone_args - dnsmasq options for records.

    records = {
        "mx":    {"example.test": [("mx1.example.test", 10), ("mx2.example.test", 20)],
                  "nullmx.test": [(".", 0)]},                    # RFC 7505 null MX
        "host":  {"mx1.example.test": ["127.0.0.2"], "dual.test": ["127.0.0.6", "::6"]},
        "cname": {"alias.test": "plain.test"},                    # optional
        "txt":   {"textonly.test": "hello"},                      # optional: exists, no MX/A
    }
    local: the domains dnsmasq answers for itself (default: the last label of every name given).
    Inside them an unknown name is NXDOMAIN and a known name without the asked type NODATA;
    any name outside them is answered REFUSED (a temporary failure for mailkeep), because there
    is no upstream server. Without --local dnsmasq would answer REFUSED to NODATA questions too.
    """
    args = []
    names = set()
    for domain, mxs in records.get("mx", {}).items():
        names.add(_check_name(domain))
        for exchange, preference in mxs:
            args.append(f"--mx-host={domain},{_check_name(exchange)},{int(preference)}")
    for name, addresses in records.get("host", {}).items():
        names.add(_check_name(name))
        addrs = [_check_name(a) for a in addresses]
        args.append(f"--host-record={name}," + ",".join(addrs))
    for alias, target in records.get("cname", {}).items():
        names.add(_check_name(alias))
        args.append(f"--cname={alias},{_check_name(target)}")
    for name, text in records.get("txt", {}).items():
        names.add(_check_name(name))
        args.append(f"--txt-record={name},{_check_name(text)}")
    if local is None:
        local = sorted({n.rstrip(".").rsplit(".", 1)[-1] for n in names})
    for domain in local:
        args.append(f"--local=/{_check_name(domain)}/")
    return args


def _die_with_parent():
    # Runs in the child before exec: dnsmasq gets SIGKILL when the test process dies, however.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def start_dnsmasq(tmpdir, records, local=None):
    """start_dnsmasq - run dnsmasq on a free 127.0.0.1 port (UDP and TCP) serving records (see
    zone_args); returns (proc, port). mailkeep's DNS server setting is then f"127.0.0.1:{port}".
    The log is tmpdir/dnsmasq.log (every query is logged). Always pair with stop_dnsmasq."""
    if not os.access(DNSMASQ, os.X_OK):
        raise RuntimeError(f"{DNSMASQ} missing: run scripts/deps.sh --test (package dnsmasq-base)")
    tmpdir = Path(tmpdir)
    tmpdir.mkdir(parents=True, exist_ok=True)
    log_path = tmpdir / "dnsmasq.log"
    zone = zone_args(records, local)
    for _ in range(START_ATTEMPTS):
        port = free_udp_tcp_port()
        argv = [DNSMASQ, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                "--pid-file=", "--log-queries", *zone]
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    preexec_fn=_die_with_parent)
        try:
            wait_until(lambda: proc.poll() is not None or port_accepts(port), START_DEADLINE,
                       f"dnsmasq on port {port}")
        except AssertionError:
            stop_dnsmasq(proc)
            break
        if proc.poll() is None:
            return proc, port
        # exited: most likely the port was taken meanwhile; try another one
    raise RuntimeError("dnsmasq did not start; its log:\n" + log_path.read_text(errors="replace"))


def stop_dnsmasq(proc):
    """stop_dnsmasq - SIGTERM, then SIGKILL after STOP_DEADLINE; reaps the process."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def query(port, name, qtype, timeout=2.0):
    """query - ask 127.0.0.1:port one question over UDP; returns (rcode, answer count), for tests
    that check the stub itself. qtype: 1 A, 15 MX, 28 AAAA (RFC 1035 3.2.2, RFC 3596)."""
    tid = int.from_bytes(os.urandom(2), "big")
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".") if label) + b"\0"
    packet = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        while True:
            data, _ = s.recvfrom(4096)
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == tid:
                flags, _qd, ancount = struct.unpack(">HHH", data[2:8])
                return flags & 0xF, ancount
