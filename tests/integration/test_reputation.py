"""Sender reputation, spam traps, complaints, content fingerprints, replies
and forwards over SMTP (issue 4, R9-R12, R16): the field article's cases.

Every test has its own server and data dir.  Client IPs: every test client
is 127.0.0.1 unless it binds another loopback address (mwtest.Client
source=...; Linux routes all of 127/8 on lo), so "another sender" is e.g.
127.0.1.2 - another /24 network - with another envelope domain, and starts
with a clean reputation.

  1a  test_directory_harvest_then_reset_then_allow
  1b  test_signature_block_from_trap_marks_mail_from_another_ip
      test_repeated_closing_paragraph_is_the_signature_block (R7, no "-- ")
  1c  test_complaints_raise_score_until_probable_spam
  1d  test_reply_from_fingerprinted_sender_delivered_fresh_mail_not
  1e  test_trap_accepts_never_delivers_and_counts
plus mixed trap + real recipients, an unhosted trap domain, the /24 at half
weight, no framing of an envelope domain from another network, duplicate and
malformed complaints, complaint intake by SMTP, a complaint matched by
Message-ID, forwarded mail hitting a trap without blaming the forwarder,
reset of an IP's rows, a benign signature block, and a quarantine tenant.

The review's abuse cases (/tmp/ev/ev3-ev6 then; docs/reputation.md):
  a forged report naming a newsletter's public Message-ID (Incidents: 10)
    counts half a complaint, and only one such report per original counts
    test_forged_message_id_report_cannot_get_a_newsletter_rejected
    test_forged_message_id_reports_up_to_the_recipient_count_stay_half
  four reports differing only in User-Agent count one complaint
    test_reports_differing_only_in_user_agent_count_once
  forward claims (Resent-*, ARC-Seal, attached message) are a third of a
    trap hit each, and they add up: no immunity
    test_forward_claims_are_no_immunity_at_traps
    test_two_claimed_forward_trap_hits_list_the_ip
  a big sender's one recycled trap hit is under 0.1% of its messages
    test_big_sender_reaching_one_recycled_trap_is_not_listed
  trap add on a mailbox or hosted domain needs --force
    test_trap_add_refuses_a_mailbox_or_hosted_domain_on_a_running_server

Runs in about 30 s (release) and 100 s (ASan).
"""
import json
import os
import re
import threading
import time
import uuid

import pytest

import mwtest
from mwtest import message, token

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

# A distinctive signature block (the part after "-- "): a name, a company,
# a phone number, an address - what identifies a sender across campaigns.
SIGNATURE = ("-- \r\n"
             "Bartholomew Quennell-Ashworth\r\n"
             "Senior Procurement Liaison, Quennell Ashworth Maritime Holdings\r\n"
             "Telephone +44 20 7946 0958 extension 4471\r\n"
             "Harbour House, Wapping Lane, London, United Kingdom\r\n"
             "Registered office: Quennell Ashworth Maritime Holdings, Canary Wharf\r\n")

# Three unrelated texts, each long enough (>= 19 words) for a text fingerprint
# of its own, sharing no run of four words with the others.
TEXT_TRAP = ("Dear purchasing manager, we are pleased to offer refurbished shipping "
             "containers at wholesale rates this season. Our inventory includes dry "
             "vans, reefers and open tops, all inspected and certified. Reply today "
             "to reserve units before the winter price revision takes effect.\r\n")
TEXT_LATER = ("Following our telephone conversation on Tuesday, I am sending the "
              "summary of the harbour crane maintenance plan. The north quay cranes "
              "will be inspected first, then the cables on the south side will be "
              "replaced while traffic is diverted to berth seven.\r\n")
TEXT_FORWARDED = ("Members of the rowing club are reminded that the boathouse will "
                  "close early on Friday evening for the annual varnishing of the "
                  "oars, and that the committee meeting moves to the library upstairs "
                  "where tea and biscuits will be served as usual.\r\n")
TEXT_OTHER = ("Could you please check whether the invoices from the catering "
              "company were approved by finance last month, because their accounts "
              "team keeps calling our front desk about an overdue payment that "
              "nobody here seems to remember authorising at all.\r\n")

SETTLE = 1.0   # seconds to wait before asserting that nothing was delivered


# ---------------------------------------------------------------------------
# helpers


def send(srv, sender, rcpts, data, source=None):
    """One transaction in its own session; every RCPT must get 250.
    Returns the end-of-data reply."""
    with srv.session(source=source) as c:
        r = c.send_mail(sender, rcpts, data)
        c.cmd("QUIT", 221)
    return r


def symbols(txn):
    """{NAME: score} from a delivered message's X-Mailward-Symbols."""
    h = txn.header("X-Mailward-Symbols") or ""
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"([A-Z0-9_]+)\(([-+0-9.]+)\)", h)}


def score(txn):
    return float(txn.header("X-Mailward-Score").split()[0])


def logged_symbols(srv, ref):
    recs = srv.log_search("--ref", ref)
    assert recs, f"log search --ref {ref}: nothing"
    return {s["name"]: s for s in recs[0]["symbols"]}


def rows(doc):
    """The list of rows of a CLI --json document ({"x": [...]} or [...])."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for v in doc.values():
            if isinstance(v, list):
                return v
    return []


def cli_rows(srv, *args):
    p = srv.cli(*args, "--json", check=False)
    assert p.returncode in (0, 1), f"{args}: exit {p.returncode}: {p.err}"
    return rows(json.loads(p.out)) if p.out.strip() else []


def field(doc, name):
    """doc[name], looking one level into nested objects/lists too."""
    if isinstance(doc, dict):
        if name in doc:
            return doc[name]
        for v in doc.values():
            if isinstance(v, (dict, list)):
                f = field(v, name)
                if f is not None:
                    return f
    if isinstance(doc, list):
        for v in doc:
            f = field(v, name)
            if f is not None:
                return f
    return None


def identity(srv, what, key):
    """One identity's row of `reputation show WHAT --json`."""
    doc = json.loads(srv.cli("reputation", "show", what, "--json").out)
    rows_ = [i for i in doc["identities"] if i["key"] == key]
    assert rows_, (key, doc)
    return rows_[0]


def reply_shape(r):
    """A reply's text with its ids blanked, to compare two replies' form."""
    t = mwtest.REF_RE.sub("(ref R)", r.text)
    return mwtest.QID_RE.sub("queued as Q", t)


def assert_not_delivered(sink, tok):
    time.sleep(SETTLE * mwtest.SLOW)
    assert sink.find(tok) == [], f"{tok} was delivered: {sink.find(tok)}"


def assert_probable_spam(r, reason_class):
    assert r.code == 554, r.raw
    assert "5.7.1 Message rejected as probable spam: " + reason_class in r.text, r.raw
    assert r.ref(), r.raw


def arf(original, rcpt="alice@acme.test", reporter="fbl@provider.example", note=""):
    """An RFC 5965 feedback report about original (the message as delivered,
    so it carries our X-Mailward-Ref)."""
    b = "arf-" + uuid.uuid4().hex[:12]
    if not original.endswith(b"\r\n"):
        original += b"\r\n"
    head = (f"From: <{reporter}>\r\n"
            f"To: <abuse@acme.test>\r\n"
            f"Subject: FW: Abuse report {note}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@provider.example>\r\n"
            f"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=feedback-report;\r\n"
            f"\tboundary=\"{b}\"\r\n"
            f"\r\n"
            f"--{b}\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n"
            f"\r\n"
            f"This is an email abuse report for a message received by one of our users. {note}\r\n"
            f"\r\n"
            f"--{b}\r\n"
            f"Content-Type: message/feedback-report\r\n"
            f"\r\n"
            f"Feedback-Type: abuse\r\n"
            f"User-Agent: test/1.0\r\n"
            f"Version: 1\r\n"
            f"Original-Rcpt-To: <{rcpt}>\r\n"
            f"\r\n"
            f"--{b}\r\n"
            f"Content-Type: message/rfc822\r\n"
            f"Content-Disposition: inline\r\n"
            f"\r\n")
    return head.encode() + original + f"\r\n--{b}--\r\n".encode()


def import_complaint(srv, data, name=None):
    path = os.path.join(srv.workdir, name or f"arf-{uuid.uuid4().hex[:8]}.eml")
    with open(path, "wb") as fh:
        fh.write(data)
    p = srv.cli("complaint", "import", path, "--json", check=False)
    assert p.returncode >= 0 and p.returncode != 3, f"complaint import: exit {p.returncode}: {p.err}"
    return p


def is_duplicate(doc):
    return field(doc, "duplicate") in (True, 1)


def harvest(srv, n=6, sender="sales@vendor.example"):
    """n unknown recipients from 127.0.0.1 in one session."""
    with srv.session() as c:
        c.cmd(f"MAIL FROM:<{sender}>", 250)
        for i in range(n):    # 550, or 554 once the IP is over the harvest limit
            assert c.cmd(f"RCPT TO:<guess{i}-{uuid.uuid4().hex[:6]}@acme.test>").code in (550, 554)
        c.cmd("RSET", 250)
        c.cmd("QUIT", 221)


def wait_harvest_refusal(srv, sender="sales@vendor.example"):
    def refused():
        with srv.session() as c:
            c.cmd(f"MAIL FROM:<{sender}>", 250)
            r = c.cmd("RCPT TO:<alice@acme.test>")
            c.cmd("QUIT", 221)
            return r if r.code == 554 else None
    return mwtest.wait_until(refused, 15, interval=0.3, what="the harvesting IP refused")


# ---------------------------------------------------------------------------
# 1e: a message to a trap


def test_trap_accepts_never_delivers_and_counts(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "old-sales@acme.test")          # a trap need not be a user
    # What an ordinary delivery looks like, for comparison.
    tok0 = token()
    r0 = send(srv, "offers@shady.example", ["alice@acme.test"],
              message(tok0, sender="offers@shady.example", body="Hello Alice, a first note.\r\n"))
    assert r0.code == 250, r0.raw
    sink.wait_for(tok0)

    tok = token()
    with srv.session() as c:
        c.cmd("MAIL FROM:<offers@shady.example>", 250)
        rr = c.cmd("RCPT TO:<old-sales@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(mwtest.dot_stuff(message(tok, sender="offers@shady.example", to="old-sales@acme.test",
                                        body="Cheap containers, reply now.\r\n")) + b".\r\n")
        r = c.reply()
        c.cmd("QUIT", 221)
    # A trap never reveals itself: the same replies as for a real recipient.
    assert r.code == 250, r.raw
    assert rr.text.startswith("2.1.5"), rr.raw
    assert reply_shape(r) == reply_shape(r0), (r.raw, r0.raw)
    ref = r.ref()
    assert ref
    assert_not_delivered(sink, tok)

    # Listed with its ref, by IP too.
    hits = cli_rows(srv, "trap", "hits")
    assert any(ref in json.dumps(h) for h in hits), hits
    assert any(ref in json.dumps(h) for h in cli_rows(srv, "trap", "hits", "--ip", "127.0.0.1"))
    assert not any(ref in json.dumps(h) for h in cli_rows(srv, "trap", "hits", "--ip", "127.0.9.9"))
    text = srv.cli("trap", "hits").out
    assert ref in text and "old-sales@acme.test" in text, text
    # Kept as evidence ([reputation] trap_keep).
    assert os.listdir(os.path.join(srv.data_dir, "traps")), "no trap message kept"

    # reputation show: the hit as evidence with its ref.
    show = srv.cli("reputation", "show", "127.0.0.1").out
    assert ref in show and "trap" in show.lower(), show
    ip = identity(srv, "127.0.0.1", "ip:127.0.0.1")
    assert ip["counters"]["traps"] >= 0.99 and ip["points"]["traps"] >= 9.9, ip
    assert ip["state"] == "fingerprinted", ip
    # Its content was clean: the trap hit is the evidence, not a spam verdict.
    assert ip["counters"]["spam"] == 0, ip
    assert srv.log_search("--ref", ref)[0]["class"] != "probable-spam"

    # One hit is enough: the sender's next message to a real user is refused.
    tok2 = token()
    r2 = send(srv, "offers@shady.example", ["alice@acme.test"],
              message(tok2, sender="offers@shady.example", body="Hello Alice, a second note.\r\n"))
    assert_probable_spam(r2, "sender reputation")
    sym = logged_symbols(srv, r2.ref())
    assert sym["REP_TRAP_HITS"]["score"] >= 9.9, sym
    assert "trap" in sym["REP_TRAP_HITS"]["reason"].lower(), sym
    assert_not_delivered(sink, tok2)

    # Its neighbours in the /24 count it at half weight: not refused for it.
    tok3 = token()
    r3 = send(srv, "staff@neighbour.example", ["alice@acme.test"],
              message(tok3, sender="staff@neighbour.example", body="Hello from next door.\r\n"),
              source="127.0.0.2")
    assert r3.code == 250, r3.raw
    assert 4.9 <= symbols(sink.wait_for(tok3)[0]).get("REP_TRAP_HITS", 0) <= 6.1
    # The envelope domain it used is not framed from another network.
    tok4 = token()
    r4 = send(srv, "offers@shady.example", ["alice@acme.test"],
              message(tok4, sender="offers@shady.example", body="The real shady.example.\r\n"),
              source="127.0.2.9")
    assert r4.code == 250, r4.raw
    assert not any(k.startswith("REP_") for k in symbols(sink.wait_for(tok4)[0]))


def test_trap_domain_and_mixed_transaction(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "@honeypot.test")                # not a hosted domain
    srv.cli("trap", "add", "catcher@acme.test", "--tenant", "acme")
    listed = srv.cli("trap", "list").out
    assert "honeypot.test" in listed and "catcher@acme.test" in listed, listed

    # An unhosted trap domain accepts any local part, like a hosted one.
    tok = token()
    r = send(srv, "bulk@mixed.example", ["whoever-" + uuid.uuid4().hex[:6] + "@honeypot.test"],
             message(tok, sender="bulk@mixed.example", to="x@honeypot.test"), source="127.0.5.5")
    assert r.code == 250, r.raw
    assert any(r.ref() in json.dumps(h) for h in cli_rows(srv, "trap", "hits", "--ip", "127.0.5.5"))

    # Trap and real recipients in one transaction: 250 for both, the real
    # ones get it, the trap does not.
    tok2 = token()
    with srv.session(source="127.0.6.6") as c:
        c.cmd("MAIL FROM:<news@mixed.example>", 250)
        c.cmd("RCPT TO:<catcher@acme.test>", 250)
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        c.cmd("RCPT TO:<bob@acme.test>", 250)
        c.cmd("DATA", 354)
        c.send(mwtest.dot_stuff(message(tok2, sender="news@mixed.example",
                                        body="Our monthly news.\r\n")) + b".\r\n")
        r2 = c.reply()
        c.cmd("QUIT", 221)
    assert r2.code == 250, r2.raw
    txn = sink.wait_for(tok2)[0]
    assert sorted(txn.rcpts) == ["alice@acme.test", "bob@acme.test"], txn.rcpts
    time.sleep(SETTLE * mwtest.SLOW)
    assert len(sink.find(tok2)) == 1
    assert all("catcher@acme.test" not in t.rcpts for t in sink.txns)
    hit = [h for h in cli_rows(srv, "trap", "hits", "--ip", "127.0.6.6") if h["ref"] == r2.ref()]
    assert hit and hit[0]["rcpt"] == "catcher@acme.test" and hit[0]["tenant"] == "acme", hit
    show = srv.cli("reputation", "show", "127.0.6.6").out
    assert r2.ref() in show, show

    # A removed trap domain is an unhosted domain again.
    srv.cli("trap", "remove", "@honeypot.test")
    with srv.session(source="127.0.5.5") as c:
        c.cmd("MAIL FROM:<bulk@mixed.example>", 250)
        c.cmd("RCPT TO:<whoever@honeypot.test>", 554, contains="Relay access denied")


# ---------------------------------------------------------------------------
# 1a: directory harvest, reset, allow list


def test_directory_harvest_then_reset_then_allow(make_server, sink):
    srv = make_server(sink=sink, overrides={"reputation": {"harvest_min_invalid": "5",
                                                           "harvest_ratio": "50"}})
    srv.cli("trap", "add", "info@acme.test")
    harvest(srv)
    r = wait_harvest_refusal(srv)
    assert "5.7.1 <alice@acme.test>: Recipient address rejected: too many unknown recipients " \
           "from your address recently (directory harvest)" in r.text, r.raw
    assert r.ref()
    # A trap, and an address that does not exist, answer a harvester like
    # a real one: two answers would tell it which addresses exist.
    def same(reply, addr):
        return re.sub(r"\(ref \w+\)", "", reply.text.replace(addr, "X"))
    with srv.session() as c:
        c.cmd("MAIL FROM:<sales@vendor.example>", 250)
        real = c.cmd("RCPT TO:<alice@acme.test>", 554)
        trap = c.cmd("RCPT TO:<info@acme.test>", 554)
        nobody = c.cmd("RCPT TO:<nobody-here@acme.test>", 554)
        assert same(real, "alice@acme.test") == same(trap, "info@acme.test") == \
            same(nobody, "nobody-here@acme.test"), (real.raw, trap.raw, nobody.raw)
    show = srv.cli("reputation", "show", "127.0.0.1").out.lower()
    assert "unknown" in show or "invalid" in show, show

    # A challenged listing: the administrator resets the IP.
    srv.cli("reputation", "reset", "127.0.0.1")
    tok = token()
    r = send(srv, "sales@vendor.example", ["alice@acme.test"], message(tok, sender="sales@vendor.example"))
    assert r.code == 250, r.raw
    sink.wait_for(tok)
    audit = srv.cli("audit", "--json").out
    assert "reputation reset" in audit, audit

    # It harvests again; this time the tenant allows the sender's domain.
    harvest(srv)
    wait_harvest_refusal(srv)
    srv.cli("allow", "add", "vendor.example", "--tenant", "acme", "--no-auth", "--by", "admin")
    with srv.session() as c:                 # an allowed sender hears the truth
        c.cmd("MAIL FROM:<sales@vendor.example>", 250)
        c.cmd("RCPT TO:<nobody-here@acme.test>", 550)
    tok2 = token()
    r = send(srv, "sales@vendor.example", ["alice@acme.test"], message(tok2, sender="sales@vendor.example"))
    assert r.code == 250, r.raw
    txn = sink.wait_for(tok2)[0]
    assert "POLICY_ALLOW" in symbols(txn), txn.header("X-Mailward-Symbols")
    assert txn.header("X-Mailward-Spam") is None, txn.header("X-Mailward-Score")
    # The verdict still says what would have happened without the entry.
    allow = logged_symbols(srv, txn.header("X-Mailward-Ref"))["POLICY_ALLOW"]
    assert "directory harvest" in allow["reason"], allow


def test_harvest_refusal_is_held_back_by_the_tarpit(make_server, sink):
    """[reputation] harvest_delay: each harvest refusal waits before it is
    sent, nothing more is read meanwhile, and the session goes on after."""
    srv = make_server(sink=sink, overrides={"reputation": {"harvest_min_invalid": "5",
                                                           "harvest_ratio": "50",
                                                           "harvest_delay": "0"}})
    harvest(srv)
    wait_harvest_refusal(srv)
    srv.conf["reputation"]["harvest_delay"] = "2s"
    srv.write_config()
    srv.restart()
    with srv.session() as c:
        c.cmd("MAIL FROM:<sales@vendor.example>", 250)
        t0 = time.monotonic()
        # pipelined: the second command is not read before the first
        # refusal has been sent, so both wait
        c.send(b"RCPT TO:<alice@acme.test>\r\nRSET\r\n")
        assert "directory harvest" in c.reply().text
        held = time.monotonic() - t0
        assert c.reply().code == 250
        assert held >= 1.8, held
        t1 = time.monotonic()
        c.cmd("NOOP", 250)                   # no refusal, no delay
        assert time.monotonic() - t1 < 1.0
        c.cmd("QUIT", 221)
    # an allowed sender is not refused, so not held
    srv.cli("allow", "add", "vendor.example", "--tenant", "acme", "--no-auth", "--by", "admin")
    with srv.session() as c:
        c.cmd("MAIL FROM:<sales@vendor.example>", 250)
        t0 = time.monotonic()
        c.cmd("RCPT TO:<alice@acme.test>", 250)
        assert time.monotonic() - t0 < 1.0


def test_shutdown_sends_a_held_harvest_refusal_then_421(make_server, sink):
    srv = make_server(sink=sink, overrides={"reputation": {"harvest_min_invalid": "5",
                                                           "harvest_ratio": "50",
                                                           "harvest_delay": "0"}})
    harvest(srv)
    wait_harvest_refusal(srv)                # refused for sure (the counts are in the store)
    srv.conf["reputation"]["harvest_delay"] = "30s"
    srv.write_config()
    srv.restart()
    c = srv.session()
    c.cmd("MAIL FROM:<sales@vendor.example>", 250)
    c.send(b"RCPT TO:<alice@acme.test>\r\n")
    c.assert_silent(0.5)                     # held by the tarpit
    t0 = time.monotonic()
    srv.proc.send_signal(15)
    c.expect(554, "directory harvest", timeout=10)
    c.expect(421, timeout=10)
    assert time.monotonic() - t0 < 10
    c.assert_closed(10)
    assert srv.proc.wait(20) == 0
    c.close()


# ---------------------------------------------------------------------------
# 1b: a signature block seen at a trap marks later mail from elsewhere


def test_signature_block_from_trap_marks_mail_from_another_ip(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "procurement@acme.test")
    tok = token()
    r = send(srv, "offers@containers.example", ["procurement@acme.test"],
             message(tok, sender="offers@containers.example", to="procurement@acme.test",
                     body=TEXT_TRAP + "\r\n" + SIGNATURE))
    assert r.code == 250, r.raw
    assert_not_delivered(sink, tok)

    # Another IP in another /24, another envelope domain, another text, the
    # same signature block: the block alone makes it probable spam.
    tok2 = token()
    r2 = send(srv, "quay@harbour.example", ["alice@acme.test"],
              message(tok2, sender="quay@harbour.example", body=TEXT_LATER + "\r\n" + SIGNATURE),
              source="127.0.1.2")
    assert_probable_spam(r2, "content fingerprint")
    sym = logged_symbols(srv, r2.ref())
    assert "FP_SIGNATURE_TRAP" in sym, sym
    reason = sym["FP_SIGNATURE_TRAP"]["reason"].lower()
    assert "signature block" in reason and "spam trap" in reason, reason
    assert sym["FP_SIGNATURE_TRAP"]["score"] >= 9.9, sym
    assert "FP_TEXT_TRAP" not in sym, sym                    # the texts are unrelated
    assert not any(k.startswith("REP_") and v["score"] > 0 for k, v in sym.items()), sym
    assert_not_delivered(sink, tok2)

    # The same message resent without the block is delivered.
    tok3 = token()
    r3 = send(srv, "quay@harbour.example", ["alice@acme.test"],
              message(tok3, sender="quay@harbour.example", body=TEXT_LATER), source="127.0.1.2")
    assert r3.code == 250, r3.raw
    txn = sink.wait_for(tok3)[0]
    assert not any(k.startswith("FP_") for k in symbols(txn)), txn.header("X-Mailward-Symbols")


def test_fingerprints_of_an_older_signature_version_are_ignored_after_upgrade(make_server, sink):
    """An upgrade that changes FP_SIG_VERSION (docs/fingerprint.md): rows the
    old version wrote stay in the store but are never compared; the server
    starts, says how many it ignored, and mail flows; new evidence makes new
    rows that match again."""
    import sqlite3
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "procurement@acme.test")

    def trap_hit():
        tok = token()
        r = send(srv, "offers@containers.example", ["procurement@acme.test"],
                 message(tok, sender="offers@containers.example", to="procurement@acme.test",
                         body=TEXT_TRAP + "\r\n" + SIGNATURE))
        assert r.code == 250, r.raw

    def later():
        tok = token()
        r = send(srv, "quay@harbour.example", ["alice@acme.test"],
                 message(tok, sender="quay@harbour.example", body=TEXT_LATER + "\r\n" + SIGNATURE),
                 source="127.0.1.2")
        return tok, r

    trap_hit()
    fps = cli_rows(srv, "fingerprint", "list")
    assert {f["kind"] for f in fps} >= {"text", "signature"} and not any(f["stale"] for f in fps), fps
    version = fps[0]["version"]
    srv.stop()
    # What the previous version left: the same rows under the old version byte.
    db = sqlite3.connect(os.path.join(srv.data_dir, "mailward.db"))
    with db:
        db.execute("UPDATE fp SET sig = CAST(? AS BLOB) || substr(sig, 2)", (bytes([version - 1]),))
    db.close()
    srv.start()
    assert re.search(r"fingerprint stale-rows count=%d new=%d" % (len(fps), len(fps)),
                     srv.stderr_text()), srv.stderr_tail()

    # Not compared: the same signature block is no evidence now, the mail is delivered.
    tok, r = later()
    assert r.code == 250, r.raw
    txn = sink.wait_for(tok)[0]
    assert not any(k.startswith("FP_") for k in symbols(txn)), txn.header("X-Mailward-Symbols")
    # Not lost: the rows are still listed, flagged.
    old = cli_rows(srv, "fingerprint", "list")
    assert [(f["id"], f["stale"], f["version"]) for f in old] == \
        [(f["id"], True, version - 1) for f in fps], old
    out = srv.cli("fingerprint", "list").out
    assert "[stale: version %d]" % (version - 1) in out and "%d of them stale" % len(fps) in out, out

    # New evidence starts new rows, and they match.
    trap_hit()
    tok2, r2 = later()
    assert_probable_spam(r2, "content fingerprint")
    assert "FP_SIGNATURE_TRAP" in logged_symbols(srv, r2.ref())
    assert_not_delivered(sink, tok2)


# R7's second form: with no "-- " line and nothing signature-like, the
# closing paragraph a sender repeats is its signature block.

# A disclaimer: long lines, no phone number, address, link, company or
# closing word - nothing the signature heuristic reads (docs/content.md).
DISCLAIMER = ("This message and anything attached to it are confidential and meant "
              "only for the people\r\nit is addressed to. If it reached you by mistake, "
              "please delete it and let the sender\r\nknow; copying or passing it on "
              "is not allowed, and neither is acting on it.\r\n")
TEXTS_QUAY = [
    "The north quay cranes will be inspected on Thursday morning, so the morning "
    "shift starts an hour later and the lorries queue at the east gate instead of "
    "the usual lane beside the warehouse.\r\n",
    "Please find the revised berth allocation for next week below; the bulk carrier "
    "moves to berth four on Tuesday and the ferry keeps its slot, weather and tides "
    "permitting as always this time of year.\r\n",
]


def quay_mail(tok, text, envelope="quay@harbour.example", source=None, srv=None, rcpt="alice@acme.test"):
    body = text + "\r\n" + DISCLAIMER
    data = (f"From: Quay Office <quay@harbour.example>\r\nTo: <{rcpt}>\r\nSubject: {tok}\r\n"
            f"Message-ID: <{tok}@harbour.example>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
            f"\r\n{body}").encode()
    return send(srv, envelope, [rcpt], data, source=source)


def test_repeated_closing_paragraph_is_the_signature_block(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "procurement@acme.test")

    # One ordinary message, then one to the trap, end with the disclaimer:
    # twice is not yet a signature block, the trap hit leaves no signature row.
    tok = token()
    assert quay_mail(tok, TEXTS_QUAY[0], srv=srv).code == 250
    sink.wait_for(tok)
    r = quay_mail(token(), TEXT_TRAP, srv=srv, rcpt="procurement@acme.test")
    assert r.code == 250, r.raw
    kinds = {f["kind"] for f in cli_rows(srv, "fingerprint", "list")}
    assert "text" in kinds and "signature" not in kinds, kinds
    # A resend of the first text counts once: still no signature row.
    r = quay_mail(token(), TEXTS_QUAY[0], srv=srv, rcpt="procurement@acme.test")
    assert r.code == 250, r.raw
    kinds = {f["kind"] for f in cli_rows(srv, "fingerprint", "list")}
    assert "signature" not in kinds, kinds

    # The third distinct message ending with it: now the block is the
    # sender's signature, and the trap hit records it - the excerpt people
    # see is the disclaimer.
    r = quay_mail(token(), TEXT_FORWARDED, srv=srv, rcpt="procurement@acme.test")
    assert r.code == 250, r.raw
    sigs = [f for f in cli_rows(srv, "fingerprint", "list") if f["kind"] == "signature"]
    assert [f["excerpt"].split()[:4] for f in sigs] == [["This", "message", "and", "anything"]], sigs

    # The same From through another envelope sender (an ESP's bounce
    # address) and another /24, another text: the block alone rejects it.
    tok = token()
    r = quay_mail(tok, TEXTS_QUAY[1], envelope="b-7731@esp.example", source="127.0.1.2", srv=srv)
    assert_probable_spam(r, "content fingerprint")
    sym = logged_symbols(srv, r.ref())
    assert "FP_SIGNATURE_TRAP" in sym, sym
    assert "signature block" in sym["FP_SIGNATURE_TRAP"]["reason"], sym
    assert not any(k.startswith("FP_TEXT") for k in sym), sym
    assert not any(k.startswith("REP_") and v["score"] > 0 for k, v in sym.items()), sym
    assert_not_delivered(sink, tok)

    # Another sender with the same disclaimer, on its first message: the
    # paragraph is not its signature block (yet), and it is delivered.
    tok = token()
    data = (f"From: <clerk@harbour.example>\r\nTo: <alice@acme.test>\r\nSubject: {tok}\r\n"
            f"Message-ID: <{tok}@harbour.example>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
            f"\r\n{TEXT_OTHER}\r\n{DISCLAIMER}").encode()
    r = send(srv, "clerk@harbour.example", ["alice@acme.test"], data, source="127.0.1.3")
    assert r.code == 250, r.raw
    assert not any(k.startswith("FP_") for k in symbols(sink.wait_for(tok)[0]))


def test_benign_disclaimer_from_a_sample_message_is_never_held_against_its_senders(make_server, sink):
    """A tenant's sample message whose footer is a disclaimer without "-- ":
    the disclaimer is marked benign, so once it is a sender's repeated
    signature block a trap hit does not count against it."""
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "procurement@acme.test")
    sample = os.path.join(srv.workdir, "sample.eml")
    with open(sample, "w") as fh:
        fh.write(("From: Quay Office <quay@harbour.example>\r\nSubject: sample\r\n\r\n" +
                  TEXTS_QUAY[1] + "\r\n" + DISCLAIMER).replace("\r\n", "\n"))
    out = srv.cli("fingerprint", "benign", sample, "--tenant", "beta").out
    assert "signature block and text" in out, out
    sigs = [f for f in cli_rows(srv, "fingerprint", "list") if f["kind"] == "signature"]
    assert [(f["benign"], f["excerpt"].split()[:2]) for f in sigs] == [("beta", ["This", "message"])], sigs

    # Three messages to the trap end with it: the third has it as its
    # signature block, and the benign row takes no count.
    for text in (TEXT_TRAP, TEXT_FORWARDED, TEXTS_QUAY[0]):
        assert quay_mail(token(), text, srv=srv, rcpt="procurement@acme.test").code == 250
    sigs = [f for f in cli_rows(srv, "fingerprint", "list") if f["kind"] == "signature"]
    assert len(sigs) == 1 and sigs[0]["counters"]["traps"] == 0, sigs
    tok = token()
    r = quay_mail(tok, TEXT_OTHER, envelope="b-7731@esp.example", source="127.0.1.2", srv=srv)
    assert r.code == 250, r.raw
    assert not any(k.startswith("FP_SIGNATURE") for k in symbols(sink.wait_for(tok)[0]))


# ---------------------------------------------------------------------------
# 1c: complaints


def test_complaints_raise_score_until_probable_spam(make_server, sink):
    srv = make_server(sink=sink)
    sender = "news@bulk.example"
    scores = []
    refs = []
    for i in range(4):
        tok = token()
        r = send(srv, sender, ["alice@acme.test"],
                 message(tok, sender=sender, body=f"Issue {i + 1} of our newsletter is out.\r\n"))
        assert r.code == 250, f"message {i + 1}: {r.raw}"
        txn = sink.wait_for(tok)[0]
        assert txn.header("X-Mailward-Ref") == r.ref()
        scores.append(score(txn))
        if i > 0:
            assert "REP_COMPLAINTS" in symbols(txn), (i, txn.header("X-Mailward-Symbols"))
        p = import_complaint(srv, arf(txn.data, note=tok))
        assert p.returncode == 0, p.err
        doc = json.loads(p.out)
        assert not is_duplicate(doc), doc
        assert r.ref() in p.out, doc                       # matched by our ref id
        refs.append(r.ref())
    assert scores[1] < scores[2] < scores[3], scores

    tok = token()
    r = send(srv, sender, ["alice@acme.test"], message(tok, sender=sender, body="Issue 5 is out.\r\n"))
    assert_probable_spam(r, "sender reputation")
    assert_not_delivered(sink, tok)
    sym = logged_symbols(srv, r.ref())
    assert sym["REP_COMPLAINTS"]["score"] >= 10, sym
    assert "complaint" in sym["REP_COMPLAINTS"]["reason"].lower(), sym
    # The complaints are listed with the transactions they matched.
    listed = json.dumps(cli_rows(srv, "complaint", "list"))
    assert all(ref in listed for ref in refs), listed


def test_complaint_counted_once_and_malformed_kept(make_server, sink):
    srv = make_server(sink=sink)
    sender = "promo@once.example"
    tok = token()
    assert send(srv, sender, ["alice@acme.test", "bob@acme.test"],
                message(tok, sender=sender, body="A promotion.\r\n")).code == 250
    original = sink.wait_for(tok)[0].data
    report = arf(original, rcpt="alice@acme.test", note="alice")
    p1 = import_complaint(srv, report)
    assert p1.returncode == 0 and not is_duplicate(json.loads(p1.out)), p1.out
    p2 = import_complaint(srv, report)                      # the same report again
    assert p2.returncode in (0, 1), p2.err
    assert is_duplicate(json.loads(p2.out)), p2.out

    tok2 = token()
    assert send(srv, sender, ["alice@acme.test"], message(tok2, sender=sender)).code == 250
    once = symbols(sink.wait_for(tok2)[0]).get("REP_COMPLAINTS")
    assert once is not None and 2.5 <= once <= 3.5, once       # one complaint, not two

    # Bob's complaint about the same message is another complaint.
    p3 = import_complaint(srv, arf(original, rcpt="bob@acme.test", note="bob"))
    assert p3.returncode == 0 and not is_duplicate(json.loads(p3.out)), p3.out
    tok3 = token()
    assert send(srv, sender, ["alice@acme.test"], message(tok3, sender=sender)).code == 250
    twice = symbols(sink.wait_for(tok3)[0]).get("REP_COMPLAINTS")
    assert twice is not None and twice > once + 2, (once, twice)

    # Malformed reports are kept and listed, and crash nothing.
    before = len(cli_rows(srv, "complaint", "list"))
    b = "x" + uuid.uuid4().hex[:8]
    for bad in (b"Subject: you people keep spamming me\r\n\r\nStop it.\r\n",
                (f"Content-Type: multipart/report; report-type=feedback-report; boundary=\"{b}\"\r\n\r\n"
                 f"--{b}\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: \r\n"
                 f"Version: 7\r\n\r\n--{b}\r\nContent-Type: message/rfc822\r\n\r\n"
                 f"X-Mailward-Ref: nonsense\r\n").encode()):
        p = import_complaint(srv, bad)
        assert p.returncode >= 0 and p.returncode != 3, (p.returncode, p.err)
    after = cli_rows(srv, "complaint", "list")
    assert len(after) == before + 2, (before, after)
    assert srv.running()
    text = srv.cli("complaint", "list").out
    assert text.strip(), "complaint list prints nothing"


def test_complaint_intake_by_smtp(make_server, sink):
    srv = make_server(sink=sink, overrides={"complaint": {"address": "fbl@acme.test"}})
    sender = "news@smtpfbl.example"
    tok = token()
    r = send(srv, sender, ["alice@acme.test"], message(tok, sender=sender, body=TEXT_OTHER))
    assert r.code == 250, r.raw
    original = sink.wait_for(tok)[0].data

    # The feedback loop's report arrives from the provider's own host.
    note = token()
    rep = send(srv, "fbl@provider.example", ["fbl@acme.test"], arf(original, note=note),
               source="127.0.7.7")
    assert rep.code == 250, rep.raw
    assert_not_delivered(sink, note)                        # never delivered

    def matched():
        listed = cli_rows(srv, "complaint", "list")
        return [c for c in listed if r.ref() in json.dumps(c)]
    row = mwtest.wait_until(matched, 10, interval=0.2, what="the complaint listed and matched")[0]
    assert "smtp" in json.dumps(row), row

    tok2 = token()
    assert send(srv, sender, ["alice@acme.test"], message(tok2, sender=sender)).code == 250
    assert "REP_COMPLAINTS" in symbols(sink.wait_for(tok2)[0])
    # The provider's host is not blamed for reporting.
    tok3 = token()
    assert send(srv, "fbl@provider.example", ["alice@acme.test"],
                message(tok3, sender="fbl@provider.example"), source="127.0.7.7").code == 250
    assert not any(k.startswith("REP_") and v > 0 for k, v in symbols(sink.wait_for(tok3)[0]).items())
    # The complaint also counts against the original's text: the same text
    # from elsewhere carries it (3 points: evidence, not a verdict).
    tok4 = token()
    assert send(srv, "other@elsewhere.example", ["alice@acme.test"],
                message(tok4, sender="other@elsewhere.example", body=TEXT_OTHER),
                source="127.0.3.3").code == 250
    assert 2.5 <= symbols(sink.wait_for(tok4)[0]).get("FP_TEXT_COMPLAINT", 0) <= 3.5


# ---------------------------------------------------------------------------
# 1d: replies


def test_reply_from_fingerprinted_sender_delivered_fresh_mail_not(make_server, sink):
    srv = make_server(sink=sink)
    sent_acme = f"{uuid.uuid4().hex}@acme.test"
    sent_acme2 = f"{uuid.uuid4().hex}@acme.test"
    sent_beta = f"{uuid.uuid4().hex}@beta.test"
    srv.cli("outbound", "record", f"<{sent_acme}>", "--tenant", "acme")
    srv.cli("outbound", "record", sent_acme2, "--tenant", "acme")      # without <>
    srv.cli("outbound", "record", f"<{sent_beta}>", "--tenant", "beta")
    srv.cli("trap", "add", "trap@acme.test")
    sender = "sales@tainted.example"
    # The sender becomes fingerprinted: a trap hit (a short text, no block).
    r = send(srv, sender, ["trap@acme.test"], message(token(), sender=sender, to="trap@acme.test",
                                                      body="Great offer.\r\n"))
    assert r.code == 250, r.raw
    body = "Thanks, the quote looks fine, please go ahead.\r\n"

    tok = token()
    r = send(srv, sender, ["alice@acme.test"],
             message(tok, sender=sender, body=body, extra_headers=f"In-Reply-To: <{sent_acme}>\r\n"))
    assert r.code == 250, r.raw
    txn = sink.wait_for(tok)[0]
    assert "REPLY_TO_TENANT" in symbols(txn), txn.header("X-Mailward-Symbols")
    reply = logged_symbols(srv, r.ref())["REPLY_TO_TENANT"]
    assert reply["score"] <= -9.9 and sent_acme in reply["reason"], reply

    # References holding the Message-ID among others is a reply too.
    tok2 = token()
    refs = f"References: <older@elsewhere.example>\r\n <{sent_acme2}>\r\n"
    r = send(srv, sender, ["alice@acme.test"], message(tok2, sender=sender, body=body, extra_headers=refs))
    assert r.code == 250, r.raw
    assert "REPLY_TO_TENANT" in symbols(sink.wait_for(tok2)[0])

    # The same content as a fresh message is not delivered.
    tok3 = token()
    r = send(srv, sender, ["alice@acme.test"], message(tok3, sender=sender, body=body))
    assert_probable_spam(r, "sender reputation")
    # Nor is a "reply" to what another tenant sent.
    tok4 = token()
    r = send(srv, sender, ["alice@acme.test"],
             message(tok4, sender=sender, body=body, extra_headers=f"In-Reply-To: <{sent_beta}>\r\n"))
    assert_probable_spam(r, "sender reputation")
    assert "REPLY_TO_TENANT" not in logged_symbols(srv, r.ref())
    # A reply does not excuse its content.
    tok5 = token()
    r = send(srv, sender, ["alice@acme.test"],
             message(tok5, sender=sender, body="Re: " + GTUBE + "\r\n",
                     extra_headers=f"In-Reply-To: <{sent_acme}>\r\n"))
    assert_probable_spam(r, "content")
    for t in (tok3, tok4, tok5):
        assert sink.find(t) == []


def test_reply_trusted_only_from_where_the_original_went(make_server, sink):
    """A Message-ID is no secret: when the tenant recorded the recipients,
    a "reply" from another domain gets no reply trust, and says why."""
    srv = make_server(sink=sink)
    sent = f"{uuid.uuid4().hex}@acme.test"
    out = srv.cli("outbound", "record", f"<{sent}>", "--tenant", "acme",
                  "--to", "buyer@Partner.Example, cc@mail.partner.example").out
    assert "recorded, sent to partner.example" in out, out
    srv.cli("trap", "add", "trap@acme.test")
    for sender in ("orders@partner.example", "sales@stranger.example"):
        r = send(srv, sender, ["trap@acme.test"], message(token(), sender=sender, to="trap@acme.test",
                                                          body="Great offer.\r\n"))
        assert r.code == 250, r.raw
    body = "Thanks, the quote looks fine, please go ahead.\r\n"
    irt = f"In-Reply-To: <{sent}>\r\n"
    # From the domain the original went to: trusted, delivered.
    tok = token()
    r = send(srv, "orders@partner.example", ["alice@acme.test"],
             message(tok, sender="orders@partner.example", body=body, extra_headers=irt))
    assert r.code == 250, r.raw
    assert "REPLY_TO_TENANT" in symbols(sink.wait_for(tok)[0])
    # The same Message-ID quoted by a stranger: no trust, the log says why.
    r = send(srv, "sales@stranger.example", ["alice@acme.test"],
             message(token(), sender="sales@stranger.example", body=body, extra_headers=irt))
    assert_probable_spam(r, "sender reputation")
    syms = logged_symbols(srv, r.ref())
    assert "REPLY_TO_TENANT" not in syms
    why = syms["REPLY_FROM_ELSEWHERE"]
    assert why["score"] == 0 and "sent to partner.example" in why["reason"] \
        and "stranger.example" in why["reason"], why
    # Recording again adds recipients, and a bad address is refused.
    out = srv.cli("outbound", "record", sent, "--tenant", "acme", "--to", "x@stranger.example").out
    assert "known, sent to stranger.example (1 new)" in out, out
    p = srv.cli("outbound", "record", sent, "--tenant", "acme", "--to", "nobody", check=False)
    assert p.returncode == 2 and "bad --to address" in p.err, (p.returncode, p.err)


# ---------------------------------------------------------------------------
# forwards


def test_forwarded_trap_hit_not_blamed_on_forwarder(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "trap@acme.test")
    # A forwarder (Resent-* headers) relays a message with a signature block to a trap.
    fwd = "list@forwarder.example"
    resent = ("Resent-From: <list@forwarder.example>\r\nResent-To: <trap@acme.test>\r\n"
              "Resent-Date: Sat, 28 Nov 2026 09:00:00 +0000\r\n")
    tok = token()
    r = send(srv, fwd, ["trap@acme.test"],
             message(tok, sender="orig@spammer.example", to="someone@forwarder.example",
                     body=TEXT_TRAP + "\r\n" + SIGNATURE, extra_headers=resent),
             source="127.0.1.2")
    assert r.code == 250, r.raw
    # A second forwarder, with an SRS envelope sender.
    srs = "SRS0=Hk3a=TT=spammer.example=orig@forwarder2.example"
    tok_s = token()
    r_s = send(srv, srs, ["trap@acme.test"],
               message(tok_s, sender="orig@spammer.example", to="user@forwarder2.example",
                       body="Cheap containers.\r\n"),
               source="127.0.2.2")
    assert r_s.code == 250, r_s.raw
    assert_not_delivered(sink, tok)
    assert sink.find(tok_s) == []
    # Counted as messages of the forwarders; the claimed forward (headers
    # anyone can write, not yet verifiable) counts a third of a hit: no points.
    for ip in ("127.0.1.2", "127.0.2.2"):
        row = identity(srv, ip, "ip:" + ip)
        assert 0.32 < row["counters"]["traps"] <= 0.34 and row["points"]["traps"] == 0, row
        assert row["state"] != "fingerprinted", row

    # The forwarders' own next mail is not held against them.
    tok2 = token()
    r2 = send(srv, fwd, ["alice@acme.test"], message(tok2, sender=fwd, body=TEXT_OTHER), source="127.0.1.2")
    assert r2.code == 250, r2.raw
    sym = symbols(sink.wait_for(tok2)[0])
    assert "REP_TRAP_HITS" not in sym or sym["REP_TRAP_HITS"] <= 0, sym
    # ... nor what they forward: FORWARDED, explained, 0 points.
    tok3 = token()
    r3 = send(srv, srs, ["alice@acme.test"],
              message(tok3, sender="friend@elsewhere.example", body="Lunch on Friday?\r\n"),
              source="127.0.2.2")
    assert r3.code == 250, r3.raw
    sym = symbols(sink.wait_for(tok3)[0])
    assert sym.get("FORWARDED") == 0, sym
    assert "REP_TRAP_HITS" not in sym or sym["REP_TRAP_HITS"] <= 0, sym
    assert logged_symbols(srv, r3.ref())["FORWARDED"]["reason"]
    tok4 = token()
    r4 = send(srv, fwd, ["alice@acme.test"],
              message(tok4, sender="friend@elsewhere.example", body="See you at the club.\r\n",
                      extra_headers=resent.replace("trap@acme.test", "alice@acme.test")),
              source="127.0.1.2")
    assert r4.code == 250, r4.raw
    assert "FORWARDED" in symbols(sink.wait_for(tok4)[0])

    # The forwarded trap hit still counts against the message's fingerprints.
    tok5 = token()
    r5 = send(srv, "quay@harbour.example", ["alice@acme.test"],
              message(tok5, sender="quay@harbour.example", body=TEXT_FORWARDED + "\r\n" + SIGNATURE),
              source="127.0.3.3")
    assert_probable_spam(r5, "content fingerprint")
    assert "FP_SIGNATURE_TRAP" in logged_symbols(srv, r5.ref())


# ---------------------------------------------------------------------------
# reset, benign blocks, complaints without our ref


def test_reset_clears_ip_network_and_pairs_but_keeps_the_record(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "trap@acme.test")
    r = send(srv, "offers@shady.example", ["trap@acme.test"],
             message(token(), sender="offers@shady.example", to="trap@acme.test", body="Cheap.\r\n"))
    trap_ref = r.ref()
    assert identity(srv, "127.0.0.1", "pair:shady.example/127.0.0.0/24")["state"] == "fingerprinted"

    p = srv.cli("reputation", "reset", "127.0.0.1", "--by", "support", "--reason", "ticket 4711")
    for key in ("ip:127.0.0.1", "net:127.0.0.0/24", "pair:shady.example/127.0.0.0/24"):
        assert key in p.out, p.out
    doc = json.loads(srv.cli("reputation", "show", "127.0.0.1", "--json").out)
    assert all(i["points"]["total"] <= 0 and i["state"] != "fingerprinted" for i in doc["identities"]), doc
    assert any(e["kind"] == "reset" and "ticket 4711" in e["detail"] for e in doc["events"]), doc["events"]
    # What happened stays on record.
    assert any(trap_ref in json.dumps(h) for h in cli_rows(srv, "trap", "hits"))
    audit = json.loads(srv.cli("audit", "--json").out)["audit"]
    assert any(a["action"] == "reputation reset" and a["by"] == "support" for a in audit), audit

    # The next message from the IP (and its domain), and from its network, is judged afresh.
    for src, sender in (("127.0.0.1", "offers@shady.example"), ("127.0.0.3", "hello@next.example")):
        tok = token()
        r = send(srv, sender, ["alice@acme.test"],
                 message(tok, sender=sender, body="A note after the reset.\r\n"), source=src)
        assert r.code == 250, (src, r.raw)
        assert not any(k.startswith("REP_") for k in symbols(sink.wait_for(tok)[0])), src


def test_benign_signature_block_is_not_held_against_anyone(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "procurement@acme.test")
    r = send(srv, "staff@quennell.example", ["procurement@acme.test"],
             message(token(), sender="staff@quennell.example", to="procurement@acme.test",
                     body=TEXT_TRAP + "\r\n" + SIGNATURE))
    assert r.code == 250, r.raw
    # The block is a tenant's own corporate footer: it marks it benign.
    sample = os.path.join(srv.workdir, "footer.txt")
    with open(sample, "w") as fh:
        fh.write(SIGNATURE.split("\r\n", 1)[1].replace("\r\n", "\n"))
    srv.cli("fingerprint", "benign", sample, "--tenant", "beta", "--by", "postmaster@beta.test")
    fps = cli_rows(srv, "fingerprint", "list")
    assert any(f["kind"] == "signature" and f["benign"] == "beta" for f in fps), fps

    tok = token()
    r = send(srv, "colleague@quennell.example", ["alice@acme.test"],
             message(tok, sender="colleague@quennell.example", body=TEXT_LATER + "\r\n" + SIGNATURE),
             source="127.0.1.2")
    assert r.code == 250, r.raw
    assert not any(k.startswith("FP_SIGNATURE") for k in symbols(sink.wait_for(tok)[0]))


def test_complaint_matched_by_message_id_from_headers_only(make_server, sink):
    """An FBL that sends only the original's headers, without our ref id:
    matched by its Message-ID in the message log."""
    srv = make_server(sink=sink)
    sender = "news@headers.example"
    tok = token()
    r = send(srv, sender, ["alice@acme.test"], message(tok, sender=sender, body="Deals.\r\n"))
    assert r.code == 250, r.raw
    sink.wait_for(tok)
    b = "rh-" + uuid.uuid4().hex[:8]
    report = (f"From: <fbl@provider.example>\r\nSubject: complaint\r\nMIME-Version: 1.0\r\n"
              f"Content-Type: multipart/report; report-type=feedback-report; boundary=\"{b}\"\r\n\r\n"
              f"--{b}\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n\r\n"
              f"--{b}\r\nContent-Type: message/feedback-report\r\n\r\n"
              f"Feedback-Type: abuse\r\nUser-Agent: test/1.0\r\nVersion: 1\r\n\r\n"
              f"--{b}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
              f"From: <{sender}>\r\nTo: <alice@acme.test>\r\nSubject: {tok}\r\n"
              f"Message-ID: <{tok}@test.example>\r\n\r\n--{b}--\r\n").encode()
    p = import_complaint(srv, report)
    assert p.returncode == 0, p.err
    rep = rows(json.loads(p.out))[0]
    assert rep["match"] == "message-id" and rep["matched_ref"] == r.ref(), rep
    assert rep["counted"] and rep["client_ip"] == "127.0.0.1", rep
    tok2 = token()
    assert send(srv, sender, ["alice@acme.test"], message(tok2, sender=sender)).code == 250
    assert "REP_COMPLAINTS" in symbols(sink.wait_for(tok2)[0])


def test_quarantine_tenant_holds_what_reputation_would_reject(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "action=quarantine")
    srv.cli("trap", "add", "trap@acme.test")
    assert send(srv, "offers@shady.example", ["trap@acme.test"],
                message(token(), sender="offers@shady.example", to="trap@acme.test")).code == 250
    tok = token()
    r = send(srv, "offers@shady.example", ["alice@acme.test"],
             message(tok, sender="offers@shady.example", body="Next one.\r\n"))
    assert r.code == 250, r.raw                     # the sender is not told

    def held():
        out = json.loads(srv.cli("quarantine", "list", "--json").out)["quarantine"]
        return [q for q in out if q["subject"] == tok]
    row = mwtest.wait_until(held, 15, interval=0.2, what="the message held")[0]
    assert row["class"] == "probable-spam" and row["ref"] == r.ref(), row
    shown = json.loads(srv.cli("quarantine", "show", str(row["id"]), "--json").out)
    assert any(x["name"] == "REP_TRAP_HITS" for x in shown["symbols"]), shown
    assert_not_delivered(sink, tok)


# ---------------------------------------------------------------------------
# abuse cases (the review of issue 4): forged and repeated complaints,
# forward claims as a way out of trap listings, a big sender's one recycled
# trap, traps on real mailboxes


def headers_only_report(message_id, user_agent="x/1", incidents=None,
                        reporter="anyone@attacker.example"):
    """An ARF report whose original is a text/rfc822-headers part holding
    nothing but a Message-ID - what anyone can write about a public
    newsletter (no X-Mailward-Ref)."""
    b = "ho-" + uuid.uuid4().hex[:8]
    inc = f"Incidents: {incidents}\r\n" if incidents is not None else ""
    return (f"From: <{reporter}>\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=feedback-report; boundary=\"{b}\"\r\n\r\n"
            f"--{b}\r\nContent-Type: message/feedback-report\r\n\r\n"
            f"Feedback-Type: abuse\r\nUser-Agent: {user_agent}\r\nVersion: 1\r\n{inc}\r\n"
            f"--{b}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"Message-ID: <{message_id}>\r\n\r\n--{b}--\r\n").encode()


def import_report(srv, data):
    """complaint import --json of one report: its row."""
    p = import_complaint(srv, data)
    assert p.returncode == 0, (p.returncode, p.err)
    return rows(json.loads(p.out))[0]


def import_text(srv, data):
    """complaint import of one report, as people read it."""
    path = os.path.join(srv.workdir, f"arf-{uuid.uuid4().hex[:8]}.eml")
    with open(path, "wb") as fh:
        fh.write(data)
    p = srv.cli("complaint", "import", path, check=False)
    assert p.returncode == 0, (p.returncode, p.err)
    return p.out


def test_forged_message_id_report_cannot_get_a_newsletter_rejected(make_server, sink):
    """ev3: one report from an arbitrary IP, naming only the public
    Message-ID of a victim's newsletter and claiming Incidents: 10, counts
    half a complaint; reports about one original never count more than its
    recipients here."""
    srv = make_server(sink=sink, overrides={"complaint": {"address": "fbl@acme.test"}})
    victim, mid = "news@victim.example", f"weekly-{uuid.uuid4().hex[:8]}@victim.example"
    data = (f"From: <{victim}>\r\nTo: <list@victim.example>\r\nSubject: Weekly digest\r\n"
            f"Message-ID: <{mid}>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"This week's digest.\r\n").encode()
    r = send(srv, victim, ["alice@acme.test", "bob@acme.test"], data, source="127.0.1.2")
    assert r.code == 250, r.raw
    assert len(sink.wait_for(mid)[0].rcpts) == 2

    # The attacker's one report, by SMTP from a host of its own.
    rep = send(srv, "anyone@attacker.example", ["fbl@acme.test"],
               headers_only_report(mid, incidents=10), source="127.0.9.9")
    assert rep.code == 250, rep.raw

    def matched():
        return [c for c in cli_rows(srv, "complaint", "list") if c["matched_ref"] == r.ref()]
    row = mwtest.wait_until(matched, 10, interval=0.2, what="the report matched")[0]
    assert row["match"] == "message-id" and row["client_ip"] == "127.0.1.2", row
    # Half a complaint, whatever Incidents says - for every identity.
    for key in ("ip:127.0.1.2", "net:127.0.1.0/24", "pair:victim.example/127.0.1.0/24"):
        c = identity(srv, "127.0.1.2", key)["counters"]["complaints"]
        assert 0.4 < c <= 0.5, (key, c)
    assert identity(srv, "127.0.9.9", "ip:127.0.9.9")["counters"]["complaints"] == 0

    # The victim's next newsletter is delivered.
    tok = token()
    r2 = send(srv, victim, ["alice@acme.test"],
              message(tok, sender=victim, body="Next week's digest.\r\n"), source="127.0.1.2")
    assert r2.code == 250, r2.raw
    assert symbols(sink.wait_for(tok)[0]).get("REP_COMPLAINTS", 0) <= 1.5

    # More forged reports (another User-Agent each, so not duplicates):
    # one Message-ID-only report per original counts, the rest are capped.
    for ua in ("x/2", "x/3", "x/4", "x/5"):
        more = import_report(srv, headers_only_report(mid, user_agent=ua, incidents=10))
        assert more["match"] == "message-id" and more["matched_ref"] == r.ref(), more
        assert more["stored"] and not more["duplicate"], more
        assert more["capped"] and not more["counted"], more
    text = import_text(srv, headers_only_report(mid, user_agent="x/6"))
    assert "by message-id: ref " + r.ref() in text, text
    assert "capped: a report matched only by this Message-ID counted already" in text, text
    # All stored and listed with the original they are about.
    assert len([c for c in cli_rows(srv, "complaint", "list") if c["matched_ref"] == r.ref()]) == 6
    c = identity(srv, "127.0.1.2", "ip:127.0.1.2")["counters"]["complaints"]
    assert 0.4 < c <= 0.5, c
    tok2 = token()
    r3 = send(srv, victim, ["alice@acme.test"],
              message(tok2, sender=victim, body="The digest after that.\r\n"), source="127.0.1.2")
    assert r3.code == 250, r3.raw
    assert symbols(sink.wait_for(tok2)[0]).get("REP_COMPLAINTS", 0) <= 1.5


def test_forged_message_id_reports_up_to_the_recipient_count_stay_half(make_server, sink):
    """A newsletter to eight users here: eight forged reports naming its
    Message-ID (each another User-Agent) would have been eight complaints
    under a per-recipient cap alone. One counts, half; the sender's next
    newsletter is delivered. A real recipient's report (with our ref id)
    still counts in full: the forged ones did not use up the cap."""
    srv = make_server(sink=sink)
    victim, mid = "news@victim2.example", f"weekly-{uuid.uuid4().hex[:8]}@victim2.example"
    users = [f"u{i}@catchall.test" for i in range(8)]
    data = (f"From: <{victim}>\r\nTo: <list@victim2.example>\r\nSubject: Weekly digest\r\n"
            f"Message-ID: <{mid}>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"This week's digest.\r\n").encode()
    r = send(srv, victim, users, data, source="127.0.1.2")
    assert r.code == 250, r.raw
    delivered = sink.wait_for(mid)[0]
    assert len(delivered.rcpts) == 8
    counted = []
    for i in range(8):
        row = import_report(srv, headers_only_report(mid, user_agent=f"forger/{i}", incidents=10))
        assert row["match"] == "message-id" and row["matched_ref"] == r.ref(), row
        counted.append(row["counted"])
    assert counted == [True] + [False] * 7, counted
    c = identity(srv, "127.0.1.2", "ip:127.0.1.2")["counters"]["complaints"]
    assert 0.4 < c <= 0.5, c
    tok = token()
    r2 = send(srv, victim, ["u0@catchall.test"],
              message(tok, sender=victim, to="u0@catchall.test", body="Next digest.\r\n"),
              source="127.0.1.2")
    assert r2.code == 250, r2.raw
    assert symbols(sink.wait_for(tok)[0]).get("REP_COMPLAINTS", 0) <= 1.5

    genuine = import_report(srv, arf(delivered.data, rcpt="u3@catchall.test"))
    assert genuine["match"] == "ref" and genuine["counted"] and not genuine["capped"], genuine
    c = identity(srv, "127.0.1.2", "ip:127.0.1.2")["counters"]["complaints"]
    assert 1.4 < c <= 1.5, c


def test_reports_differing_only_in_user_agent_count_once(make_server, sink):
    """ev4: four reports about one message to one recipient, differing only
    in User-Agent (so none is a duplicate), count one complaint; the first
    claims Incidents: 10 and still counts one."""
    srv = make_server(sink=sink)
    sender = "news@oneuser.example"
    tok = token()
    r = send(srv, sender, ["alice@acme.test"], message(tok, sender=sender, body="Digest.\r\n"),
             source="127.0.1.2")
    assert r.code == 250, r.raw
    original = sink.wait_for(tok)[0].data
    reports = []
    for i in range(4):
        data = arf(original).replace(b"User-Agent: test/1.0\r\n",
                                     f"User-Agent: test/1.{i}\r\n".encode()
                                     + (b"Incidents: 10\r\n" if i == 0 else b""))
        reports.append(import_report(srv, data))
    for rep in reports:
        assert rep["match"] == "ref" and rep["matched_ref"] == r.ref(), rep
        assert rep["stored"] and not rep["duplicate"], rep
    assert reports[0]["counted"] and not reports[0]["capped"], reports[0]
    for rep in reports[1:]:
        assert rep["capped"] and not rep["counted"], rep
    text = import_text(srv, arf(original).replace(b"test/1.0", b"test/1.9"))
    assert "counted   no (capped" in text, text

    # Stored and listed all the same; counted once.
    assert len([c for c in cli_rows(srv, "complaint", "list") if c["matched_ref"] == r.ref()]) == 5
    ip = identity(srv, "127.0.1.2", "ip:127.0.1.2")
    assert 0.99 < ip["counters"]["complaints"] <= 1.0, ip
    show = srv.cli("reputation", "show", "127.0.1.2").out
    assert "complaints 1.0" in show, show
    tok2 = token()
    r2 = send(srv, sender, ["alice@acme.test"], message(tok2, sender=sender, body="Next.\r\n"),
              source="127.0.1.2")
    assert r2.code == 250, r2.raw
    assert 2.5 <= symbols(sink.wait_for(tok2)[0]).get("REP_COMPLAINTS", 0) <= 3.0


# Claims of a forward anyone can write (docs/reputation.md, "Replies and forwards").
FORGED_RESENT = ("Resent-From: <x@spammer.example>\r\n"
                 "Resent-Date: Sat, 28 Nov 2026 09:00:00 +0000\r\n")
FORGED_ARC = ("ARC-Seal: i=1; a=rsa-sha256; t=1795800000; cv=none; d=spammer.example;\r\n"
              " s=arc; b=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n")


def with_attached_message(subject, sender, to, body):
    """A message whose only content is an attached message/rfc822."""
    b = "fw-" + uuid.uuid4().hex[:8]
    inner = message("Fwd original " + subject, sender=sender, to=to, body=body).decode()
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@test.example>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n"
            f"--{b}\r\nContent-Type: text/plain\r\n\r\nSee the attached message.\r\n\r\n"
            f"--{b}\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--{b}--\r\n").encode()


def test_forward_claims_are_no_immunity_at_traps(make_server, sink):
    """ev5: a spammer adding Resent-* (or an ARC-Seal, or wrapping its mail
    as an attached message) to its trap mail: each hit counts a third,
    and they add up to a listing."""
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "trap@acme.test")
    spam = "bulk@spammer.example"
    r = send(srv, spam, ["trap@acme.test"],
             message(token(), sender=spam, to="trap@acme.test", body="Offer 1.\r\n",
                     extra_headers=FORGED_RESENT))
    assert r.code == 250, r.raw
    ip = identity(srv, "127.0.0.1", "ip:127.0.0.1")
    assert 0.32 < ip["counters"]["traps"] <= 0.34 and ip["points"]["traps"] == 0, ip
    assert ip["state"] != "fingerprinted", ip
    ev = [e for e in json.loads(srv.cli("reputation", "show", "127.0.0.1", "--json").out)["events"]
          if e["kind"] == "trap"]
    assert ev and all("a third of a hit" in e["detail"] for e in ev), ev
    # One claimed-forward hit does not list it.
    tok = token()
    r = send(srv, spam, ["alice@acme.test"],
             message(tok, sender=spam, body="Offer 2.\r\n", extra_headers=FORGED_RESENT))
    assert r.code == 250, r.raw
    sym = symbols(sink.wait_for(tok)[0])
    assert "FORWARDED" in sym and sym.get("REP_TRAP_HITS", 0) <= 0, sym

    # Two more hits, with the other claims.
    for data in (message(token(), sender=spam, to="trap@acme.test", body="Offer 3.\r\n",
                         extra_headers=FORGED_ARC),
                 with_attached_message(token(), spam, "trap@acme.test", "Offer 4.\r\n")):
        r = send(srv, spam, ["trap@acme.test"], data)
        assert r.code == 250, r.raw
    ip = identity(srv, "127.0.0.1", "ip:127.0.0.1")
    assert 0.98 < ip["counters"]["traps"] <= 1.0, ip
    assert ip["points"]["traps"] >= 9.9 and ip["state"] == "fingerprinted", ip
    show = srv.cli("reputation", "show", "127.0.0.1").out
    assert "(half of them in a message's score)" in show, show

    # Its next mail to a real user, forward claim and all, is refused.
    tok2 = token()
    r2 = send(srv, spam, ["alice@acme.test"],
              message(tok2, sender=spam, body="Offer 5.\r\n", extra_headers=FORGED_RESENT))
    assert_probable_spam(r2, "sender reputation")
    sym = logged_symbols(srv, r2.ref())
    assert sym["REP_TRAP_HITS"]["score"] >= 9.9 and "FORWARDED" in sym, sym
    assert_not_delivered(sink, tok2)


def test_two_claimed_forward_trap_hits_list_the_ip(make_server, sink):
    """Two claimed-forward trap hits within a half-life list the IP; one
    does not (docs/reputation.md)."""
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "trap@acme.test")
    spam = "bulk@spammer.example"
    for i in range(2):
        r = send(srv, spam, ["trap@acme.test"],
                 message(token(), sender=spam, to="trap@acme.test", body=f"Offer {i}.\r\n",
                         extra_headers=FORGED_RESENT))
        assert r.code == 250, r.raw
    time.sleep(1.1)             # the next mail comes a little later, as it would
    ip = identity(srv, "127.0.0.1", "ip:127.0.0.1")
    assert ip["state"] == "fingerprinted" and ip["points"]["traps"] >= 9.9, ip
    tok = token()
    r = send(srv, spam, ["alice@acme.test"],
             message(tok, sender=spam, body="Offer again.\r\n", extra_headers=FORGED_RESENT))
    assert_probable_spam(r, "sender reputation")
    assert_not_delivered(sink, tok)


def test_big_sender_reaching_one_recycled_trap_is_not_listed(make_server, sink):
    """A big shared sender (1500 messages to real users) whose list reached
    one recycled trap: its trap points scale down while hits are under 0.1%
    of its messages - suspect, not rejected. (Test 1e: the same one hit
    from a small sender is a rejection.)"""
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "old-list@acme.test")
    sender, n, sessions = "news@bigsender.example", 1500, 4
    failures = []

    def worker(k):
        try:
            with srv.session(source="127.0.4.4") as c:
                for i in range(k, n, sessions):
                    r = c.send_mail(sender, ["alice@acme.test"],
                                    message(f"big-{i}", sender=sender, body=f"Issue {i}.\r\n"))
                    if r.code != 250:
                        failures.append(r.raw)
                        break
                c.cmd("QUIT", 221)
        except Exception as e:          # noqa: BLE001 - reported below
            failures.append(repr(e))
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]

    r = send(srv, sender, ["old-list@acme.test"],
             message(token(), sender=sender, to="old-list@acme.test"), source="127.0.4.4")
    assert r.code == 250, r.raw
    ip = identity(srv, "127.0.4.4", "ip:127.0.4.4")
    assert ip["counters"]["msgs"] > 1500 and 0.99 < ip["counters"]["traps"] <= 1.0, ip
    assert 6.0 <= ip["points"]["traps"] <= 7.0, ip          # 10 x (1/1501) / 0.1%
    assert ip["state"] == "suspect", ip
    tok = token()
    r = send(srv, sender, ["alice@acme.test"], message(tok, sender=sender), source="127.0.4.4")
    assert r.code == 250, r.raw
    # (From the log: the sink is still taking the 1500 deliveries.)
    sym = logged_symbols(srv, r.ref())
    assert 6.0 <= sym["REP_TRAP_HITS"]["score"] <= 7.0, sym


def test_trap_add_refuses_a_mailbox_or_hosted_domain_on_a_running_server(make_server, sink):
    """ev6: a trap on a user's address (in any case) or on a hosted domain
    would black-hole its mail and list its correspondents: refused without
    --force, and the running server goes on delivering."""
    srv = make_server(sink=sink)
    for pattern, why in (("alice@acme.test", "user of tenant acme"),
                         ("Alice@ACME.test", "user of tenant acme"),
                         ("@acme.test", "hosted domain"),
                         ("@catchall.test", "hosted domain")):
        p = srv.cli("trap", "add", pattern, check=False)
        assert p.returncode == 2 and why in p.err and "--force" in p.err, (pattern, p.returncode, p.err)
    assert cli_rows(srv, "trap", "list") == []
    tok = token()
    r = send(srv, "friend@partner.example", ["alice@acme.test"],
             message(tok, sender="friend@partner.example"), source="127.0.1.2")
    assert r.code == 250, r.raw
    assert not any(k.startswith("REP_") for k in symbols(sink.wait_for(tok)[0]))
    assert identity(srv, "127.0.1.2", "ip:127.0.1.2")["counters"]["traps"] == 0

    # Retiring a hosted domain as a trap is deliberate: --force, and the
    # running server treats every address in it as a trap at once.
    p = srv.cli("trap", "add", "@catchall.test", "--force")
    assert "warning" in p.err, p.err
    tok2 = token()
    r2 = send(srv, "old@partner.example", ["anyone@catchall.test"],
              message(tok2, sender="old@partner.example", to="anyone@catchall.test"),
              source="127.0.2.2")
    assert r2.code == 250, r2.raw
    assert_not_delivered(sink, tok2)
    assert any(h["ref"] == r2.ref() for h in cli_rows(srv, "trap", "hits", "--ip", "127.0.2.2"))
    # alice@acme.test is untouched.
    tok3 = token()
    assert send(srv, "friend@partner.example", ["alice@acme.test"],
                message(tok3, sender="friend@partner.example"), source="127.0.1.2").code == 250
    sink.wait_for(tok3)
