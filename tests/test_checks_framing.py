"""The message-reader check (exercise 09): what it says, how it ends a learner's endless loop, its reference reader.

Each learner's version is run as a notebook cell would define it: in a
namespace with the exercise's globals (``HEADER``, ``MAX_MESSAGE``, ``struct``).
``tests/test_checks.py`` tries it, as every check, on the starter, the solution
and the plausible mistakes of ``tests/data/mistakes.py``.
"""

import pathlib
import struct
import threading
import time
import types

import nbformat
import pytest
from data.mistakes import mistake

from echo_lab import checks
from echo_lab.checks import check_take_messages, frame, hint, reference_take_messages, solution, wire

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOLUTION_NOTEBOOK = ROOT / "solutions" / f"{checks.EXERCISES['take_messages'].notebook}.ipynb"


def learner(source):
    """Define ``take_messages`` from ``source`` with the exercise notebook's globals."""
    namespace = {"HEADER": struct.Struct("!I"), "MAX_MESSAGE": 1024 * 1024, "struct": struct}
    exec(source, namespace)
    return namespace["take_messages"]


STARTER = """\
def take_messages(data):
    # YOUR CODE HERE
    raise NotImplementedError()
"""

def test_the_starter_code_is_not_attempted():
    result = check_take_messages(learner(STARTER))
    assert result.outcome == "not attempted"
    assert "still raises NotImplementedError" in repr(result)


def test_the_solution_passes():
    started = time.monotonic()
    result = check_take_messages(learner(solution("take_messages").code))
    assert result.passed, result
    assert "one byte per send, all in one send, and in odd pieces" in repr(result)
    assert time.monotonic() - started < 10


def test_an_endless_loop_is_stopped_and_its_thread_ends():
    source, _ = mistake("take_messages", "never takes the message out: an endless loop")
    started = time.monotonic()
    result = check_take_messages(learner(source))
    assert result.outcome == "wrong"
    assert time.monotonic() - started < checks.CALL_TIMEOUT + 2
    deadline = time.monotonic() + 2
    while any(t.name == "echo_lab check: take_messages" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the learner's endless loop is still running"
        time.sleep(0.01)


def test_what_is_not_a_function_is_wrong():
    assert check_take_messages(None).outcome == "wrong"
    assert "defined with def" in repr(check_take_messages(print))


def test_the_results_plain_text_is_the_same_every_run():
    source, _ = mistake("take_messages", "if instead of while")
    first, second = (repr(check_take_messages(learner(source))) for _ in range(2))
    assert first == second


def test_three_graded_hints_and_the_solution():
    assert "Hint 1 of 3" in repr(hint("take_messages"))
    assert "Hint 3 of 3" in repr(hint("take_messages", 9))  # clamped to the last
    assert "solution(" in repr(hint("take_messages", 3))
    shown = solution("take_messages")
    assert shown.code.startswith("def take_messages(data):")
    assert "<pre>" in shown._repr_html_()
    with pytest.raises(ValueError, match="no exercise"):
        hint("nope")


def test_the_reference_reader_takes_any_cut():
    messages = [b"one", b"", b"x" * 5000, b"last"]
    stream = b"".join(frame(m) for m in messages)
    for step in (1, 2, 3, 7, 4096, len(stream)):
        data, taken = types.SimpleNamespace(inb=bytearray()), []
        for start in range(0, len(stream), step):
            data.inb += stream[start:start + step]
            taken += reference_take_messages(data)
        assert taken == messages and not data.inb, step
    with pytest.raises(ValueError):
        reference_take_messages(types.SimpleNamespace(inb=bytearray(b"\xff\xff\xff\xff")))
    data = types.SimpleNamespace(inb=bytearray(struct.pack("!I", 2 * 1024 * 1024) + b"xx"))
    assert reference_take_messages(data, max_message=wire.TOO_LONG) == [] and len(data.inb) == 6


def test_the_reference_reader_is_the_solution_with_the_notebooks_globals():
    # wire defines reference_take_messages from solution("take_messages") with its own HEADER and
    # MAX_MESSAGE: they must be the ones the notebook defines before its take_messages cell.
    nb = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    cell = next(c.source for c in nb.cells if c.cell_type == "code" and "HEADER = " in c.source)
    namespace = {"struct": struct, "print": lambda *args: None}
    exec(cell, namespace)
    assert namespace["HEADER"].format == wire.HEADER.format
    assert namespace["MAX_MESSAGE"] == wire.MAX_MESSAGE
    assert namespace["frame"](b"Message 1 from client.") == frame(b"Message 1 from client.")
