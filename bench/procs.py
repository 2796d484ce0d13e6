# bench/procs.py — what a daemon costs, read from /proc: its whole process tree (the root and every
# descendant), CPU seconds (utime+stime, plus cutime+cstime of children already reaped, so that a
# short-lived Postfix cleanup/virtual process is still counted), VmRSS and PSS (smaps_rollup), and a
# sampler thread that keeps the peak of the tree's RSS/PSS while a scenario runs. Read-only.
import os
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:   # the process went away between listing and reading
        return None


def _stat_fields(pid):
    """_stat_fields - /proc/PID/stat split after the command name (which may hold spaces); field 3
    (state) is index 0."""
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    return raw[raw.rindex(b")") + 2:].split()


def tree(root):
    """tree - root and all its live descendants (pids), by one scan of /proc."""
    if root is None or not os.path.exists(f"/proc/{root}"):
        return []
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        f = _stat_fields(name)
        if f is None:
            continue
        children.setdefault(int(f[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def cpu_seconds(pids):
    """cpu_seconds - user+system seconds of the given processes, including their reaped children."""
    total = 0
    for p in pids:
        f = _stat_fields(p)
        if f is None:
            continue
        # fields 14-17 of stat(5): utime stime cutime cstime; index = field - 3
        total += sum(int(x) for x in f[11:15])
    return total / CLK_TCK


def _kb(raw, key):
    i = raw.find(key)
    if i < 0:
        return 0
    return int(raw[i + len(key):raw.index(b"kB", i)].strip())


def memory_kb(pids):
    """memory_kb - (sum of VmRSS, sum of PSS) in KiB over the given processes."""
    rss = pss = 0
    for p in pids:
        s = _read(f"/proc/{p}/status")
        if s is not None:
            rss += _kb(s, b"VmRSS:")
        r = _read(f"/proc/{p}/smaps_rollup")
        if r is not None:
            pss += _kb(r, b"\nPss:")
    return rss, pss


class Daemon:
    """Daemon - a name and a way to find the root pid (a callable: a pid file may be rewritten)."""

    def __init__(self, name, root_pid):
        self.name = name
        self._root = root_pid

    def root(self):
        return self._root()

    def pids(self):
        return tree(self.root())

    def cpu(self):
        return cpu_seconds(self.pids())

    def footprint(self):
        """footprint - dict(processes, rss_kb, pss_kb) of the whole tree now."""
        pids = self.pids()
        rss, pss = memory_kb(pids)
        return {"processes": len(pids), "rss_kb": rss, "pss_kb": pss}


class Group(Daemon):
    """Group - several daemons counted as one (fetchmail and the mailkeep its ODMR run hands mail to)."""

    def __init__(self, name, *daemons):
        super().__init__(name, None)
        self.daemons = daemons

    def root(self):
        return None

    def pids(self):
        return [p for d in self.daemons for p in d.pids()]


def pid_from_file(path):
    def read():
        try:
            return int(open(path).read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
    return read


class PeakSampler:
    """PeakSampler - while active, every interval seconds, the tree's RSS and PSS sums; keeps the max.
    Use as a context manager around one measured run."""

    def __init__(self, daemon, interval=0.25, max_seconds=900):
        self.daemon = daemon
        self.interval = interval
        self.max_seconds = max_seconds
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self._stop = threading.Event()
        self._thread = None

    def sample(self):
        rss, pss = memory_kb(self.daemon.pids())
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.peak_pss_kb = max(self.peak_pss_kb, pss)

    def _run(self):
        end = time.monotonic() + self.max_seconds   # bounded even if nobody stops it
        while not self._stop.is_set() and time.monotonic() < end:
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.sample()
        return False
