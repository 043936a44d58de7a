"""The quarantine (issue 5, R13/R19): a quarantine tenant's probable spam is
answered 250, held (never delivered), listed, shown with its verdict, and
released exactly once, deleted, or expired.
"""
import json
import os
import time

import mwtest
from mwtest import message, token

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def spam(tok, to="alice@acme.test"):
    return message(tok, to=to, body="Buy now.\r\n" + GTUBE + "\r\n")


def held(srv, tok, n=1, state="held"):
    def find():
        p = srv.cli("quarantine", "list", "--tenant", "acme", "--state", state, "--json")
        rows = [r for r in json.loads(p.out)["quarantine"] if r["subject"] == tok]
        return rows if len(rows) >= n else None
    return mwtest.wait_until(find, 15, interval=0.2, what=f"{n} quarantined row(s) for {tok}")


def qfile(srv, qid):
    return os.path.join(srv.data_dir, "quarantine", qid + ".eml")


def test_hold_show_release_once(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "action=quarantine")
    tok = token()
    with srv.session() as c:
        r = c.send_mail("spammer@example.org", ["alice@acme.test"], spam(tok))
        assert r.code == 250, r.raw            # the sender is not told
    row = held(srv, tok)[0]
    assert row["rcpt"] == "alice@acme.test" and row["class"] == "probable-spam"
    assert row["score"] >= 1000 and row["ref"] == r.ref()
    assert os.path.exists(qfile(srv, row["qid"]))
    time.sleep(0.5)
    assert sink.find(tok) == []                # never delivered while held
    assert srv.spool_files("queue") == []      # the spool file is done with
    log = srv.log_search("--ref", r.ref())[0]
    assert log["action"] == "quarantined"
    assert any(e["status"] == "quarantined" for e in log["recipients"])
    # show: the verdict with its reasons, and the message as it would be delivered
    shown = json.loads(srv.cli("quarantine", "show", str(row["id"]), "--json").out)
    assert any(s["name"] == "GTUBE" and s["reason"] for s in shown["symbols"])
    raw = srv.cli("quarantine", "show", str(row["id"]), "--raw").out
    assert "X-Mailward-Score:" in raw and GTUBE in raw
    text = srv.cli("quarantine", "show", str(row["id"])).out
    assert "GTUBE" in text and "probable-spam" in text
    # release: delivered once, with a line saying who released it
    p = srv.cli("quarantine", "release", str(row["id"]), "--by", "admin@acme.test")
    assert "released as" in p.out
    txn = sink.wait_for(tok)[0]
    assert "admin@acme.test" in txn.header("X-Mailward-Released")
    assert txn.rcpts == ["alice@acme.test"]
    p2 = srv.cli("quarantine", "release", str(row["id"]), check=False)
    assert p2.returncode == 1 and "released by admin@acme.test" in p2.err
    time.sleep(1)
    assert len(sink.find(tok)) == 1
    rel = held(srv, tok, state="released")[0]
    assert rel["actor"] == "admin@acme.test" and rel["release_qid"]
    assert not os.path.exists(qfile(srv, row["qid"]))   # no recipient holds it now
    log = srv.log_search("--ref", r.ref())[0]
    assert any(e["status"] == "released" for e in log["recipients"])


def test_per_recipient_rows_delete_and_file_lifetime(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "action=quarantine")
    tok = token()
    with srv.session() as c:
        assert c.send_mail("s@example.org", ["alice@acme.test", "bob@acme.test"], spam(tok)).code == 250
    rows = {r["rcpt"]: r for r in held(srv, tok, n=2)}
    assert set(rows) == {"alice@acme.test", "bob@acme.test"}
    qid = rows["alice@acme.test"]["qid"]
    srv.cli("quarantine", "delete", str(rows["alice@acme.test"]["id"]), "--by", "ops")
    assert os.path.exists(qfile(srv, qid))          # bob's copy still held
    p = srv.cli("quarantine", "release", str(rows["alice@acme.test"]["id"]), check=False)
    assert p.returncode == 1 and "deleted" in p.err
    srv.cli("quarantine", "release", str(rows["bob@acme.test"]["id"]))
    txn = sink.wait_for(tok)[0]
    assert txn.rcpts == ["bob@acme.test"]
    assert not os.path.exists(qfile(srv, qid))
    # filters
    p = srv.cli("quarantine", "list", "--state", "all", "--user", "alice@", "--json")
    states = [r["state"] for r in json.loads(p.out)["quarantine"] if r["subject"] == tok]
    assert states == ["deleted"]
    p = srv.cli("quarantine", "list", "--tenant", "beta", "--state", "all", "--json")
    assert json.loads(p.out)["quarantine"] == []
    assert srv.cli("quarantine", "release", "999999", check=False).returncode == 1
    assert srv.cli("quarantine", "release", "x", check=False).returncode == 2


def test_expiry(make_server, sink):
    srv = make_server(sink=sink, overrides={"quarantine": {"retention": "1s"}})
    srv.cli("tenant", "set", "acme", "action=quarantine")
    tok = token()
    with srv.session() as c:
        assert c.send_mail("s@example.org", ["alice@acme.test"], spam(tok)).code == 250
    row = held(srv, tok)[0]
    time.sleep(2.2)
    assert "1 expired" in srv.cli("quarantine", "expire").out
    assert held(srv, tok, state="expired")
    assert not os.path.exists(qfile(srv, row["qid"]))
    assert srv.cli("quarantine", "release", str(row["id"]), check=False).returncode == 1


def test_release_while_server_down_is_delivered_at_start(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "action=quarantine")
    tok = token()
    with srv.session() as c:
        assert c.send_mail("s@example.org", ["alice@acme.test"], spam(tok)).code == 250
    row = held(srv, tok)[0]
    srv.stop()
    p = srv.cli("quarantine", "release", str(row["id"]))
    assert "not running" in p.out
    srv.start()
    sink.wait_for(tok)


def test_reject_tenant_still_rejects(make_server, sink):
    srv = make_server(sink=sink)
    tok = token()
    with srv.session() as c:
        r = c.send_mail("s@example.org", ["alice@acme.test"], spam(tok))
        assert r.code == 554
    p = srv.cli("quarantine", "list", "--state", "all", "--json")
    assert [x for x in json.loads(p.out)["quarantine"] if x["subject"] == tok] == []


def test_not_spam_releases_learns_and_allows(make_server, sink):
    import sqlite3
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "action=quarantine")
    tok = token()
    with srv.session() as c:
        assert c.send_mail("friend@partner.example", ["alice@acme.test"],
                           message(tok, sender="friend@partner.example",
                                   body="Minutes attached.\r\n" + GTUBE + "\r\n")).code == 250
    row = held(srv, tok)[0]
    p = srv.cli("quarantine", "not-spam", str(row["id"]), "--allow", "--no-auth", "--by", "alice")
    assert "learned as ham" in p.out and "added" in p.out
    assert len(sink.wait_for(tok)) == 1
    db = sqlite3.connect(os.path.join(srv.data_dir, "mailward.db"))
    assert db.execute("SELECT nham, nspam FROM bayes_meta").fetchone() == (1, 0)
    db.close()
    entries = json.loads(srv.cli("allow", "list", "--user", "alice@acme.test", "--json").out)["entries"]
    assert [e["pattern"] for e in entries] == ["friend@partner.example"]
    # the sender's next message reaches alice, even with the test string
    tok2 = token()
    with srv.session() as c:
        assert c.send_mail("friend@partner.example", ["alice@acme.test"],
                           message(tok2, sender="friend@partner.example", body=GTUBE + "\r\n")).code == 250
    sink.wait_for(tok2)
    # once only
    assert srv.cli("quarantine", "not-spam", str(row["id"]), check=False).returncode == 1
    audit = json.loads(srv.cli("audit", "--json").out)["audit"]
    assert any(a["action"] == "quarantine not-spam" and a["by"] == "alice" for a in audit)
