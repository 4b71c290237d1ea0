"""Plain functions the tests share: waiting, ports, reading exactly, counting fds.

Fixtures live in ``conftest.py``; these are imported by name (``from helpers import
wait_until``): pytest puts ``tests/`` on ``sys.path``.
"""

import contextlib
import functools
import gc
import os
import pathlib
import shutil
import socket
import sys
import time
from collections import Counter

import pytest

HOST = "127.0.0.1"


@contextlib.contextmanager
def exclusive(path):
    """Hold an exclusive lock on the file ``path`` (made if missing) while the block runs: one process
    at a time, across pytest-xdist's workers (fcntl on Linux and macOS, msvcrt on Windows)."""
    with open(path, "a+b") as lock:
        if os.name == "nt":
            import msvcrt

            while True:
                try:
                    msvcrt.locking(lock.fileno(), msvcrt.LK_LOCK, 1)  # retries for 10 s, then raises
                    break
                except OSError:
                    continue
        else:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


TUTORIAL = "ECHO_LAB_TUTORIAL"  # names the tutorial's text, where a maintainer has it (the project does not)


@functools.cache
def tutorial_text(facts):
    """The tutorial's text, from the file ECHO_LAB_TUTORIAL names; ``facts``: the file the tests use without it."""
    name = os.environ.get(TUTORIAL, "")
    path = pathlib.Path(name).expanduser()
    if not path.is_file():
        pytest.fail(f"{TUTORIAL}={name!r} names no file: set it to the tutorial's text "
                    f"(000_eb5d85daca0bf7f1.txt), or unset it to test against {facts}", pytrace=False)
    return path.read_text(encoding="utf-8")


def cannot(what, reason, module=False):
    """A test that cannot run here: skip, loudly, saying why and how to fix it; under CI, fail.

    CI on Linux (``CI`` set; .ci/run installs every prerequisite) must run every test, so
    a missing prerequisite there is a failure, not a skip.  On macOS and Windows
    (.github/workflows/platforms.yml), what a system cannot have is skipped before
    this (conftest.py's SYSTEMS); what is left, say `make` on Windows, skips.
    ``module``: called at a test module's top level (skip the whole module).
    """
    if os.environ.get("CI") and sys.platform == "linux":
        pytest.fail(f"{what} cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"{what} SKIPPED: {reason}", allow_module_level=module)


def require(program, install, what=None):
    """The path of ``program`` on PATH; without it, ``cannot`` (saying ``install``: how to get it)."""
    path = shutil.which(program)
    if path is None:
        cannot(what or f"tests that need {program}", f"`{program}` is not installed ({install})")
    return path


def wait_until(predicate, timeout=5.0, what="condition", step=0.005):
    """Poll ``predicate`` until it is true (returns True) or ``timeout`` s pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)
    return True


def free_port(host=HOST):
    """A port nobody listens on now (another process may take it before we do)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def recv_exactly(sock, n, timeout=5.0):
    """Read until ``n`` bytes came or the peer closed; what came."""
    sock.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def round_trip(sock, payload, timeout=5.0):
    """Send ``payload``, read back as many bytes (fewer if the peer closed)."""
    sock.sendall(payload)
    return recv_exactly(sock, len(payload), timeout)


def open_fds():
    """How many fds this process has open."""
    gc.collect()  # what earlier tests left for the collector (a kernel client's sockets) goes first
    return len(os.listdir("/proc/self/fd"))


def fds_opened_since(before):
    """What this process has open now beyond ``before`` (an earlier ``fds_opened_since(Counter())``).

    Each fd is named by what it points at ("socket:[1234]"), so an fd that something else closes
    meanwhile (a kernel client an earlier test left, whose ZeroMQ threads close theirs late) is no
    new one, and a socket left open is one even when it reuses a closed fd's number.
    """
    gc.collect()
    now = Counter()  # several fds can point at the same kind of thing ("anon_inode:[eventpoll]")
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own fd, closed by now
            now[os.readlink(f"/proc/self/fd/{fd}")] += 1
    return now - before


def unacknowledged(sock):
    """Bytes ``sock`` has sent that its peer's kernel has not acknowledged yet (Linux's SIOCOUTQ)."""
    import fcntl
    import struct
    import termios

    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0)))[0]
