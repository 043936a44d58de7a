"""Tracking of refusals the protocol answers itself, and the invalid-recipient
counters kept for the reputation work (R3, R9, R17, R18)."""
import sqlite3
import time

import mwtest
from mwtest import message, token


def test_end_of_data_refusal_is_logged_under_its_ref(std):
    """A 552 at the end of DATA is in the log with its reply, found by its ref."""
    srv, _ = std
    with srv.session() as c:
        c.cmd("MAIL FROM:<big@example.org>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(message(token(), ("X" * 998 + "\r\n") * 1100) + b".\r\n")
        r = c.expect(552, timeout=30)
        c.cmd("QUIT", 221)
    ref = r.ref()
    assert ref

    def found():
        res = srv.log_search("--ref", ref)
        return res and res[0].get("action") == "rejected" and "552" in str(res[0].get("reply"))
    mwtest.wait_until(found, 10, interval=0.2, what="the 552 in the log")
    # And the next transaction on a connection gets a new reference.
    with srv.session() as c:
        a = c.send_mail("x@example.org", ["alice@acme.test"], message(token()))
        b = c.send_mail("x@example.org", ["alice@acme.test"], message(token()))
        assert a.code == 250 and b.code == 250
        assert a.ref() and b.ref() and a.ref() != b.ref()


def _stats(srv, kind, key):
    db = sqlite3.connect(f"file:{srv.data_dir}/mailward.db?mode=ro", uri=True, timeout=5)
    try:
        row = db.execute("SELECT COALESCE(SUM(valid),0), COALESCE(SUM(invalid),0) FROM rcpt_stat "
                         "WHERE kind = ? AND key = ?", (kind, key)).fetchone()
    finally:
        db.close()
    return row


def test_invalid_recipients_counted_per_ip_and_sender_domain(std):
    """R3: every RCPT verdict for a hosted domain is counted for the client IP
    and the envelope sender's domain (the evidence the reputation work reads)."""
    srv, _ = std
    dom = f"harvest-{token().lower()}.example"
    with srv.session() as c:
        c.cmd(f"MAIL FROM:<probe@{dom}>", 250)
        for i in range(5):
            c.cmd(f"RCPT TO:<nosuch{i}@acme.test>", 550)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("RSET", 250)
        c.cmd("QUIT", 221)
    mwtest.wait_until(lambda: _stats(srv, "sender_domain", dom) == (1, 5), 10, interval=0.2,
                      what="rcpt_stat for the sender domain")
    valid, invalid = _stats(srv, "ip", "127.0.0.1")
    assert invalid >= 5 and valid >= 1
