"""SMTP smuggling (plan 2.1, cases P1-P4, P20).

Each vector is inserted after a CRLF in the body of a legitimate message and
followed by a smuggled `mail FROM:<smuggled@x>` / `rcpt TO:` / `data` / headers /
body; the real `<CRLF>.<CRLF>` comes last. In every bare_lf mode the server must
answer exactly one reply to the whole thing (reject: 550 5.5.2, nothing queued;
normalize: 250, one message whose body holds the smuggled text), and nothing
from smuggled@x may ever reach the sink. What mailward relays to the sink must
be clean (P4): CRLF only, dot-stuffed, one message per accepted transaction.
"""
import time

import pytest

import conftest
import mwtest
from mwtest import bare_cr_lf, message, token

P1 = [b"\n.\n", b"\n.\r", b"\r.\n", b"\r.\r", b"\n.\r\n", b"\r.\r\n", b"\r\n.\n", b"\r\n.\r",
      b"\r\n.\r\r\n", b"\r\r\n.\r\r\n", b"\r\n\x00.\r\n", b"\r\n.\x00\r\n"]
SLOW_VECTORS = [b"\n.\n", b"\n.\r\n", b"\r\n.\r", b"\r\n\x00.\r\n"]


def vid(v):
    return v.decode().replace("\r", "CR").replace("\n", "LF").replace("\x00", "NUL").replace(".", "DOT")


@pytest.fixture(scope="module")
def normalize(tmp_path_factory):
    yield from conftest.module_server(tmp_path_factory, "smug-normalize", {"smtp": {"bare_lf": "normalize"}})


@pytest.fixture(scope="module")
def reject(tmp_path_factory):
    yield from conftest.module_server(tmp_path_factory, "smug-reject", {"smtp": {"bare_lf": "reject"}})


def smuggling_payload(tok, vector):
    """(prefix, tail): prefix = legit headers and body up to and including the
    CRLF before the vector; tail = vector + smuggled commands + final CRLF.CRLF."""
    prefix = message(tok, body="Is SMTP smuggling possible here? Test sequence!\r\n")
    tail = (vector + b"\r\nmail FROM:<smuggled@x>\r\nrcpt TO:<bob@acme.test>\r\ndata\r\n"
            b"From: smuggled@x\r\nTo: bob@acme.test\r\nSubject: smuggled " + tok.encode() +
            b"\r\n\r\nSMUGGLING WORKS " + tok.encode() + b"\r\n\r\n.\r\n")
    return prefix, tail


def run_vector(srv, sink, mode, vector, slow=False):
    tok = token()
    prefix, tail = smuggling_payload(tok, vector)
    with srv.session() as c:
        c.cmd("MAIL FROM:<sender@example.org>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(prefix)
        if slow:
            c.send_slow(tail, 1, 0.004)
        else:
            c.send(tail)
        r = c.reply(timeout=20)
        if mode == "reject":
            assert r.code == 550 and "5.5.2" in r.text, f"reject mode, vector {vector!r}: {r.raw!r}"
        else:
            assert r.code == 250, f"normalize mode, vector {vector!r}: {r.raw!r}"
        # exactly one reply: the next command's reply is the next thing we read
        c.cmd("NOOP", 250)
        c.cmd("QUIT", 221)
        c.assert_closed()
    if mode == "normalize":
        got = sink.wait_for(tok)
        time.sleep(0.3 * mwtest.SLOW)
        got = sink.find(tok)
        assert len(got) == 1, f"{len(got)} messages at the sink for one transaction: {got}"
        t = got[0]
        assert t.mail_from == "sender@example.org" and t.rcpts == ["alice@acme.test"], t
        assert b"SMUGGLING WORKS" in t.data, "the smuggled text must stay in the body"
        assert bare_cr_lf(t.raw) == [], f"bare CR/LF relayed at {bare_cr_lf(t.raw)[:5]}: {t.raw[-400:]!r}"
        assert b"\r\n.\r\n" not in t.raw + b"\r\n" and not t.raw.startswith(b".\r\n"), \
            "an unstuffed lone dot was relayed"
        for line in t.raw.split(b"\r\n"):
            assert line != b".", "unstuffed dot line relayed"
    else:
        time.sleep(1.0 * mwtest.SLOW)
        assert sink.find(tok) == [], "rejected message was delivered"
    smuggled = [t for t in sink.txns
                if t.mail_from == "smuggled@x" or f"smuggled {tok}" in (t.header("Subject") or "")]
    assert smuggled == [], f"SMUGGLED MESSAGE DELIVERED: {smuggled}"
    return tok


@pytest.mark.parametrize("vector", P1, ids=[vid(v) for v in P1])
def test_smuggling_normalize_P1(normalize, vector):
    srv, sink = normalize
    run_vector(srv, sink, "normalize", vector)


@pytest.mark.parametrize("vector", P1, ids=[vid(v) for v in P1])
def test_smuggling_reject_P1(reject, vector):
    srv, sink = reject
    run_vector(srv, sink, "reject", vector)
    assert srv.spool_files("tmp") == []


@pytest.mark.parametrize("vector", SLOW_VECTORS, ids=[vid(v) for v in SLOW_VECTORS])
@pytest.mark.parametrize("mode", ["normalize", "reject"])
def test_smuggling_one_byte_writes_P2(normalize, reject, mode, vector):
    srv, sink = normalize if mode == "normalize" else reject
    run_vector(srv, sink, mode, vector, slow=True)


def test_bare_lf_message_reject_mode(reject):
    srv, sink = reject
    tok = token()
    with srv.session() as c:
        c.cmd("MAIL FROM:<sender@example.org>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(message(tok).replace(b"\r\n", b"\n") + b"\r\n.\r\n")
        c.expect(550, "5.5.2")
        # still usable
        r = c.send_mail("sender@example.org", ["alice@acme.test"], message(tok + "-ok"))
        assert r.code == 250, r.raw
        c.cmd("QUIT", 221)
    sink.wait_for(tok + "-ok")
    time.sleep(0.5 * mwtest.SLOW)
    assert [t for t in sink.find(tok) if (tok + "-ok").encode() not in t.raw] == []


def test_bare_lf_message_normalize_mode(normalize):
    srv, sink = normalize
    tok = token()
    with srv.session() as c:
        c.cmd("MAIL FROM:<sender@example.org>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(message(tok, body="line1\nline2\rline3\r\n").replace(b"\r\n", b"\n") + b"\r\n.\r\n")
        c.expect(250)
        c.cmd("QUIT", 221)
    t = sink.wait_for(tok)
    time.sleep(0.3 * mwtest.SLOW)
    assert len(sink.find(tok)) == 1
    assert bare_cr_lf(t[0].raw) == [], t[0].raw
    assert b"line1\r\nline2\r\nline3" in t[0].data, t[0].data[-200:]


def test_pipelined_second_message_P3(normalize):
    """hannob/smtpsmug 'pipelining': message 1, CRLF.CRLF, MAIL/RCPT/DATA and
    message 2 in one write -> 554 5.5.0 at DATA and disconnect; never two."""
    srv, sink = normalize
    tok = token()
    with srv.session() as c:
        c.cmd("MAIL FROM:<sender@example.org>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(message(tok + "-one") + b".\r\nMAIL FROM:<smuggled@x>\r\nRCPT TO:<bob@acme.test>\r\nDATA\r\n"
               + message(tok + "-two", sender="smuggled@x", to="bob@acme.test") + b".\r\n")
        codes = []
        try:
            while True:
                r = c.reply(timeout=10)
                codes.append((r.code, r.text))
                if r.code >= 500 or r.code == 421:
                    break
        except mwtest.Closed:
            pass
        assert any(code == 554 and "5.5.0" in text for code, text in codes), codes
        c.assert_closed()
    time.sleep(1.5 * mwtest.SLOW)
    assert sink.find(tok + "-two") == [], "message 2 of a desynchronised pipeline was delivered"
    assert len(sink.find(tok + "-one")) <= 1


def test_dot_stuffing_roundtrip_P20(normalize):
    srv, sink = normalize
    tok = token()
    body = (b"..\r\n...\r\n. \r\n.\t\r\n.x\r\n.\r\nline\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\n.\r\n--b--\r\n.")
    data = message(tok).replace(b"Hello.\r\n", b"") + body + b"\r\n"
    with srv.session() as c:
        r = c.send_mail("sender@example.org", ["alice@acme.test"], data)     # stuffs on the way in
        assert r.code == 250, r.raw
        c.cmd("QUIT", 221)
    t = sink.wait_for(tok)[0]
    assert t.data.endswith(body), f"body not unstuffed/restuffed exactly: {t.data[-120:]!r}"
    assert bare_cr_lf(t.raw) == []
    assert b"\r\n.\r\n" not in t.raw + b"\r\n"


def test_one_message_per_transaction_P4(normalize):
    """Several transactions on one connection, each with tricky bytes: the sink
    sees exactly one message per 250."""
    srv, sink = normalize
    toks = []
    with srv.session() as c:
        for v in P1[:6]:
            tok = token()
            prefix, tail = smuggling_payload(tok, v)
            c.cmd("MAIL FROM:<sender@example.org>", 250)
            c.cmd("RCPT TO:<alice@acme.test>", 250)
            c.cmd("DATA", 354)
            c.send(prefix + tail)
            c.expect(250)
            toks.append(tok)
        c.cmd("QUIT", 221)
    for tok in toks:
        sink.wait_for(tok)
    time.sleep(0.3 * mwtest.SLOW)
    for tok in toks:
        assert len(sink.find(tok)) == 1
    assert [t for t in sink.txns if t.mail_from == "smuggled@x"] == []


@pytest.mark.parametrize("k", [1000, 1024, 2048, 4096, 8192])
def test_long_line_ending_in_dot_P19(normalize, k):
    """A text line of k octets whose last char is '.': accepted and relayed
    byte-identical, or refused 5xx; never split so that a piece starts with an
    unstuffed dot (plan P19). k = 1000 (incl. CRLF) is the RFC limit: accepted."""
    srv, sink = normalize
    tok = token()
    line = b"A" * (k - 3) + b"."            # + CRLF = k - 1 octets... plus the dot line below
    data = message(tok, body="") + line + b"\r\n.\r\n" + b"A" * (k - 2) + b"\r\n"
    with srv.session() as c:
        r = c.send_mail("sender@example.org", ["alice@acme.test"], data)
        c.cmd("QUIT", 221)
    if k <= 1000:
        assert r.code == 250, r.raw
    if r.code != 250:
        assert 500 <= r.code < 600, r.raw
        return
    t = sink.wait_for(tok)[0]
    assert bare_cr_lf(t.raw) == []
    for l in t.raw.split(b"\r\n"):
        assert l != b".", "unstuffed dot line relayed"
    assert t.data.endswith(data.rstrip(b"\r\n").split(b"\r\n\r\n", 1)[1]), "long lines not relayed byte-identical"


def test_bare_lf_reject_reply_carries_ref_R17(reject):
    srv, _ = reject
    with srv.session() as c:
        c.cmd("MAIL FROM:<sender@example.org>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n")
        r = c.expect(550, "5.5.2")
        assert r.ref(), f"no (ref XXXX-XXXX) in {r.raw!r}"
        c.cmd("QUIT", 221)
