"""Shared helpers for bench/eval and bench/scan: the peers run offline as
private instances (bogofilter with its own database dir; Rspamd with its own
config/db/run/log dirs, one worker, network checks off, Bayes in a private
redis-server; SpamAssassin's spamd with local tests only and a private site
config and Bayes database), process bookkeeping, /proc CPU and RSS accounting, metrics.

Python 3 standard library only. Every daemon binds 127.0.0.1 on a free port,
keeps its data under one temp dir, and is stopped by PID (Runner.close, which
the scripts run at exit, also on Ctrl-C / SIGTERM).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from ports import free_port  # bench/lib/ports.py: below the ephemeral range

CLK = os.sysconf("SC_CLK_TCK")
CORPUS_DEFAULT = "build/corpus"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class CannotRun(Exception):
    """A system could not be set up or run (not a figure)."""


# ---------------------------------------------------------------- processes
class Runner:
    """Owns the temp dir and every process started; close() stops them (TERM,
    then KILL after a grace period) by PID, in reverse start order."""

    def __init__(self, prefix, keep=False):
        self.work = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.work, 0o755)       # daemons dropping to their own users traverse it
        self.keep = keep
        self.procs = []                   # (name, Popen)
        self.closed = False
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, self._signal)

    def _signal(self, signum, frame):
        log(f"signal {signum}: stopping")
        self.close()
        sys.exit(128 + signum)

    def start(self, name, cmd, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        # own process group: Ctrl-C reaches us, we stop them in order
        p = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.procs.append((name, p))
        return p

    def stop(self, p, grace=10.0):
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = [(n, q) for n, q in self.procs if q is not p]

    def close(self):
        if self.closed:
            return
        self.closed = True
        for _, p in reversed(list(self.procs)):
            try:
                self.stop(p)
            except Exception:       # noqa: BLE001 - best effort at exit
                pass
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log(f"kept {self.work}")


def have(prog):
    return shutil.which(prog) is not None


# ---------------------------------------------------------------- /proc
def _stat(pid):
    with open(f"/proc/{pid}/stat") as fh:
        s = fh.read()
    f = s[s.rindex(")") + 2:].split()
    return int(f[1]), sum(int(x) for x in f[11:15]) / CLK   # ppid, utime+stime+cutime+cstime


def tree(roots):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                kids.setdefault(_stat(d)[0], []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [int(r) for r in roots]
    while todo:
        p = todo.pop()
        if p not in out:
            out.append(p)
            todo.extend(kids.get(p, []))
    return out


def tree_cpu(roots):
    tot = 0.0
    for p in tree(roots):
        try:
            tot += _stat(p)[1]
        except (OSError, ValueError, IndexError):
            pass
    return tot


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_hwm_kib(roots):
    """Sum over the live processes of the trees of each one's peak RSS (VmHWM)."""
    return sum(status_kib(p, "VmHWM") for p in tree(roots))


def comm(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def run_measured(cmd, stdout=None, stderr=None, cwd=None, env=None, input_path=None):
    """Run a client command to completion; returns (rc, wall_s, cpu_s, maxrss_kib)
    of that one process (and its reaped children) from wait4()."""
    stdin = open(input_path, "rb") if input_path else subprocess.DEVNULL
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, cwd=cwd, env=env, stdin=stdin)
    try:
        _, status, ru = os.wait4(p.pid, 0)
    except BaseException:
        p.kill()
        p.wait()
        raise
    finally:
        if input_path:
            stdin.close()
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


# ---------------------------------------------------------------- corpus
def corpus_files(root, split, cls):
    d = os.path.join(root, split, cls)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".eml"))


def label_of(path):
    return "spam" if "/spam/" in path else "ham"


# ---------------------------------------------------------------- bogofilter
class Bogofilter:
    """bogofilter with a private database dir; bulk mode (-B) over many files
    in one process. Default cutoffs (Debian: spam_cutoff 0.99, ham_cutoff 0.45)."""

    FMT = "%0.9e, %0.9e, %0.9e"   # longer formats get truncated

    def __init__(self, runner, name="bogofilter"):
        if not have("bogofilter"):
            raise CannotRun("bogofilter not installed (scripts/deps.sh bench)")
        self.db = os.path.join(runner.work, name)
        os.makedirs(self.db, exist_ok=True)
        self.version = subprocess.run(["bogofilter", "-V"], capture_output=True, text=True
                                      ).stdout.splitlines()[0].strip()

    def train(self, spam, ham):
        for flag, files in (("-s", spam), ("-n", ham)):
            rc = subprocess.run(["bogofilter", "-d", self.db, flag, "-B"] + files).returncode
            if rc != 0:
                raise CannotRun(f"bogofilter {flag} -B failed (exit {rc})")
        out = subprocess.run(["bogoutil", "-w", self.db, ".MSG_COUNT"], capture_output=True,
                             text=True).stdout.split()
        return {"spam": int(out[-2]), "ham": int(out[-1])}

    def classify_cmd(self, files):
        return ["bogofilter", "-d", self.db, "-v", "--spamicity-formats=" + self.FMT, "-B"] + files

    @staticmethod
    def parse(text):
        """-> {path: (verdict Spam|Unsure|Ham, spamicity)}"""
        res = {}
        rx = re.compile(r"^(\S+) X-Bogosity: (\w+), tests=bogofilter, spamicity=([0-9.e+-]+)")
        for line in text.splitlines():
            m = rx.match(line)
            if m:
                res[m.group(1)] = (m.group(2), float(m.group(3)))
        return res


# Header fields the receiving side writes: in the corpus they record how
# each mailbox was collected (the collector's relays, its delivery agent,
# its mail reader), and a gateway sees a message before any of them exist.
# The same set mailward's tokenizer leaves out (src/bayes/bayes_token.c).
RECEIVING_SIDE_PREFIXES = ("x-spam", "x-mailward", "x-virus", "x-bogosity", "x-rspamd",
                           "x-mailscanner", "x-amavis", "arc-", "x-original-", "x-envelope-",
                           "x-forwarded-", "x-ms-exchange-", "x-gm-", "x-google-")
RECEIVING_SIDE_NAMES = {"authentication-results", "received-spf", "envelope-to", "status",
                        "x-status", "x-keywords", "x-uid", "x-uidl", "lines", "content-length",
                        "x-mozilla-status", "x-mozilla-status2", "x-evolution", "delivery-date",
                        "x-delivered-to", "x-sieve", "x-mail-from", "x-loop", "x-apparently-to",
                        "x-delivery-agent", "x-mime-autoconverted", "delivered-to",
                        "x-original-to"}


def gateway_view(data):
    """The message as a gateway at the recipient's border would see it: every
    Received line but the bottom one (the origin's hand-off) and the
    receiving-side fields removed; the body untouched."""
    end = data.find(b"\n\n")
    if end < 0:
        return data
    fields, cur = [], []
    for line in data[:end + 1].split(b"\n")[:-1]:
        if line[:1] in (b" ", b"\t") and cur:
            cur.append(line)
        else:
            if cur:
                fields.append(cur)
            cur = [line]
    if cur:
        fields.append(cur)

    def name(f):
        return f[0].split(b":", 1)[0].strip().lower().decode("latin-1")
    rcvd = [i for i, f in enumerate(fields) if name(f) == "received"]
    keep_rcvd = rcvd[-1] if rcvd else -1
    out = []
    for i, f in enumerate(fields):
        n = name(f)
        if "received" in n and i != keep_rcvd:
            continue
        if n in RECEIVING_SIDE_NAMES or n.startswith(RECEIVING_SIDE_PREFIXES):
            continue
        out.extend(f)
    return b"\n".join(out) + b"\n" + data[end + 1:]


# ---------------------------------------------------------------- redis
class Redis:
    def __init__(self, runner):
        if not have("redis-server"):
            raise CannotRun("redis-server not installed (scripts/deps.sh bench)")
        self.port = free_port()
        self.dir = os.path.join(runner.work, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.proc = runner.start("redis-server", [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir,
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--logfile", os.path.join(self.dir, "redis.log")])
        for _ in range(100):
            if self.cmd("PING") == "+PONG":
                return
            time.sleep(0.1)
        raise CannotRun(f"redis-server did not answer on 127.0.0.1:{self.port}")

    def cmd(self, *args):
        """One RESP command; returns the first reply line (bulk strings read whole)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                req = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
                s.sendall(req.encode())
                f = s.makefile("rb")
                line = f.readline().decode().rstrip("\r\n")
                if line.startswith("$") and int(line[1:]) >= 0:
                    return f.read(int(line[1:]) + 2)[:-2].decode(errors="replace")
                return line
        except OSError:
            return None


# ---------------------------------------------------------------- rspamd
RSPAMD_OFF = ("rbl surbl fuzzy_check asn spf dkim dmarc arc emails url_redirector once_received "
              "mx_check greylist ratelimit neural reputation rspamd_update").split()


class Rspamd:
    """A private rspamd: system /etc/rspamd config plus our local.d/override.d
    under WORK/rspamd/etc; one normal worker and the controller on free ports,
    no proxy, DNS pointed at a dead 127.0.0.1 port (every network check and
    HTTP map fetch fails fast), network modules and non-deterministic modules
    off, Bayes (autolearn off) in the given private redis."""

    def __init__(self, runner, redis, no_date_in_past=False, workers=1):
        if not have("rspamd") or not have("rspamc"):
            raise CannotRun("rspamd not installed (scripts/deps.sh bench)")
        self.runner, self.redis = runner, redis
        self.base = os.path.join(runner.work, "rspamd")
        self.workers = workers
        self.version = subprocess.run(["rspamd", "--version"], capture_output=True, text=True
                                      ).stdout.strip().splitlines()[0]
        self.proc = None
        self.configure(no_date_in_past)

    def configure(self, no_date_in_past):
        b = self.base
        for d in ("etc/local.d", "etc/override.d", "db", "run", "log"):
            os.makedirs(os.path.join(b, d), exist_ok=True)
        loc, ovr = os.path.join(b, "etc/local.d"), os.path.join(b, "etc/override.d")
        self.port, self.ctl_port = free_port(), free_port()
        dead_dns = free_port(socket.SOCK_DGRAM)
        files = {
            f"{loc}/options.inc": f'dns {{\n  nameserver = ["127.0.0.1:{dead_dns}"];\n'
                                  '  timeout = 0.1s;\n  retransmits = 1;\n}\n',
            f"{loc}/redis.conf": f'servers = "127.0.0.1:{self.redis.port}";\n',
            f"{loc}/classifier-bayes.conf": f'backend = "redis";\nservers = "127.0.0.1:{self.redis.port}";\n'
                                            'autolearn = false;\n',
            f"{loc}/hfilter.conf": "helo_enabled = false;\nfrom_enabled = false;\nmid_enabled = false;\n",
            f"{loc}/phishing.conf": "phishtank_enabled = false;\nopenphish_enabled = false;\n",
            f"{ovr}/worker-normal.inc": f'bind_socket = "127.0.0.1:{self.port}";\ncount = {self.workers};\n',
            f"{ovr}/worker-controller.inc": f'bind_socket = "127.0.0.1:{self.ctl_port}";\n'
                                            'secure_ip = "127.0.0.1";\n',
            f"{ovr}/worker-proxy.inc": "enabled = false;\n",
            f"{ovr}/worker-fuzzy.inc": "enabled = false;\ncount = -1;\n",
        }
        for m in RSPAMD_OFF:
            files[f"{loc}/{m}.conf"] = "enabled = false;\n"
        dip = f"{loc}/headers_group.conf"
        if no_date_in_past:
            files[dip] = 'symbols {\n  "DATE_IN_PAST" { weight = 0.0; }\n}\n'
        elif os.path.exists(dip):
            os.unlink(dip)
        for path, text in files.items():
            with open(path, "w") as fh:
                fh.write(text)
        for d in ("db", "run", "log"):
            shutil.chown(os.path.join(b, d), "_rspamd", "_rspamd")
        self.no_date_in_past = no_date_in_past

    def start(self, timeout=600):
        b = self.base
        logf = os.path.join(b, "log", "rspamd.log")
        open(logf, "w").close()
        shutil.chown(logf, "_rspamd", "_rspamd")
        self.proc = self.runner.start("rspamd", [
            "rspamd", "-f", "-u", "_rspamd", "-g", "_rspamd", "-c", "/etc/rspamd/rspamd.conf",
            f"--var=LOCAL_CONFDIR={b}/etc", f"--var=DBDIR={b}/db", f"--var=RUNDIR={b}/run",
            f"--var=LOGDIR={b}/log"], stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(b, "stderr.log"), "w"))
        t0 = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise CannotRun(f"rspamd exited ({self.proc.returncode}); see {b}/stderr.log")
            if time.monotonic() - t0 > timeout:
                raise CannotRun("rspamd did not answer /ping")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=1) as r:
                    if r.read().strip() == b"pong":
                        break
            except OSError:
                pass
            time.sleep(0.2)
        # until the hs_helper has compiled (or validated the cached) hyperscan
        # database and told the workers, regexps run through PCRE: wait for it
        rx = re.compile(r"compiled .* regular expressions to the hyperscan tree")
        t1 = time.monotonic()
        while time.monotonic() - t1 < timeout:
            with open(logf, errors="replace") as fh:
                if rx.search(fh.read()):
                    break
            time.sleep(0.5)
        else:
            log("rspamd: no hyperscan-ready line in the log; carrying on")
        time.sleep(2)
        return time.monotonic() - t0

    def workers_pids(self):
        return [p for p in tree([self.proc.pid]) if "rspamd: normal" in comm(p)]

    def stop(self):
        if self.proc is not None:
            self.runner.stop(self.proc, grace=20)
            self.proc = None

    def rspamc(self, args, files, out_path, controller=False, conc=8):
        """rspamc over FILES (conc requests in flight) -> run_measured() tuple."""
        port = self.ctl_port if controller else self.port
        cmd = ["rspamc", "-h", f"127.0.0.1:{port}", "-n", str(conc), "-t", "60"] + args + files
        with open(out_path, "w") as out:
            return run_measured(cmd, stdout=out, stderr=subprocess.STDOUT)

    @staticmethod
    def parse(path):
        """rspamc plain output -> {file: {"action", "score", "symbols": {name: (score, [opts])}}}"""
        msgs, cur = {}, None
        rx_sym = re.compile(r"Symbol: (\S+) \((-?[0-9.]+)\)(?:\[(.*)\])?")
        with open(path, errors="replace") as fh:
            for line in fh:
                m = re.match(r"Results for file: (.*) \([0-9.]+ seconds\)", line)
                if m:
                    cur = msgs[m.group(1)] = {"action": None, "score": None, "symbols": {}}
                elif cur is None:
                    continue
                elif line.startswith("Action: "):
                    cur["action"] = line[8:].strip()
                elif line.startswith("Score: "):
                    cur["score"] = float(line.split()[1])
                elif line.startswith("Symbol: "):
                    ms = rx_sym.match(line.strip())
                    if ms:
                        opts = [o.strip() for o in (ms.group(3) or "").split(",") if o.strip()]
                        cur["symbols"][ms.group(1)] = (float(ms.group(2)), opts)
        return msgs

    @staticmethod
    def bayes_prob(msg):
        """Spam probability from BAYES_SPAM / BAYES_HAM's "NN.NN%" option;
        None when neither fired (too few tokens, or not confident)."""
        for sym, sign in (("BAYES_SPAM", 1), ("BAYES_HAM", -1)):
            if sym in msg["symbols"]:
                for o in msg["symbols"][sym][1]:
                    if o.endswith("%"):
                        p = float(o[:-1]) / 100.0
                        return p if sign > 0 else 1.0 - p
                return 1.0 if sign > 0 else 0.0
        return None


# ---------------------------------------------------------------- SpamAssassin
class SpamAssassin:
    """A private spamd with local tests only (-L: no DNS blocklists, Razor,
    Pyzor or DCC): Debian's site config (/etc/spamassassin) copied to
    WORK/sa/site plus bench settings, its Bayes database under WORK/sa/bayes
    learned with sa-learn, no auto-learning or expiry (a scan never changes
    what the next one sees).  Run as root, sa-learn and spamd's children
    are the package's own user, as an installation runs them.

    SpamAssassin prints scores with one decimal (X-Spam-Status, spamc -R).
    The site config also adds `X-Spam-Tests: _TESTSSCORES(,)_`, every rule
    that hit with its configured score, and the score used for the curves
    is their sum: its own score at full precision, so ties from rounding do
    not cost it recall at a fixed FP rate."""

    USER = "debian-spamd"
    SPAMC_MAX = 64 * 1024 * 1024    # spamc's default (500 KB) passes bigger mail unscanned

    def __init__(self, runner, children=2):
        for prog in ("spamd", "spamc", "sa-learn", "spamassassin"):
            if not have(prog):
                raise CannotRun(f"{prog} not installed (scripts/deps.sh sa)")
        self.runner = runner
        self.children = children
        self.base = os.path.join(runner.work, "sa")
        self.site, self.bayes, self.home = (os.path.join(self.base, d) for d in ("site", "bayes", "home"))
        for d in (self.site, self.bayes, self.home):
            os.makedirs(d, exist_ok=True)
        for name in sorted(os.listdir("/etc/spamassassin")):
            if name.endswith((".pre", ".cf")):
                shutil.copy(os.path.join("/etc/spamassassin", name), self.site)
        with open(os.path.join(self.site, "zz_bench.cf"), "w") as fh:
            fh.write("# bench/eval: Debian's defaults plus these\n"
                     "use_bayes 1\n"
                     f"bayes_path {self.bayes}/bayes\n"
                     "bayes_file_mode 0770\n"
                     "bayes_auto_learn 0\n"
                     "bayes_auto_expire 0\n"
                     "report_safe 0\n"
                     "add_header all Tests _TESTSSCORES(,)_\n")
        self.as_user = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", self.USER, "--"]
            for d in (self.bayes, self.home):
                shutil.chown(d, self.USER)
        self.version = subprocess.run(["spamassassin", "--version"], capture_output=True, text=True
                                      ).stdout.strip().splitlines()[0]
        self.proc = None
        self.port = None

    def _learn_cmd(self, *args):
        return self.as_user + ["env", f"HOME={self.home}", "sa-learn", "-L",
                               f"--siteconfigpath={self.site}"] + list(args)

    def train(self, spam, ham):
        """sa-learn each class from a file list, then sync -> {"spam": n, "ham": n}
        as the database counts them."""
        for cls, files in (("spam", spam), ("ham", ham)):
            lst = os.path.join(self.base, f"{cls}.list")
            with open(lst, "w") as fh:
                fh.write("".join(f + "\n" for f in files))
            os.chmod(lst, 0o644)
            p = subprocess.run(self._learn_cmd(f"--{cls}", "--no-sync", "-f", lst),
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise CannotRun(f"sa-learn --{cls} failed (exit {p.returncode}): {p.stderr.strip()[:200]}")
        if subprocess.run(self._learn_cmd("--sync"), capture_output=True).returncode != 0:
            raise CannotRun("sa-learn --sync failed")
        magic = subprocess.run(self._learn_cmd("--dump", "magic"), capture_output=True, text=True).stdout
        got = {}
        for line in magic.splitlines():
            f = line.split()
            if len(f) >= 5 and f[-1] in ("nspam", "nham"):
                got[f[-1][1:]] = int(f[2])
        return got

    def start(self, timeout=300):
        self.port = free_port()
        log_path = os.path.join(self.base, "spamd.log")
        cmd = ["spamd", "-L", "-x", "--siteconfigpath", self.site, "-i", "127.0.0.1",
               "-p", str(self.port), "-A", "127.0.0.1", "--max-children", str(self.children),
               "--min-children", str(self.children), "-s", log_path,
               "-r", os.path.join(self.base, "spamd.pid")]
        if self.as_user:
            cmd += ["-u", self.USER]
        self.proc = self.runner.start("spamd", cmd, stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(self.base, "spamd.err"), "w"))
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise CannotRun(f"spamd exited ({self.proc.returncode}); see {self.base}/spamd.err")
            if subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(self.port), "-K"],
                              capture_output=True).returncode == 0:
                return time.monotonic() - t0
            time.sleep(0.5)
        raise CannotRun("spamd did not answer PING")

    def stop(self):
        if self.proc is not None:
            self.runner.stop(self.proc, grace=20)
            self.proc = None

    def check_one(self, path):
        """spamc over one file -> {"spam", "score", "reported", "required", "rules"}
        or None when spamd gave no verdict."""
        with open(path, "rb") as fh:
            p = subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(self.port), "-x",
                                "-s", str(self.SPAMC_MAX)], stdin=fh, capture_output=True)
        if p.returncode != 0:
            return None
        return self.parse(p.stdout)

    @staticmethod
    def parse(out):
        head = out.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("latin-1")
        fields = {}
        for m in re.finditer(r"^(X-Spam-(?:Status|Tests)):(.*(?:\n[ \t].*)*)", head, re.M):
            # spamd puts its own on top (and drops older X-Spam-* fields)
            fields.setdefault(m.group(1), " ".join(m.group(2).split()))
        st = re.match(r"(Yes|No), score=(-?[0-9.]+) required=(-?[0-9.]+)", fields.get("X-Spam-Status", ""))
        if not st:
            return None
        rules, total = {}, 0.0
        tests = fields.get("X-Spam-Tests", "none").replace(" ", "")
        if tests != "none":
            for item in tests.split(","):
                name, _, val = item.partition("=")
                rules[name] = float(val)
                total += rules[name]
        reported = float(st.group(2))
        # the sum must round to what spamd printed; if not, trust spamd
        agrees = abs(total - reported) < 0.051
        return {"spam": st.group(1) == "Yes", "reported": reported, "required": float(st.group(3)),
                "rules": rules, "sum_agrees": agrees, "score": total if agrees else reported}

    def check(self, files, conc=4):
        """Every file through spamc, conc requests in flight -> {file: result}."""
        with ThreadPoolExecutor(conc) as ex:
            return {f: r for f, r in zip(files, ex.map(self.check_one, files)) if r is not None}


# ---------------------------------------------------------------- mailward
def mailward_config(runner, name="mailward"):
    d = os.path.join(runner.work, name)
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    cfg = os.path.join(d, "mailward.ini")
    with open(cfg, "w") as fh:
        fh.write(f"# bench: a private data dir, nothing listens\n[storage]\n"
                 f"data_dir = {d}/data\nfsync = no\n")
    return cfg


def mailward_has(binary, cfg, sub):
    """True when `mailward SUB` is a known command (not 'unknown command')."""
    if not os.access(binary, os.X_OK):
        return False
    r = subprocess.run([binary, "-c", cfg, sub, "--help"], capture_output=True, text=True)
    return "unknown command" not in (r.stderr + r.stdout)


# ---------------------------------------------------------------- metrics
def recall_at_fp(spam_scores, ham_scores, fp_rates):
    """For each target ham FP rate f: the threshold T = the (k+1)-th highest ham
    score, k = floor(f * n_ham); a message is flagged when score > T (strictly),
    so at most k ham are flagged even with ties. -> [(f, T, spam_recall, ham_fp)]"""
    hs = sorted(ham_scores, reverse=True)
    out = []
    for f in fp_rates:
        k = int(f * len(hs) + 1e-9)
        t = hs[k] if k < len(hs) else float("-inf")
        rec = sum(1 for s in spam_scores if s > t) / len(spam_scores) if spam_scores else 0.0
        fp = sum(1 for s in hs if s > t)
        out.append((f, t, rec, fp))
    return out
