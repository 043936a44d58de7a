"""Tenant settings with per-domain overrides (issue 5, R6/R13): action,
bulk-mail action, thresholds, quarantine retention per tenant.
"""
import json
import time

import mwtest
from mwtest import message, token

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
BULK = "List-Unsubscribe: <mailto:unsubscribe@news.example>\r\nPrecedence: bulk\r\n"
# What Mailman writes on a list whose members post: not bulk mail.
DISCUSSION = ("List-Id: Users of Frobnicator <users.lists.frob.example>\r\n"
              "List-Post: <mailto:users@lists.frob.example>\r\n"
              "List-Unsubscribe: <https://lists.frob.example/unsub>, <mailto:users-leave@lists.frob.example>\r\n"
              "Precedence: list\r\n")


def held(srv, tok):
    out = srv.cli("quarantine", "list", "--json").out
    return [r for r in json.loads(out)["quarantine"] if r["subject"] == tok]


def test_domain_override_of_action_splits_transactions(make_server, sink):
    srv = make_server(sink=sink)
    # acme rejects; its second domain catchall.test quarantines instead
    srv.cli("domain", "set", "catchall.test", "action=quarantine")
    doms = {d["domain"]: d for d in json.loads(srv.cli("domain", "list", "--json").out)["domains"]}
    assert doms["catchall.test"]["action"] == "quarantine" and doms["acme.test"]["action"] is None
    tok = token()
    with srv.session() as c:
        c.cmd("MAIL FROM:<s@example.org>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("RCPT TO:<anyone@catchall.test>", 452)      # another decision: another transaction
        c.cmd("DATA", 354)
        c.send(mwtest.dot_stuff(message(tok, body=GTUBE + "\r\n")) + b".\r\n")
        assert c.reply().code == 554
        assert c.send_mail("s@example.org", ["anyone@catchall.test"],
                           message(tok, to="anyone@catchall.test", body=GTUBE + "\r\n")).code == 250
    rows = mwtest.wait_until(lambda: held(srv, tok), 15, interval=0.2, what="the catchall copy held")
    assert [r["rcpt"] for r in rows] == ["anyone@catchall.test"]
    # back to the tenant's: rejected there too
    srv.cli("domain", "set", "catchall.test", "action=default")
    with srv.session() as c:
        assert c.send_mail("s@example.org", ["anyone@catchall.test"],
                           message(token(), to="anyone@catchall.test", body=GTUBE + "\r\n")).code == 554
    # a threshold override: every message from this domain is tagged
    srv.cli("domain", "set", "catchall.test", "tag=-100")
    tok2 = token()
    with srv.session() as c:
        assert c.send_mail("s@example.org", ["x@catchall.test"], message(tok2, to="x@catchall.test")).code == 250
    assert sink.wait_for(tok2)[0].header("X-Mailward-Spam") == "yes"
    bad = srv.cli("domain", "set", "catchall.test", "action=drop", check=False)
    assert bad.returncode == 2 and "bad action" in bad.err
    assert srv.cli("domain", "set", "nowhere.test", "action=reject", check=False).returncode == 1


def test_bulk_actions(make_server, sink):
    srv = make_server(sink=sink)
    body = "This week's newsletter.\r\n"
    tok = token()
    with srv.session() as c:
        assert c.send_mail("news@news.example", ["alice@acme.test"],
                           message(tok, body=body, extra_headers=BULK)).code == 250
    txn = sink.wait_for(tok)[0]
    assert "(bulk)" in txn.header("X-Mailward-Score")
    assert txn.header("X-Mailward-Bulk") is None            # default: deliver as is
    srv.cli("tenant", "set", "acme", "bulk=tag")
    tok2 = token()
    with srv.session() as c:
        assert c.send_mail("news@news.example", ["alice@acme.test"],
                           message(tok2, body=body, extra_headers=BULK)).code == 250
    assert sink.wait_for(tok2)[0].header("X-Mailward-Bulk") == "yes"
    srv.cli("tenant", "set", "acme", "bulk=quarantine")
    tok3 = token()
    with srv.session() as c:
        assert c.send_mail("news@news.example", ["alice@acme.test"],
                           message(tok3, body=body, extra_headers=BULK)).code == 250
    rows = mwtest.wait_until(lambda: held(srv, tok3), 15, interval=0.2, what="the bulk mail held")
    assert rows[0]["class"] == "bulk"
    time.sleep(0.5)
    assert sink.find(tok3) == []
    assert json.loads(srv.cli("tenant", "show", "acme", "--json").out)["bulk"] == "quarantine"
    # a discussion list is delivered, and the headers say why
    tok5 = token()
    with srv.session() as c:
        assert c.send_mail("users-bounces@lists.frob.example", ["alice@acme.test"],
                           message(tok5, body=body, extra_headers=DISCUSSION)).code == 250
    got = sink.wait_for(tok5)[0]
    assert "(clean)" in got.header("X-Mailward-Score")
    assert "LIST_DISCUSSION" in (got.header("X-Mailward-Symbols") or "")
    assert held(srv, tok5) == []
    # a clean message is still delivered
    tok4 = token()
    with srv.session() as c:
        assert c.send_mail("a@example.org", ["alice@acme.test"], message(tok4)).code == 250
    sink.wait_for(tok4)


def test_tenant_settings_are_all_or_nothing_and_retention(make_server, sink):
    srv = make_server(sink=sink)
    p = srv.cli("tenant", "set", "acme", "tag=5", "bulk=sometimes", check=False)
    assert p.returncode == 2 and "bad bulk" in p.err
    shown = json.loads(srv.cli("tenant", "show", "acme", "--json").out)
    assert shown["tag"] is None                              # the first pair was not applied
    # retention per tenant: acme keeps 1 second, beta the default
    srv.cli("tenant", "set", "acme", "action=quarantine", "retention=1s")
    srv.cli("tenant", "set", "beta", "action=quarantine")
    toks = {}
    for rcpt in ("alice@acme.test", "carol@beta.test"):
        toks[rcpt] = token()
        with srv.session() as c:
            assert c.send_mail("s@example.org", [rcpt],
                               message(toks[rcpt], to=rcpt, body=GTUBE + "\r\n")).code == 250
    for tok in toks.values():
        mwtest.wait_until(lambda: held(srv, tok), 15, interval=0.2, what="held")
    time.sleep(2.2)
    assert "1 expired" in srv.cli("quarantine", "expire").out
    assert held(srv, toks["alice@acme.test"]) == []
    assert len(held(srv, toks["carol@beta.test"])) == 1
    assert json.loads(srv.cli("tenant", "show", "acme", "--json").out)["retention"] == 1
    srv.cli("tenant", "set", "acme", "retention=default")
    assert json.loads(srv.cli("tenant", "show", "acme", "--json").out)["retention"] is None


def test_domain_retention_override(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "action=quarantine")
    srv.cli("domain", "set", "catchall.test", "retention=1s")
    toks = {}
    for rcpt in ("alice@acme.test", "x@catchall.test"):
        toks[rcpt] = token()
        with srv.session() as c:
            assert c.send_mail("s@example.org", [rcpt],
                               message(toks[rcpt], to=rcpt, body=GTUBE + "\r\n")).code == 250
    for tok in toks.values():
        mwtest.wait_until(lambda: held(srv, tok), 15, interval=0.2, what="held")
    time.sleep(2.2)
    assert "1 expired" in srv.cli("quarantine", "expire").out
    assert held(srv, toks["x@catchall.test"]) == []
    assert len(held(srv, toks["alice@acme.test"])) == 1
