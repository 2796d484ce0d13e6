# tests/blackbox/test_data_modes.py — nothing mailkeep writes into its data directory is open to
# other users: files 0600, directories 0700 at most, whatever umask the daemon was started with
# (the state database and SQLite's -wal and -shm files included, issue 9 item 14).
import os
import stat

import pytest

from harness import make_message
from smtputil import send


@pytest.fixture
def umask_022():
    """umask_022 - the usual umask while the test starts daemons (they inherit it), restored after."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def wide_entries(top):
    """wide_entries - [(path, mode)] of everything under top that group or others may use."""
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [dirpath] + [os.path.join(dirpath, n) for n in filenames]:
            st = os.lstat(name)
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
                out.append((name, oct(stat.S_IMODE(st.st_mode))))
    return out


def test_data_directory_is_owner_only(umask_022, mailkeep_factory):
    mk = mailkeep_factory()
    send(mk, "sender@example.org", ["anna@home.arpa", "someone@example.net"], make_message("modes"))
    mk.wait_for_messages("anna", 1)
    # The state database is open for the daemon's whole life; SQLite adds -wal and -shm to it.
    db = mk.data_dir / "state.db"
    assert db.exists()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert wide_entries(mk.data_dir) == []
    rc, needed_kill = mk.stop()
    assert (rc, needed_kill) == (0, False)
    assert wide_entries(mk.data_dir) == []


def test_wider_state_files_are_narrowed_at_start(umask_022, mailkeep_factory):
    mk = mailkeep_factory()
    rc, needed_kill = mk.stop()
    assert (rc, needed_kill) == (0, False)
    # What an older version left: the database and a WAL from a crash, readable by all.
    db = mk.data_dir / "state.db"
    wal = mk.data_dir / "state.db-wal"
    wal.touch()
    for f in (db, wal):
        os.chmod(f, 0o644)
    mk.start()
    for f in (db, wal):
        if f.exists():   # SQLite may have checkpointed and removed an empty WAL
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert wide_entries(mk.data_dir) == []
