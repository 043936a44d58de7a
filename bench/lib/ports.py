"""Ports for the private daemons the bench scripts start (bench/smtp,
bench/lib/peers.py).

A port from bind(0) is an ephemeral port: between picking it here and the
daemon's own bind, any outgoing connection on the host (a relay to the sink,
rspamc, a DNS query) may be given it, and the daemon fails at start-up with
"Address already in use". So free_port() picks below the kernel's ephemeral
range (/proc/sys/net/ipv4/ip_local_port_range), where the kernel never hands
out ports on its own, and never returns the same port twice in one process.
Same scheme as tests/integration/mwtest.py (kept apart: bench does not import
from tests/).

Python 3 standard library only.
"""
import os
import random
import socket
import time

LOW_PORT = 10000          # below: well-known and commonly configured services
_given = set()
_rnd = random.Random(os.getpid() ^ time.monotonic_ns())


def ephemeral_low():
    """First port of the kernel's ephemeral range; 0 when unknown."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _bindable(port, kind):
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(kind=socket.SOCK_STREAM):
    """A port free on 127.0.0.1 (TCP, or UDP with kind=socket.SOCK_DGRAM) for
    a daemon to bind: below the ephemeral range when there is room, never one
    given before by this process. Falls back to bind(0) only when the range
    leaves no room below it or 200 tries found nothing free."""
    low = ephemeral_low()
    if low > LOW_PORT + 1000:
        for _ in range(200):
            port = _rnd.randrange(LOW_PORT, low)
            if port not in _given and _bindable(port, kind):
                _given.add(port)
                return port
    for _ in range(20):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port
    raise OSError("no free port on 127.0.0.1")
