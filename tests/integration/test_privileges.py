"""Least privilege (R1, STYLE 14): started as root, `serve` binds, then runs
as [run] user; the spool and database are handed to that user, and the CLI
(run as root) still administers the running server."""
import os
import pwd
import tempfile

import pytest

import conftest
import mwtest
from mwtest import message, token


def _uid_of(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to test dropping privileges")
def test_serve_drops_to_run_user(sink):
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    # The unprivileged user must be able to reach the data directory.
    wd = tempfile.mkdtemp(prefix="mw-priv-", dir="/tmp")
    os.chmod(wd, 0o755)
    srv = conftest._new_server(wd, {"run": {"user": "nobody"}}, None, True, sink, True, "priv")
    try:
        uids = _uid_of(srv.proc.pid)
        assert uids == [nobody.pw_uid] * 4, f"server uids {uids}, want {nobody.pw_uid}"
        spool = os.path.join(srv.data_dir, "spool", "queue")
        assert os.stat(spool).st_uid == nobody.pw_uid
        assert os.stat(os.path.join(srv.data_dir, "mailward.db")).st_uid == nobody.pw_uid
        # Administration as root while the server runs, then mail flows.
        srv.cli("user", "add", "late@acme.test")
        tok = token()
        with srv.session() as c:
            r = c.send_mail("sender@example.org", ["late@acme.test"], message(tok))
            assert r.code == 250, r.raw
            c.cmd("QUIT", 221)
        assert len(sink.wait_for(tok)) == 1
    finally:
        srv.stop()
        conftest._check_sanitizers([srv])
        conftest._LIVE.remove(srv) if srv in conftest._LIVE else None
        os.system(f"rm -rf '{wd}'")
