"""The issue-4 administration commands (docs/cli.md): trap, reputation,
complaint, outbound, fingerprint - argument checks, exit status, text and
JSON output, audit rows.

The real binary on real SQLite in a temp dir.  Most tests start no server
(the commands only write the store); the one that needs real reputation
rows gets them from a single message to a trap.  The SMTP scenarios
themselves (what the rows do to mail) are in the reputation scenario tests.
"""
import json
import os
import subprocess
import uuid

import mwtest
from mwtest import message, token

ARF_DIR = os.path.join(mwtest.REPO, "tests", "unit", "data", "arf")

FOOTER = ("Acme Corporation Limited, 1 Main Street, Springfield\n"
          "This e-mail and any attachments are confidential and intended solely\n"
          "for the addressee. If you received it in error please tell the sender.\n")


def cli_json(srv, *args):
    """(exit status, parsed document) of a --json command that must print one."""
    p = srv.cli(*args, "--json", check=False)
    assert p.returncode in (0, 1), f"{args}: exit {p.returncode}: {p.err}"
    return p.returncode, json.loads(p.out)


def usage_error(p, *words):
    """Exit 2 with one 'mailward: ' line on stderr that names what was wrong."""
    assert p.returncode == 2, (p.returncode, p.out, p.err)
    lines = p.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mailward: "), p.err
    for w in words:
        assert w in p.err, (w, p.err)


def audit(srv):
    return json.loads(srv.cli("audit", "--json").out)["audit"]


def write(srv, name, data):
    path = os.path.join(srv.workdir, name)
    with open(path, "wb") as fh:
        fh.write(data if isinstance(data, bytes) else data.encode())
    return path


# ---------------------------------------------------------------------------
# trap


def test_trap_add_list_remove(make_server):
    srv = make_server(start=False)
    p = srv.cli("trap", "add", "Spamtrap@Acme.Test", "--tenant", "acme", "--by", "ops")
    assert "added: trap spamtrap@acme.test (tenant acme)" in p.out, p.out
    assert p.err == ""
    srv.cli("trap", "add", "@dead.example")                   # network-wide, a whole domain

    rc, doc = cli_json(srv, "trap", "list")
    traps = {t["pattern"]: t for t in doc["traps"]}
    assert set(traps) == {"spamtrap@acme.test", "@dead.example"}, doc
    assert traps["spamtrap@acme.test"]["tenant"] == "acme"
    assert traps["spamtrap@acme.test"]["by"] == "ops"
    assert traps["@dead.example"]["tenant"] is None
    _, doc = cli_json(srv, "trap", "list", "--tenant", "acme")
    assert [t["pattern"] for t in doc["traps"]] == ["spamtrap@acme.test"], doc
    text = srv.cli("trap", "list").out
    assert "@dead.example" in text and "(all)" in text and "2 traps" in text, text

    # the same trap twice: refused, named
    usage_error(srv.cli("trap", "add", "spamtrap@acme.test", "--tenant", "acme", check=False),
                "already exists")

    srv.cli("trap", "remove", "@dead.example", "--by", "ops")
    p = srv.cli("trap", "remove", "@dead.example", check=False)
    assert p.returncode == 1 and "not found" in p.err, (p.returncode, p.err)
    acts = [(a["action"], a["object"], a["by"]) for a in audit(srv)]
    assert ("trap add", "trap spamtrap@acme.test (tenant acme)", "ops") in acts, acts
    assert ("trap remove", "trap @dead.example (all tenants)", "ops") in acts, acts


def test_trap_bad_patterns_and_tenant(make_server):
    srv = make_server(start=False)
    usage_error(srv.cli("trap", "add", "dead.example", check=False), "bad trap", "'@'")
    for bad in ("a@@acme.test", "@", "x@nodot", "sp ace@acme.test", "@-bad-.example"):
        usage_error(srv.cli("trap", "add", bad, check=False), "bad trap")
    usage_error(srv.cli("trap", "add", "t@acme.test", "--tenant", "nosuch", check=False),
                "tenant 'nosuch' not found")
    usage_error(srv.cli("trap", "add", check=False), "usage")
    usage_error(srv.cli("trap", "frob", check=False), "unknown trap command")
    usage_error(srv.cli("trap", "list", "--bogus", check=False), "--bogus")
    p = srv.cli("trap", "list", check=False)
    assert p.returncode == 1 and "0 traps" in p.out, (p.returncode, p.out)
    assert cli_json(srv, "trap", "list") == (0, {"traps": []})


def test_trap_on_a_real_user_or_hosted_domain_needs_force(make_server):
    srv = make_server(start=False)
    # A trap on a mailbox or a hosted domain would black-hole real mail.
    usage_error(srv.cli("trap", "add", "alice@acme.test", check=False), "user of tenant acme")
    usage_error(srv.cli("trap", "add", "@catchall.test", check=False), "hosted domain")
    assert cli_json(srv, "trap", "list") == (0, {"traps": []})
    p = srv.cli("trap", "add", "alice@acme.test", "--force")
    assert "warning" in p.err and "user of tenant acme" in p.err, p.err
    assert "added" in p.out
    # retiring a hosted domain as a trap is legitimate, with --force
    p = srv.cli("trap", "add", "@catchall.test", "--force")
    assert "warning" in p.err and "added" in p.out, (p.err, p.out)
    # an unknown address of a hosted domain is the usual trap: no warning
    assert srv.cli("trap", "add", "nobody@acme.test").err == ""


def test_trap_hits_empty_and_checked(make_server):
    srv = make_server(start=False)
    assert cli_json(srv, "trap", "hits") == (0, {"hits": []})
    p = srv.cli("trap", "hits", "--ip", "192.0.2.1", check=False)
    assert p.returncode == 1 and "0 hits" in p.out, (p.returncode, p.out)
    usage_error(srv.cli("trap", "hits", "--ip", "192.0.2", check=False), "bad --ip")
    usage_error(srv.cli("trap", "hits", "--limit", "0", check=False), "bad --limit")


# ---------------------------------------------------------------------------
# outbound


def test_outbound_record(make_server):
    srv = make_server(start=False)
    p = srv.cli("outbound", "record", "<first@acme.test>", "second@acme.test", "--tenant", "acme")
    assert p.out.splitlines() == ["<first@acme.test> recorded", "<second@acme.test> recorded"], p.out
    # the same ID again, with or without <>: known, not an error
    p = srv.cli("outbound", "record", "first@acme.test", "--tenant", "acme")
    assert p.out.strip() == "<first@acme.test> known", p.out
    # a batch on stdin, one a line
    p = subprocess.run([mwtest.BIN, "-c", srv.config_path, "outbound", "record", "-",
                               "--tenant", "beta"], input=b"<a1@beta.test>\r\n\r\na2@beta.test\n",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == ["<a1@beta.test> recorded", "<a2@beta.test> recorded"]

    usage_error(srv.cli("outbound", "record", "x@acme.test", check=False), "usage")
    usage_error(srv.cli("outbound", "record", "x@acme.test", "--tenant", "nosuch", check=False),
                "tenant 'nosuch' not found")
    usage_error(srv.cli("outbound", "record", "<a b@acme.test>", "--tenant", "acme", check=False),
                "bad Message-ID")
    usage_error(srv.cli("outbound", "record", "<>", "--tenant", "acme", check=False),
                "bad Message-ID")
    # volume: not audited
    assert not [a for a in audit(srv) if a["action"].startswith("outbound")]


# ---------------------------------------------------------------------------
# reputation


def test_reputation_show_unknown_is_neutral(make_server):
    srv = make_server(start=False)
    p = srv.cli("reputation", "show", "192.0.2.1")
    assert "nothing is known" in p.out and "neutral" in p.out, p.out
    rc, doc = cli_json(srv, "reputation", "show", "192.0.2.1")
    assert rc == 0
    assert doc["state"] == "neutral" and doc["known"] is False, doc
    assert doc["key"] == "ip:192.0.2.1"
    assert [(i["key"], i["kind"], i["known"]) for i in doc["identities"]] == [
        ("ip:192.0.2.1", "ip", False), ("net:192.0.2.0/24", "network", False)], doc
    assert doc["events"] == [] and doc["trap_hits"] == []

    # IPv6: the /64; a network; a domain
    _, doc = cli_json(srv, "reputation", "show", "2001:db8:1:2::7")
    assert [i["key"] for i in doc["identities"]] == ["ip:2001:db8:1:2::7", "net:2001:db8:1:2::/64"]
    _, doc = cli_json(srv, "reputation", "show", "198.51.100.0/24")
    assert [i["key"] for i in doc["identities"]] == ["net:198.51.100.0/24"], doc
    _, doc = cli_json(srv, "reputation", "show", "example.org")
    assert [i["key"] for i in doc["identities"]] == ["org:example.org"], doc
    assert "trap_hits" in doc and doc["state"] == "neutral"


def test_reputation_bad_arguments(make_server):
    srv = make_server(start=False)
    for bad in ("not an ip!", "192.0.2.300", "-", "exa mple.org"):
        usage_error(srv.cli("reputation", "show", bad, check=False), "is not an IP address")
    usage_error(srv.cli("reputation", "show", check=False), "usage")
    usage_error(srv.cli("reputation", "show", "192.0.2.1", "192.0.2.2", check=False), "usage")
    usage_error(srv.cli("reputation", "reset", "bad value", check=False), "is not an IP address")
    usage_error(srv.cli("reputation", "show", "192.0.2.1", "--limit", "x", check=False), "--limit")
    usage_error(srv.cli("reputation", "frob", check=False), "unknown reputation command")
    assert srv.cli("help", "reputation").returncode == 0


def test_reputation_reset_unknown_is_noted_and_audited(make_server):
    srv = make_server(start=False)
    p = srv.cli("reputation", "reset", "192.0.2.9", "--by", "ops", "--reason", "delisted")
    assert "nothing was recorded" in p.out, p.out
    rows = [a for a in audit(srv) if a["action"] == "reputation reset"]
    assert len(rows) == 1 and rows[0]["by"] == "ops", rows
    assert rows[0]["object"] == "ip:192.0.2.9" and "delisted" in rows[0]["detail"], rows
    # show tells why the address looks clean
    _, doc = cli_json(srv, "reputation", "show", "192.0.2.9")
    assert [(e["kind"], e["detail"]) for e in doc["events"]] == [("reset", "by ops: delisted")], doc
    assert doc["state"] == "neutral"
    # looking is logged too (the issue: show and reset are both logged); newest first
    srv.cli("reputation", "show", "192.0.2.9", "--by", "support")
    rows = [a for a in audit(srv) if a["action"] == "reputation show"]
    assert [(r["by"], r["object"], r["detail"]) for r in rows][0] == \
        ("support", "ip:192.0.2.9", "neutral"), rows


def test_reputation_show_and_reset_with_evidence(make_server, sink):
    srv = make_server(sink=sink)
    srv.cli("trap", "add", "spamtrap@acme.test", "--tenant", "acme")
    tok = token()
    with srv.session() as c:
        r = c.send_mail("promo@sender.example", ["spamtrap@acme.test"],
                        message(tok, sender="promo@sender.example", to="spamtrap@acme.test"))
        c.cmd("QUIT", 221)
    assert r.code == 250, r.raw

    def counted():
        _, d = cli_json(srv, "reputation", "show", "127.0.0.1")
        return d if d["known"] and d["trap_hits"] else None
    doc = mwtest.wait_until(counted, 15, interval=0.2, what="the trap hit counted")
    ids = {i["key"]: i for i in doc["identities"]}
    assert ids["ip:127.0.0.1"]["counters"]["traps"] > 0.5, ids
    assert ids["ip:127.0.0.1"]["points"]["traps"] > 0, ids
    assert "pair:sender.example/127.0.0.0/24" in ids, list(ids)
    assert doc["trap_hits"][0]["rcpt"] == "spamtrap@acme.test"
    assert doc["trap_hits"][0]["ref"] == r.ref()
    assert any(e["kind"] == "trap" for e in doc["events"]), doc["events"]
    text = srv.cli("reputation", "show", "127.0.0.1").out
    assert r.ref() in text and "latest trap hits" in text and "evidence:" in text, text
    _, hits = cli_json(srv, "trap", "hits", "--ip", "127.0.0.1")
    assert [h["ref"] for h in hits["hits"]] == [r.ref()], hits
    # the domain view shows the domain+network pair
    _, dom = cli_json(srv, "reputation", "show", "sender.example")
    assert "pair:sender.example/127.0.0.0/24" in [i["key"] for i in dom["identities"]], dom

    p = srv.cli("reputation", "reset", "127.0.0.1", "--by", "ops", "--reason", "test network")
    for key in ("ip:127.0.0.1", "net:127.0.0.0/24", "pair:sender.example/127.0.0.0/24"):
        assert f"cleared {key}" in p.out, p.out
    _, after = cli_json(srv, "reputation", "show", "127.0.0.1")
    assert after["known"] is False and after["state"] == "neutral", after
    assert after["events"][0]["kind"] == "reset", after["events"]
    # the trap hit itself stays as evidence of what happened
    assert after["trap_hits"], after
    assert any(a["action"] == "reputation reset" and a["by"] == "ops" for a in audit(srv))


# ---------------------------------------------------------------------------
# complaint


def test_complaint_import_malformed_is_stored_and_listed(make_server):
    srv = make_server(start=False)
    path = write(srv, "angry.txt", "Subject: stop spamming me\r\n\r\nYou people.\r\n")
    p = srv.cli("complaint", "import", path)
    assert "stored as complaint 1" in p.out and "malformed" in p.out, p.out
    rc, doc = cli_json(srv, "complaint", "list")
    assert rc == 0 and len(doc["complaints"]) == 1, doc
    row = doc["complaints"][0]
    assert row["kind"] != "arf" and row["source"] == "cli" and row["match"] == "none", row
    assert "1 complaint" in srv.cli("complaint", "list").out
    # show: text, JSON with the report, raw bytes as imported
    assert "kind" in srv.cli("complaint", "show", "1").out
    _, one = cli_json(srv, "complaint", "show", "1")
    assert one["id"] == 1 and "You people." in one["raw"], one
    raw = subprocess.run([mwtest.BIN, "-c", srv.config_path, "complaint", "show", "1", "--raw"],
                                stdout=subprocess.PIPE).stdout
    assert raw == b"Subject: stop spamming me\r\n\r\nYou people.\r\n", raw
    p = srv.cli("complaint", "show", "2", check=False)
    assert p.returncode == 1 and "no complaint 2" in p.err


def test_complaint_same_arf_twice_counts_once(make_server):
    srv = make_server(start=False)
    arf = os.path.join(ARF_DIR, "wellformed.eml")
    _, first = cli_json(srv, "complaint", "import", arf)
    r = first["reports"][0]
    assert r["kind"] == "arf" and r["feedback_type"] == "abuse" and r["stored"], r
    assert not r["duplicate"] and not r["malformed"] and isinstance(r["id"], int), r
    p = srv.cli("complaint", "import", arf)
    assert "duplicate" in p.out, p.out
    _, again = cli_json(srv, "complaint", "import", arf)
    assert again["reports"][0]["duplicate"] is True and again["reports"][0]["id"] is None
    # the same report with other line ends is the same report
    _, crlf = cli_json(srv, "complaint", "import", os.path.join(ARF_DIR, "wellformed_crlf.eml"))
    assert crlf["reports"][0]["duplicate"] is True, crlf
    _, doc = cli_json(srv, "complaint", "list")
    assert len(doc["complaints"]) == 1, doc


def test_complaint_dry_run_stores_nothing(make_server):
    srv = make_server(start=False)
    arf = os.path.join(ARF_DIR, "wellformed.eml")
    p = srv.cli("complaint", "import", "--dry-run", arf)
    assert "dry run" in p.out, p.out
    _, doc = cli_json(srv, "complaint", "import", arf, "--dry-run")
    assert doc["dry_run"] is True and doc["reports"][0]["stored"] is False, doc
    assert cli_json(srv, "complaint", "list") == (0, {"complaints": []})
    p = srv.cli("complaint", "list", check=False)
    assert p.returncode == 1, p.returncode
    # afterwards the real import is not a duplicate of the dry run
    _, doc = cli_json(srv, "complaint", "import", arf)
    assert doc["reports"][0]["duplicate"] is False, doc


def test_complaint_import_stdin_directory_and_errors(make_server):
    srv = make_server(start=False)
    p = subprocess.run([mwtest.BIN, "-c", srv.config_path, "complaint", "import", "-"],
                              input=b"not a report at all\n", stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    assert p.returncode == 0 and b"-: stored as complaint" in p.stdout, (p.stdout, p.stderr)
    # a directory: every file in it, one report each
    d = os.path.join(srv.workdir, "reports")
    os.makedirs(d)
    for i in range(3):
        write(srv, os.path.join("reports", f"r{i}.eml"), f"Subject: complaint {uuid.uuid4()}\r\n\r\nx\r\n")
    _, doc = cli_json(srv, "complaint", "import", d)
    assert len(doc["reports"]) == 3 and all(r["stored"] for r in doc["reports"]), doc
    # unreadable: reported, the others still imported, exit 3 like scan/train
    p = srv.cli("complaint", "import", "/nonexistent/report.eml", os.path.join(ARF_DIR, "multi_rcpt.eml"),
                check=False)
    assert p.returncode == 3, (p.returncode, p.err)
    assert "/nonexistent/report.eml" in p.err and "1 unreadable" in p.out, (p.out, p.err)
    assert len(cli_json(srv, "complaint", "list")[1]["complaints"]) == 5
    usage_error(srv.cli("complaint", "import", check=False), "usage")
    usage_error(srv.cli("complaint", "import", "--bogus", "x", check=False), "--bogus")
    usage_error(srv.cli("complaint", "list", "--since", "yesterday", check=False), "--since")
    usage_error(srv.cli("complaint", "show", "abc", check=False), "usage")


# ---------------------------------------------------------------------------
# fingerprint


def test_fingerprint_benign_list_remove(make_server):
    srv = make_server(start=False)
    assert cli_json(srv, "fingerprint", "list")[1]["fingerprints"] == []
    assert srv.cli("fingerprint", "list", check=False).returncode == 1

    footer = write(srv, "footer.txt", FOOTER)
    p = srv.cli("fingerprint", "benign", footer, "--tenant", "acme", "--by", "ops")
    assert "1 fingerprint marked benign for tenant acme: signature block" in p.out, p.out
    _, doc = cli_json(srv, "fingerprint", "list")
    rows = doc["fingerprints"]
    assert len(rows) == 1 and rows[0]["kind"] == "signature" and rows[0]["benign"] == "acme", rows
    assert "Acme Corporation" in rows[0]["excerpt"]
    assert set(rows[0]["counters"]) == {"traps", "complaints", "spam", "msgs"}
    # the same footer again: the same row, not a second one
    srv.cli("fingerprint", "benign", footer, "--tenant", "acme")
    assert len(cli_json(srv, "fingerprint", "list")[1]["fingerprints"]) == 1

    # a message as the sample: its signature block and its text
    body = ("Hello Bob, the quarterly report you asked for is attached; let me know what you "
            "think about the numbers in sections two and three before the board meeting.\r\n"
            "\r\n-- \r\nCarol Example, Head of Logistics\r\nBeta Shipping, 7 Harbour Road\r\n"
            "Telephone +1 555 0199\r\n")
    msg = write(srv, "sample.eml", message("sample", body=body, sender="carol@beta.test"))
    p = srv.cli("fingerprint", "benign", msg, "--tenant", "beta")
    assert "signature block and text" in p.out, p.out
    kinds = sorted(r["kind"] for r in cli_json(srv, "fingerprint", "list")[1]["fingerprints"]
                   if r["benign"] == "beta")
    assert kinds == ["signature", "text"], kinds
    assert "signature" in srv.cli("fingerprint", "list").out

    fid = rows[0]["id"]
    p = srv.cli("fingerprint", "remove", fid, "--by", "ops")
    assert f"removed fingerprint {fid} (signature)" in p.out, p.out
    p = srv.cli("fingerprint", "remove", fid, check=False)
    assert p.returncode == 1 and f"no fingerprint {fid}" in p.err
    acts = [(a["action"], a["by"]) for a in audit(srv)]
    assert ("fingerprint benign", "ops") in acts and ("fingerprint remove", "ops") in acts, acts


def test_fingerprint_benign_refusals(make_server):
    srv = make_server(start=False)
    short = write(srv, "short.txt", "Regards, Bob\n")
    usage_error(srv.cli("fingerprint", "benign", short, "--tenant", "acme", check=False), "too short")
    footer = write(srv, "footer.txt", FOOTER)
    usage_error(srv.cli("fingerprint", "benign", footer, "--tenant", "nosuch", check=False),
                "tenant 'nosuch' not found")
    usage_error(srv.cli("fingerprint", "benign", footer, check=False), "usage")
    p = srv.cli("fingerprint", "benign", "/nonexistent", "--tenant", "acme", check=False)
    assert p.returncode == 3 and "/nonexistent" in p.err, (p.returncode, p.err)
    usage_error(srv.cli("fingerprint", "remove", "x", check=False), "usage")
    assert cli_json(srv, "fingerprint", "list")[1]["fingerprints"] == []
    assert not [a for a in audit(srv) if a["action"].startswith("fingerprint")]
