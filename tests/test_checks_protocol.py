"""The asyncio backpressure check (exercise 10): what it says, its server and its clients, and that it ends its loop.

Each learner's class is defined from source, as a notebook cell would define
it, and served by the check on a real asyncio loop over real loopback sockets.
``tests/test_checks.py`` tries it, as every check, on the starter, the solution
and the plausible mistakes of ``tests/data/mistakes.py``.
"""

import asyncio
import pathlib
import re
import socket
import threading
import time

import nbformat
import pytest
from data.mistakes import mistake

from echo_lab import run_client
from echo_lab.checks import BOUND, EXERCISES, FLOOD, ProtocolServer, check_echo_protocol, flood, hint, solution
from echo_lab.checks.protocol_clients import exchange

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXERCISE_NOTEBOOK = ROOT / "exercises" / f"{EXERCISES['EchoProtocol'].notebook}.ipynb"
NO_BACKPRESSURE = mistake("EchoProtocol", "no backpressure (lesson 12's protocol)")[0]  # lesson 12's own


def learner(source):
    """Define ``EchoProtocol`` from ``source`` in a namespace like the notebook's."""
    namespace = {"asyncio": asyncio, "time": time}
    exec(source, namespace)
    return namespace["EchoProtocol"]


def answer_cell(path):
    nb = nbformat.read(path, as_version=4)
    return next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")).source


def test_the_exercise_as_handed_out_is_not_attempted():
    source = answer_cell(EXERCISE_NOTEBOOK)
    assert source.count("raise NotImplementedError()") == 3
    result = check_echo_protocol(learner(source))
    assert result.outcome == "not attempted", result
    assert "still raises NotImplementedError" in repr(result)


def test_the_solution_passes_quickly():
    started = time.monotonic()
    result = check_echo_protocol(learner(solution("EchoProtocol").code))
    assert result.passed, result
    assert "held at most 1 MiB" in repr(result) and "a reset did not stop it" in repr(result)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("case", ["an error in data_received", "pause_writing calls a method that does not exist"])
def test_an_error_in_a_callback_shows_the_learners_frames_only(case):
    result = check_echo_protocol(learner(mistake("EchoProtocol", case)[0]))
    assert result.outcome == "wrong" and result.traceback, result
    assert "in data_received" in result.traceback or "in pause_writing" in result.traceback
    assert "asyncio/" not in result.traceback  # asyncio's own frames are left out


def test_the_loop_thread_ends_after_every_check():
    for source in (solution("EchoProtocol").code, mistake("EchoProtocol", "pauses and never resumes")[0],
                   mistake("EchoProtocol", "a data_received that never returns")[0]):
        check_echo_protocol(learner(source))
    deadline = time.monotonic() + 5
    while any(t.name == "echo_lab ProtocolServer" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a ProtocolServer loop thread is still running"
        time.sleep(0.05)


def test_what_is_not_a_protocol_class_is_wrong():
    assert "Pass the class itself" in repr(check_echo_protocol(None))
    assert "Pass the class itself" in repr(check_echo_protocol(learner(solution("EchoProtocol").code)()))
    assert "subclass of `asyncio.Protocol`" in repr(check_echo_protocol(dict))


def test_the_results_plain_text_is_the_same_every_run():
    source = NO_BACKPRESSURE
    first, second = (repr(check_echo_protocol(learner(source))) for _ in range(2))
    mask = lambda text: re.sub(r"[\d.]+ MiB", "N MiB", text)  # how much got through varies  # noqa: E731
    assert mask(first) == mask(second)
    passed = [repr(check_echo_protocol(learner(solution("EchoProtocol").code))) for _ in range(2)]
    assert passed[0] == passed[1], "the notebook's committed output must not change"


def test_flood_measures_what_the_server_holds():
    # Against lesson 12's protocol the flood gets all 8 MiB in and the server holds most of it;
    # against the solution TCP stops it early and the server holds little.
    with ProtocolServer(learner(NO_BACKPRESSURE), buffer_size=64 * 1024) as server:
        hog, sent, held = flood(server)
        hog.close()
    assert sent == FLOOD and held > 4 * BOUND, (sent, held)
    with ProtocolServer(learner(solution("EchoProtocol").code), buffer_size=64 * 1024) as server:
        hog, sent, held = flood(server)
        hog.close()
        assert server.learner_errors() == []
    assert sent < FLOOD and held <= BOUND, (sent, held)


def test_the_tutorials_client_against_the_solution():
    with ProtocolServer(learner(solution("EchoProtocol").code)) as server:
        client = run_client(server.address, 2, timeout=5)
        assert client.sent == client.received == 88
        assert len(server.transports) == 2


def test_a_loop_given_to_the_server_is_the_one_it_serves_from_and_closes():
    """Lesson 12 serves from asyncio.SelectorEventLoop(Recorder(...)), to see what asyncio registers."""
    import selectors

    from echo_lab import Recorder, mask_name

    sel = Recorder(selectors.DefaultSelector())
    loop = asyncio.SelectorEventLoop(sel)
    with ProtocolServer(learner(solution("EchoProtocol").code), buffer_size=None, loop=loop) as server:
        assert server.loop is loop
        client = run_client(server.address, 2, timeout=5)
    assert client.sent == client.received == 88
    asked = sorted({mask_name(e.events) for e in sel.events() if e.kind in ("register", "modify")})
    assert asked == ["READ"], asked  # every reply left whole: WRITE never asked for
    assert loop.is_closed()


def test_a_half_close_gets_the_rest_then_the_end():
    with (ProtocolServer(learner(solution("EchoProtocol").code)) as server,
          socket.create_connection(server.address, timeout=2) as sock):
        back, eof = exchange(sock, b"y" * 300_000, time.monotonic() + 5, half_close=True)
    assert back == b"y" * 300_000 and eof


def test_three_graded_hints_and_the_solution():
    assert "Hint 1 of 3" in repr(hint("EchoProtocol"))
    last = repr(hint("EchoProtocol", 3))
    assert "pause_reading()" in last and 'solution("EchoProtocol") shows the answer' in last
    assert solution("EchoProtocol").code.startswith("class EchoProtocol(asyncio.Protocol):")
