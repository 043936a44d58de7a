"""End-to-end checks of `mailward scan` and `mailward train` (docs/cli.md).

Self-contained like test_cli.py: each test has its own data_dir and config
under tmp_path and runs the real binary ($MAILWARD_BIN, default
build/release/mailward).  Messages are written here: GTUBE for a certain
verdict, a plain message for a clean one, and for Bayes a synthetic corpus
with two disjoint vocabularies, big enough to pass the classifier's minimum
training (200 spam and 200 ham, docs/bayes.md).
"""
import json
import os
import random
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MAILWARD_BIN", os.path.join(REPO, "build", "release", "mailward"))
if not os.path.isabs(BIN):
    BIN = os.path.join(REPO, BIN)

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def message(subject, body, sender="alice@example.org", n=0):
    return (f"From: Alice <{sender}>\r\n"
            f"To: bob@example.com\r\n"
            f"Subject: {subject}\r\n"
            f"Date: Tue, 01 Oct 2024 10:{n % 60:02d}:00 +0000\r\n"
            f"Message-ID: <m{n}.{abs(hash(body)) % 10 ** 9}@example.org>\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n"
            f"\r\n{body}\r\n")


CLEAN = message("Lunch on Thursday", "Hi Bob,\r\n\r\nshall we meet for lunch on Thursday at noon?\r\n\r\n"
                "Alice")
SPAMMY = message("Test", f"This is the GTUBE test string:\r\n\r\n{GTUBE}\r\n")


class Cli:
    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.data_dir = tmp_path / "var"
        self.config = tmp_path / "mailward.conf"
        self.config.write_text(f"[storage]\ndata_dir = {self.data_dir}\nfsync = no\n")

    def run(self, *args, stdin=None):
        p = subprocess.run([BIN, "-c", str(self.config)] + [str(a) for a in args],
                           input=stdin.encode() if stdin is not None else None,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.dir, timeout=300)
        p.out = p.stdout.decode(errors="replace")
        p.err = p.stderr.decode(errors="replace")
        return p

    def expect(self, code, *args, **kw):
        p = self.run(*args, **kw)
        assert p.returncode == code, f"{args}: exit {p.returncode} (want {code})\n{p.out}\n{p.err}"
        if code == 2:
            # one line, prefixed, on stderr
            assert p.err.startswith("mailward: "), p.err
            assert p.err.count("\n") == 1, p.err
        return p

    def scan_json(self, code, *args):
        p = self.expect(code, "scan", "--json", *args)
        doc = json.loads(p.out)
        return doc, {os.path.basename(r["file"]): r for r in doc["results"]}

    def write(self, rel, text):
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def names(result):
    return [s["name"] for s in result["symbols"]]


# ---- scan, rules only ------------------------------------------------------

def test_gtube_is_probable_spam(cli):
    f = cli.write("gtube.eml", SPAMMY)
    p = cli.expect(1, "scan", f)
    lines = p.out.splitlines()
    assert lines[0].split() == ["FILE", "SCORE", "CLASS", "SYMBOLS"]
    assert len(lines) == 2
    assert lines[1].startswith(str(f) + "  ")
    assert "probable-spam" in lines[1].split() and "GTUBE" in lines[1]
    doc, res = cli.scan_json(1, f)
    r = res["gtube.eml"]
    assert r["class"] == "probable-spam"
    assert r["file"] == str(f)
    assert isinstance(r["score"], float) and r["score"] > 0
    gt = [s for s in r["symbols"] if s["name"] == "GTUBE"]
    assert gt and gt[0]["reason"].strip() and gt[0]["score"] > 0
    assert set(gt[0]) >= {"name", "score", "reason"}
    # no trained store: rules only, and the scan created no data_dir
    assert r["bayes"] is None and doc["bayes"] is False
    assert doc["summary"]["messages"] == 1 and doc["summary"]["probable-spam"] == 1
    assert doc["errors"] == []
    assert not cli.data_dir.exists()


def test_clean_message_exit_0(cli):
    f = cli.write("clean.eml", CLEAN)
    doc, res = cli.scan_json(0, f)
    assert res["clean.eml"]["class"] in ("clean", "bulk")
    assert "GTUBE" not in names(res["clean.eml"])
    p = cli.expect(0, "scan", f)
    assert len(p.out.splitlines()) == 2


def test_explain_shows_reasons(cli):
    f = cli.write("gtube.eml", SPAMMY)
    _, res = cli.scan_json(1, f)
    reason = [s["reason"] for s in res["gtube.eml"]["symbols"] if s["name"] == "GTUBE"][0]
    plain = cli.expect(1, "scan", f).out
    assert reason not in plain
    p = cli.expect(1, "scan", "--explain", f)
    detail = [ln for ln in p.out.splitlines()[2:] if ln.startswith("    GTUBE ")]
    assert detail, p.out
    assert reason in detail[0] and "+" in detail[0]


def test_stdin(cli):
    p = cli.run("scan", "--json", "-", stdin=SPAMMY)
    assert p.returncode == 1, p.err
    r = json.loads(p.out)["results"][0]
    assert r["file"] == "-" and r["class"] == "probable-spam"


def test_directory_recursive_sorted_skips_dotfiles(cli):
    cli.write("mail/b.eml", SPAMMY)
    cli.write("mail/a.eml", CLEAN)
    cli.write("mail/sub/c.eml", CLEAN)
    cli.write("mail/.hidden.eml", SPAMMY)
    cli.write("mail/.git/x.eml", SPAMMY)
    os.symlink(cli.dir / "mail", cli.dir / "mail" / "sub" / "loop")
    doc, res = cli.scan_json(1, cli.dir / "mail")
    files = [os.path.relpath(r["file"], cli.dir) for r in doc["results"]]
    assert files == ["mail/a.eml", "mail/b.eml", "mail/sub/c.eml"]
    assert res["b.eml"]["class"] == "probable-spam"
    assert doc["summary"]["messages"] == 3
    # a directory of clean mail only: exit 0
    cli.expect(0, "scan", cli.dir / "mail" / "sub")


def test_empty_directory_and_odd_names(cli):
    (cli.dir / "empty").mkdir()
    doc, _ = cli.scan_json(0, cli.dir / "empty")
    assert doc["results"] == [] and doc["summary"]["messages"] == 0
    # a file name that is not UTF-8 still gives one valid JSON document
    (cli.dir / "odd").mkdir()
    odd = os.path.join(os.fsencode(cli.dir / "odd"), b"caf\xe9\x01.eml")
    with open(odd, "wb") as fh:
        fh.write(SPAMMY.encode())
    doc, _ = cli.scan_json(1, cli.dir / "odd")
    assert len(doc["results"]) == 1 and doc["results"][0]["file"].endswith("\ufffd\x01.eml")
    p = cli.expect(1, "scan", cli.dir / "odd")
    assert "\x01" not in p.out   # control bytes of names never reach the terminal


def test_unreadable_file_warns_and_exits_3(cli):
    good = cli.write("good.eml", SPAMMY)
    missing = cli.dir / "nope.eml"
    p = cli.expect(3, "scan", missing, good)
    assert f"mailward: warning: {missing}:" in p.err
    assert "GTUBE" in p.out  # the readable one was still scanned
    doc, _ = cli.scan_json(3, missing, good)
    assert [e["file"] for e in doc["errors"]] == [str(missing)]
    assert doc["errors"][0]["error"]
    assert len(doc["results"]) == 1 and doc["summary"]["failed"] == 1


def test_too_large_file_refused(cli):
    big = cli.dir / "big.eml"
    with open(big, "wb") as fh:   # sparse: costs no disk
        fh.truncate(33 * 1024 * 1024)
    p = cli.expect(3, "scan", big)
    assert "32 MiB" in p.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads mode-000 files")
def test_permission_denied(cli):
    f = cli.write("secret.eml", CLEAN)
    f.chmod(0)
    p = cli.expect(3, "scan", f)
    assert "warning" in p.err


def test_usage_errors(cli):
    f = cli.write("x.eml", CLEAN)
    cli.expect(2, "scan")
    cli.expect(2, "scan", "--bogus", f)
    cli.expect(2, "train", f)
    cli.expect(2, "train", "--spam", "--ham", f)
    cli.expect(2, "train", "--spam")
    cli.expect(2, "train", "--untrain", "--spam", f)
    cli.expect(2, "train", "--reinforce", "--spam", f)
    cli.expect(2, "train", "--reinforce")


def test_help(cli):
    assert "scan [--json] [--explain]" in cli.expect(0, "scan", "--help").out
    assert "train --spam|--ham" in cli.expect(0, "help", "train").out
    assert "train --reinforce" in cli.expect(0, "help", "train").out


# ---- training and Bayes ----------------------------------------------------

SPAM_WORDS = ("viagra casino lottery winner jackpot cheap pills discount offer million dollars "
              "bonus credit refinance mortgage guaranteed income rolex replica pharmacy prize "
              "claim urgent wire transfer beneficiary investment crypto").split()
HAM_WORDS = ("meeting agenda project quarterly review kernel patch compiler release notes "
             "lunch thursday budget draft minutes committee schedule roadmap benchmark "
             "regression bisect merge branch upstream maintainer").split()


def corpus(rng, words, n, start, tag):
    out = []
    for i in range(start, start + n):
        body = " ".join(rng.choice(words) for _ in range(60))
        subj = " ".join(rng.choice(words) for _ in range(3))
        out.append(message(subj, f"{body}\r\n\r\n{tag} item {i}\r\n", n=i))
    return out


@pytest.fixture
def trained(cli):
    rng = random.Random(1234)
    for cls, words in (("spam", SPAM_WORDS), ("ham", HAM_WORDS)):
        for i, m in enumerate(corpus(rng, words, 220, 0, cls)):
            cli.write(f"train/{cls}/{i:04d}.eml", m)
        for i, m in enumerate(corpus(rng, words, 5, 10000, cls)):
            cli.write(f"test/{cls}/{i:04d}.eml", m)
    p = cli.expect(0, "train", "--spam", cli.dir / "train" / "spam")
    assert p.out.strip() == "learned 220 spam, 0 already known", p.out
    p = cli.expect(0, "train", "--ham", cli.dir / "train" / "ham")
    assert p.out.strip() == "learned 220 ham, 0 already known", p.out
    return cli


def test_train_then_bayes_decides(trained):
    cli = trained
    doc, _ = cli.scan_json(0, cli.dir / "test" / "ham")
    assert doc["bayes"] is True
    for r in doc["results"]:
        assert "BAYES_HAM" in names(r), r
        assert r["bayes"] is not None and r["bayes"] < 0.2, r
        assert r["class"] in ("clean", "bulk")
    p = cli.run("scan", "--json", cli.dir / "test" / "spam")
    assert p.returncode in (0, 1), p.err
    spam = json.loads(p.out)["results"]
    assert len(spam) == 5
    for r in spam:
        assert "BAYES_SPAM" in names(r), r
        assert r["bayes"] is not None and r["bayes"] > 0.8, r
        bs = [s for s in r["symbols"] if s["name"] == "BAYES_SPAM"][0]
        assert bs["score"] > 0 and bs["reason"].strip()
    assert min(r["score"] for r in spam) > max(r["score"] for r in doc["results"])


def test_same_verdicts_from_memory_and_database(trained):
    """A directory is scanned from the in-memory token snapshot, a few files
    from the database, message by message (docs/bayes.md): the same
    results to the last digit."""
    cli = trained
    dirs = [cli.dir / "test" / "spam", cli.dir / "test" / "ham"]
    snapshot = cli.data_dir / "bayes.snapshot"   # written by train, mapped by scan
    assert snapshot.exists()

    def scan(*args):
        p = cli.run("scan", "--json", *args)
        assert p.returncode in (0, 1), p.err
        assert p.err == "", p.err
        return {r["file"]: r for r in json.loads(p.out)["results"]}

    from_memory = scan(*dirs)
    files = sorted(from_memory)
    assert len(files) == 10
    from_db = scan(*files)
    assert from_db == from_memory
    assert all(r["bayes"] is not None for r in from_db.values())
    # A file left from before the last training is not used: the store is
    # scanned and the verdicts follow the store.
    old = snapshot.read_bytes()
    cli.expect(0, "train", "--untrain", cli.dir / "train" / "spam" / "0000.eml")
    snapshot.write_bytes(old)
    assert scan(*dirs) == scan(*files)


def test_explain_names_bayes_clues(trained):
    """--explain names the strongest Bayes clues each way, with the counts
    the classifier used: a spam words message that also talks shop shows
    which words pull to which side (docs/cli.md, scan)."""
    cli = trained
    f = cli.write("mixed.eml", message("lottery winner",
                                       "viagra casino jackpot pills kernel patch compiler bisect"))
    p = cli.run("scan", "--explain", f)
    assert p.returncode in (0, 1), p.err
    lines = p.out.splitlines()
    head = lines.index("    bayes clues (f, learned in spam/ham, feature):")
    clues = [ln.split(None, 3) for ln in lines[head + 1:]]   # names may have spaces (OSB)
    assert 2 <= len(clues) <= 16, p.out
    sides = [c[0] for c in clues]
    assert sides == sorted(sides, key=lambda x: x != "spam"), p.out   # spam side first
    by_name = {c[3]: c for c in clues}
    assert "viagra" in by_name or "casino" in by_name or "jackpot" in by_name, p.out
    assert "kernel" in by_name or "patch" in by_name or "compiler" in by_name, p.out
    for side, f_, counts, name in clues:
        spam_n, ham_n = map(int, counts.split("/"))
        assert (float(f_) > 0.5) == (side == "spam") and spam_n + ham_n > 0, (side, f_, name)
        if name in SPAM_WORDS:
            assert side == "spam" and spam_n > 0 and ham_n == 0, name
        if name in HAM_WORDS:
            assert side == "ham" and ham_n > 0 and spam_n == 0, name
    # JSON: the same clues with --explain, none without
    p = cli.run("scan", "--json", "--explain", f)
    r = json.loads(p.out)["results"][0]
    assert [(c["name"], round(c["f"], 4)) for c in r["clues"]] == \
        [(c[3], float(c[1])) for c in clues]
    assert all(set(c) == {"name", "f", "spam", "ham"} for c in r["clues"])
    r = json.loads(cli.run("scan", "--json", f).out)["results"][0]
    assert "clues" not in r
    # A spam words message: with --explain, BAYES_TOP_CLUES names the clues
    # it rests on as the mail path's log does; a plain scan leaves that out
    # (it costs a second tokenizer pass).
    s = cli.write("spammy.eml", message("lottery winner", "viagra casino jackpot pills rolex"))

    def top(*args):
        p = cli.run("scan", "--json", *args, s)
        syms = json.loads(p.out)["results"][0]["symbols"]
        return [x for x in syms if x["name"] == "BAYES_TOP_CLUES"][0]
    t = top("--explain")
    assert t["score"] > 0 and ", led by '" in t["reason"], t
    assert any(w in t["reason"].split("led by", 1)[1] for w in SPAM_WORDS), t
    assert "led by" not in top()["reason"]


def test_explain_without_bayes_has_no_clues(cli):
    f = cli.write("clean.eml", CLEAN)
    p = cli.expect(0, "scan", "--explain", f)
    assert "bayes clues" not in p.out and "BAYES_UNAVAILABLE" in p.out
    r = json.loads(cli.expect(0, "scan", "--json", "--explain", f).out)["results"][0]
    assert r["clues"] == []


def test_train_reinforce(trained):
    """Spam written in the words of ham, reported as spam: after training,
    `train --reinforce` finds that the store without them would pass them
    and makes them count three times (docs/bayes.md, "Reinforcement");
    typical messages are left alone, a second run changes nothing."""
    cli = trained
    rng = random.Random(99)
    for i, m in enumerate(corpus(rng, HAM_WORDS, 3, 20000, "reported")):
        cli.write(f"reported/{i:04d}.eml", m)
    p = cli.expect(0, "train", "--spam", cli.dir / "reported")
    assert p.out.strip() == "learned 3 spam, 0 already known", p.out

    def bayes_of(path):
        p = cli.run("scan", "--json", path)
        assert p.returncode in (0, 1), p.err
        return json.loads(p.out)["results"][0]["bayes"]

    probe = cli.dir / "reported" / "0000.eml"
    g0 = bayes_of(probe)
    stray = cli.write("stray.eml", CLEAN)
    dirs = [cli.dir / "train", cli.dir / "reported"]
    p = cli.expect(0, "train", "--reinforce", *dirs, stray)
    assert p.out.strip() == ("checked 443, reinforced 3 (3 spam, 0 ham), 0 reinforced before, "
                             "1 not learned"), p.out
    assert "stray.eml: not learned, nothing to reinforce" in p.err
    # the scan reads the rewritten snapshot: the store leans further to spam
    assert bayes_of(probe) > g0
    p = cli.expect(0, "train", "--reinforce", *dirs)
    assert p.out.strip() == ("checked 443, reinforced 0 (0 spam, 0 ham), 3 reinforced before, "
                             "0 not learned"), p.out
    # forgetting takes all of it back: the store is as before the report
    before = bayes_of(cli.dir / "test" / "ham" / "0000.eml")
    p = cli.expect(0, "train", "--untrain", cli.dir / "reported")
    assert p.out.strip() == "forgot 3, 0 not learned", p.out
    after = bayes_of(cli.dir / "test" / "ham" / "0000.eml")
    assert after < before
    p = cli.expect(0, "train", "--reinforce", cli.dir / "reported")
    assert p.out.strip() == ("checked 0, reinforced 0 (0 spam, 0 ham), 0 reinforced before, "
                             "3 not learned"), p.out


def test_train_reinforce_untrained(cli):
    """Too little learned to judge a message without it: nothing is
    reinforced, and the output says why."""
    f = cli.write("one.eml", CLEAN)
    cli.expect(0, "train", "--ham", f)
    p = cli.expect(0, "train", "--reinforce", f)
    assert p.out.strip() == ("checked 1, reinforced 0 (0 spam, 0 ham), 0 reinforced before, "
                             "0 not learned, 1 without a Bayes opinion"), p.out


def test_train_snapshot_not_written_is_a_warning(cli):
    # a directory where the snapshot file goes: the rename is refused
    os.makedirs(cli.data_dir / "bayes.snapshot" / "x")
    f = cli.write("one.eml", CLEAN)
    p = cli.expect(0, "train", "--ham", f)
    assert p.out.strip() == "learned 1 ham, 0 already known", p.out
    assert "mailward: warning: Bayes snapshot file not written: " in p.err, p.err


def test_train_twice_already_known(trained):
    cli = trained
    p = cli.expect(0, "train", "--spam", cli.dir / "train" / "spam")
    assert p.out.strip() == "learned 0 spam, 220 already known", p.out
    # a file and a directory holding it: the second copy is known too
    one = cli.dir / "train" / "ham" / "0000.eml"
    p = cli.expect(0, "train", "--ham", one, one)
    assert p.out.strip() == "learned 0 ham, 2 already known", p.out


def test_train_unreadable_exit_3(cli):
    good = cli.write("one.eml", CLEAN)
    missing = cli.dir / "missing.eml"
    p = cli.expect(3, "train", "--ham", missing, good)
    assert f"mailward: warning: {missing}:" in p.err
    assert p.out.strip() == "learned 1 ham, 0 already known, 1 unreadable", p.out


# ---- the store: status and expiry ------------------------------------------

def token_rows(cli):
    import sqlite3
    db = sqlite3.connect(cli.data_dir / "mailward.db")
    try:
        return db.execute("SELECT hash, spam, ham, atime FROM bayes_token").fetchall()
    finally:
        db.close()


def test_train_status_of_no_store(cli):
    """Nothing learned yet: said so, and no store is created by asking."""
    p = cli.expect(0, "train", "--status")
    assert "learned: 0 spam (0 counting 3 times), 0 ham (0 counting 3 times)" in p.out, p.out
    assert "classifier: no opinion yet: it needs 200 spam and 200 ham" in p.out, p.out
    assert not (cli.data_dir / "mailward.db").exists()
    doc = json.loads(cli.expect(0, "train", "--status", "--json").out)
    assert doc["active"] is False and doc["tokens"] == 0 and doc["last_learned"] is None
    assert doc["spam"] == {"messages": 0, "reinforced": 0, "total": 0}
    # some ham but no spam: still no opinion
    cli.expect(0, "train", "--ham", cli.write("one.eml", CLEAN))
    doc = json.loads(cli.expect(0, "train", "--status", "--json").out)
    assert doc["active"] is False and doc["ham"]["messages"] == 1 and doc["tokens"] > 0


def test_train_status(trained):
    cli = trained
    rows = token_rows(cli)
    p = cli.expect(0, "train", "--status")
    assert "learned: 220 spam (0 counting 3 times), 220 ham (0 counting 3 times)" in p.out, p.out
    assert "classifier: active" in p.out, p.out
    once = sum(1 for r in rows if r[1] + r[2] == 1)
    assert f"tokens: {len(rows)} ({once} seen in one message), at most 10000000" in p.out, p.out
    doc = json.loads(cli.expect(0, "train", "--status", "--json").out)
    assert doc["active"] is True
    assert doc["spam"] == {"messages": 220, "reinforced": 0, "total": 220}
    assert doc["ham"] == {"messages": 220, "reinforced": 0, "total": 220}
    assert doc["tokens"] == len(rows) and doc["tokens_once"] == once
    assert doc["max_tokens"] == 10000000
    assert doc["last_learned"].endswith("Z") and doc["oldest_token"].endswith("Z")
    # the configured limit is the one reported
    with open(cli.config, "a") as fh:
        fh.write("[bayes]\nmax_tokens = 123456\n")
    assert json.loads(cli.expect(0, "train", "--status", "--json").out)["max_tokens"] == 123456


def test_train_expire(trained):
    """Above the limit the rarest tokens of the oldest day go, down to 90 %
    of it; the totals and the learned messages stay, the snapshot file is
    rewritten, and Bayes still tells the test messages apart."""
    cli = trained
    rows = token_rows(cli)
    n = len(rows)
    before = bayes_state(cli)
    p = cli.expect(0, "train", "--expire", "--max-tokens", n)
    assert p.out.strip() == f"{n} tokens, at most {n}: nothing to expire", p.out
    assert bayes_state(cli) == before
    snap = cli.data_dir / "bayes.snapshot"
    mtime = snap.stat().st_mtime_ns
    limit = n // 2
    keep = limit - limit // 10
    p = cli.expect(0, "train", "--expire", "--max-tokens", limit)
    assert p.out.startswith(f"expired {n - keep} tokens, {keep} left (at most {limit}); "), p.out
    left = token_rows(cli)
    assert len(left) == keep
    kept = {r[0] for r in left}
    gone = [r for r in rows if r[0] not in kept]
    # one training day: the rarest went first
    assert min(r[1] + r[2] for r in left) >= max(r[1] + r[2] for r in gone)
    after = bayes_state(cli)
    assert after[0] == before[0] and after[1] == before[1]
    assert snap.stat().st_mtime_ns != mtime
    doc, by = cli.scan_json(0, cli.dir / "test" / "ham")
    assert all("BAYES_HAM" in names(r) for r in doc["results"]), doc
    p = cli.run("scan", "--json", cli.dir / "test" / "spam")
    assert all("BAYES_SPAM" in names(r) for r in json.loads(p.out)["results"]), p.out
    # the configured limit applies without --max-tokens
    with open(cli.config, "a") as fh:
        fh.write("[bayes]\nmax_tokens = 10000\n")
    p = cli.expect(0, "train", "--expire")
    assert p.out.strip() == f"{keep} tokens, at most 10000: nothing to expire", p.out


def test_train_status_expire_usage(cli):
    f = cli.write("one.eml", CLEAN)
    for args in (("--status", "--expire"), ("--status", "--max-tokens", "5"),
                 ("--expire", "--json"), ("--status", f), ("--expire", "--max-tokens", "0"),
                 ("--expire", "--max-tokens", "12x"), ("--expire", "--max-tokens", ""),
                 ("--spam", "--status")):
        cli.expect(2, "train", *args)
    assert "train --status [--json]" in cli.expect(0, "help", "train").out


def test_train_status_store_error(trained):
    """A store whose token table is gone: a storage error, exit 3."""
    import sqlite3
    cli = trained
    db = sqlite3.connect(cli.data_dir / "mailward.db")
    db.execute("DROP TABLE bayes_token")
    db.commit()
    db.close()
    p = cli.expect(3, "train", "--status")
    assert "bayes_token" in p.err, p.err
    p = cli.expect(3, "train", "--expire", "--max-tokens", "10")
    assert "bayes_token" in p.err, p.err


# ---- untraining ------------------------------------------------------------

def bayes_state(cli):
    """Totals, learned digests and token counts, read from the SQLite file."""
    import sqlite3
    db = sqlite3.connect(cli.data_dir / "mailward.db")
    try:
        totals = db.execute("SELECT nspam, nham FROM bayes_meta WHERE id = 1").fetchone() or (0, 0)
        msgs = db.execute("SELECT count(*) FROM bayes_msg").fetchone()[0]
        tokens = db.execute("SELECT hash, spam, ham FROM bayes_token ORDER BY hash").fetchall()
    finally:
        db.close()
    return tuple(totals), msgs, tokens


def test_untrain_then_retrain_restores_counts(trained):
    cli = trained
    before = bayes_state(cli)
    assert before[0] == (220, 220) and before[1] == 440 and before[2]
    five = sorted((cli.dir / "train" / "spam").iterdir())[:5]
    p = cli.expect(0, "train", "--untrain", *five)
    assert p.out.strip() == "forgot 5, 0 not learned", p.out
    mid = bayes_state(cli)
    assert mid[0] == (215, 220) and mid[1] == 435
    assert mid[2] != before[2]
    # learned again: every token count is back where it was
    p = cli.expect(0, "train", "--spam", *five)
    assert p.out.strip() == "learned 5 spam, 0 already known", p.out
    assert bayes_state(cli) == before
    # everything forgotten: nothing is left, not even zero rows
    p = cli.expect(0, "train", "--untrain", cli.dir / "train")
    assert p.out.strip() == "forgot 440, 0 not learned", p.out
    assert bayes_state(cli) == ((0, 0), 0, [])


def test_untrain_never_learned_reports_it(trained):
    cli = trained
    before = bayes_state(cli)
    fresh = cli.dir / "test" / "spam" / "0000.eml"
    known = cli.dir / "train" / "ham" / "0000.eml"
    p = cli.expect(1, "train", "--untrain", fresh, known)
    assert f"mailward: warning: {fresh}: not learned" in p.err
    assert str(known) not in p.err
    assert p.out.strip() == "forgot 1, 1 not learned", p.out
    totals, msgs, _ = bayes_state(cli)
    assert totals == (220, 219) and msgs == 439
    # forgetting twice: the second time it is not learned any more
    p = cli.expect(1, "train", "--untrain", known)
    assert p.out.strip() == "forgot 0, 1 not learned", p.out
    assert bayes_state(cli)[0] == (220, 219)
