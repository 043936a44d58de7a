"""Every reply-code path of the SMTP front end (R1, R2, R3, R6; plan 2.9).

Relay: P37 (nmap's 16 smtp-open-relay vectors), P38 (tenant-routed tricks),
P39 (address literals). Lengths/bytes: P16, P21, P22. Sequencing: P9, P10,
P12, P11 (error budget). Sizes/recipients: P32, P34, P35. Mail loops: M10. Timeouts and
connection caps: P28, P31. The 452 4.5.3 split between tenants: R6.
"""
import socket
import time

import pytest

import mwtest
from mwtest import HOSTNAME, message, token

D = "relay-victim.example"          # an external domain
T = "acme.test"                     # hosted, no catch-all
TC = "catchall.test"                # hosted, catch-all: a missed trick would be accepted
IP = "127.0.0.1"


# ---------------------------------------------------------------- greeting / EHLO

def test_greeting_and_ehlo(std):
    srv, _ = std
    with srv.client() as c:
        g = c.expect(220)
        assert g.text.startswith(f"{HOSTNAME} ESMTP mailward"), g.raw
        r = c.cmd("EHLO client.example", 250)
        kw = [l.split(" ")[0].upper() for l in r.lines[1:]]
        for ext in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "STARTTLS"):
            assert ext in kw, f"EHLO lacks {ext}: {r.lines}"
        size = [l for l in r.lines if l.upper().startswith("SIZE")][0]
        assert size.split()[1] == str(1024 * 1024), size
        c.cmd("QUIT", 221)
        c.assert_closed()


def test_vrfy_252_and_noop_rset_helo(std):
    srv, _ = std
    with srv.session() as c:
        c.cmd("VRFY alice", 252)
        c.cmd("VRFY alice@acme.test", 252)
        c.cmd("NOOP", 250)
        c.cmd("RSET", 250)
        c.cmd("HELO again.example", 250)
        c.cmd("QUIT", 221)


# ---------------------------------------------------------------- relay (R2)

def _rcpt_reply(srv, sender, rcpt_path):
    with srv.session() as c:
        c.cmd(f"MAIL FROM:{sender}", 250)
        r = c.cmd(f"RCPT TO:{rcpt_path}")
        c.cmd("QUIT", 221)
        return r


# nmap scripts/smtp-open-relay.nse: (MAIL FROM, RCPT TO); SRV = banner name, IP = server IP.
NMAP = [
    ("<>", f"<relaytest@{D}>"),
    (f"<antispam@{D}>", f"<relaytest@{D}>"),
    (f"<antispam@{HOSTNAME}>", f"<relaytest@{D}>"),
    (f"<antispam@[{IP}]>", f"<relaytest@{D}>"),
    (f"<antispam@[{IP}]>", f"<relaytest%{D}@[{IP}]>"),
    (f"<antispam@[{IP}]>", f"<relaytest%{D}@{HOSTNAME}>"),
    (f"<antispam@[{IP}]>", f'<"relaytest@{D}">'),
    (f"<antispam@[{IP}]>", f'<"relaytest%{D}">'),
    (f"<antispam@[{IP}]>", f"<relaytest@{D}@[{IP}]>"),
    (f"<antispam@[{IP}]>", f'<"relaytest@{D}"@[{IP}]>'),
    (f"<antispam@[{IP}]>", f"<relaytest@{D}@{HOSTNAME}>"),
    (f"<antispam@[{IP}]>", f"<@[{IP}]:relaytest@{D}>"),
    (f"<antispam@[{IP}]>", f"<@{HOSTNAME}:relaytest@{D}>"),
    (f"<antispam@[{IP}]>", f"<{D}!relaytest>"),
    (f"<antispam@[{IP}]>", f"<{D}!relaytest@[{IP}]>"),
    (f"<antispam@[{IP}]>", f"<{D}!relaytest@{HOSTNAME}>"),
]
# Paths that are not valid RFC 5321 syntax may get 501 instead of 554.
SYNTAX_BAD = {f'<"relaytest@{D}">', f'<"relaytest%{D}">', f"<{D}!relaytest>",
              f"<relaytest@{D}@[{IP}]>", f"<relaytest@{D}@{HOSTNAME}>"}


def _assert_relay_denied(r, path):
    if path in SYNTAX_BAD and r.code == 501:
        return
    assert r.code == 554 and "5.7.1" in r.text and "Relay access denied" in r.text, \
        f"RCPT TO:{path} -> {r.raw!r} (want 554 5.7.1 ... Relay access denied)"


@pytest.mark.parametrize("sender,rcpt", NMAP, ids=[f"nmap{i + 1}" for i in range(len(NMAP))])
def test_relay_nmap_vectors_P37(std, sender, rcpt):
    srv, sink = std
    _assert_relay_denied(_rcpt_reply(srv, sender, rcpt), rcpt)


TENANT_TRICKS = []
for dom in (T, TC):
    TENANT_TRICKS += [
        f"<relaytest%{D}@{dom}>",        # percent hack
        f"<alice%{D}@{dom}>",
        f"<relaytest@{D}@{dom}>",        # double @ (syntax error or relay)
        f'<"relaytest@{D}"@{dom}>',      # quoted local part with @
        f'<"relaytest%{D}"@{dom}>',      # quoted local part with %
        f"<@{dom}:relaytest@{D}>",       # source route to an external domain
        f"<@{D}:alice@{dom}>",           # source route via an external host
        f"<{D}!relaytest@{dom}>",        # bang path
        f"<relaytest@{D}.@{dom}>",       # trailing-dot trick (syntax error or relay)
    ]
TENANT_SYNTAX_BAD = {p for p in TENANT_TRICKS if p.count("@") > 1 and '"' not in p and not p.startswith("<@")}


@pytest.mark.parametrize("rcpt", TENANT_TRICKS)
def test_relay_tenant_routed_tricks_P38(std, rcpt):
    srv, _ = std
    r = _rcpt_reply(srv, "<sender@example.org>", rcpt)
    if rcpt in TENANT_SYNTAX_BAD and r.code == 501:
        return
    assert r.code == 554 and "5.7.1" in r.text and "Relay access denied" in r.text, \
        f"RCPT TO:{rcpt} -> {r.raw!r} (want 554 5.7.1 Relay access denied)"


@pytest.mark.parametrize("rcpt", [f"<postmaster@[{IP}]>", f"<alice@[{IP}]>", "<a@[IPv6:::1]>",
                                  "<relaytest@example.com>", "<alice@acme.test.example.com>",
                                  "<alice@sub.acme.test>"])
def test_relay_literals_and_foreign_domains_P39(std, rcpt):
    srv, _ = std
    r = _rcpt_reply(srv, "<sender@example.org>", rcpt)
    assert r.code == 554 and "5.7.1" in r.text and "Relay access denied" in r.text, \
        f"RCPT TO:{rcpt} -> {r.raw!r}"


def test_relay_denied_carries_ref_R17(std):
    srv, _ = std
    r = _rcpt_reply(srv, "<sender@example.org>", f"<x@{D}>")
    assert r.code == 554
    assert r.ref(), f"no (ref XXXX-XXXX) in {r.raw!r}"


def test_rejections_carry_ref_R17(std):
    """R17: the ref id is in every rejection text (RCPT and end-of-data ones)."""
    srv, _ = std
    with srv.session() as c:
        c.cmd("MAIL FROM:<a@example.org>", 250)
        for rcpt, code in (("nobody@acme.test", 550), ("alice@acme.test", 250), ("carol@beta.test", 452),
                           (f"x@{D}", 554)):
            r = c.cmd(f"RCPT TO:<{rcpt}>", code)
            if code != 250:
                assert r.ref(), f"no (ref XXXX-XXXX) in {r.raw!r}"
        c.cmd("DATA", 354)
        c.send(message(token(), ("X" * 998 + "\r\n") * 1100) + b".\r\n")
        r = c.expect(552, timeout=30)
        assert r.ref(), f"no (ref XXXX-XXXX) in {r.raw!r}"
        c.cmd("QUIT", 221)


def test_ref_in_mail_size_rejection_R17(std):
    srv, _ = std
    with srv.session() as c:
        r = c.cmd("MAIL FROM:<a@example.org> SIZE=99999999", 552)
        assert r.ref(), f"no (ref XXXX-XXXX) in {r.raw!r}"
        c.cmd("QUIT", 221)


# ---------------------------------------------------------------- recipients (R3)

def test_unknown_user_550_and_valid_users(std):
    srv, _ = std
    with srv.session() as c:
        c.cmd("MAIL FROM:<sender@example.org>", 250)
        c.cmd("RCPT TO:<nobody@acme.test>", 550, ["5.1.1", "User unknown"])
        c.cmd("RCPT TO:<Alice@ACME.test>", 250)
        c.cmd("RCPT TO:<anything-goes@catchall.test>", 250)
        c.cmd("RSET", 250)
        c.cmd("QUIT", 221)


def test_full_transaction_delivered_with_headers(std):
    srv, sink = std
    tok = token()
    with srv.session() as c:
        r = c.send_mail("sender@example.org", ["alice@acme.test"], message(tok))
        assert r.code == 250 and "2.0.0" in r.text and r.qid() and r.ref(), r.raw
        c.cmd("QUIT", 221)
    t = sink.wait_for(tok)[0]
    assert t.mail_from == "sender@example.org" and t.rcpts == ["alice@acme.test"]
    assert t.header("X-Mailward-Ref") == r.ref(), t.data[:600]
    assert t.header("Received") is not None


# ---------------------------------------------------------------- size (P34, P35)

def test_size_param_P34(std):
    srv, _ = std
    mx = 1024 * 1024
    with srv.session() as c:
        c.cmd(f"MAIL FROM:<a@example.org> SIZE={mx}", 250)
        c.cmd("RSET", 250)
        c.cmd(f"MAIL FROM:<a@example.org> SIZE={mx + 1}", 552, "5.3.4")
        c.cmd("MAIL FROM:<a@example.org> SIZE=99999999999999999999999", 552, "5.3.4")
        for bad in ("SIZE=abc", "SIZE=-1", "SIZE="):
            c.cmd(f"MAIL FROM:<a@example.org> {bad}", 501)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("QUIT", 221)


def test_message_over_size_after_data_P35(std):
    srv, sink = std
    tok = token()
    body = ("X" * 998 + "\r\n") * 1100          # ~1.1 MB > 1m
    with srv.session() as c:
        c.cmd("MAIL FROM:<a@example.org> SIZE=1000", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(message(tok, body) + b".\r\n")
        c.expect(552, "5.3.4", timeout=30)
        # the connection is still in sync and usable
        r = c.send_mail("a@example.org", ["alice@acme.test"], message(tok + "-small"))
        assert r.code == 250, r.raw
        c.cmd("QUIT", 221)
    sink.wait_for(tok + "-small")
    time.sleep(0.5 * mwtest.SLOW)
    assert [t for t in sink.find(tok) if (tok + "-small").encode() not in t.raw] == []
    assert srv.spool_files("tmp") == []


# ---------------------------------------------------------------- mail loop (M10)

def hops(n):
    """n Received fields as relays write them: folded, in mixed case."""
    return "".join(f"{'Received' if i % 2 else 'RECEIVED'}: from hop{i}.example.net (hop{i}.example.net"
                   f" [192.0.2.{i % 250 + 1}])\r\n\tby hop{i + 1}.example.net with ESMTP id H{i};"
                   f" Fri, 27 Nov 2026 09:{i % 60:02d}:00 +0000\r\n" for i in range(n))


def test_mail_loop_refused_M10(std):
    srv, sink = std
    tok = token()
    with srv.session() as c:
        # at the limit (50, like Postfix's hopcount_limit): delivered
        ok = c.send_mail("a@example.org", ["alice@acme.test"], message(tok + "-50", extra_headers=hops(50)))
        assert ok.code == 250, ok.raw
        # one more: a loop, refused in the session (never a bounce, which could loop too)
        bad = c.send_mail("a@example.org", ["alice@acme.test"], message(tok + "-51", extra_headers=hops(51)))
        assert bad.code == 554 and "5.4.6" in bad.text and "51" in bad.text and bad.ref(), bad.raw
        # the session stays in sync
        r = c.send_mail("a@example.org", ["alice@acme.test"], message(tok + "-after"))
        assert r.code == 250, r.raw
        c.cmd("QUIT", 221)
    sink.wait_for(tok + "-50")
    sink.wait_for(tok + "-after")
    time.sleep(0.5 * mwtest.SLOW)
    assert sink.find(tok + "-51") == []
    assert srv.spool_files("tmp") == []
    rec = srv.log_search("--ref", bad.ref())
    assert rec and rec[0]["action"] == "rejected" and "5.4.6" in rec[0]["reply"], rec


# ---------------------------------------------------------------- recipients (P32, R6)

def test_too_many_recipients_P32(std):
    srv, sink = std
    tok = token()
    with srv.session() as c:
        c.cmd("MAIL FROM:<a@example.org>", 250)
        for i in range(100):
            c.cmd(f"RCPT TO:<r{i}@catchall.test>", 250)
        c.cmd("RCPT TO:<r100@catchall.test>", 452, "4.5.3")
        c.cmd("DATA", 354)
        c.send(message(tok, to="r0@catchall.test") + b".\r\n")
        c.expect(250)
        c.cmd("QUIT", 221)
    got = sink.wait_for(tok)
    rcpts = sorted(r for t in got for r in t.rcpts)
    assert len(rcpts) == 100 and "r100@catchall.test" not in rcpts


def test_tenant_split_452_R6(std):
    srv, sink = std
    tok = token()
    with srv.session() as c:
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("RCPT TO:<carol@beta.test>", 452, "4.5.3 Too many recipients, try again in a new transaction")
        c.cmd("RCPT TO:<bob@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(message(tok + "-acme") + b".\r\n")
        c.expect(250)
        # the client's second transaction for the deferred recipient
        r = c.send_mail("a@example.org", ["carol@beta.test"], message(tok + "-beta", to="carol@beta.test"))
        assert r.code == 250, r.raw
        c.cmd("QUIT", 221)
    t = sink.wait_for(tok + "-acme")
    assert len(t) == 1 and sorted(t[0].rcpts) == ["alice@acme.test", "bob@acme.test"], t
    mwtest.maildir_wait(srv.maildir, "carol@beta.test", tok + "-beta")
    assert sink.find(tok + "-beta") == [], "beta's message went to acme's destination (P40)"
    assert mwtest.maildir_find(srv.maildir, "carol@beta.test", tok + "-acme") == []


# ---------------------------------------------------------------- syntax / sequence

def test_syntax_errors_500_501(std):
    srv, _ = std
    with srv.session() as c:
        c.cmd("FOO bar", 500, "5.5.2")
        c.cmd("MAIL FROM:alice@example.org", 501)
        c.cmd("MAIL FROM:<alice@example.org", 501)
        c.cmd("MAIL FROM <alice@example.org>", 501)
        c.cmd("MAIL FROM:<a b@example.org>", 501)
        c.cmd("MAIL FROM:<a@example.org> BOGUS=1", (501, 555))
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<>", 501)
        c.cmd("RCPT TO:alice@acme.test", 501)
        c.cmd("RCPT TO:<@acme.test>", 501)
        c.cmd("RCPT TO:<" + "a" * 65 + "@acme.test>", (501, 553))
        c.cmd("RCPT TO:<alice@" + "d" * 260 + ".test>", 501)
        c.cmd("QUIT", 221)


def test_bad_sequence_503_P12(std):
    srv, _ = std
    with srv.client() as c:
        c.expect(220)
        c.cmd("MAIL FROM:<a@example.org>", 503, "5.5.1")      # require_helo = yes
        c.cmd("EHLO client.example", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 503, "5.5.1")
        c.cmd("DATA", 503, "5.5.1")
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("MAIL FROM:<a@example.org>", 503, "5.5.1")      # nested MAIL
        c.cmd("DATA", 503, "5.5.1")                           # no RCPT yet
        c.cmd("RCPT TO:<nobody@acme.test>", 550)
        c.cmd("DATA", (503, 554))                             # all RCPTs rejected
        c.cmd("QUIT", 221)


# ---------------------------------------------------------------- pipelining (P9, P10)

def test_pipelined_group_P10_and_pipelined_transactions(std):
    srv, sink = std
    tok = token()
    with srv.session() as c:
        c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@acme.test>\r\nRCPT TO:<bob@acme.test>\r\nDATA\r\n")
        for code in (250, 250, 250, 354):
            c.expect(code)
        # end of data 1 + the whole envelope of transaction 2 in one write
        c.send(message(tok + "-1") + b".\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<alice@acme.test>\r\nDATA\r\n")
        for code in (250, 250, 250, 354):
            c.expect(code)
        c.send(message(tok + "-2") + b".\r\nQUIT\r\n")
        c.expect(250)
        c.expect(221)
        c.assert_closed()
    assert len(sink.wait_for(tok + "-1")) == 1
    assert len(sink.wait_for(tok + "-2")) == 1


def test_data_with_content_before_354_P9(std):
    srv, sink = std
    tok = token()
    with srv.session() as c:
        c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@acme.test>\r\n")
        c.expect(250)
        c.expect(250)
        c.send(b"DATA\r\n" + message(tok) + b".\r\n")
        c.expect(554, "5.5.0")
        c.assert_closed()
    time.sleep(1 * mwtest.SLOW)
    assert sink.find(tok) == []


# ---------------------------------------------------------------- lengths and bytes

def test_command_line_limit_P16(std):
    srv, _ = std
    with srv.session() as c:
        c.cmd("NOOP " + "A" * 505, 250)                      # exactly 512 incl. CRLF
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.send("NOOP " + "A" * 600 + "RCPT TO:<alice@acme.test>\r\n")
        c.expect(500, "5.5.2")
        c.cmd("DATA", 503)                                     # the tail's RCPT never ran
        c.cmd("NOOP", 250)
        c.cmd("QUIT", 221)


def test_huge_line_without_newline_P17(std):
    srv, _ = std
    with srv.session() as c:
        try:
            c.send(b"A" * (2 * 1024 * 1024))
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.reply(timeout=10)
        assert r.code in (500, 421), r.raw


def test_nul_in_command_P21(std):
    srv, _ = std
    with srv.session() as c:
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.send(b"RCPT TO:<alice@acme.test>\x00<x@evil.example>\r\n")
        c.expect(500, "5.5.2")
        c.send(b"RCPT TO:<alice@acme.test>\x00\r\n")
        c.expect(500, "5.5.2")
        c.cmd("DATA", 503)
        c.cmd("QUIT", 221)


@pytest.mark.parametrize("raw", [b"NOOP\nNOOP\r\n", b"NOOP\rNOOP\r\n", b"RCPT TO:<alice@acme.test>\n\r\n"],
                         ids=["bare-lf", "bare-cr", "lf-before-crlf"])
def test_bare_cr_lf_in_command(std, raw):
    srv, _ = std
    with srv.session() as c:
        c.cmd("MAIL FROM:<a@example.org>", 250)
        # A bare LF may end the bad line (Postfix-style), so the rest can be a line of
        # its own; what matters: the bad line gets 500 5.5.2 and never runs.
        c.send(raw + b"VRFY sync-marker\r\n")
        codes = [c.expect(500, "5.5.2").code]
        while codes[-1] != 252 and len(codes) < 4:
            codes.append(c.reply().code)
        assert codes[-1] == 252, codes
        c.cmd("DATA", 503)          # no RCPT was accepted through the bare line end
        c.cmd("QUIT", 221)


def test_8bit_in_commands_P22(std):
    srv, _ = std
    with srv.session() as c:
        c.cmd("MAIL FROM:<j\u00fcrgen@example.org>".encode(), 553, "5.6.7")
        c.cmd("MAIL FROM:<j\u00fcrgen@example.org> SMTPUTF8".encode(), 250)
        c.cmd("RSET", 250)
        for bad in (b"j\xc3\x28", b"j\xc0\xaf", b"j\xed\xa0\x80", b"j\xff"):
            c.cmd(b"MAIL FROM:<" + bad + b"@example.org> SMTPUTF8", 500, "5.5.2")
        c.cmd(b"NOOP \xff\xfe", 500, "5.5.2")
        c.cmd("QUIT", 221)


# ---------------------------------------------------------------- error budget (P11)

def test_error_budget_421(std):
    srv, _ = std
    with srv.session() as c:
        codes = []
        for i in range(40):
            try:
                r = c.cmd(f"BOGUS{i}")
            except (mwtest.Closed, OSError):
                break
            codes.append(r.code)
            if r.code == 421:
                break
        assert codes and codes[-1] == 421, codes
        assert "4.7.0" in r.text, r.raw
        assert len(codes) <= 21 + 1, codes        # max_errors = 20 (default)
        c.assert_closed()


def test_junk_noop_flood_bounded_P11(std):
    srv, _ = std
    with srv.session() as c:
        c.send("NOOP\r\n" * 2000)
        codes = []
        try:
            while True:
                codes.append(c.reply(timeout=10).code)
        except (mwtest.Closed, socket.timeout):
            pass
        assert 421 in codes, f"2000 NOOPs never hit the junk/error limit: {len(codes)} replies"
        assert len(codes) < 2000


# ---------------------------------------------------------------- timeouts and caps (P28, P31)

@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    import conftest
    for srv, _ in conftest.module_server(tmp_path_factory, "limited",
                                         {"limits": {"idle_timeout": "2s"},
                                          "smtp": {"max_connections_per_ip": "3"}}):
        yield srv


def test_idle_timeout_421_P28(limited):
    with limited.client() as c:
        c.expect(220)
        t0 = time.monotonic()
        c.expect(421, "4.4.2", timeout=15)
        c.assert_closed()
        dt = time.monotonic() - t0
        assert 1.5 <= dt <= 8 * mwtest.SLOW, dt


def test_idle_timeout_mid_transaction(limited):
    with limited.session() as c:
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.expect(421, "4.4.2", timeout=15)
        c.assert_closed()


def test_per_ip_connection_cap_P31(limited):
    time.sleep(0.3)
    conns = []
    try:
        for _ in range(3):
            c = limited.client()
            c.expect(220)
            conns.append(c)
        with limited.client() as extra:
            extra.expect(421, "4.7.0")
            extra.assert_closed()
        conns.pop().close()
        # a slot frees up once the server noticed the close
        def greeted():
            c = limited.client()
            r = c.reply()
            if r.code == 220:
                conns.append(c)
                return True
            c.close()
            return False
        mwtest.wait_until(greeted, 5, interval=0.2, what="a greeting after a slot was freed")
    finally:
        for c in conns:
            c.close()
