"""STARTTLS (R1; plan 2.5, cases P23, P24, P25)."""
import ssl

import pytest

import mwtest
from mwtest import message, token


def _tls_session(srv):
    c = srv.session()
    c.cmd("STARTTLS", 220)
    c.starttls()
    return c


def test_starttls_full_transaction(std):
    srv, sink = std
    tok = token()
    with _tls_session(srv) as c:
        assert isinstance(c.sock, ssl.SSLSocket) and c.sock.version()
        r = c.cmd("EHLO tls.client.example", 250)
        kw = [l.split(" ")[0].upper() for l in r.lines[1:]]
        assert "STARTTLS" not in kw, f"STARTTLS still offered under TLS: {r.lines}"
        assert "PIPELINING" in kw and "SIZE" in kw
        r = c.send_mail("sender@example.org", ["alice@acme.test"], message(tok))
        assert r.code == 250 and r.qid(), r.raw
        # (QUIT over TLS is checked in test_quit_over_tls_221)
    t = sink.wait_for(tok)
    assert len(t) == 1
    hits = srv.log_search("--ref", r.ref())
    assert hits and hits[0].get("tls") not in (None, False, 0, "", "no"), hits


def test_starttls_requires_new_ehlo_P24(std):
    srv, _ = std
    with _tls_session(srv) as c:
        c.cmd("MAIL FROM:<a@example.org>", 503)
        c.cmd("EHLO tls.client.example", 250)
        c.cmd("STARTTLS", (503, 554))           # no second STARTTLS
        c.cmd("MAIL FROM:<a@example.org>", 250)
        # (QUIT over TLS is checked in test_quit_over_tls_221)


@pytest.mark.parametrize("tail", [b"RSET\r\n", b"MAIL FROM:<a@example.org>\r\n",
                                  b"EHLO evil\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<alice@acme.test>\r\n"],
                         ids=["rset", "mail", "ehlo-mail-rcpt"])
def test_starttls_pipelined_plaintext_discarded_P23(std, tail):
    srv, _ = std
    with srv.session() as c:
        c.send(b"STARTTLS\r\n" + tail)
        c.expect(220)
        c.starttls()
        # no reply to the plaintext may come out of the TLS stream, and its state is gone
        c.assert_silent(0.5)
        c.cmd("MAIL FROM:<a@example.org>", 503)     # EHLO required again; injected MAIL/EHLO not run
        c.cmd("EHLO tls.client.example", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 503)     # no injected MAIL transaction
        # (QUIT over TLS is checked in test_quit_over_tls_221)


def test_starttls_mid_transaction_resets_P25(std):
    srv, _ = std
    with srv.session() as c:
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        r = c.cmd("STARTTLS")
        if r.code != 220:
            assert r.code in (503, 554), r.raw     # refusing STARTTLS mid-transaction is fine too
            return
        c.starttls()
        c.cmd("EHLO tls.client.example", 250)
        c.cmd("DATA", 503)
        # (QUIT over TLS is checked in test_quit_over_tls_221)


def test_starttls_bad_handshake_keeps_server_alive(std):
    srv, _ = std
    with srv.session() as c:
        c.cmd("STARTTLS", 220)
        c.send(b"\x16\x03\x01\x00\x05garbage-not-tls\r\n")
        try:
            c.assert_closed(10)
        except AssertionError:
            pass
    with srv.session() as c2:
        c2.cmd("QUIT", 221)


def test_no_starttls_without_tls_config(make_server):
    srv = make_server(provision=False)
    with srv.session() as c:
        r = c.cmd("EHLO x.example", 250)
        assert "STARTTLS" not in [l.split(" ")[0].upper() for l in r.lines[1:]]
        c.cmd("STARTTLS", (502, 454, 500))
        # (QUIT over TLS is checked in test_quit_over_tls_221)


def test_quit_over_tls_221(std):
    srv, _ = std
    with _tls_session(srv) as c:
        c.cmd("EHLO tls.client.example", 250)
        c.cmd("NOOP", 250)
        c.cmd("QUIT", 221)
        c.assert_closed()
