# tests/blackbox/conftest.py — shared fixtures: a TLS pair, and mailkeep daemons that every test
# stops again (SIGTERM, bounded wait, SIGKILL) even when it fails.
import pytest

from harness import Mailkeep, make_cert, sanitizer_report
from postfix import Postfix


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def tls_pair(tmp_path_factory):
    """tls_pair - (cert.pem, key.pem), self-signed for mail.home.arpa, made once per run."""
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mailkeep_factory(tmp_path, tls_pair, request):
    """mailkeep_factory - start(**config options) -> a running Mailkeep; all stopped at teardown.
    With start=False the instance is only configured (its ports chosen, nothing listening): the
    test calls .start() itself later."""
    started = []

    def start(name="mk", start=True, **options):
        mk = Mailkeep(tmp_path / f"{name}{len(started)}", *tls_pair, **options)
        started.append(mk)
        return mk.start() if start else mk

    yield start

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    problems = []
    for mk in started:
        was_running = mk.running()
        if mk.proc is not None and not was_running and mk.proc.returncode != 0:
            problems.append(f"{mk.root}: mailkeep died during the test, rc={mk.proc.returncode} "
                            f"(negative = killed by that signal)\n{mk.log_tail()}")
        rc, needed_kill = mk.stop()
        if failed:
            print(f"--- mailkeep log {mk.log_path} ---\n{mk.log_tail(120)}")
        if was_running and (needed_kill or rc != 0):
            problems.append(f"{mk.root}: after SIGTERM rc={rc}, needed SIGKILL={needed_kill}\n{mk.log_tail()}")
        report = sanitizer_report(mk.log_text())
        if report:
            problems.append(f"{mk.root}: sanitizer report in the daemon's log:\n{report}")
    assert not problems, "mailkeep did not run and stop cleanly:\n" + "\n".join(problems)


@pytest.fixture
def mailkeep(mailkeep_factory):
    """mailkeep - a daemon with users anna, ben, postmaster, alias family@ -> anna, ben; trusted 127/8."""
    return mailkeep_factory(aliases=[{"address": "family@home.arpa", "to": ["anna", "ben"]}])


@pytest.fixture
def untrusted(mailkeep_factory):
    """untrusted - a daemon for which 127.0.0.1 is not a trusted network (trusted: 10.99.0.0/16)."""
    return mailkeep_factory(name="untrusted", trusted_networks=["10.99.0.0/16"])


@pytest.fixture(scope="session")
def smarthost_tls(tmp_path_factory):
    """smarthost_tls - (cert.pem, key.pem) for the Postfix smarthost, self-signed for
    smtp.smarthost.test (and 127.0.0.1), apart from tls_pair so that a wrong ca_file can be tested."""
    return make_cert(tmp_path_factory.mktemp("smarthost-tls"), cn="smtp.smarthost.test")


@pytest.fixture
def postfix_factory(tmp_path, smarthost_tls, request):
    """postfix_factory - start(**Postfix options) -> a running private Postfix; all stopped at teardown."""
    started = []

    def start(name="postfix", **options):
        options.setdefault("cert", smarthost_tls[0])
        options.setdefault("key", smarthost_tls[1])
        pf = Postfix(tmp_path / f"{name}{len(started)}", **options)
        started.append(pf)
        return pf.start()

    yield start

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    errors = []
    for pf in started:
        if failed:
            print(f"--- postfix log {pf.log} ---\n{pf.log_tail(120)}")
        try:
            pf.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "postfix did not stop: " + "; ".join(errors)
