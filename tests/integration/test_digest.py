"""The quarantine digest (issue 5, R19): a valid MIME message (plain text and
HTML) delivered to the user's maildir, listing what is held, with signed
one-click release links served by the admin listener that work once and
not after they expire.
"""
import email
import email.policy
import json
import re
import time
import urllib.error
import urllib.request

import mwtest
from mwtest import message, token

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def hold(srv, tok, rcpt="carol@beta.test"):
    with srv.session() as c:
        r = c.send_mail("promo@shop.example", [rcpt],
                        message(tok, to=rcpt, sender="promo@shop.example", body=GTUBE + "\r\n"))
        assert r.code == 250, r.raw

    def held():
        out = srv.cli("quarantine", "list", "--json").out
        return [x for x in json.loads(out)["quarantine"] if x["subject"] == tok]
    return mwtest.wait_until(held, 15, interval=0.2, what=f"{tok} held")[0]


def digests(srv, rcpt="carol@beta.test"):
    return [m for _, m in mwtest.maildir_messages(srv.maildir, rcpt) if b"X-Mailward-Digest: yes" in m]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10 * mwtest.SLOW) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def links(text):
    return re.findall(r"http://[^\s\"<>]+/release\?id=\d+&exp=\d+&sig=[0-9a-f]{64}", text)


def test_digest_mime_and_links_work_once(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "beta", "action=quarantine")
    tok = token()
    row = hold(srv, tok)
    p = srv.cli("quarantine", "digest")
    assert "1 digest sent" in p.out
    d = mwtest.wait_until(lambda: digests(srv), 15, interval=0.2, what="the digest in the maildir")[0]
    msg = email.message_from_bytes(d, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Subject"].startswith("Quarantine digest: 1 message")
    assert msg["Auto-Submitted"] == "auto-generated"
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert tok in parts["text/plain"] and "promo@shop.example" in parts["text/plain"]
    assert tok in parts["text/html"]
    url = links(parts["text/plain"])[0]
    assert links(parts["text/html"].replace("&amp;", "&"))[0] == url
    assert f"id={row['id']}&" in url
    # nothing new since: no second digest
    assert "0 digests sent" in srv.cli("quarantine", "digest").out
    # a tampered link is refused and releases nothing
    bad = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert get(bad)[0] == 403
    later = re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 999}", url)
    assert get(later)[0] == 403
    # the link releases once
    code, body = get(url)
    assert code == 200 and "Released" in body
    got = mwtest.wait_until(
        lambda: [m for _, m in mwtest.maildir_messages(srv.maildir, "carol@beta.test")
                 if tok.encode() in m and b"X-Mailward-Digest" not in m],
        15, interval=0.2, what="the released message in the maildir")
    assert b"X-Mailward-Released: by link:carol@beta.test" in got[0]
    code, body = get(url)
    assert code == 410 and "works once" in body
    time.sleep(0.5)
    assert len([m for _, m in mwtest.maildir_messages(srv.maildir, "carol@beta.test")
                if tok.encode() in m and b"X-Mailward-Digest" not in m]) == 1
    audit = json.loads(srv.cli("audit", "--json").out)["audit"]
    assert any(a["action"] == "quarantine release" and a["by"] == "link:carol@beta.test" for a in audit)
    # the other endpoints
    base = url.split("/release")[0]
    assert get(base + "/health") == (200, "ok\n")
    assert get(base + "/nothing")[0] == 404
    assert get(base + "/release")[0] == 400


def test_link_expires(make_server, sink):
    srv = make_server(sink=sink, overrides={"quarantine": {"link_lifetime": "2s"}})
    srv.cli("tenant", "set", "beta", "action=quarantine")
    tok = token()
    hold(srv, tok)
    srv.cli("quarantine", "digest")
    d = mwtest.wait_until(lambda: digests(srv), 15, interval=0.2, what="the digest")[0]
    url = links(d.decode(errors="replace"))[0]
    time.sleep(3.2)
    code, body = get(url)
    assert code == 410 and "expired" in body
    rows = json.loads(srv.cli("quarantine", "list", "--json").out)["quarantine"]
    assert [r["state"] for r in rows if r["subject"] == tok] == ["held"]


def test_server_sends_digests_on_its_own(make_server, sink):
    srv = make_server(sink=sink, overrides={"quarantine": {"digest": "1s"}})
    srv.cli("tenant", "set", "beta", "action=quarantine")
    tok = token()
    hold(srv, tok)
    d = mwtest.wait_until(lambda: digests(srv), 20, interval=0.3, what="a digest from the server")
    assert tok.encode() in d[0]
    time.sleep(2.5)
    assert len(digests(srv)) == 1        # nothing new: no second digest


def test_digest_schedule_per_tenant(make_server, sink):
    srv = make_server(sink=sink, overrides={"quarantine": {"digest": "1s"}})
    srv.cli("tenant", "set", "beta", "action=quarantine", "digest=0")     # this tenant: never
    tok = token()
    hold(srv, tok)
    time.sleep(2.5)
    assert digests(srv) == []
    assert json.loads(srv.cli("tenant", "show", "beta", "--json").out)["digest"] == 0
    srv.cli("tenant", "set", "beta", "digest=default")                  # the server's: 1 s
    d = mwtest.wait_until(lambda: digests(srv), 20, interval=0.3, what="the digest after the change")
    assert tok.encode() in d[0]
    # a long interval: new held mail waits for it (the CLI still sends at once)
    srv.cli("tenant", "set", "beta", "digest=1d")
    tok2 = token()
    hold(srv, tok2)
    time.sleep(2.5)
    assert len(digests(srv)) == 1
    assert "1 digest sent" in srv.cli("quarantine", "digest").out
    mwtest.wait_until(lambda: len(digests(srv)) == 2, 20, interval=0.3, what="the forced digest")
