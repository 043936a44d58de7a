"""`make run` demo (scripts/demo.sh + etc/mailward.demo.ini), the README's
first message: swaks to alice@example.test lands in the maildir and in
`log search`. Runs a copy of the demo in a temp dir with free ports."""
import json
import urllib.request
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import mwtest

DEMO_SH = os.path.join(mwtest.REPO, "scripts", "demo.sh")
DEMO_INI = os.path.join(mwtest.REPO, "etc", "mailward.demo.ini")


@pytest.mark.skipif(not (os.path.exists(DEMO_SH) and os.path.exists(DEMO_INI)),
                    reason="scripts/demo.sh or etc/mailward.demo.ini not written yet")
@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_demo_swaks_to_alice(tmp_path):
    root = tmp_path / "demo"
    (root / "scripts").mkdir(parents=True)
    (root / "etc").mkdir()
    shutil.copy(DEMO_SH, root / "scripts" / "demo.sh")
    port, admin = mwtest.free_port(), mwtest.free_port()
    ini = open(DEMO_INI).read()
    ini = re.sub(r"(?m)^(\s*listen\s*=\s*127\.0\.0\.1:)2525\s*$", rf"\g<1>{port}", ini)
    ini = re.sub(r"(?m)^(\s*listen\s*=\s*127\.0\.0\.1:)8025\s*$", rf"\g<1>{admin}", ini)
    assert str(port) in ini and str(admin) in ini, "demo config no longer has the expected listen lines"
    conf = root / "etc" / "mailward.demo.ini"
    conf.write_text(ini)
    err = open(tmp_path / "demo.out", "wb")
    p = subprocess.Popen(["bash", str(root / "scripts" / "demo.sh"), mwtest.BIN], stdout=err, stderr=err,
                         stdin=subprocess.DEVNULL)
    try:
        def listening():
            assert p.poll() is None, "demo.sh exited: " + open(tmp_path / "demo.out").read()
            try:
                mwtest.Client(port, timeout=1).close()
                return True
            except OSError:
                return False
        mwtest.wait_until(listening, 30, interval=0.1, what="the demo gateway to listen")
        s = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--to", "alice@example.test",
                            "--from", "someone@example.org", "--header", "Subject: demo-first-message"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = s.stdout.decode(errors="replace")
        assert s.returncode == 0, out
        assert re.search(r"<[-~] +250 .*queued as", out), out
        md = root / "var" / "maildir" / "alice@example.test" / "new"
        mwtest.wait_until(lambda: md.exists() and os.listdir(md), 20, what=f"a file in {md}")
        msg = open(md / os.listdir(md)[0], "rb").read()
        assert b"demo-first-message" in msg and b"Delivered-To: alice@example.test" in msg
        q = subprocess.run([mwtest.BIN, "-c", str(conf), "log", "search", "--recipient", "alice@example.test",
                            "--json"], cwd=str(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert q.returncode == 0, q.stderr
        res = json.loads(q.stdout)["results"]
        assert any(r.get("subject") == "demo-first-message" for r in res), res
        # The demo's test spam is held for bob, and bob has a digest whose
        # release link delivers it (README, "Quarantine").
        def held():
            q = subprocess.run([mwtest.BIN, "-c", str(conf), "quarantine", "list", "--json"],
                               cwd=str(root), stdout=subprocess.PIPE, timeout=30)
            return [r for r in json.loads(q.stdout)["quarantine"] if r["rcpt"] == "bob@example.test"]
        rows = mwtest.wait_until(held, 20, interval=0.2, what="the demo spam in the quarantine")
        assert "won" in rows[0]["subject"] and rows[0]["class"] == "probable-spam"
        bobdir = root / "var" / "maildir" / "bob@example.test" / "new"
        mwtest.wait_until(lambda: bobdir.exists() and os.listdir(bobdir), 20, what="bob's digest")
        digest = open(bobdir / os.listdir(bobdir)[0], "rb").read().decode(errors="replace")
        assert "X-Mailward-Digest: yes" in digest
        link = re.search(r"http://[^\s\"<>]+/release\?id=\d+&exp=\d+&sig=[0-9a-f]{64}", digest).group(0)
        assert f":{admin}/" in link
        with urllib.request.urlopen(link, timeout=10) as r:
            assert r.status == 200
        mwtest.wait_until(lambda: len(os.listdir(bobdir)) == 2, 20, what="the released message")
        # The demo's spam trap (README, "Reputation"): listed, and mail to it
        # is answered 250 like any address.
        t = subprocess.run([mwtest.BIN, "-c", str(conf), "trap", "list", "--json"], cwd=str(root),
                           stdout=subprocess.PIPE, timeout=30)
        assert "spamtrap@example.test" in t.stdout.decode(), t.stdout
        s = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--to", "spamtrap@example.test",
                            "--from", "x@spam.test"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        assert s.returncode == 0 and re.search(rb"<[-~] +250 .*queued as", s.stdout), s.stdout
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        err.close()
