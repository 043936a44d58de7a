"""Delivery from the queue (R5; plan 5.2 X11, X12, X14; P40).

The downstream is mwtest.Sink, scripted per test. retry_min = 1s and
retry_max = 2s in the test config, so a retry comes within a few seconds.
DSNs go to a sender in beta.test, whose destination is a maildir, so they are
visible; or, for a non-hosted sender, through [queue] relayhost = the sink.
"""
import json
import threading
import time

import pytest

import mwtest
from mwtest import header_of, maildir_find, maildir_messages, maildir_wait, message, token

BOUNCES = "bounces@beta.test"


def send(srv, tok, sender="sender@example.org", rcpts=("alice@acme.test",), **kw):
    with srv.session() as c:
        r = c.send_mail(sender, list(rcpts), message(tok, sender=sender, to=rcpts[0], **kw))
        assert r.code == 250, r.raw
        c.cmd("QUIT", 221)
    return r


def dsns_for(srv, tok, rcpt=BOUNCES):
    return [m for m in maildir_find(srv.maildir, rcpt, tok)
            if b"multipart/report" in m and b"delivery-status" in m]


def in_queue(srv, qid):
    return qid in json.dumps(srv.queue_list())


class Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            self.n += 1
            return self.n


# ------------------------------------------------------------------ basic paths

def test_smtp_delivery_envelope_and_headers(make_server, sink):
    srv = make_server(sink=sink)
    tok = token()
    r = send(srv, tok, rcpts=("alice@acme.test", "bob@acme.test"))
    t = sink.wait_for(tok)
    assert len(t) == 1
    t = t[0]
    assert t.mail_from == "sender@example.org"
    assert sorted(t.rcpts) == ["alice@acme.test", "bob@acme.test"]
    assert t.header("X-Mailward-Ref") == r.ref()
    assert t.header("Received") and mwtest.HOSTNAME in t.header("Received")
    assert mwtest.bare_cr_lf(t.raw) == []


def test_maildir_delivery_lf_and_delivered_to(make_server, sink):
    srv = make_server(sink=sink)
    tok = token()
    send(srv, tok, rcpts=("carol@beta.test",))
    m = maildir_wait(srv.maildir, "carol@beta.test", tok)[0]
    assert b"\r\n" not in m, "maildir files must have LF line ends"
    assert header_of(m, "Delivered-To") == "carol@beta.test"
    assert header_of(m, "X-Mailward-Ref")
    assert header_of(m, "Subject") == tok


def test_lmtp_delivery(make_server, sink):
    srv = make_server(sink=sink)
    srv.add_tenant("gamma", {"gamma.test": sink.url("lmtp")}, ["dave@gamma.test", "erin@gamma.test"])
    tok = token()
    send(srv, tok, rcpts=("dave@gamma.test", "erin@gamma.test"))
    t = sink.wait_for(tok)
    assert len(t) == 1 and sorted(t[0].rcpts) == ["dave@gamma.test", "erin@gamma.test"]
    time.sleep(1)
    assert len(sink.find(tok)) == 1


# ------------------------------------------------------------------ 4xx -> retry

@pytest.mark.parametrize("stage", ["CONNECT", "MAIL", "RCPT", "DATA"])
def test_tempfail_then_retried_X12(make_server, sink, stage):
    srv = make_server(sink=sink)
    tok = token()
    seen = Counter()
    times = []

    def rule(st, txn, arg):
        if st == stage:
            times.append(time.monotonic())
            if seen.next() == 1:
                return (421 if st == "CONNECT" else 451, "4.3.0 try again later")
        return None

    sink.rule = rule
    send(srv, tok)
    sink.wait_for(tok, timeout=20)
    assert len(times) >= 2 and times[1] - times[0] >= 0.8, f"retry too early: {times}"
    time.sleep(1.5)
    assert len(sink.find(tok)) == 1


def test_tempfail_backoff_many_times(make_server, sink):
    srv = make_server(sink=sink)
    tok = token()
    seen = Counter()
    sink.rule = lambda st, txn, arg: (451, "4.4.1 later") if st == "RCPT" and seen.next() <= 3 else None
    send(srv, tok)
    sink.wait_for(tok, timeout=30)
    assert seen.n >= 4


# ------------------------------------------------------------------ 5xx -> one DSN

def test_permanent_failure_one_dsn(make_server, sink):
    srv = make_server(sink=sink)
    tok = token()
    sink.rule = lambda st, txn, arg: (550, "5.1.1 no such mailbox here") if st == "RCPT" else None
    send(srv, tok, sender=BOUNCES)
    d = mwtest.wait_until(lambda: dsns_for(srv, tok), 20, what="a DSN in the sender's maildir")
    time.sleep(3)
    d = dsns_for(srv, tok)
    assert len(d) == 1, f"{len(d)} DSNs for one failed recipient"
    m = d[0].replace(b"\r\n", b"\n")
    assert b"report-type=delivery-status" in m
    assert b"Final-Recipient: rfc822; alice@acme.test" in m or b"Final-Recipient: rfc822;alice@acme.test" in m, m
    assert b"Action: failed" in m
    assert b"Status: 5.1.1" in m
    assert b"no such mailbox here" in m, "Diagnostic-Code should carry the downstream reply"
    assert sink.accepted() == []


def test_permanent_failure_partial_one_dsn_for_failed_rcpt(make_server, sink):
    srv = make_server(sink=sink)
    tok = token()
    sink.rule = lambda st, txn, arg: (550, "5.1.1 gone") if st == "RCPT" and arg == "bob@acme.test" else None
    send(srv, tok, sender=BOUNCES, rcpts=("alice@acme.test", "bob@acme.test"))
    t = sink.wait_for(tok)
    assert t[0].rcpts == ["alice@acme.test"]
    d = mwtest.wait_until(lambda: dsns_for(srv, tok), 20, what="a DSN for bob")
    time.sleep(2)
    d = dsns_for(srv, tok)
    assert len(d) == 1
    assert b"bob@acme.test" in d[0] and b"Final-Recipient: rfc822; alice@acme.test" not in d[0]
    assert len(sink.find(tok)) == 1


def test_dsn_to_foreign_sender_via_relayhost_X14(make_server, sink):
    srv = make_server(sink=sink, overrides={"queue": {"relayhost": sink.url()}})
    tok = token()
    sink.rule = lambda st, txn, arg: (554, "5.7.1 we do not want it") if st == "DATA" and txn.mail_from else None
    send(srv, tok, sender="someone@example.org")
    d = mwtest.wait_until(lambda: [t for t in sink.accepted() if t.mail_from == "" and tok.encode() in t.raw],
                          20, what="a DSN at the relayhost")
    time.sleep(2)
    d = [t for t in sink.accepted() if t.mail_from == "" and tok.encode() in t.raw]
    assert len(d) == 1 and d[0].rcpts == ["someone@example.org"], d
    assert b"delivery-status" in d[0].raw


def test_no_dsn_to_null_sender_X14(make_server, sink):
    srv = make_server(sink=sink, overrides={"queue": {"relayhost": sink.url()}})
    tok = token()
    sink.rule = lambda st, txn, arg: (550, "5.1.1 gone") if st == "RCPT" else None
    with srv.session() as c:
        r = c.send_mail("", ["alice@acme.test"], message(tok, sender="MAILER-DAEMON@example.org"))
        assert r.code == 250, r.raw
        c.cmd("QUIT", 221)
    mwtest.wait_until(lambda: not in_queue(srv, r.qid()), 20, what="the bounced message to leave the queue")
    time.sleep(2)
    assert sink.accepted() == [], f"something was sent for a null-sender bounce: {sink.accepted()}"


# ------------------------------------------------------------------ downstream down / restart

def test_downstream_down_then_back_X11(make_server, sink):
    srv = make_server(sink=sink)
    sink.stop()
    tok = token()
    r = send(srv, tok)
    time.sleep(2)
    assert in_queue(srv, r.qid()), f"{r.qid()} not in queue list: {srv.queue_list()}"
    sink.start()
    sink.wait_for(tok, timeout=20)
    mwtest.wait_until(lambda: not in_queue(srv, r.qid()), 10, what="queue to drain")
    time.sleep(1)
    assert len(sink.find(tok)) == 1


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_restart_keeps_queue(make_server, sink, how):
    srv = make_server(sink=sink)
    sink.stop()
    toks = [token() for _ in range(3)]
    for t in toks:
        send(srv, t)
    time.sleep(1)
    if how == "sigterm":
        srv.stop()
    else:
        srv.kill()
    sink.start()
    time.sleep(1)
    assert all(sink.find(t) == [] for t in toks)
    srv.start()
    for t in toks:
        sink.wait_for(t, timeout=20)
    time.sleep(1.5)
    for t in toks:
        assert len(sink.find(t)) == 1


def test_queue_flush_delivers_now(make_server, sink):
    srv = make_server(sink=sink, overrides={"queue": {"retry_min": "30s", "retry_max": "60s"}})
    sink.stop()
    tok = token()
    r = send(srv, tok)
    time.sleep(1.5)
    sink.start()
    srv.cli("queue", "flush")
    sink.wait_for(tok, timeout=10)


def test_expiry_dsn_447_X11(make_server, sink):
    srv = make_server(sink=sink, overrides={"queue": {"max_lifetime": "3s"}})
    sink.stop()
    tok = token()
    r = send(srv, tok, sender=BOUNCES)
    d = mwtest.wait_until(lambda: dsns_for(srv, tok), 25, what="an expiry DSN (4.4.7)")
    time.sleep(2)
    d = dsns_for(srv, tok)
    assert len(d) == 1, f"{len(d)} expiry DSNs"
    m = d[0].replace(b"\r\n", b"\n")
    assert b"Status: 4.4.7" in m, m[:2000]
    assert b"Action: failed" in m
    assert not in_queue(srv, r.qid())
