"""The command line, ``python -m echo_lab server|client``, as real processes.

The tutorial's two scripts must reproduce its transcripts (ports differ, so
lines are compared with regexes), and everything that can go wrong from
outside must end in a clear line and an exit status, never a traceback.
"""

import ast
import contextlib
import pathlib
import queue
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict

import pytest

from echo_lab.net import close_with_reset
from echo_lab.seed import messages
from helpers import free_port

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
MSG1, MSG2 = messages
BOTH = MSG1 + MSG2
MODES = pytest.mark.parametrize("flags", [[], ["--fixed"]], ids=["seed", "fixed"])

ADDR = r"\('127\.0\.0\.1', (\d+)\)"
BYTES = r"(b'[^']*'|b\"[^\"]*\")"


def command(*args):
    return [sys.executable, "-m", "echo_lab", *map(str, args)]


def _sigint_default():
    # A child inherits an ignored SIGINT (e.g. from a shell's background
    # job); Python installs its KeyboardInterrupt handler only if it is not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(*args, timeout=20):
    """Run ``python -m echo_lab ARGS`` to completion (with a timeout)."""
    return subprocess.run(
        command(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def no_traceback(*texts):
    for text in texts:
        assert "Traceback" not in text, text


class Proc:
    """A running ``python -m echo_lab`` whose output lines are collected as they come."""

    def __init__(self, *args):
        self.p = subprocess.Popen(
            command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            preexec_fn=_sigint_default,
        )
        self.out, self.err = [], []
        self._new = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, args=(self.p.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.p.stderr, self.err), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read(self, stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))
            self._new.put(None)
        self._new.put(None)

    def wait_for(self, lines, regex, count=1, timeout=10.0):
        """Wait until ``count`` lines of ``lines`` match ``regex``; return the matches."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in map(re.compile(regex).search, list(lines)) if m]
            if len(found) >= count:
                return found
            if self.p.poll() is not None and not any(t.is_alive() for t in self._readers):
                raise AssertionError(
                    f"process exited ({self.p.returncode}) before printing {regex!r}:\n"
                    f"stdout: {self.out}\nstderr: {self.err}"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no {regex!r} after {timeout} s:\nstdout: {self.out}\nstderr: {self.err}"
                )
            with contextlib.suppress(queue.Empty):
                self._new.get(timeout=min(left, 0.1))

    def finish(self, timeout=10.0):
        """Wait for the process to exit; return its status once all output is read."""
        rc = self.p.wait(timeout=timeout)
        for t in self._readers:
            t.join(timeout=5)
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=10)
        for t in self._readers:
            t.join(timeout=5)
        self.p.stdout.close()
        self.p.stderr.close()


@pytest.fixture
def spawn():
    procs = []

    def start(*args):
        proc = Proc(*args)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


def start_server(spawn, flags, attempts=5):
    """Start a server on a free port; retry if another process took the port meanwhile."""
    for _ in range(attempts):
        port = free_port()
        server = spawn("server", HOST, port, *flags)
        try:
            server.wait_for(server.out, r"^listening on ")
            return server, port
        except AssertionError:
            server.finish()
            if "in use" not in "\n".join(server.err):
                raise
    raise AssertionError("no free port found")


# --------------------------------------------------------------------------
# the tutorial's transcripts


def check_server_transcript(lines, port):
    assert lines[0] == f"listening on ('127.0.0.1', {port})"
    assert lines[-1] == "caught keyboard interrupt, exiting"
    events = []  # (kind, client port, bytes or None), in order
    for line in lines[1:-1]:
        if m := re.fullmatch(rf"accepted connection from {ADDR}", line):
            events.append(("accepted", int(m[1]), None))
        elif m := re.fullmatch(rf"echoing {BYTES} to {ADDR}", line):
            events.append(("echoing", int(m[2]), ast.literal_eval(m[1])))
        elif m := re.fullmatch(rf"closing connection to {ADDR}", line):
            events.append(("closing", int(m[1]), None))
        else:
            pytest.fail(f"unexpected server line {line!r}")
    accepted = [p for kind, p, _ in events if kind == "accepted"]
    closed = [p for kind, p, _ in events if kind == "closing"]
    assert len(accepted) == 2 and len(set(accepted)) == 2, lines
    assert sorted(closed) == sorted(accepted), lines
    for client_port in accepted:
        mine = [(kind, data) for kind, p, data in events if p == client_port]
        assert mine[0][0] == "accepted" and mine[-1][0] == "closing", mine
        echoed = b"".join(data for kind, data in mine[1:-1] if kind == "echoing")
        assert echoed == BOTH, mine
        assert all(kind == "echoing" for kind, _ in mine[1:-1]), mine


def check_client_transcript(lines, port):
    assert lines[:2] == [
        f"starting connection 1 to ('127.0.0.1', {port})",
        f"starting connection 2 to ('127.0.0.1', {port})",
    ]
    sent, received, closed = defaultdict(list), defaultdict(list), []
    for line in lines[2:]:
        if m := re.fullmatch(rf"sending {BYTES} to connection (\d+)", line):
            assert int(m[2]) not in closed, f"{line!r} after closing"
            sent[int(m[2])].append(ast.literal_eval(m[1]))
        elif m := re.fullmatch(rf"received {BYTES} from connection (\d+)", line):
            connid = int(m[2])
            assert int(m[2]) not in closed, f"{line!r} after closing"
            received[connid].append(ast.literal_eval(m[1]))
            # an echo cannot come before what it echoes was sent
            assert BOTH.startswith(b"".join(received[connid]))
            assert len(b"".join(received[connid])) <= len(b"".join(sent[connid]))
        elif m := re.fullmatch(r"closing connection (\d+)", line):
            closed.append(int(m[1]))
        else:
            pytest.fail(f"unexpected client line {line!r}")
    assert dict(sent) == {1: [MSG1, MSG2], 2: [MSG1, MSG2]}
    assert {c: b"".join(chunks) for c, chunks in received.items()} == {1: BOTH, 2: BOTH}
    assert sorted(closed) == [1, 2]


@MODES
def test_server_and_client_reproduce_the_transcripts(spawn, flags):
    server, port = start_server(spawn, flags)
    client = run("client", HOST, port, 2, *flags)
    assert client.returncode == 0, client.stderr
    assert client.stderr == ""
    check_client_transcript(client.stdout.splitlines(), port)
    server.wait_for(server.out, r"^closing connection to ", count=2)
    server.p.send_signal(signal.SIGINT)
    assert server.finish() == 0
    check_server_transcript(server.out, port)
    assert server.err == [], "a loopback server prints nothing on stderr"


# --------------------------------------------------------------------------
# Ctrl-C


@MODES
@pytest.mark.parametrize("with_client", [False, True], ids=["idle", "client-connected"])
def test_ctrl_c_stops_the_server_cleanly(spawn, sockets, flags, with_client):
    server, port = start_server(spawn, flags)
    if with_client:
        client = sockets(socket.create_connection((HOST, port), timeout=5))
        server.wait_for(server.out, r"^accepted connection from ")
        client.sendall(b"ping")
        assert client.recv(4) == b"ping"  # the server is in its loop
    else:
        time.sleep(0.3)  # a person's Ctrl-C comes well after "listening on"
    server.p.send_signal(signal.SIGINT)
    assert server.finish() == 0
    assert server.out[-1] == "caught keyboard interrupt, exiting"
    no_traceback("\n".join(server.err))
    if with_client:  # the server closed its side of the connection
        client.settimeout(5)
        assert client.recv(10) == b""


def test_on_windows_the_servers_select_waits_half_a_second_at_a_time(monkeypatch):
    """Windows' select() cannot be interrupted: the CLI server's selector there (WakingSelector) calls it
    for at most WAKE seconds at a time, so that Ctrl-C gets in, and still waits for what it waits for."""
    from echo_lab.__main__ import WAKE, WakingSelector

    waits = []
    plain = WakingSelector.__mro__[1]  # the system's own selector class
    real = plain.select
    monkeypatch.setattr(plain, "select", lambda self, timeout=None: waits.append(timeout) or real(self, timeout))
    a, b = socket.socketpair()
    with a, b, WakingSelector() as sel:
        sel.register(a, selectors.EVENT_READ)
        timer = threading.Timer(1.2, b.send, (b"x",))
        timer.start()
        start = time.monotonic()
        ready = sel.select()  # timeout=None: until the byte comes, 1.2 s from now
        waited = time.monotonic() - start
        timer.join(5)
        assert [key.fileobj for key, _ in ready] == [a] and waited >= 1.1, (ready, waited)
        assert len(waits) >= 3 and all(w is not None and w <= WAKE for w in waits), waits
        a.recv(1)
        start = time.monotonic()
        assert sel.select(0.2) == [] and time.monotonic() - start >= 0.19  # a timeout of its own still holds
    assert WAKE <= 0.5


@MODES
def test_ctrl_c_right_after_listening_on(spawn, flags):
    """Ctrl-C the moment "listening on" appears (as a script or test would).

    Each try is a race, so try several times: one traceback is a failure.
    """
    for _ in range(20):
        server, _ = start_server(spawn, flags)
        server.p.send_signal(signal.SIGINT)
        rc = server.finish()
        no_traceback("\n".join(server.err))
        assert rc == 0
        assert server.out[-1] == "caught keyboard interrupt, exiting"
        server.kill()


# --------------------------------------------------------------------------
# bad command lines


SERVER_USAGE = "usage: python -m echo_lab server <host> <port> [--fixed] [--idle-timeout S]"
CLIENT_USAGE = "usage: python -m echo_lab client <host> <port> <num_connections> [--fixed] [--timeout S]"


def test_no_command_prints_usage():
    result = run()
    assert result.returncode == 1
    assert re.match(r"usage: python -m echo_lab \{server,client[,}]", result.stderr), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    no_traceback(result.stderr)


@pytest.mark.parametrize(
    "args, usage",
    [
        (["server"], SERVER_USAGE),
        (["server", HOST], SERVER_USAGE),
        (["client"], CLIENT_USAGE),
        (["client", HOST, 1], CLIENT_USAGE),
    ],
    ids=["server", "server-host", "client", "client-host-port"],
)
def test_missing_arguments_print_the_usage_line(args, usage):
    """As the tutorial's scripts do: the usage line, alone, and status 1."""
    result = run(*args)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [usage], result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "command, usage", [("server", SERVER_USAGE), ("client", CLIENT_USAGE)], ids=["server", "client"]
)
def test_help_starts_with_the_usage_line(command, usage):
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == usage, result.stdout
    assert "--fixed" in result.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["server", HOST, "abc"], ["port", "'abc'"]),
        (["server", HOST, "70000"], ["port", "70000"]),
        (["server", HOST, "-1"], ["port", "-1"]),
        (["client", HOST, "abc", "1"], ["port", "'abc'"]),
        (["client", HOST, "70000", "1"], ["port", "70000"]),
        (["client", HOST, "1", "x"], ["num_connections", "'x'"]),
        (["client", HOST, "1", "0"], ["num_connections", "'0'"]),
        (["client", HOST, "1", "1", "--timeout", "soon"], ["--timeout", "'soon'"]),
        (["client", HOST, "1", "1", "--timeout", "nan"], ["--timeout", "'nan'"]),
        (["client", HOST, "1", "1", "--timeout", "inf"], ["--timeout", "'inf'"]),
        (["client", HOST, "1", "1", "--fixed", "--timeout", "nan"], ["--timeout", "'nan'"]),
        (["client", HOST, "1", "1", "--fixed", "--timeout", "inf"], ["--timeout", "'inf'"]),
        (["client", HOST, "1", "1", "--timeout", "0"], ["--timeout", "'0'"]),
        (["client", HOST, "1", "1", "--fixed", "--timeout", "-1"], ["--timeout", "'-1'"]),
        (["server", HOST, "1", "extra"], ["extra"]),
    ],
    ids=[
        "server-port-abc",
        "server-port-70000",
        "server-port-negative",
        "client-port-abc",
        "client-port-70000",
        "client-n-x",
        "client-n-0",
        "client-timeout-soon",
        "client-timeout-nan",
        "client-timeout-inf",
        "fixed-client-timeout-nan",
        "fixed-client-timeout-inf",
        "client-timeout-0",
        "fixed-client-timeout-negative",
        "server-extra-argument",
    ],
)
def test_bad_values_give_one_clear_error(args, words):
    """One line on stderr, and status 2 (argparse's status for a usage error)."""
    result = run(*args)
    no_traceback(result.stderr)
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith("error:"), result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    assert result.returncode == 2


def test_timeout_0_is_refused_at_once_not_10_s(sockets):
    silent = sockets(socket.create_server((HOST, 0)))  # would keep the client waiting
    t0 = time.monotonic()
    result = run("client", HOST, silent.getsockname()[1], 1, "--fixed", "--timeout", 0)
    assert time.monotonic() - t0 < 5
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: argument --timeout:"), result.stderr


@MODES
def test_port_in_use(sockets, flags):
    holder = sockets(socket.socket())
    holder.bind((HOST, 0))
    holder.listen()
    port = holder.getsockname()[1]
    result = run("server", HOST, port, *flags)
    assert result.returncode == 1
    no_traceback(result.stdout, result.stderr)
    assert f"('127.0.0.1', {port})" in result.stderr
    assert "in use" in result.stderr
    assert "listening on" not in result.stdout


HINT = "is the server running"


@MODES
def test_server_unknown_host(flags):
    """Only the unknown-host line: no warning about who can reach an address that is not there."""
    result = run("server", "nosuchhost.invalid", 0, *flags)
    assert result.returncode == 1
    no_traceback(result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert not [line for line in lines if line.startswith("warning")], lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("cannot listen on ('nosuchhost.invalid', 0): unknown host"), lines
    assert result.stdout == ""


@MODES
def test_client_unknown_host(flags):
    result = run("client", "nosuchhost.invalid", 1, 1, *flags)
    assert result.returncode == 1
    no_traceback(result.stdout, result.stderr)
    assert "unknown host" in result.stderr or "connection 1 failed:" in result.stderr, result.stderr
    assert "failed" not in result.stdout and "unknown" not in result.stdout, result.stdout
    assert HINT not in result.stderr, "the server's state has nothing to do with an unknown host"


@MODES
def test_client_refused(flags):
    port = free_port()  # nobody listens here
    result = run("client", HOST, port, 1, *flags)
    assert result.returncode != 0
    no_traceback(result.stdout, result.stderr)
    assert "refused" in result.stderr.lower(), result.stderr
    assert "refused" not in result.stdout.lower(), "errors go to stderr, the transcript to stdout"
    if not flags:
        assert f"({HINT} at ('127.0.0.1', {port})?)" in result.stderr


@MODES
def test_a_very_long_timeout_is_allowed(flags):
    """A timeout longer than select() can wait at once (epoll: about 24 days) still works."""
    result = run("client", HOST, free_port(), 1, *flags, "--timeout", "1e9")
    no_traceback(result.stdout, result.stderr)
    assert result.returncode == 1
    assert "refused" in result.stderr.lower(), result.stderr


def _few_fds():
    import resource  # POSIX's: test_cli.py is collected on Windows too (conftest.py's SYSTEMS)

    _sigint_default()
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


@MODES
def test_client_out_of_file_descriptors(sockets, flags):
    server = sockets(socket.create_server((HOST, 0), backlog=256))
    result = subprocess.run(
        command("client", HOST, server.getsockname()[1], 200, *flags, "--timeout", 5),
        capture_output=True, text=True, timeout=20, cwd=ROOT, preexec_fn=_few_fds)
    assert result.returncode == 1
    no_traceback(result.stdout, result.stderr)
    assert "Too many open files" in result.stderr, result.stderr
    assert HINT not in result.stderr, "a server would not help: the client is out of file descriptors"


@MODES
def test_non_loopback_address_warns(spawn, flags):
    server = spawn("server", "0.0.0.0", 0, *flags)
    (warning,) = server.wait_for(server.err, r"^warning: ")
    line = warning.string
    assert "0.0.0.0" in line
    assert "will accept anyone who can reach" in line
    server.kill()


def said_nothing_on_stderr(server):
    """Ctrl-C the server and read all it wrote: stderr must be empty (a warning comes before "listening on")."""
    server.p.send_signal(signal.SIGINT)
    assert server.finish() == 0
    return server.err == []


def test_loopback_address_does_not_warn(spawn):
    server, _ = start_server(spawn, [])
    assert said_nothing_on_stderr(server), server.err


@MODES
@pytest.mark.parametrize("host", ["127.1", "localhost"])
def test_other_spellings_of_loopback_do_not_warn(spawn, flags, host):
    server = spawn("server", host, 0, *flags)
    server.wait_for(server.out, r"^listening on ")
    assert said_nothing_on_stderr(server), server.err


def test_fixed_server_reports_a_reset_on_stderr(spawn, sockets):
    server, port = start_server(spawn, ["--fixed"])
    client = sockets(socket.create_connection((HOST, port), timeout=5))
    client.sendall(b"ping")
    assert client.recv(4) == b"ping"  # the server is in its loop
    close_with_reset(client)  # with linger 0: a reset (RST) instead of a FIN
    (error,) = server.wait_for(server.err, r"^error on connection to .*ConnectionResetError", timeout=5)
    server.wait_for(server.out, r"^closing connection to ")
    assert not [line for line in server.out if "error" in line], server.out


# --------------------------------------------------------------------------
# a server that accepts but never replies


@MODES
def test_client_gives_up_on_a_silent_server(sockets, flags):
    silent = sockets(socket.create_server((HOST, 0)))  # the kernel completes the handshake
    port = silent.getsockname()[1]
    t0 = time.monotonic()
    result = run("client", HOST, port, 1, *flags, "--timeout", 1, timeout=20)
    elapsed = time.monotonic() - t0
    assert result.returncode != 0
    assert 1 <= elapsed < 5, elapsed
    assert "gave up" in result.stderr, result.stderr
    assert "gave up" not in result.stdout, "errors go to stderr, the transcript to stdout"
    no_traceback(result.stdout, result.stderr)
