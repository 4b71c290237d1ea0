"""The exercise checkers, each tried on the starter code, the solution and plausible wrong answers.

The learner's code is taken from the notebooks themselves: the starter from
``exercises/`` (what a learner is handed), the solution from ``solutions/``;
which notebook, cell and check, from the exercises' table
(``echo_lab.checks.EXERCISES``).  Wrong answers are the solution with one
plausible mistake made in it (``tests/data/mistakes.py``).  Each is run as a
notebook runs it: ``exec`` in a namespace of its own that holds the
module-level ``sel``, so the checker must find and replace it.
"""

import asyncio
import json
import linecache
import pathlib
import re
import selectors
import socket
import struct
import threading
import time
import types

import nbformat
import pytest
from data.mistakes import MISTAKES, mistaken, mutate

from echo_lab import Recorder, checks, seed
from echo_lab.checks.client_functions import MSG1, MSG2
from echo_lab.checks.observe import mask_words
from helpers import cannot

pytestmark = pytest.mark.usefixtures("no_server_left")

ROOT = pathlib.Path(__file__).resolve().parents[1]


def answer_cell(folder, exercise):
    """The source of the cell where the learner writes ``exercise``: the answer cell whose grade_id is its name."""
    notebook = checks.EXERCISES[exercise].notebook
    nb = nbformat.read(ROOT / folder / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == exercise:
            return cell.source
    raise LookupError(f"no answer cell for {exercise} in {folder}/{notebook}")


_counter = iter(range(1_000_000))


def learner(source):
    """Run ``source`` as a notebook cell would, in a namespace that has the exercise notebooks' globals."""
    filename = f"<learner {next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show lines
    namespace = {"__name__": "__main__", "selectors": selectors, "socket": socket, "types": types,
                 "time": time, "sel": Recorder(selectors.DefaultSelector()),
                 "messages": [b"Message 1 from client.", b"Message 2 from client."],
                 "struct": struct, "HEADER": struct.Struct("!I"), "MAX_MESSAGE": 1024 * 1024,  # 09
                 "asyncio": asyncio}  # 10
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def check(exercise, source):
    """What the exercise's check cell shows for the answer cell ``source``: its check, as the table names it."""
    row, namespace = checks.EXERCISES[exercise], learner(source)
    arguments = [namespace[name] for name in row.functions] + ([namespace["sel"]] if row.sel else [])
    return getattr(checks, row.check)(*arguments)


def solution_code(exercise):
    return answer_cell("solutions", exercise)


# ---------------------------------------------------------------------------
# starter, solution

@pytest.mark.parametrize("exercise", list(checks.EXERCISES))
def test_starter_code_is_not_attempted(exercise):
    result = check(exercise, answer_cell("exercises", exercise))
    assert result.outcome == "not attempted", result
    assert "NotImplementedError" in result.message
    assert "not attempted" in repr(result)


@pytest.mark.parametrize("exercise", list(checks.EXERCISES))
def test_solution_passes(exercise):
    t0 = time.perf_counter()
    result = check(exercise, solution_code(exercise))
    assert result.passed, result
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("exercise", list(checks.EXERCISES))
def test_notebook_solution_is_the_code_solution_shows(exercise):
    """``solution(name)`` shows what the solution notebook has between its markers."""
    cell = solution_code(exercise)
    without_markers = "\n".join(line for line in cell.split("\n") if "### " not in line)
    assert without_markers == checks.solution(exercise).code


@pytest.mark.parametrize("exercise", list(checks.EXERCISES))
def test_the_notebooks_check_cell_calls_the_check_the_table_names(exercise):
    """The exercises' table says which check, taking which of the answer cell's functions: as the notebook does."""
    row = checks.EXERCISES[exercise]
    nb = nbformat.read(ROOT / "solutions" / f"{row.notebook}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == row.check)
    arguments = ", ".join([*row.functions, *(["sel"] if row.sel else [])])
    assert cell.source.startswith(f"result = {row.check}({arguments})\n"), cell.source
    assert all(f"def {name}(" in solution_code(exercise) or f"class {name}(" in solution_code(exercise)
               for name in row.functions)
    assert isinstance(row.minutes, int) and len(row.hints) == 3


# ---------------------------------------------------------------------------
# plausible mistakes, exercise by exercise (tests/data/mistakes.py)
#
# The check must say "not right yet", and what it shows (message, traceback, hint) must name the
# mistake: every one of `words`, the first in the message itself.

WRONG = [(exercise, case, words) for exercise, cases in MISTAKES.items() for case, _change, words in cases]


@pytest.mark.parametrize("exercise, case, words", WRONG, ids=[f"{e}-{c}" for e, c, _ in WRONG])
def test_a_plausible_mistake_is_reported_with_what_it_did(exercise, case, words):
    result = check(exercise, mistaken(exercise, case, solution_code(exercise)))
    assert result.outcome == "wrong", result
    assert words[0] in result.message, result
    for word in words[1:]:
        assert word in repr(result), (word, result)
    assert result.hint, "every failure comes with a hint"
    assert f'hint("{exercise}")' in repr(result)
    if result.traceback:  # the learner's lines only: not echo_lab's, not Python's own socket.py
        assert "echo_lab" not in result.traceback and "socket.py" not in result.traceback, result.traceback


# Where a non-blocking send() takes a whole MiB at once (Windows may: it keeps what a send is given while its
# buffer has room), a small SO_SNDBUF forces no partial send; the checks make one themselves
# (observe.sending_part). Simulated here by a send buffer of 16 MiB wherever a check asks for a small one
# (SO_SNDBUFFORCE: Linux, with CAP_NET_ADMIN). The bug hunt's check (08) makes the send after its client's
# 1 MiB upload take part; this cannot show it: the 16 MiB buffer takes the echo as it is read, where
# Windows' small one lets it pile up in data.outb.
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
TAKES_PART = [("service_connection", "clears-outb"), ("service_connection", "sendall")]


@pytest.fixture
def sends_take_a_whole_mib(monkeypatch):
    real = socket.socket.setsockopt
    with socket.socket() as probe:
        try:
            real(probe, socket.SOL_SOCKET, SO_SNDBUFFORCE, 16 * 2**20)
        except (OSError, AttributeError) as error:
            cannot("the checks where send() takes a whole MiB", f"SO_SNDBUFFORCE needs Linux and CAP_NET_ADMIN "
                   f"(root): {error}")

    def setsockopt(self, level, option, *value):
        if (level, option) == (socket.SOL_SOCKET, socket.SO_SNDBUF):
            return real(self, level, SO_SNDBUFFORCE, 16 * 2**20)
        return real(self, level, option, *value)

    monkeypatch.setattr(socket.socket, "setsockopt", setsockopt)
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as a:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        a.setblocking(False)
        assert a.send(bytes(2**20)) == 2**20, "the simulation: send() took part of 1 MiB"


@pytest.mark.parametrize("exercise, case", TAKES_PART, ids=[f"{e}-{c}" for e, c in TAKES_PART])
def test_a_mistake_with_the_unsent_rest_is_caught_where_send_takes_a_whole_mib(sends_take_a_whole_mib, exercise,
                                                                               case):
    result = check(exercise, mistaken(exercise, case, solution_code(exercise)))
    assert result.outcome == "wrong", result
    words = next(w for c, _change, w in MISTAKES[exercise] if c == case)
    assert words[0] in result.message, result
    assert check(exercise, solution_code(exercise)).passed


def test_every_exercise_has_at_least_five_plausible_mistakes():
    assert list(MISTAKES) == list(checks.EXERCISES), "every exercise's checker is tried on mistakes, in order"
    for exercise, cases in MISTAKES.items():
        names = [case for case, _, _ in cases]
        assert len(names) >= 5 and len(names) == len(set(names)), exercise


def test_bug_hunt_names_the_function_not_written_yet():
    source = mutate(checks.solution("bug_hunt").code,
                    ("def service_connection(key, mask):\n",
                     "def service_connection(key, mask):\n    raise NotImplementedError()\n"))
    result = check("bug_hunt", source)
    assert result.outcome == "not attempted", result
    assert result.message.startswith("service_connection still raises NotImplementedError. Write it")


# ---------------------------------------------------------------------------
# learner errors, blocking and endless code: reported, bounded, no crash

def test_exception_is_shown_with_the_learners_traceback_only():
    result = check("accept_wrapper", "def accept_wrapper(sock):\n    conn, addr = sock.accept()\n    1 / 0\n")
    assert result.outcome == "wrong"
    assert result.message == "accept_wrapper(sock) raised ZeroDivisionError: division by zero"
    assert "1 / 0" in result.traceback
    assert "in accept_wrapper" in result.traceback
    assert "echo_lab" not in result.traceback and "threading" not in result.traceback
    assert "<pre>" in result._repr_html_() and "ZeroDivisionError" in result._repr_html_()


def test_a_handler_that_blocks_is_reported_within_the_timeout():
    source = ("def accept_wrapper(sock):\n"
              "    conn, addr = sock.accept()\n"
              "    conn.setblocking(True)\n"
              "    conn.recv(1024)  # the client sends nothing: waits forever\n")
    t0 = time.perf_counter()
    result = check("accept_wrapper", source)
    assert time.perf_counter() - t0 < checks.CALL_TIMEOUT + 2
    assert result.outcome == "wrong"
    assert "did not return within" in result.message


def test_an_endless_loop_is_stopped_and_its_thread_ends():
    source = "def service_connection(key, mask):\n    while True:\n        pass\n"
    threads = threading.active_count()
    t0 = time.perf_counter()
    result = check("service_connection", source)
    assert time.perf_counter() - t0 < checks.CALL_TIMEOUT + 2
    assert "did not return within" in result.message
    deadline = time.monotonic() + 2
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= threads, "the learner's thread was ended"


def test_none_result_asks_about_return():
    result = check("mask_names", "def mask_names(mask):\n    names = ['READ']\n")
    assert result.message.startswith("mask_names(1) returned None: did you forget a `return`?")


# ---------------------------------------------------------------------------
# the learner's state is left alone; arguments are checked

def test_the_learners_selector_is_not_touched():
    ns = learner(solution_code("accept_wrapper"))
    ns["sel"].register(ns["socket"].socket(), selectors.EVENT_READ)  # something of the learner's own
    before = dict(ns["sel"].get_map())
    events_before = len(ns["sel"].events())
    result = checks.check_accept_wrapper(ns["accept_wrapper"], ns["sel"])
    assert result.passed
    assert dict(ns["sel"].get_map()) == before  # nothing registered or removed, and not closed
    assert len(ns["sel"].events()) == events_before
    for key in before.values():
        ns["sel"].unregister(key.fileobj)
        key.fileobj.close()


def test_print_goes_to_the_check_not_to_the_notebook(capsys):
    result = check("listening_socket", solution_code("listening_socket"))
    assert result.passed
    assert capsys.readouterr().out == ""


def test_helper_functions_beside_the_learners_use_the_checks_selector():
    source = mutate(solution_code("service_connection"),
                    ("            sel.unregister(sock)\n            sock.close()\n",
                     "            close_connection(sock)\n"))
    source += "\n\ndef close_connection(sock):\n    sel.unregister(sock)\n    sock.close()\n"
    assert check("service_connection", source).passed


def test_a_selector_the_function_does_not_use_is_refused():
    ns = learner(solution_code("accept_wrapper"))
    result = checks.check_accept_wrapper(ns["accept_wrapper"], selectors.DefaultSelector())
    assert result.outcome == "wrong"
    assert "not one `accept_wrapper` can use" in result.message


@pytest.mark.parametrize("bad, words", [(None, "is None"), (print, "not a builtin_function_or_method")])
def test_something_else_than_a_function_is_refused(bad, words):
    result = checks.check_accept_wrapper(bad, selectors.DefaultSelector())
    assert result.outcome == "wrong" and words in result.message


def test_a_socket_instead_of_the_selector_is_refused():
    ns = learner(solution_code("accept_wrapper"))
    with socket.socket() as sock:
        result = checks.check_accept_wrapper(ns["accept_wrapper"], sock)
    assert "should be your selector" in result.message


# ---------------------------------------------------------------------------
# what the run cells print: numbers, and the learner's errors as the checks show them

def serve_with(service_source, capsys):
    """serve_tutorial_clients with the tutorial's accept_wrapper and a learner's service_connection."""
    ns = learner(service_source)
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.setblocking(False)
    ns["sel"].register(lsock, selectors.EVENT_READ, data=None)
    accept_wrapper, _ = seed.server_functions(ns["sel"], print=lambda *args: None)
    checks.serve_tutorial_clients(ns["sel"], accept_wrapper, ns["service_connection"])
    return capsys.readouterr().out


def test_a_run_prints_what_the_clients_sent_and_got_back(capsys):
    shown = serve_with(solution_code("service_connection"), capsys)
    assert "the 2 clients sent 88 bytes and got 88 bytes back\n" in shown, shown
    assert shown.count("closing connection to") == 2 and "True" not in shown


def test_a_run_with_bytes_never_sliced_off_shows_numbers_and_the_learners_line(capsys):
    shown = serve_with(mistaken("service_connection", "no-slice", solution_code("service_connection")), capsys)
    assert re.search(r"the 2 clients sent [\d,]+ bytes and got [\d,]+ bytes back", shown), shown
    assert len(shown.splitlines()) <= checks.runs.LOG_LINES + 15, f"a transcript gone wrong is cut short:\n{shown}"
    assert "echo_lab" not in shown and "socket.py" not in shown, shown
    if "Your code raised an error" in shown:  # the server's error, when there is one: the learner's line
        assert "in service_connection" in shown and "What it means:" in shown, shown


def test_a_client_run_counts_bytes_even_when_its_loop_spins(capsys):
    """A client that never closes spins for 2 s: far more select() calls than its recorder keeps."""
    ns = learner(mutate(solution_code("client_service_connection"),
                        ("            sel.unregister(sock)\n            sock.close()\n", "            pass\n")))
    start_connections, _ = seed.client_functions(ns["sel"], print=lambda *args: None)
    checks.run_tutorial_client(ns["sel"], start_connections, ns["service_connection"])
    shown = capsys.readouterr().out
    assert ("the 2 connections sent 88 bytes and got 88 bytes back; after 2 s the client gave up waiting"
            in shown), shown


def test_show_error_shows_the_learners_line_and_what_it_means(capsys):
    ns = learner("def take(sock):\n    return sock.accept()\n")
    with socket.create_server(("127.0.0.1", 0)) as lsock:
        lsock.setblocking(False)
        try:
            ns["take"](lsock)  # no client waiting: accept() raises, in Python's own code
        except BlockingIOError as error:
            checks.show_error(error)
    shown = capsys.readouterr().out
    assert shown.startswith("Your code raised an error:\n"), shown
    assert "in take\n    return sock.accept()\nBlockingIOError:" in shown, shown
    assert "What it means: a non-blocking socket was not ready" in shown
    assert "socket.py" not in shown and "Traceback" not in shown


def test_show_error_says_which_function_is_not_written_yet(capsys):
    ns = learner(answer_cell("exercises", "accept_wrapper"))
    try:
        ns["accept_wrapper"](None)
    except NotImplementedError as error:
        checks.show_error(error)
    assert capsys.readouterr().out == ("accept_wrapper is not written yet: write it above, run that cell, "
                                       "then this one again.\n")


# ---------------------------------------------------------------------------
# how results, hints and solutions show themselves

def test_result_text_is_stable_and_html_is_a_coloured_box():
    first = check("register_listening", solution_code("register_listening"))
    second = check("register_listening", solution_code("register_listening"))
    assert repr(first) == repr(second) == str(first)
    assert repr(first).startswith("✔ register_listening: passed. ")
    assert "0x" not in repr(first) and "fd=" not in repr(first)
    html = first._repr_html_()
    assert html.startswith("<div style=") and "<code>" not in repr(first)


def test_hints_come_in_graded_steps():
    first, second, last = (checks.hint("accept_wrapper", n) for n in (1, 2, 3))
    assert repr(first).startswith("Hint 1 of 3 for accept_wrapper:")
    assert 'Next: hint("accept_wrapper", 2)' in repr(first)
    assert "solution(\"accept_wrapper\")" in repr(last)
    assert repr(checks.hint("accept_wrapper", 9)) == repr(last)
    assert repr(checks.hint("accept_wrapper")) == repr(first)
    assert "setblocking" in second.text
    assert "<code>" in first._repr_html_() or "<b>Hint 1 of 3</b>" in first._repr_html_()


def test_solution_shows_the_tutorials_code():
    shown = checks.solution("accept_wrapper")
    assert "sel.register(conn, events, data=data)" in repr(shown)
    assert "<pre>" in shown._repr_html_()


def test_every_exercise_has_three_hints_and_a_solution():
    written = json.loads(checks.exercises.SOLUTIONS.read_text(encoding="utf-8"))["exercises"]
    assert list(checks.EXERCISES) == list(written), "a row of the table for each answer cell, in the same order"
    for name, exercise in checks.EXERCISES.items():
        assert len(exercise.hints) == 3, name
        assert exercise.solution.startswith(("def ", "class ")), name
    with pytest.raises(ValueError, match="no exercise"):
        checks.hint("nope")


def test_mask_words():
    assert mask_words(selectors.EVENT_READ) == "EVENT_READ only"
    assert mask_words(selectors.EVENT_WRITE) == "EVENT_WRITE only"
    assert mask_words(3) == "EVENT_READ | EVENT_WRITE"


def test_seed_messages_are_the_checks_messages():
    assert tuple(seed.messages) == (MSG1, MSG2)
