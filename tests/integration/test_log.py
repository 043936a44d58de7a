"""Message tracking and `log search` (R17, R18).

One delivered transaction and one rejected one (relay denied at RCPT), then
every search option finds them, with the fields the contract lists. Ref ids
come from the SMTP reply texts.
"""
import datetime
import time

import pytest

import mwtest
from mwtest import message, token


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    import conftest
    for srv, sink in conftest.module_server(tmp_path_factory, "log"):
        tok = token()
        with srv.session(helo="helo-delivered.example") as c:
            ok = c.send_mail("tracker@example.org", ["alice@acme.test"], message(tok, sender="tracker@example.org"))
            assert ok.code == 250, ok.raw
            c.cmd("QUIT", 221)
        with srv.session(helo="helo-rejected.example") as c:
            c.cmd("MAIL FROM:<spammer@bad.example>", 250)
            bad = c.cmd("RCPT TO:<victim@elsewhere.example>", 554)
            c.cmd("QUIT", 221)
        sink.wait_for(tok)
        # the delivery record follows the acceptance
        def delivered():
            res = srv.log_search("--ref", ok.ref())
            return res and any(r.get("status") in ("delivered", "sent", "deliver") for r in res[0]["recipients"])
        try:
            mwtest.wait_until(delivered, 15, interval=0.3, what="a delivered status in the log")
        except AssertionError:
            pass
        yield srv, tok, ok, bad


def one(results, ref):
    hits = [r for r in results if r.get("ref") == ref]
    assert len(hits) == 1, f"ref {ref} found {len(hits)} times in {results}"
    return hits[0]


def test_fields_of_delivered(logged):
    srv, tok, ok, _ = logged
    r = one(srv.log_search("--ref", ok.ref()), ok.ref())
    assert r["qid"] == ok.qid()
    assert r["client_ip"] == "127.0.0.1"
    assert r["helo"] == "helo-delivered.example"
    assert r["sender"] == "tracker@example.org"
    assert "tracker@example.org" in r["from_hdr"]
    assert r["subject"] == tok
    assert tok in r["message_id"]
    assert int(r["size"]) > 100
    assert "250" in str(r["reply"]) and ok.ref() in str(r["reply"])
    assert r["tls"] in (False, 0, None, "", "no")
    assert r["ts"]
    rc = r["recipients"]          # one entry per recipient event (accepted, delivered, ...)
    assert {x["rcpt"] for x in rc} == {"alice@acme.test"}, rc
    assert all(x["tenant"] == "acme" and x["ts"] for x in rc), rc
    done = [x for x in rc if x["status"] in ("delivered", "sent")]
    assert len(done) == 1, rc
    assert "250" in done[0]["reply"], "the downstream's reply should be recorded: %r" % done[0]


def test_fields_of_rejected(logged):
    srv, _, _, bad = logged
    ref = bad.ref()
    assert ref, f"no ref id in the 554: {bad.raw!r}"
    r = one(srv.log_search("--ref", ref), ref)
    assert r["sender"] == "spammer@bad.example"
    assert r["helo"] == "helo-rejected.example"
    assert "554" in str(r["reply"]) or any("554" in str(x.get("reply")) for x in r["recipients"]), r
    assert r["action"] != one(srv.log_search("--ref", logged[2].ref()), logged[2].ref())["action"]


@pytest.mark.parametrize("opt", ["--sender", "--recipient", "--subject", "--client-ip", "--ref"])
def test_search_by_option(logged, opt):
    srv, tok, ok, _ = logged
    val = {"--sender": "tracker@example.org", "--recipient": "alice@acme.test", "--subject": tok,
           "--client-ip": "127.0.0.1", "--ref": ok.ref()}[opt]
    one(srv.log_search(opt, val), ok.ref())


def test_search_rejected_by_sender_recipient_action(logged):
    srv, _, ok, bad = logged
    one(srv.log_search("--sender", "spammer@bad.example"), bad.ref())
    one(srv.log_search("--recipient", "victim@elsewhere.example"), bad.ref())
    act = one(srv.log_search("--ref", bad.ref()), bad.ref())["action"]
    res = srv.log_search("--action", act)
    one(res, bad.ref())
    assert ok.ref() not in [r["ref"] for r in res]
    act_ok = one(srv.log_search("--ref", ok.ref()), ok.ref())["action"]
    assert ok.ref() in [r["ref"] for r in srv.log_search("--action", act_ok)]


def test_search_by_time(logged):
    srv, tok, ok, _ = logged
    one(srv.log_search("--since", "-1h", "--subject", tok), ok.ref())
    assert srv.log_search("--until", "-1h", "--subject", tok) == []
    today = datetime.date.today().isoformat()
    one(srv.log_search("--since", today, "--subject", tok), ok.ref())
    later = (datetime.datetime.now() + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    assert srv.log_search("--since", later, "--subject", tok) == []


def test_no_match_exit_1(logged):
    srv = logged[0]
    p = srv.cli("log", "search", "--sender", "nobody-ever@nowhere.example", check=False)
    assert p.returncode == 1, (p.returncode, p.out, p.err)


def test_text_output(logged):
    srv, tok, ok, _ = logged
    p = srv.cli("log", "search", "--ref", ok.ref())
    assert ok.ref() in p.out and "alice@acme.test" in p.out
    # The count names recipients; the rows under it are their events
    # (accepted, then the delivery), one recipient here however many rows.
    events = one(srv.log_search("--ref", ok.ref()), ok.ref())["recipients"]
    line = next(ln for ln in p.out.splitlines() if ln.startswith("recipients "))
    want = "1" if len(events) == 1 else f"1 ({len(events)} events)"
    assert line.split(None, 1)[1] == want, (line, events)
