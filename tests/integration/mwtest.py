"""Helpers for mailward's end-to-end tests (standard library only).

- free_port()            a free TCP port on 127.0.0.1
- Server                 writes a config, runs `mailward serve`, stops / kills /
                         restarts it, runs admin commands with the same config
- Client                 raw-socket SMTP client: exact bytes out, multi-line
                         replies in, timeouts, "connection closed" checks, STARTTLS
- Sink                   recording SMTP server in a thread: every transaction's
                         envelope and raw DATA bytes (still dot-stuffed), scriptable
                         4xx/5xx answers, can be taken down and brought back
- Maildir helpers        read what a maildir: destination received

Conventions (plan Appendix B): lines are sent verbatim with explicit CRLF,
replies are parsed into (code, text-lines), every wait has a deadline.
"""
import base64
import json
import os
import random
import re
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("MAILWARD_BIN", os.path.join(REPO, "build", "release", "mailward"))
# Everything time-bound is scaled by this factor (ASan builds are ~3x slower).
SANITIZED = os.environ.get("MAILWARD_SANITIZED", "0") == "1" or "asan" in BIN
SLOW = float(os.environ.get("MW_TEST_SLOW", "3" if SANITIZED else "1"))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ERROR: UndefinedBehaviorSanitizer")

HOSTNAME = "mx.mailward.test"
SUMMARY = []   # lines printed at the end of the pytest run (conftest.pytest_terminal_summary)
REF_RE = re.compile(r"\(ref ([0-9A-Z]{4}-[0-9A-Z]{4})\)")
QID_RE = re.compile(r"queued as ([^\s()]+)")


_PORTS_GIVEN = set()


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def free_port():
    """A port free on 127.0.0.1 for a server to listen on.  Taken below the
    kernel's ephemeral range when there is room: a port from bind(0) is an
    ephemeral one, and between this check and the server's own bind any
    outgoing connection on the host (a delivery, a test client) may be
    given it - "Address already in use" at start-up.  Never the same port
    twice in one test run."""
    low = _ephemeral_low()
    if low > 11000:
        rnd = random.Random(os.getpid() ^ time.monotonic_ns())
        for _ in range(200):
            port = rnd.randrange(10000, low)
            if port in _PORTS_GIVEN:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _PORTS_GIVEN.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a truthy value; return it, or raise."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout * SLOW:.1f}s waiting for {what}")
        time.sleep(interval)


def token():
    return "tok-" + uuid.uuid4().hex[:16]


def message(subject, body="Hello.\r\n", sender="sender@example.org", to="alice@acme.test",
            extra_headers=""):
    """A small RFC 5322 message with CRLF line ends (not dot-stuffed)."""
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@test.example>\r\n{extra_headers}"
            f"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n{body}").encode()


def attachment_message(tok, filename, data, ctype="application/octet-stream"):
    """A message with a short text part and data as a base64 attachment
    named filename, the token as its subject (not dot-stuffed)."""
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (f"From: <a@example.org>\r\nTo: <alice@acme.test>\r\nSubject: {tok}\r\n"
            f"Message-ID: <{tok}@example.org>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
            "--zz\r\nContent-Type: text/plain\r\n\r\nThe files, as promised.\r\n"
            f"--zz\r\nContent-Type: {ctype}; name=\"{filename}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{filename}\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{b64}--zz--\r\n").encode()


def dot_stuff(data):
    out = []
    for line in data.split(b"\r\n"):
        out.append(b"." + line if line.startswith(b".") else line)
    return b"\r\n".join(out)


# ---------------------------------------------------------------------------
# Server


def default_config(port, admin_port, data_dir):
    return {
        "smtp": {"listen": f"127.0.0.1:{port}", "hostname": HOSTNAME,
                 "max_connections": "200", "max_connections_per_ip": "100",
                 "bare_lf": "normalize", "require_helo": "yes"},
        "limits": {"max_message_size": "1m", "max_recipients": "100",
                   "idle_timeout": "60s", "data_timeout": "60s", "session_timeout": "10m"},
        "storage": {"data_dir": data_dir, "fsync": "yes"},
        "queue": {"delivery_workers": "4", "retry_min": "1s", "retry_max": "2s",
                  "delivery_timeout": "10s"},
        "log": {"level": "info"},
        "admin": {"listen": f"127.0.0.1:{admin_port}"},
        # Every test client is 127.0.0.1: one IP for what would be many
        # clients, so the directory-harvest refusal is off unless a test
        # turns it on (tests/integration/test_lists.py); its tarpit is off
        # too, unless a test measures it.
        "reputation": {"harvest_min_invalid": "0", "harvest_delay": "0"},
    }


class Server:
    """One mailward instance with its own config, data dir and ports.

    overrides: {"section": {"key": "value" or None (= remove)}}
    """

    def __init__(self, workdir, overrides=None, env=None, name="mw"):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.name = name
        self.port = free_port()
        self.admin_port = free_port()
        self.data_dir = os.path.join(self.workdir, name + "-data")
        self.conf = default_config(self.port, self.admin_port, self.data_dir)
        for sec, kv in (overrides or {}).items():
            for k, v in kv.items():
                if v is None:
                    self.conf.get(sec, {}).pop(k, None)
                else:
                    self.conf.setdefault(sec, {})[k] = str(v)
        self.config_path = os.path.join(self.workdir, name + ".ini")
        self.stderr_path = os.path.join(self.workdir, name + ".stderr")
        self.env = dict(env or {})
        self.proc = None
        self.starts = 0
        self.write_config()

    def write_config(self):
        with open(self.config_path, "w") as fh:
            for sec, kv in self.conf.items():
                fh.write(f"[{sec}]\n")
                for k, v in kv.items():
                    fh.write(f"{k} = {v}\n")
                fh.write("\n")

    def start(self, env=None, wait=True):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        e = dict(os.environ)
        e.update(self.env)
        if env is not None:
            e.update(env)
        err = open(self.stderr_path, "ab")
        err.write(f"=== start #{self.starts} ({time.strftime('%H:%M:%S')}) env={env or self.env}\n".encode())
        err.flush()
        self.proc = subprocess.Popen([BIN, "-c", self.config_path, "serve"], stdin=subprocess.DEVNULL,
                                     stdout=err, stderr=err, env=e, cwd=self.workdir)
        err.close()
        self.starts += 1
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self, timeout=15):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mailward exited with {self.proc.returncode} during start-up:\n"
                                     + self.stderr_tail())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.03)
        raise AssertionError("mailward did not listen in time:\n" + self.stderr_tail())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM (graceful), then SIGKILL if it does not exit. Returns the exit code."""
        if not self.running():
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("mailward did not exit within %ss of SIGTERM" % (timeout * SLOW))

    def kill(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self, env=None):
        self.stop()
        return self.start(env=env)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as fh:
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def sanitizer_report(self):
        """The first sanitizer report in the server's stderr (all runs), or None."""
        text = self.stderr_text()
        hits = [text.find(m) for m in SANITIZER_MARKS if m in text]
        if not hits:
            return None
        i = min(hits)
        return text[max(0, text.rfind("\n", 0, max(0, i - 200))):i + 4000]

    def stderr_tail(self, n=80):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    # --- admin commands ---
    def cli(self, *args, check=True, timeout=30):
        cmd = [BIN, "-c", self.config_path] + [str(a) for a in args]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout * SLOW,
                           cwd=self.workdir)
        p.out = p.stdout.decode(errors="replace")
        p.err = p.stderr.decode(errors="replace")
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> exit {p.returncode}\nstdout: {p.out}\nstderr: {p.err}")
        return p

    def cli_json(self, *args, check=True):
        p = self.cli(*args, "--json", check=check)
        if p.returncode != 0:
            return p.returncode, None
        return p.returncode, json.loads(p.out)

    def add_tenant(self, tenant, domains, users=(), aliases=None):
        """domains: {domain: deliver_url}; users: addresses ("@d" = catch-all)."""
        self.cli("tenant", "add", tenant)
        for d, url in domains.items():
            self.cli("domain", "add", d, "--tenant", tenant, "--deliver", url)
        for u in users:
            args = ["user", "add", u]
            for a in (aliases or {}).get(u, []):
                args += ["--alias", a]
            self.cli(*args)

    def log_search(self, *args):
        """log search ... --json -> list of results ([] on exit 1)."""
        p = self.cli("log", "search", *args, "--json", check=False)
        if p.returncode == 1 and not p.out.strip().startswith("{"):
            return []
        assert p.returncode in (0, 1), f"log search {args}: exit {p.returncode}: {p.err}"
        return json.loads(p.out).get("results", []) if p.out.strip() else []

    def queue_list(self):
        p = self.cli("queue", "list", "--json")
        doc = json.loads(p.out) if p.out.strip() else []
        if isinstance(doc, dict):
            for k in ("queue", "messages", "results", "items"):
                if k in doc:
                    return doc[k]
            return []
        return doc

    def spool_files(self, sub):
        d = os.path.join(self.data_dir, "spool", sub)
        try:
            return sorted(os.listdir(d))
        except FileNotFoundError:
            return []

    def client(self, **kw):
        return Client(self.port, **kw)

    def session(self, helo="client.example", **kw):
        """A connected client that has read the greeting and sent EHLO."""
        c = Client(self.port, **kw)
        c.expect(220)
        c.cmd(f"EHLO {helo}", 250)
        return c


# ---------------------------------------------------------------------------
# Raw SMTP client


class Closed(Exception):
    pass


class Reply:
    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines          # texts after "NNN-" / "NNN "
        self.raw = raw

    @property
    def text(self):
        return "\n".join(self.lines)

    def ref(self):
        m = REF_RE.search(self.text)
        return m.group(1) if m else None

    def qid(self):
        m = QID_RE.search(self.text)
        return m.group(1) if m else None

    def __repr__(self):
        return f"Reply({self.raw!r})"


class Client:
    """source: the local address to connect from, e.g. "127.0.1.2" (Linux
    routes all of 127/8 on lo), so one test can be several client IPs and
    networks; None: the system's choice (127.0.0.1)."""

    def __init__(self, port, host="127.0.0.1", timeout=10, connect=True, source=None):
        self.host, self.port, self.timeout = host, port, timeout * SLOW
        self.source = source
        self.buf = b""
        self.sock = None
        self.transcript = []
        if connect:
            self.sock = socket.create_connection((host, port), timeout=self.timeout,
                                                 source_address=(source, 0) if source else None)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append((">", data))
        self.sock.sendall(data)

    def send_slow(self, data, chunk=1, delay=0.005):
        """Send in chunk-byte writes, delay seconds apart (plan P2)."""
        if isinstance(data, str):
            data = data.encode()
        for i in range(0, len(data), chunk):
            self.sock.sendall(data[i:i + chunk])
            if delay:
                time.sleep(delay)
        self.transcript.append((">", data))

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            raise Closed("connection closed by server; unread: %r" % self.buf)
        self.buf += chunk

    def read_line(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout * SLOW
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete reply line within %.1fs; have %r" % (timeout, self.buf))
            self._fill(left)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self, timeout=None):
        lines, raw = [], b""
        while True:
            line = self.read_line(timeout)
            raw += line + b"\r\n"
            m = re.match(rb"^(\d{3})([ -])(.*)$", line)
            assert m, f"malformed reply line {line!r}"
            lines.append(m.group(3).decode(errors="replace"))
            if m.group(2) == b" ":
                r = Reply(int(m.group(1)), lines, raw)
                self.transcript.append(("<", raw))
                return r

    def expect(self, code, contains=None, timeout=None):
        """Read one reply; code may be an int (exact) or a str prefix like '4' / '55'."""
        r = self.reply(timeout)
        if isinstance(code, int):
            ok = r.code == code
        elif isinstance(code, (tuple, list, set)):
            ok = r.code in code
        else:
            ok = str(r.code).startswith(code)
        assert ok, f"expected {code}, got {r.raw!r}\ntranscript tail: {self.transcript[-6:]}"
        if contains:
            for c in ([contains] if isinstance(contains, str) else contains):
                assert c in r.text, f"expected {c!r} in reply {r.raw!r}"
        return r

    def cmd(self, line, code=None, contains=None, timeout=None):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        if code is None:
            return self.reply(timeout)
        return self.expect(code, contains, timeout)

    def assert_closed(self, timeout=5):
        """The server closes the connection within timeout (no further reply lines)."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"connection still open after {timeout * SLOW}s; unread {self.buf!r}"
            try:
                self._fill(left)
            except Closed:
                assert self.buf == b"", f"unexpected bytes before close: {self.buf!r}"
                return
            except socket.timeout:
                raise AssertionError(f"connection still open after {timeout * SLOW}s; unread {self.buf!r}")

    def assert_silent(self, wait=0.5):
        """Nothing more arrives within wait seconds (connection may stay open)."""
        self.sock.settimeout(wait * SLOW)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            chunk = None
        assert not self.buf and not chunk, f"unexpected extra bytes: {self.buf + (chunk or b'')!r}"

    def starttls(self, ctx=None):
        """Upgrade after a 220 reply to STARTTLS was read."""
        assert self.buf == b"", f"bytes after the STARTTLS reply: {self.buf!r}"
        if ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)
        return self.sock

    # --- transaction helpers ---
    def ehlo(self, name="client.example"):
        return self.cmd(f"EHLO {name}", 250)

    def send_mail(self, sender, rcpts, data, mail_params=""):
        """One transaction, lock-step. Returns the end-of-data reply."""
        self.cmd(f"MAIL FROM:<{sender}>{mail_params}", 250)
        for r in rcpts:
            self.cmd(f"RCPT TO:<{r}>", 250)
        self.cmd("DATA", 354)
        self.send(dot_stuff(data) + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        return self.reply(timeout=30)


# ---------------------------------------------------------------------------
# Recording sink


class Txn:
    def __init__(self, session, helo):
        self.session = session
        self.helo = helo
        self.mail_from = None
        self.rcpts = []
        self.raw = b""         # DATA bytes as received (dot-stuffed), without the final ".\r\n"
        self.reply = None      # code the sink gave at end of data
        self.time = time.time()

    @property
    def data(self):
        """Content after dot-unstuffing."""
        return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in self.raw.split(b"\r\n"))

    def header(self, name):
        head = self.data.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
        m = re.search(r"(?im)^" + re.escape(name) + r":[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head)
        return m.group(1).replace("\r\n", "").strip() if m else None

    def __repr__(self):
        return f"Txn(from={self.mail_from!r}, rcpts={self.rcpts}, {len(self.raw)} bytes, reply={self.reply})"


class _SinkHandler(socketserver.StreamRequestHandler):
    timeout = 60

    def handle(self):
        sink = self.server.sink
        sess = sink._new_session()
        w = self.wfile

        def say(code, text):
            w.write(f"{code} {text}\r\n".encode())
            w.flush()

        def scripted(stage, txn, arg=None):
            rule = sink.rule
            if rule is None:
                return None
            return rule(stage, txn, arg)

        r = scripted("CONNECT", None)
        if r:
            say(*r)
            if r[0] >= 400:
                return
        else:
            say(220, "sink.test ESMTP recording sink")
        helo = None
        txn = None
        lmtp = False
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            sink._count_line(line)
            cmdline = line.rstrip(b"\r\n").decode(errors="replace")
            verb = cmdline.split(" ", 1)[0].upper()
            if verb in ("EHLO", "LHLO"):
                helo = cmdline[5:]
                w.write(b"250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                        b"250-ENHANCEDSTATUSCODES\r\n250 SIZE 104857600\r\n")
                w.flush()
                lmtp = verb == "LHLO"
            elif verb == "HELO":
                helo = cmdline[5:]
                say(250, "sink.test")
            elif verb == "MAIL":
                txn = Txn(sess, helo)
                m = re.match(r"(?i)MAIL FROM:\s*<([^>]*)>", cmdline)
                txn.mail_from = m.group(1) if m else cmdline
                r = scripted("MAIL", txn, txn.mail_from)
                if r and r[0] >= 400:
                    txn = None
                say(*(r or (250, "2.1.0 Ok")))
            elif verb == "RCPT":
                m = re.match(r"(?i)RCPT TO:\s*<([^>]*)>", cmdline)
                rcpt = m.group(1) if m else cmdline
                r = scripted("RCPT", txn, rcpt)
                if txn is None:
                    say(503, "5.5.1 need MAIL")
                    continue
                if not r or r[0] < 400:
                    txn.rcpts.append(rcpt)
                say(*(r or (250, "2.1.5 Ok")))
            elif verb == "DATA":
                if txn is None or not txn.rcpts:
                    say(503, "5.5.1 need RCPT")
                    continue
                say(354, "go ahead")
                raw = b""
                while True:
                    l = self.rfile.readline(1 << 20)
                    if not l:
                        return
                    if l == b".\r\n" and (raw == b"" or raw.endswith(b"\r\n")):
                        break
                    raw += l
                txn.raw = raw[:-2] if raw.endswith(b"\r\n") else raw
                r = scripted("DATA", txn, None)
                txn.reply = (r or (250,))[0]
                sink._record(txn)
                for _ in (txn.rcpts if lmtp else [None]):   # LMTP: one reply per recipient
                    w.write(("%d %s\r\n" % (r or (250, "2.0.0 Ok: recorded"))).encode())
                w.flush()
                txn = None
            elif verb == "RSET":
                txn = None
                say(250, "2.0.0 Ok")
            elif verb == "NOOP":
                say(250, "2.0.0 Ok")
            elif verb == "QUIT":
                say(221, "2.0.0 Bye")
                return
            else:
                say(500, "5.5.2 unknown command")


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Sink:
    """Recording SMTP server on 127.0.0.1:port.

    rule(stage, txn, arg) -> None or (code, text): stage is CONNECT, MAIL, RCPT
    (arg = recipient) or DATA; a rule may also sleep. Accepted transactions are
    appended to .txns (also those answered 4xx/5xx at DATA: see Txn.reply).
    """

    def __init__(self, port=None):
        self.port = port or free_port()
        self.txns = []
        self.sessions = 0
        self.rule = None
        self.cond = threading.Condition()
        self.srv = None
        self.thread = None

    def start(self):
        assert self.srv is None
        self.srv = _TCPServer(("127.0.0.1", self.port), _SinkHandler)
        self.srv.sink = self
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stop listening ("downstream down"); open sessions are left to die."""
        if self.srv:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None

    def url(self, scheme="smtp"):
        return f"{scheme}://127.0.0.1:{self.port}"

    def _new_session(self):
        with self.cond:
            self.sessions += 1
            return self.sessions

    def _count_line(self, line):
        pass

    def _record(self, txn):
        with self.cond:
            self.txns.append(txn)
            self.cond.notify_all()

    def accepted(self):
        with self.cond:
            return [t for t in self.txns if t.reply == 250]

    def find(self, text):
        """Accepted transactions whose raw data contains text."""
        b = text.encode() if isinstance(text, str) else text
        return [t for t in self.accepted() if b in t.raw]

    def wait_for(self, text, n=1, timeout=20):
        return wait_until(lambda: (lambda r: r if len(r) >= n else None)(self.find(text)), timeout,
                          what=f"{n} message(s) with {text!r} at the sink")


# ---------------------------------------------------------------------------
# Maildir


def maildir_messages(root, rcpt):
    """[(filename, bytes)] in ROOT/<rcpt>/new (and cur)."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(root, rcpt, sub)
        try:
            names = sorted(os.listdir(d))
        except FileNotFoundError:
            continue
        for n in names:
            try:
                with open(os.path.join(d, n), "rb") as fh:
                    out.append((n, fh.read()))
            except FileNotFoundError:
                pass
    return out


def maildir_find(root, rcpt, text):
    b = text.encode() if isinstance(text, str) else text
    return [m for n, m in maildir_messages(root, rcpt) if b in m]


def maildir_wait(root, rcpt, text, n=1, timeout=20):
    return wait_until(lambda: (lambda r: r if len(r) >= n else None)(maildir_find(root, rcpt, text)),
                      timeout, what=f"{n} message(s) with {text!r} in maildir of {rcpt}")


def header_of(msg, name):
    head = msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode(errors="replace")
    m = re.search(r"(?im)^" + re.escape(name) + r":[ \t]*([^\r\n]*(?:\n[ \t][^\r\n]*)*)", head)
    return m.group(1).replace("\n", "").strip() if m else None


def bare_cr_lf(data):
    """Offsets of bare CR or bare LF (or NUL) in data."""
    bad = []
    for i, c in enumerate(data):
        if c == 0x0D and (i + 1 >= len(data) or data[i + 1] != 0x0A):
            bad.append(i)
        elif c == 0x0A and (i == 0 or data[i - 1] != 0x0D):
            bad.append(i)
    return bad
