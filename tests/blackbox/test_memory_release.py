# tests/blackbox/test_memory_release.py — memory is handed back after a burst: one POP3 session over
# a maildrop of 40,000 messages makes the daemon list them all (about 8 MB of names); once the
# session ends the daemon must be back near its idle size, not keep what malloc freed.
import os
import poplib

from harness import wait_until

COUNT = 40_000
SLACK_KB = 4 * 1024   # what may stay above the size before the session


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def fill(maildir, count):
    for sub in ("new", "cur", "tmp"):
        os.makedirs(maildir / sub, exist_ok=True)
    data = b"Subject: filler\r\n\r\n" + b"x" * 200 + b"\r\n"
    for i in range(count):
        name = f"{1795000000 + i}.M{i}P4242I{i:016X}.memtest,S={len(data)},W={len(data)}"   # as mailkeep names them
        with open(maildir / "new" / name, "wb") as f:
            f.write(data)


def test_memory_is_released_after_a_large_pop3_session(mailkeep):
    fill(mailkeep.maildir("anna"), COUNT)
    pid = mailkeep.proc.pid
    before = vm_rss_kb(pid)
    p = poplib.POP3("127.0.0.1", mailkeep.ports["pop3"], timeout=30)
    p.user("anna")
    p.pass_(mailkeep.password("anna"))
    assert len(p.uidl()[1]) == COUNT
    during = vm_rss_kb(pid)
    p.quit()
    assert during > before + SLACK_KB, f"the listing did not cost memory ({before} -> {during} KiB): test proves nothing"
    wait_until(lambda: vm_rss_kb(pid) <= before + SLACK_KB, 10,
               f"VmRSS back within {SLACK_KB} KiB of {before} KiB (during the session {during} KiB)")
