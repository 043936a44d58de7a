"""pytest fixtures for mailward's end-to-end tests.

Fixtures:
  tls_pair        (session) self-signed cert/key made with the openssl CLI
  sink            a fresh recording SMTP sink (mwtest.Sink), started
  make_server     factory: make_server(overrides=None, env=None, provision=True,
                  sink=None, start=True) -> mwtest.Server with the standard tenants
  std             (module) one running server + sink + maildir shared by a module
                  whose tests each use their own connections

Standard tenants (provision()):
  acme: acme.test and catchall.test -> the sink; users alice@acme.test,
        bob@acme.test, catch-all @catchall.test
  beta: beta.test -> maildir:<workdir>/maildir; users carol@beta.test,
        bounces@beta.test
When a test fails, the tail of every mailward stderr it used is attached.
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mwtest  # noqa: E402

_LIVE = []  # servers touched by the current test (module ones included)


def provision(server, sink_url, maildir):
    server.add_tenant("acme", {"acme.test": sink_url, "catchall.test": sink_url},
                      ["alice@acme.test", "bob@acme.test", "@catchall.test"])
    server.add_tenant("beta", {"beta.test": "maildir:" + maildir},
                      ["carol@beta.test", "bounces@beta.test"])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for s in list(_LIVE):
            rep.sections.append((f"mailward stderr ({s.name}, {s.stderr_path}) [{rep.when}]",
                                 s.stderr_tail(60)))


def pytest_terminal_summary(terminalreporter):
    for line in mwtest.SUMMARY:
        terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _track_servers():
    yield
    _LIVE[:] = [s for s in _LIVE if getattr(s, "_module_scoped", False)]


@pytest.fixture(scope="session")
def tls_pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + mwtest.HOSTNAME, "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


@pytest.fixture
def sink():
    s = mwtest.Sink().start()
    yield s
    s.stop()


def _new_server(workdir, overrides, env, do_provision, sink, start, name):
    srv = mwtest.Server(workdir, overrides=overrides, env=env, name=name)
    srv.maildir = os.path.join(str(workdir), name + "-maildir")
    os.makedirs(srv.maildir, exist_ok=True)
    srv.sink = sink
    _LIVE.append(srv)
    if start:
        srv.start()
    if do_provision:
        provision(srv, sink.url() if sink else "smtp://127.0.0.1:9", srv.maildir)
    return srv


@pytest.fixture
def make_server(tmp_path):
    made = []

    def factory(overrides=None, env=None, provision=True, sink=None, start=True, name=None):
        srv = _new_server(tmp_path, overrides, env, provision, sink, start, name or f"mw{len(made)}")
        made.append(srv)
        return srv

    yield factory
    for s in made:
        try:
            s.stop()
        except AssertionError:
            s.kill()
    _check_sanitizers(made)


def _check_sanitizers(servers):
    for s in servers:
        rep = s.sanitizer_report()
        if rep:
            pytest.fail(f"sanitizer report in {s.stderr_path}:\n{rep}", pytrace=False)


def module_server(tmp_path_factory, name, overrides=None, env=None):
    """Generator body for module-scoped fixtures: yields (server, sink)."""
    sk = mwtest.Sink().start()
    wd = tmp_path_factory.mktemp(name)
    srv = _new_server(wd, overrides, env, True, sk, True, name)
    srv._module_scoped = True
    try:
        yield srv, sk
    finally:
        if srv in _LIVE:
            _LIVE.remove(srv)
        try:
            srv.stop()
        finally:
            srv.kill()
            sk.stop()
        _check_sanitizers([srv])


@pytest.fixture(scope="module")
def std(tmp_path_factory, tls_pair):
    """(server, sink) shared by a module: TLS on, bare_lf=normalize."""
    yield from module_server(tmp_path_factory, "std", {"tls": {"cert": tls_pair[0], "key": tls_pair[1]}})
