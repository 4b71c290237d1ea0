"""The fixed server's idle timeout: a client that moves no byte is closed, one that talks is kept.

A vanished peer (unplugged, switched off) sends neither FIN nor RST, so the
server's socket never becomes readable; on loopback a client that stays
silent looks the same to the server.  Real sockets on 127.0.0.1, every wait
bounded.
"""

import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from echo_lab import BackgroundServer
from echo_lab.fixed import IDLE_TIMEOUT

pytestmark = pytest.mark.usefixtures("no_server_left")  # and the servers made but never started

IDLE = 0.5  # seconds: the timeout these tests give the server


def test_a_silent_client_is_closed_after_the_idle_timeout_and_a_talking_one_is_kept():
    with BackgroundServer("fixed", idle_timeout=IDLE) as server:
        silent = socket.create_connection(server.address, timeout=10)
        talking = socket.create_connection(server.address, timeout=10)
        started, silent_address = time.monotonic(), silent.getsockname()
        with silent, talking:
            # the talking client sends every 0.1 s until the silent one is closed (10 s at most)
            silent.setblocking(False)
            closed_after = None
            while closed_after is None and time.monotonic() - started < 10:
                talking.sendall(b"ping")
                assert talking.recv(64) == b"ping"
                if select.select([silent], [], [], 0.1)[0]:
                    assert silent.recv(64) == b""  # the server closed it: end of stream
                    closed_after = time.monotonic() - started
            assert closed_after is not None, "the silent client was never closed"
            assert closed_after >= IDLE, closed_after  # not before its time
            talking.sendall(b"still here")
            assert talking.recv(64) == b"still here"
    idle = [line for line in server.log if line.startswith("closing connection to") and "(idle for" in line]
    assert idle == [f"closing connection to {silent_address} (idle for {IDLE:g} s)"], server.log


def test_the_idle_timeout_is_the_fixed_servers_only():
    assert BackgroundServer("fixed").idle_timeout == IDLE_TIMEOUT == 300
    assert BackgroundServer("seed").idle_timeout is None  # the tutorial's keeps every connection
    with pytest.raises(ValueError, match="idle_timeout needs kind='fixed'"):
        BackgroundServer("seed", idle_timeout=1)


def _line(lines, deadline):
    try:
        return lines.get(timeout=max(0.0, deadline - time.monotonic())).rstrip("\n")
    except queue.Empty:
        raise AssertionError("the server printed nothing in time") from None


def test_the_command_lines_idle_timeout_closes_a_silent_client():
    proc = subprocess.Popen([sys.executable, "-m", "echo_lab", "server", "127.0.0.1", "0", "--fixed",
                             "--idle-timeout", str(IDLE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = queue.Queue()  # what the server prints, line by line, read on a thread of its own
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        port = int(re.fullmatch(r"listening on \('127\.0\.0\.1', (\d+)\)", _line(lines, deadline))[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
            assert silent.recv(64) == b""  # closed by the server, within 10 s
        assert _line(lines, deadline).startswith("accepted connection from")
        closing = _line(lines, deadline)
        assert re.fullmatch(r"closing connection to \('127\.0\.0\.1', \d+\) \(idle for 0\.5 s\)", closing)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("args, said", [
    (["--idle-timeout", "1"], "error: --idle-timeout needs --fixed"),
    (["--fixed", "--idle-timeout", "0"], "the idle timeout must be a finite number of seconds above 0, not '0'"),
])
def test_a_wrong_idle_timeout_is_one_line_and_status_2(args, said):
    done = subprocess.run([sys.executable, "-m", "echo_lab", "server", "127.0.0.1", "0", *args],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
