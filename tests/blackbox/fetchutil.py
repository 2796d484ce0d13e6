# tests/blackbox/fetchutil.py — a private Dovecot as the "provider" for the fetcher tests: its
# Maildirs filled by the test, read back to see what mailkeep left there.
import os
import uuid

from dovecot import Dovecot

UNPRIVILEGED = 65534   # Dovecot refuses mail users with uid 0


def provider(tmp_path, users, tls=None):
    """provider - a started Dovecot (POP3 and IMAP on 127.0.0.1; with tls=(cert, key) also
    STLS/STARTTLS, pop3s and imaps) with users {name: password}; returns (dovecot, mail_root).
    The caller stops it."""
    mail_root = tmp_path / "provider-mail"
    mail_root.mkdir()
    root = os.geteuid() == 0
    for name in users:
        for sub in ("new", "cur", "tmp"):
            (mail_root / name / sub).mkdir(parents=True)
    if root:
        chown_tree(mail_root)
    if tls and root:
        from dovecot import make_traversable
        make_traversable(tls[0].parent)
        for f in tls:
            os.chmod(f, 0o644)
    d = Dovecot(tmp_path / "provider", mail_root, users, uid=UNPRIVILEGED if root else None,
                gid=UNPRIVILEGED if root else None, tls=tls)
    return d.start(), mail_root


def chown_tree(path):
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, UNPRIVILEGED, UNPRIVILEGED)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), UNPRIVILEGED, UNPRIVILEGED)


def place(mail_root, user, message):
    """place - put one message (bytes) into the provider mailbox of user, as a Maildir file."""
    name = f"{uuid.uuid4().hex}.test,S={len(message)}"
    path = mail_root / user / "new" / name
    path.write_bytes(message)
    if os.geteuid() == 0:
        os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
    return path


def provider_count(mail_root, user):
    return sum(1 for sub in ("new", "cur") for p in (mail_root / user / sub).iterdir() if p.is_file())


def account_toml(name, protocol, port, username, password, **keys):
    """account_toml - one [[account]] table; keys are written as TOML (strings quoted)."""
    lines = ["[[account]]", f'name = "{name}"', f'protocol = "{protocol}"', 'host = "127.0.0.1"',
             f"port = {port}", f'username = "{username}"', 'interval = "1h"']
    if password is not None:   # None: the keys give password_command or oauth2_token_command
        lines.append(f'password = "{password}"')
    for k, v in keys.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, int):
            lines.append(f"{k} = {v}")
        elif isinstance(v, list):
            lines.append(f"{k} = [" + ", ".join(f'"{x}"' for x in v) + "]")
        else:
            lines.append(f'{k} = "{v}"')
    return "\n".join(lines) + "\n"


def body_of(stored):
    """body_of - a fetched message as mailkeep stored it, without the two trace headers it adds
    (Delivered-To: and a folded Received:)."""
    lines = stored.split(b"\r\n")
    assert lines[0].startswith(b"Delivered-To: "), lines[0][:100]
    assert lines[1].startswith(b"Received: "), lines[1][:100]
    i = 2
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])
