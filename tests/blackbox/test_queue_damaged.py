# tests/blackbox/test_queue_damaged.py — a queue entry that cannot be read is never left silently
# (issue 9, item 1): at start-up its files are moved to DATA/corrupt/, the postmaster gets a notice
# with the message attached, and the queue goes on with the rest.
import email
import email.policy

from harness import make_message, split_trace
from relayutil import send_transaction


def queue_two(mk):
    for subject in ("damaged one", "healthy one"):
        send_transaction(mk, "anna@home.arpa", ["far@example.org"], make_message(subject, sender="anna@home.arpa",
                                                                               to="far@example.org"))
    envs = mk.queue_files(".env")
    assert len(envs) == 2, envs
    by_subject = {}
    for env in envs:
        eml = env.with_suffix(".eml").read_bytes()
        by_subject["damaged one" if b"Subject: damaged one" in eml else "healthy one"] = env
    return by_subject


def test_unreadable_envelope_goes_to_the_postmaster_with_the_message(mailkeep_factory):
    mk = mailkeep_factory()
    envs = queue_two(mk)
    mk.stop()
    damaged = envs["damaged one"]
    queue_id = damaged.stem
    original = damaged.with_suffix(".eml").read_bytes()
    damaged.write_bytes(damaged.read_bytes()[:40] + b"\xff\x00 torn")   # as a disk error would leave it
    mk.start()

    (notice_raw,) = mk.wait_for_messages("postmaster", 1)
    lines = mk.queue_list()
    assert len(lines) == 1 and queue_id not in "\n".join(lines) and "DAMAGED" not in "\n".join(lines), lines
    corrupt = mk.data_dir / "corrupt"
    moved = sorted(p.name for p in corrupt.iterdir())
    assert moved[:2] == [f"{queue_id}.eml", f"{queue_id}.env"] and moved[2:] in ([], [f"{queue_id}.state"]), moved
    assert (corrupt / f"{queue_id}.eml").read_bytes() == original
    assert not list(mk.queue_dir().glob(f"{queue_id}.*"))

    return_path, _, rest = split_trace(notice_raw)
    assert return_path == b"Return-Path: <>"
    msg = email.message_from_bytes(rest, policy=email.policy.default)
    assert queue_id in msg["Subject"], msg["Subject"]
    assert msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert queue_id in text and str(corrupt) in text, text
    attached = [p for p in msg.iter_attachments()]
    kinds = [p.get_content_type() for p in attached]
    assert "message/rfc822" in kinds, kinds
    returned = next(p for p in attached if p.get_content_type() == "message/rfc822")
    inner = returned.get_content()
    assert inner["Subject"] == "damaged one"
    envelope = next(p for p in attached if p.get_content_type() != "message/rfc822")
    assert envelope.get_content_type() == "application/octet-stream"
    assert envelope.get_content().endswith(b"\xff\x00 torn")

    # Told once: a restart finds nothing left to report.
    mk.restart()
    assert len(mk.maildir_files("postmaster")) == 1
    assert "damaged" in mk.log_text() and queue_id in mk.log_text()
