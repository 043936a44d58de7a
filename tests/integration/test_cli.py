"""Quick end-to-end checks of the administration CLI (docs/cli.md).

Self-contained on purpose: every test gets its own data_dir and config under
tmp_path and runs the real binary ($MAILWARD_BIN, default
build/release/mailward).  No server is started; log records can only be made
by the server, so log search is checked for validation, the empty result
(exit 1) and bounce key extraction.  Queue commands run against spool files
written here in the documented format (src/spool/spool.h).
"""
import json
import os
import struct
import subprocess
import time
import zlib

import pytest

from mwtest import free_port

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MAILWARD_BIN", os.path.join(REPO, "build", "release", "mailward"))
if not os.path.isabs(BIN):
    BIN = os.path.join(REPO, BIN)


class Cli:
    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.data_dir = tmp_path / "var"
        self.config = tmp_path / "mailward.conf"
        self.config.write_text(f"[storage]\ndata_dir = {self.data_dir}\n")

    def run(self, *args, stdin=None):
        p = subprocess.run([BIN, "-c", str(self.config)] + [str(a) for a in args],
                           input=stdin.encode() if stdin is not None else None,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.dir, timeout=60)
        p.out = p.stdout.decode(errors="replace")
        p.err = p.stderr.decode(errors="replace")
        return p

    def ok(self, *args, **kw):
        p = self.run(*args, **kw)
        assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.out}\n{p.err}"
        return p

    def fails(self, code, *args, **kw):
        p = self.run(*args, **kw)
        assert p.returncode == code, f"{args}: exit {p.returncode} (want {code})\n{p.out}\n{p.err}"
        if code == 2:
            # one line, prefixed, on stderr
            assert p.err.startswith("mailward: "), p.err
            assert p.err.count("\n") == 1, p.err
        return p

    def json(self, *args):
        p = self.ok(*args, "--json")
        return json.loads(p.out)


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


@pytest.fixture
def hosted(cli):
    cli.ok("tenant", "add", "acme")
    cli.ok("domain", "add", "acme.test", "--tenant", "acme", "--deliver", "smtp://127.0.0.1:2526")
    return cli


# ---- dispatch and help ---------------------------------------------------

def test_help(cli):
    # main() prints the short summary itself; `help GROUP` is ours
    for args in (["help"], ["--help"]):
        p = cli.ok(*args)
        for word in ("tenant", "domain", "user", "log", "queue"):
            assert word in p.out
    for group, word in (("tenant", "tenant add"), ("domain", "domain add"), ("user", "user add"),
                        ("log", "log search"), ("queue", "queue list")):
        assert word in cli.ok("help", group).out
        assert word in cli.ok(group, "--help").out
    assert "--bounce" in cli.ok("help", "log").out
    assert "--bounce" in cli.ok("log", "search", "--help").out
    cli.fails(2, "help", "nosuch")


def test_unknown_and_missing(cli):
    cli.fails(2, "nosuch")
    for group in ("tenant", "domain", "user", "log", "queue"):
        cli.fails(2, group)
        cli.fails(2, group, "frobnicate")
    cli.fails(2, "tenant", "list", "--bogus")
    cli.fails(2, "tenant", "add", "x", "--action")          # missing value
    cli.fails(2, "tenant", "list", "--json=yes")            # flag with a value


# ---- tenant ----------------------------------------------------------------

def test_tenant_lifecycle(cli):
    assert cli.json("tenant", "list") == {"tenants": []}
    cli.ok("tenant", "add", "acme")
    cli.ok("tenant", "add", "beta", "--action", "quarantine")
    cli.fails(2, "tenant", "add", "acme")                   # duplicate
    cli.fails(2, "tenant", "add", "bad name")
    cli.fails(2, "tenant", "add", "x", "--action", "drop")
    cli.fails(2, "tenant", "add")
    doc = cli.json("tenant", "list")
    by = {t["name"]: t for t in doc["tenants"]}
    assert by["acme"]["action"] == "reject" and by["beta"]["action"] == "quarantine"
    assert "acme" in cli.ok("tenant", "list").out

    show = cli.json("tenant", "show", "acme")
    assert show["name"] == "acme" and show["domains"] == []
    assert "acme" in cli.ok("tenant", "show", "acme").out
    cli.fails(1, "tenant", "show", "nosuch")

    cli.ok("tenant", "set", "acme", "action=quarantine")
    assert cli.json("tenant", "show", "acme")["action"] == "quarantine"
    cli.fails(2, "tenant", "set", "acme", "action=drop")
    cli.fails(2, "tenant", "set", "acme", "action")
    cli.fails(2, "tenant", "set", "acme")
    cli.fails(1, "tenant", "set", "nosuch", "action=reject")

    cli.ok("tenant", "remove", "beta")
    cli.fails(1, "tenant", "remove", "beta")
    assert [t["name"] for t in cli.json("tenant", "list")["tenants"]] == ["acme"]


def test_tenant_with_domains_cannot_go(hosted):
    hosted.fails(2, "tenant", "remove", "acme")
    hosted.ok("domain", "remove", "acme.test")
    hosted.ok("tenant", "remove", "acme")


# ---- domain ----------------------------------------------------------------

def test_domain_lifecycle(hosted):
    cli = hosted
    cli.ok("tenant", "add", "beta")
    cli.ok("domain", "add", "Beta.Test", "--tenant", "beta", "--deliver", "maildir:var/maildir")
    cli.ok("domain", "add", "lmtp.test", "--tenant", "beta", "--deliver", "lmtp://[::1]:24")
    doms = {d["domain"]: d for d in cli.json("domain", "list")["domains"]}
    assert set(doms) == {"acme.test", "beta.test", "lmtp.test"}
    assert doms["beta.test"]["tenant"] == "beta"
    # relative maildir made absolute against the cwd of the command
    assert doms["beta.test"]["deliver"] == "maildir:" + str(cli.dir / "var" / "maildir")
    assert doms["acme.test"]["deliver"] == "smtp://127.0.0.1:2526"
    assert [d["domain"] for d in cli.json("domain", "list", "--tenant", "acme")["domains"]] == ["acme.test"]
    assert "beta.test" in cli.ok("domain", "list").out
    cli.fails(1, "domain", "list", "--tenant", "nosuch")

    cli.fails(2, "domain", "add", "acme.test", "--tenant", "acme", "--deliver", "smtp://h:25")
    cli.fails(2, "domain", "add", "new.test", "--tenant", "nosuch", "--deliver", "smtp://h:25")
    for url in ("http://h:80", "smtp://h", "smtp://h:0", "smtp://h:99999", "maildir:"):
        cli.fails(2, "domain", "add", "new.test", "--tenant", "acme", "--deliver", url)
    cli.fails(2, "domain", "add", "new.test", "--tenant", "acme")
    cli.fails(2, "domain", "add", "new.test", "--deliver", "smtp://h:25")
    cli.fails(2, "domain", "add", "not_a_domain", "--tenant", "acme", "--deliver", "smtp://h:25")
    cli.fails(2, "domain", "remove", "acme.test", "--deliver", "smtp://h:25")

    cli.ok("domain", "remove", "lmtp.test")
    cli.fails(1, "domain", "remove", "lmtp.test")


# ---- user ------------------------------------------------------------------

def test_user_lifecycle(hosted):
    cli = hosted
    cli.ok("user", "add", "Alice@ACME.test", "--alias", "al@acme.test", "--alias", "a.l@acme.test")
    cli.ok("user", "add", "@acme.test")
    users = {u["address"]: u for u in cli.json("user", "list")["users"]}
    assert set(users) == {"alice@acme.test", "al@acme.test", "a.l@acme.test", "@acme.test"}
    assert users["al@acme.test"]["alias_of"] == "alice@acme.test"
    assert users["alice@acme.test"]["alias_of"] is None
    assert users["alice@acme.test"]["tenant"] == "acme"
    assert len(cli.json("user", "list", "--domain", "acme.test")["users"]) == 4
    assert cli.json("user", "list", "--domain", "other.test")["users"] == []
    assert "al@acme.test" in cli.ok("user", "list").out

    # aliases can be added to an existing address later
    cli.ok("user", "add", "alice@acme.test", "--alias", "ally@acme.test")
    cli.fails(2, "user", "add", "alice@acme.test")                     # duplicate
    cli.fails(2, "user", "add", "bob@elsewhere.test")                  # not hosted
    cli.fails(2, "user", "add", "bob@acme.test", "--alias", "b@elsewhere.test")
    cli.fails(2, "user", "add", "no-at-sign")
    cli.fails(2, "user", "add", "bo b@acme.test")
    cli.fails(2, "user", "add", "bob@acme.test", "--alias")
    # nothing was written by the refused commands
    assert "bob@acme.test" not in cli.ok("user", "list").out

    cli.fails(2, "domain", "remove", "acme.test")                      # still has users
    cli.ok("user", "remove", "alice@acme.test")                        # takes its aliases along
    left = [u["address"] for u in cli.json("user", "list")["users"]]
    assert left == ["@acme.test"]
    cli.fails(1, "user", "remove", "alice@acme.test")
    cli.fails(2, "user", "remove", "garbage")


# ---- log -------------------------------------------------------------------

NDR = """\
Return-Path: <>
Date: Fri, 27 Nov 2026 10:02:00 +0000
From: MAILER-DAEMON@mail.sender.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: alice@sender.example

This is the mail system at host mail.sender.example.

<bob@acme.test>: host mx.mailward.test[192.0.2.1] said: 554 5.7.1 Message
    rejected as probable spam (ref 8KQ2-7Z4M) (in reply to end of DATA command)

Final-Recipient: rfc822; bob@acme.test
Action: failed

From: Alice <alice@sender.example>
To: Bob <bob@acme.test>
Subject: Quarterly report
Date: Fri, 27 Nov 2026 11:00:00 +0100
Message-ID: <original-1234567@sender.example>
"""


def test_log_search_empty_and_validation(cli):
    p = cli.fails(1, "log", "search", "--sender", "nobody@nowhere.example")
    assert p.out == ""
    p = cli.run("log", "search", "--sender", "nobody@nowhere.example", "--json")
    assert p.returncode == 1 and json.loads(p.out) == {"results": []}
    assert cli.run("log", "search", "--since", "-7d", "--until", "now", "--ref", "8kq27z4m",
                   "--limit", "5", "--action", "rejected", "--client-ip", "::1",
                   "--queue-id", "0A1B2C3D", "--message-id", "<x@y>", "--subject", "s",
                   "--recipient", "r").returncode == 1
    for bad in (["--since", "yesterday"], ["--until", "2026-13-45"], ["--ref", "nope"],
                ["--limit", "0"], ["--limit", "x"], ["--client-ip", "1.2.3"], ["--action", "BAD!"],
                ["--queue-id", "../x"], ["--since", "now", "--until", "-1d"], ["positional"],
                ["--sender"]):
        cli.fails(2, "log", "search", *bad)


def test_log_search_bounce(cli):
    f = cli.dir / "ndr.txt"
    f.write_text(NDR)
    p = cli.fails(1, "log", "search", "--bounce", str(f))
    assert "ref=8KQ2-7Z4M" in p.err
    # falls back to the weaker keys when the ref finds nothing
    assert "message-id=<original-1234567@sender.example>" in p.err
    assert "recipient=bob@acme.test" in p.err and "sender=alice@sender.example" in p.err
    assert 'subject="Quarterly report"' in p.err
    p = cli.run("log", "search", "--json", "--bounce", "-", stdin=NDR)
    assert p.returncode == 1 and json.loads(p.out) == {"results": []}
    assert "ref=8KQ2-7Z4M" in p.err
    cli.fails(2, "log", "search", "--bounce", "-", stdin="nothing useful here\n")
    cli.fails(2, "log", "search", "--bounce", str(cli.dir / "missing.txt"))


def test_log_purge(cli):
    p = cli.ok("log", "purge")
    assert "purged 0" in p.out
    cli.ok("log", "purge", "--before", "-1d")
    cli.fails(2, "log", "purge", "--before", "soon")
    cli.fails(2, "log", "purge", "extra")


# ---- queue -----------------------------------------------------------------

def spool_file(path, qid, rcpts, sender="alice@sender.example", ref="8KQ2-7Z4M", arrival=1795773600,
               deliver="smtp://127.0.0.1:2526", data=b"From: Alice <alice@sender.example>\r\nSubject: hi\r\n\r\nbody\r\n"):
    """Writes a committed spool file in the format of src/spool/spool.h."""
    out = bytearray()
    crc = 0

    def rec(t, payload, status=None):
        nonlocal crc
        body = (status.encode() if status else b"") + payload
        head = t.encode() + struct.pack(">I", len(body))
        out.extend(head + body)
        crc = zlib.crc32(head, crc)
        crc = zlib.crc32(payload, crc)   # the status byte is outside the CRC

    rec("V", b"1")
    rec("F", ref.encode())
    rec("T", str(arrival).encode())
    rec("C", b"192.0.2.7")
    rec("H", b"mail.sender.example")
    rec("S", sender.encode())
    for addr, status in rcpts:
        rec("R", b"\0".join([addr.encode(), addr.encode(), b"acme", deliver.encode()]), status)
    rec("M", data)
    end_at = len(out)
    out.extend(b"X" + struct.pack(">I", 12) + struct.pack(">I", crc & 0xffffffff) + struct.pack(">Q", end_at))
    path.mkdir(parents=True, exist_ok=True)
    (path / qid).write_bytes(bytes(out))


def test_queue_empty(cli):
    p = cli.ok("queue", "list")
    assert "0 message" in p.out
    assert cli.json("queue", "list") == {"queue": []}
    cli.fails(1, "queue", "show", "0A1B2C3D4E5F6G7H8J9K")
    cli.fails(2, "queue", "show", "../etc")
    cli.fails(2, "queue", "show")
    p = cli.ok("queue", "flush")
    assert "no server" in p.out
    cli.ok("queue", "flush", "0A1B2C3D4E5F6G7H8J9K")
    cli.fails(2, "queue", "flush", "bad/qid")
    cli.fails(1, "queue", "delete", "0A1B2C3D4E5F6G7H8J9K")
    cli.fails(2, "queue", "delete")
    cli.fails(2, "queue", "delete", "x", "--json")


def test_queue_list_show_delete(cli):
    qdir = cli.data_dir / "spool" / "queue"
    spool_file(qdir, "0000000000000000000A", [("bob@acme.test", " "), ("carol@acme.test", "D")])
    spool_file(qdir, "0000000000000000000B", [("dave@acme.test", " ")], sender="")
    q = cli.json("queue", "list")["queue"]
    assert [m["qid"] for m in q] == ["0000000000000000000A", "0000000000000000000B"]
    assert q[0]["pending"] == ["bob@acme.test"] and q[0]["recipients"] == 2
    assert q[0]["sender"] == "alice@sender.example" and q[0]["arrival"] == "2026-11-27T10:00:00Z"
    assert q[0]["size"] > 0
    p = cli.ok("queue", "list")
    assert "0000000000000000000A" in p.out and "<>" in p.out and "2 message" in p.out

    m = cli.json("queue", "show", "0000000000000000000A")
    assert m["ref"] == "8KQ2-7Z4M" and m["client_ip"] == "192.0.2.7"
    assert [(r["rcpt"], r["status"]) for r in m["recipients"]] == [("bob@acme.test", "pending"),
                                                                  ("carol@acme.test", "delivered")]
    assert "Subject: hi" in m["headers"] and "body" not in m["headers"]
    p = cli.ok("queue", "show", "0000000000000000000A")
    assert "Subject: hi" in p.out and "pending" in p.out

    p = cli.ok("queue", "delete", "0000000000000000000A")
    assert not (qdir / "0000000000000000000A").exists()
    cli.fails(1, "queue", "show", "0000000000000000000A")
    assert [m["qid"] for m in cli.json("queue", "list")["queue"]] == ["0000000000000000000B"]


def test_queue_flush_delete_with_server(cli):
    """flush and delete go through the running server's control socket."""
    dead = free_port()      # nothing listens: delivery defers and the message stays queued
    cli.config.write_text(
        f"[storage]\ndata_dir = {cli.data_dir}\n"
        f"[smtp]\nlisten = 127.0.0.1:{free_port()}\n"
        f"[admin]\nlisten = 127.0.0.1:{free_port()}\n"
        f"[queue]\nretry_min = 1h\nretry_max = 2h\ndelivery_timeout = 2s\n")
    qdir = cli.data_dir / "spool" / "queue"
    qid = "0000000000000000000C"
    spool_file(qdir, qid, [("bob@acme.test", " ")], deliver=f"smtp://127.0.0.1:{dead}")
    log = open(cli.dir / "serve.log", "wb")
    srv = subprocess.Popen([BIN, "-c", str(cli.config), "serve"], stdout=log, stderr=log, cwd=cli.dir)
    try:
        deadline = time.monotonic() + 20
        while not (cli.data_dir / "control.sock").exists():
            assert srv.poll() is None, (cli.dir / "serve.log").read_text()
            assert time.monotonic() < deadline, "server did not open its control socket"
            time.sleep(0.1)
        p = cli.ok("queue", "flush")
        assert "ok" in p.out
        cli.fails(1, "queue", "flush", "0000000000000000000Z")
        cli.fails(1, "queue", "delete", "0000000000000000000Z")
        # the first attempt failed (connection refused) and the retry is an
        # hour away: the message is still queued
        assert qid in [m["qid"] for m in cli.json("queue", "list")["queue"]]
        p = cli.ok("queue", "delete", qid)
        assert "ok" in p.out
        assert not (qdir / qid).exists()
        cli.fails(1, "queue", "delete", qid)
    finally:
        srv.terminate()
        srv.wait(timeout=20)
        log.close()
