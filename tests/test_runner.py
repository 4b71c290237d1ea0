"""The runner: one way to run a thread, for every server and every check's call.

Real threads, real sockets on 127.0.0.1 (port 0), every wait bounded.  After
each test no echo_lab thread is left, no runner is registered, and this
process has as many fds open as before.
"""

import asyncio
import copy
import ctypes
import socket
import sys
import threading
import time
import traceback
from collections import Counter

import pytest

from echo_lab import BackgroundServer, BlockingServer, stop_all
from echo_lab.checks import ProtocolServer
from echo_lab.run import threadout
from echo_lab.run.bounded import CallTimedOut, call_bounded
from echo_lab.run.runner import Log, Runner, Stuck, live, replace
from echo_lab.run.unstick import raise_in_thread, unstick
from helpers import fds_opened_since, wait_until

pytestmark = pytest.mark.usefixtures("no_server_left")


def echo_lab_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("echo_lab")]


@pytest.fixture(scope="module")
def warmed_up():
    """Make once what is made lazily on first use (asyncio's loop machinery, ctypes' pythonapi)."""
    with BackgroundServer("fixed"), ProtocolServer(asyncio.Protocol):
        pass
    call_bounded(lambda: None, timeout=1, name="echo_lab warm-up")


@pytest.fixture(autouse=True)
def nothing_left(warmed_up):
    """Each test leaves no echo_lab thread, no registered runner, no fd and no routed stdout.

    It starts from no registered runner: what another module's test left (a server made and never
    started: every module's tests share a worker) is stopped first.  A thread another module left
    stuck (a learner's function Python cannot interrupt, on its daemon thread) is not this test's:
    the threads counted are those beyond it."""
    stop_all()
    assert not live()
    global earlier
    earlier = Counter(echo_lab_threads())
    counts_fds = sys.platform == "linux"  # from /proc/self/fd; elsewhere only threads and runners are counted
    fds, stdout = fds_opened_since(Counter()) if counts_fds else None, sys.stdout
    yield
    stop_all()
    wait_until(lambda: not ours(), timeout=5, what="every echo_lab thread to end")
    assert not live()
    assert not counts_fds or not fds_opened_since(fds)
    assert sys.stdout is stdout and threadout.routed() == 0


earlier = Counter()  # the echo_lab threads alive when the test started (another module's, stuck)


def ours():
    """The echo_lab threads this test started that are still alive."""
    return list((Counter(echo_lab_threads()) - earlier).elements())


def waiting(name, key=None):
    """A runner whose function waits until stop() is called (at most 10 s)."""
    runner = Runner(lambda: runner.stopping.wait(10), name=name, key=key)
    return runner


def closed_by_server(client):
    """Whether the server closed ``client``'s connection: the end of the stream, or a reset."""
    client.settimeout(2)
    try:
        return client.recv(16) == b""
    except ConnectionResetError:
        return True


def echo_server(s):  # lesson 01's function
    while True:
        conn, addr = s.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)


# -- stuck functions: ended as a last resort, the thread gone --------------------------------

def test_a_stuck_function_is_ended_and_its_thread_is_gone():
    spinning = threading.Event()

    def learner_loop():
        spinning.set()
        while True:  # never returns, never looks at a socket
            pass

    runner = Runner(learner_loop, name="echo_lab test: spinning", join=0.2).start()
    assert spinning.wait(5)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="did not stop within 0.2 s"):
        runner.stop()
    assert time.monotonic() - started < 3
    assert not runner.running and runner.state == "stopped"
    assert runner not in live()


def test_a_stuck_blocking_server_is_ended_by_stop():
    def spinning_server(s):  # never calls accept(): stop()'s wake-up connection cannot reach it
        while True:
            pass

    server = BlockingServer(spinning_server)
    with pytest.raises(RuntimeError, match="did not stop"):
        server.stop(timeout=0.2)
    assert not server.running and server.lsock.fileno() == -1


def test_a_thread_that_cannot_be_ended_is_reported_as_still_running():
    release = threading.Event()
    waiting = threading.Event()

    def waits_in_c():
        waiting.set()
        release.wait(10)  # a lock's wait: no Python instruction runs, the exception waits too

    runner = Runner(waits_in_c, name="echo_lab test: waiting", join=0.1).start()
    assert waiting.wait(5)
    with pytest.raises(RuntimeError, match="could not be ended"):
        runner.stop()
    assert runner.running
    release.set()  # the exception raised inside it arrives now: it ends
    runner.thread.join(5)
    assert not runner.running and runner.error is None


# -- the learner's error: kept, raised once, with its traceback ------------------------------

def test_the_functions_error_is_raised_by_stop_with_its_traceback():
    def learner_bug():
        return 1 / 0

    runner = Runner(learner_bug, name="echo_lab test: bug").start()
    assert runner.join(5)
    assert isinstance(runner.error, ZeroDivisionError)
    with pytest.raises(ZeroDivisionError) as info:
        runner.stop()
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "learner_bug"
    runner.stop()  # raised once: now quiet
    runner.check()


def test_a_with_block_stops_the_runner_and_never_hides_its_own_exception():
    runner = waiting("echo_lab test: with")
    with runner:
        assert runner.running and runner in live()
    assert not runner.running and runner not in live()

    def learner_bug():
        raise KeyError("learner")

    failing = Runner(learner_bug, name="echo_lab test: with error")
    with pytest.raises(ValueError, match="the cell's"), failing:  # the block's own error wins, the thread's is dropped
        failing.join(5)
        raise ValueError("the cell's")
    with pytest.raises(RuntimeError, match="was stopped"):
        failing.start()


def test_a_blocking_server_in_a_with_block():
    with BlockingServer(echo_server) as server, socket.create_connection(server.address, timeout=2) as c:
        c.sendall(b"hi")
        assert c.recv(16) == b"hi"
    assert not server.running and server.lsock.fileno() == -1


# -- the bounded call ---------------------------------------------------------------------------

def test_a_bounded_call_returns_the_value_or_raises_the_functions_error():
    assert call_bounded(sum, [1, 2, 3], timeout=2, name="echo_lab test: sum") == 6

    def learner_bug():
        raise OSError("learner's socket")

    with pytest.raises(OSError, match="learner's socket") as info:
        call_bounded(learner_bug, timeout=2, name="echo_lab test: bug")
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "learner_bug"


def test_a_bounded_call_that_blocks_is_ended_after_its_deadline(sockets):
    left, right = socket.socketpair()
    sockets(left), sockets(right)
    started = time.monotonic()
    with pytest.raises(CallTimedOut, match="did not return within 0.3 s"):
        call_bounded(left.recv, 10, timeout=0.3, name="echo_lab test: recv", sockets=lambda: [left])
    assert time.monotonic() - started < 2
    assert not ours()  # the shutdown woke the recv: ended at once


def test_meanwhile_runs_beside_the_call_and_its_error_ends_the_call():
    seen = []

    def meanwhile(runner):
        seen.append(runner.running)
        raise ValueError("the check's own")

    def naps():  # short sleeps, forever: ended between two of them
        while True:
            time.sleep(0.01)

    with pytest.raises(ValueError, match="the check's own"):
        call_bounded(naps, timeout=5, name="echo_lab test: naps", meanwhile=meanwhile)
    assert seen == [True]


# -- one registry, one replacing rule -----------------------------------------------------------

def test_a_new_runner_with_the_same_key_replaces_the_old_one():
    first = waiting("echo_lab test: f", ("function", "f")).start()
    other = waiting("echo_lab test: g", ("function", "g")).start()
    second = waiting("echo_lab test: f again", ("function", "f")).start()  # the cell run again
    assert not first.running and first not in live()
    assert second.running and other.running
    replace(None)  # no key: replaces nothing
    assert live() == [other, second]


def test_a_server_on_a_port_replaces_the_one_holding_it():
    first = BlockingServer(echo_server)  # another kind of server: its key is its function
    old = BackgroundServer("fixed").start()
    new = BackgroundServer("seed", port=old.address[1]).start()
    assert not old.running and new.running and first.running
    assert new.address == old.address


def test_stop_all_stops_every_kind_and_frees_every_socket():
    threads = len(echo_lab_threads())
    servers = [BackgroundServer("seed").start(), BackgroundServer("fixed"),  # this one never started
               BlockingServer(echo_server), ProtocolServer(asyncio.Protocol)]
    bare = waiting("echo_lab test: bare").start()
    clients = [socket.create_connection(s.address, timeout=2) for s in (servers[0], servers[2], servers[3])]
    wait_until(lambda: servers[0].connections() == 1, what="the background server's connection")
    assert len(echo_lab_threads()) == threads + 4 and len(live()) == 5
    stop_all()
    assert not live()
    assert not any(s.running for s in servers) and not bare.running
    for client in clients:
        assert closed_by_server(client)
        client.close()
    assert servers[3].loop.is_closed()
    for server in servers:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(server.address, timeout=2)


# -- unstick: the result of PyThreadState_SetAsyncExc is checked ------------------------------

def test_raising_in_a_thread_that_is_gone_fails_clearly():
    gone = threading.Thread(target=lambda: None)
    gone.start()
    gone.join()
    assert gone.ident not in sys._current_frames()
    with pytest.raises(LookupError, match=f"no Python thread has the id {gone.ident}"):
        raise_in_thread(gone.ident, Stuck)
    assert unstick(gone, [], Stuck, 0.1)  # ended already: nothing to raise, and True


def test_reaching_more_than_one_thread_is_undone_and_raised(monkeypatch):
    calls = []

    def set_async_exc(ident, exc):
        calls.append(exc)
        return 2 if exc is not None else 1

    monkeypatch.setattr(ctypes.pythonapi, "PyThreadState_SetAsyncExc", set_async_exc)
    with pytest.raises(SystemError, match="reached 2 threads"):
        raise_in_thread(12345, Stuck)
    assert len(calls) == 2 and calls[1] is None  # undone with NULL, as CPython's documentation says


# -- print from a thread: to its log; sys.stdout given back -----------------------------------

def test_prints_go_to_the_log_and_stdout_is_restored_when_the_last_route_goes(capsys):
    before = sys.stdout
    printed = threading.Barrier(3, timeout=5)

    def talk(word, stopping):
        print(word, "from the thread")
        printed.wait()
        stopping.wait(10)

    runners = []
    for word in ("one", "two"):
        stopping = threading.Event()
        runner = Runner(lambda w=word, s=stopping: talk(w, s), name=f"echo_lab test: {word}",
                        wake=stopping.set)
        runners.append(runner.start())
    printed.wait()
    assert sys.stdout is not before and threadout.routed() == 2
    runners[0].stop()
    assert sys.stdout is not before, "one route is still there"
    print("from the test")
    runners[1].stop()
    assert sys.stdout is before
    assert [list(r.log) for r in runners] == [["one from the thread"], ["two from the thread"]]
    assert capsys.readouterr().out == "from the test\n"


def test_the_log_is_bounded_and_cuts_long_lines():
    log = Log(maxlen=3, line_limit=10)
    log.write("a\nb")
    log.write("c\n" + "x" * 50 + "\nd\ne\n")
    assert list(log) == ["x" * 10 + "... (50 characters)", "d", "e"]
    log.print("f", 1, sep="-")
    assert log[-1] == "f-1" and log.maxlen == 3
    assert list(copy.copy(log)) == list(log)


def test_a_reference_servers_log_is_a_runners(capsys):
    with BackgroundServer("seed", log_limit=2) as server:
        pass
    assert server.log is server.runner.log and server.log.maxlen == 2
    server.print_log()
    assert capsys.readouterr().out.splitlines()[1:] == ["listening on ('127.0.0.1', 0)"]  # after the course's line
