"""The exercise checkers, each tried on the starter code, the solution and plausible wrong answers.

The learner's code is taken from the notebooks themselves: the starter from
``exercises/`` (what a learner is handed), the solution from ``solutions/``.
Wrong answers are the solution with one plausible mistake made in it.  Each
is run as a notebook runs it: ``exec`` in a namespace of its own that holds
the module-level ``sel``, so the checker must find and replace it.
"""

import linecache
import pathlib
import selectors
import socket
import threading
import time
import types

import nbformat
import pytest

from echo_lab import Recorder, checks, seed, stop_all

ROOT = pathlib.Path(__file__).resolve().parents[1]

# exercise name -> (notebook, the function's name in it, how to check a namespace)
EXERCISES = {
    "listening_socket": ("01-listening-socket", "listening_socket",
                         lambda ns: checks.check_listening_socket(ns["listening_socket"], ns["sel"])),
    "register_listening": ("02-register", "register_listening",
                           lambda ns: checks.check_register_listening(ns["register_listening"], ns["sel"])),
    "mask_names": ("02-register", "mask_names", lambda ns: checks.check_mask_names(ns["mask_names"])),
    "event_loop": ("03-event-loop", "event_loop",
                   lambda ns: checks.check_event_loop(ns["event_loop"], ns["sel"])),
    "accept_wrapper": ("04-accept-wrapper", "accept_wrapper",
                       lambda ns: checks.check_accept_wrapper(ns["accept_wrapper"], ns["sel"])),
    "service_connection": ("05-service-connection", "service_connection",
                           lambda ns: checks.check_service_connection(ns["service_connection"], ns["sel"])),
    "start_connections": ("06-start-connections", "start_connections",
                          lambda ns: checks.check_start_connections(ns["start_connections"], ns["sel"])),
    "client_service_connection": (
        "07-client-service-connection", "service_connection",
        lambda ns: checks.check_client_service_connection(ns["service_connection"], ns["sel"])),
    "bug_hunt": ("08-bug-hunt-busy-loop", "accept_wrapper",
                 lambda ns: checks.check_bug_hunt(ns["accept_wrapper"], ns["service_connection"], ns["sel"])),
}


@pytest.fixture(autouse=True)
def no_server_left():
    yield
    stop_all()


def answer_cell(folder, exercise):
    """The source of the cell where the learner writes ``exercise`` (its nbgrader solution cell)."""
    notebook, function, _ = EXERCISES[exercise]
    nb = nbformat.read(ROOT / folder / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and f"def {function}(" in cell.source:
            return cell.source
    raise LookupError(f"no answer cell for {exercise} in {folder}/{notebook}")


_counter = iter(range(1_000_000))


def learner(source):
    """Run ``source`` as a notebook cell would, in a namespace that has the tutorial's globals."""
    filename = f"<learner {next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show lines
    namespace = {"__name__": "__main__", "selectors": selectors, "socket": socket, "types": types,
                 "time": time, "sel": Recorder(selectors.DefaultSelector()),
                 "messages": [b"Message 1 from client.", b"Message 2 from client."]}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def check(exercise, source):
    return EXERCISES[exercise][2](learner(source))


def solution_code(exercise):
    return answer_cell("solutions", exercise)


def mutate(source, *replacements):
    for old, new in replacements:
        assert old in source, f"{old!r} is not in the solution"
        source = source.replace(old, new, 1)
    return source


# ---------------------------------------------------------------------------
# starter, solution

@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_starter_code_is_not_attempted(exercise):
    result = check(exercise, answer_cell("exercises", exercise))
    assert result.outcome == "not attempted", result
    assert "NotImplementedError" in result.message
    assert "not attempted" in repr(result)


@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_solution_passes(exercise):
    t0 = time.perf_counter()
    result = check(exercise, solution_code(exercise))
    assert result.passed, result
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_notebook_solution_is_the_code_solution_shows(exercise):
    """``solution(name)`` shows what the solution notebook has between its markers."""
    cell = solution_code(exercise)
    without_markers = "\n".join(line for line in cell.split("\n") if "### " not in line)
    assert without_markers == checks.solution(exercise).code


# ---------------------------------------------------------------------------
# wrong answers: (exercise, id, replacements, words the message must contain)

ACCEPT_EVENTS = "events = selectors.EVENT_READ | selectors.EVENT_WRITE"
SLICE = "            data.outb = data.outb[sent:]\n"

WRONG = [
    # 01 · listening socket
    ("listening_socket", "no-listen", [("    lsock.listen()\n", "")], "not listening"),
    ("listening_socket", "still-blocking", [("    lsock.setblocking(False)\n", "")], "still blocking"),
    ("listening_socket", "no-return", [("    return lsock\n", "")], "did you forget a `return`"),
    ("listening_socket", "hard-coded-port", [("lsock.bind((host, port))", "lsock.bind((host, 0))")],
     "Asked for port"),
    # 02 · register, mask bits
    ("register_listening", "read-and-write",
     [("selectors.EVENT_READ, data=None", "selectors.EVENT_READ | selectors.EVENT_WRITE, data=None")],
     "registered for EVENT_READ | EVENT_WRITE"),
    ("register_listening", "data-not-none", [("data=None", "data='listening'")], "data='listening'"),
    ("register_listening", "no-return", [("return sel.register", "sel.register")], "forget a `return`"),
    ("register_listening", "new-selector",
     [("return sel.register(", "return selectors.DefaultSelector().register(")], "not registered in `sel`"),
    ("mask_names", "equality", [("if mask & selectors.EVENT_READ", "if mask == selectors.EVENT_READ"),
                                ("if mask & selectors.EVENT_WRITE", "if mask == selectors.EVENT_WRITE")],
     "mask_names(3) returned []"),
    ("mask_names", "early-return", [("names.append('READ')", "return ['READ']")],
     "mask_names(3) returned ['READ']"),
    # 03 · event loop
    ("event_loop", "passes-the-key", [("accept_wrapper(key.fileobj)", "accept_wrapper(key)")],
     "pass `key.fileobj`"),
    ("event_loop", "inverted-test", [("if key.data is None:", "if key.data is not None:")],
     "called for the listening socket"),
    ("event_loop", "one-pass", [("while True:", "if True:")], "returned after"),
    ("event_loop", "spins", [("sel.select(timeout=None)", "sel.select(timeout=0)")], "the loop spins"),
    # 04 · accept_wrapper
    ("accept_wrapper", "still-blocking", [("    conn.setblocking(False)\n", "")],
     "The accepted socket is still blocking"),
    ("accept_wrapper", "read-only", [(ACCEPT_EVENTS, "events = selectors.EVENT_READ")],
     "registered for EVENT_READ only"),
    ("accept_wrapper", "data-none", [("sel.register(conn, events, data=data)", "sel.register(conn, events)")],
     "registered with data=None"),
    ("accept_wrapper", "not-registered", [("    sel.register(conn, events, data=data)\n", "")],
     "did not register it"),
    ("accept_wrapper", "no-print", [("    print('accepted connection from', addr)\n", "")],
     "did not print"),
    # 05 · the server's service_connection
    ("service_connection", "no-slice", [(SLICE, "")], "Bytes that were sent are still in outb"),
    ("service_connection", "close-before-unregister",
     [("            sel.unregister(sock)\n            sock.close()\n",
       "            sock.close()\n            sel.unregister(sock)\n")],
     "closed the socket before unregistering it"),
    ("service_connection", "no-unregister", [("            sel.unregister(sock)\n", "")],
     "closed the socket but did not unregister it"),
    ("service_connection", "no-close", [("            sock.close()\n", "")], "did not close it"),
    ("service_connection", "replaces-outb", [("data.outb += recv_data", "data.outb = recv_data")],
     "the first bytes were lost"),
    ("service_connection", "clears-outb", [("data.outb = data.outb[sent:]", "data.outb = b''")],
     "the other bytes are lost"),
    # 06 · start_connections
    ("start_connections", "shared-messages", [("messages=list(messages)", "messages=messages")],
     "share one messages list"),
    ("start_connections", "off-by-one", [("range(0, num_conns)", "range(1, num_conns)")],
     "registered 2 socket(s)"),
    ("start_connections", "read-only", [("events = selectors.EVENT_READ | selectors.EVENT_WRITE",
                                         "events = selectors.EVENT_READ")], "registered for EVENT_READ only"),
    ("start_connections", "still-blocking", [("        sock.setblocking(False)\n", ""),
                                             ("sock.connect_ex(server_addr)", "sock.connect(server_addr)")],
     "still blocking"),
    # 07 · the client's service_connection
    ("client_service_connection", "pop-last", [("data.messages.pop(0)", "data.messages.pop()")],
     "sent b'Message 2 from client.' first"),
    ("client_service_connection", "assigns-total",
     [("data.recv_total += len(recv_data)", "data.recv_total = len(recv_data)")],
     "but data.recv_total is 22"),
    ("client_service_connection", "ignores-eof",
     [("if not recv_data or data.recv_total == data.msg_total:", "if data.recv_total == data.msg_total:")],
     "When the server closed first"),
    ("client_service_connection", "no-slice", [(SLICE, "")], "Bytes that were sent are still in outb"),
    ("client_service_connection", "closes-early", [("        if not recv_data or data.recv_total == data.msg_total:",
                                                    "        if True:")],
     "closed the connection after receiving 22 of 44 bytes"),
    # 08 · bug hunt
    ("bug_hunt", "never-write",
     [("            sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)\n", "")],
     "got nothing back"),
    ("bug_hunt", "write-forever",
     [("        if not data.outb:\n            sel.modify(sock, selectors.EVENT_READ, data=data)", "")],
     "stayed registered for EVENT_WRITE"),
]


@pytest.mark.parametrize("exercise, case, replacements, words", WRONG,
                         ids=[f"{e}-{c}" for e, c, _, _ in WRONG])
def test_wrong_answer_is_reported_with_what_it_did(exercise, case, replacements, words):
    result = check(exercise, mutate(solution_code(exercise), *replacements))
    assert result.outcome == "wrong", result
    assert words in result.message, result
    assert result.hint, "every failure comes with a hint"
    assert f'hint("{exercise}")' in repr(result)


def test_the_tutorials_own_server_fails_the_bug_hunt():
    source = checks.solution("accept_wrapper").code + "\n\n" + checks.solution("service_connection").code
    result = check("bug_hunt", source)
    assert result.outcome == "wrong", result
    assert "select() woke up" in result.message and "for one idle client" in result.message


def test_bug_hunt_names_the_function_not_written_yet():
    source = mutate(checks.solution("bug_hunt").code,
                    ("def service_connection(key, mask):\n",
                     "def service_connection(key, mask):\n    raise NotImplementedError()\n"))
    result = check("bug_hunt", source)
    assert result.outcome == "not attempted", result
    assert result.message.startswith("service_connection still raises NotImplementedError. Write it")


def test_a_wrong_message_total_is_reported():
    result = check("start_connections", mutate(solution_code("start_connections"),
                                                ("msg_total=sum(len(m) for m in messages)",
                                                 "msg_total=len(messages)")))
    assert result.message == "msg_total is 2; the messages have 44 bytes in all."


def test_sending_at_once_without_keeping_the_rest_fails_the_bug_hunt():
    """A plausible 'fix': send at once, never wait for WRITE. A big echo shows what is lost."""
    source = checks.solution("bug_hunt").code
    source = mutate(source, ("            data.outb += recv_data\n"
                             "            sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)\n",
                             "            sock.send(recv_data)\n"))
    result = check("bug_hunt", source)
    assert result.outcome == "wrong", result
    assert "1 MiB" in result.message or "BlockingIOError" in result.message, result


def test_starting_connections_with_connect_shows_the_traceback():
    result = check("start_connections", mutate(solution_code("start_connections"),
                                                ("sock.connect_ex(server_addr)", "sock.connect(server_addr)")))
    assert result.outcome == "wrong", result
    assert "raised BlockingIOError" in result.message
    assert "connect_ex" in result.hint
    assert "sock.connect(server_addr)" in result.traceback  # the learner's line, with its source


def test_a_udp_socket_shows_the_error_and_where():
    result = check("listening_socket", mutate(solution_code("listening_socket"), ("SOCK_STREAM", "SOCK_DGRAM")))
    assert result.outcome == "wrong"
    assert result.message.startswith("listening_socket('127.0.0.1', 0) raised OSError")
    assert "lsock.listen()" in result.traceback


def test_recv_on_write_only_is_explained():
    source = mutate(solution_code("service_connection"), ("    if mask & selectors.EVENT_READ:", "    if True:"))
    result = check("service_connection", source)
    assert result.outcome == "wrong"
    assert "BlockingIOError" in result.message
    assert "mask & selectors.EVENT_READ" in result.hint


def test_registering_the_listening_socket_again_is_a_keyerror_with_a_hint():
    source = mutate(solution_code("accept_wrapper"), ("sel.register(conn,", "sel.register(sock,"))
    result = check("accept_wrapper", source)
    assert "raised KeyError" in result.message
    assert "Register the new connection" in result.hint


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


def test_an_event_loop_that_swallows_exceptions_is_reported():
    source = solution_code("event_loop").replace(
        "                service_connection(key, mask)",
        "                try:\n                    service_connection(key, mask)\n"
        "                except BaseException:\n                    return")
    result = check("event_loop", source)
    assert result.outcome == "wrong"
    assert "returned after" in result.message


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
    for name, exercise in checks.EXERCISES.items():
        assert len(exercise.hints) == 3, name
        assert exercise.solution.startswith(("def ", "class ")), name
    with pytest.raises(ValueError, match="no exercise"):
        checks.hint("nope")


def test_mask_words():
    assert checks.mask_words(selectors.EVENT_READ) == "EVENT_READ only"
    assert checks.mask_words(selectors.EVENT_WRITE) == "EVENT_WRITE only"
    assert checks.mask_words(3) == "EVENT_READ | EVENT_WRITE"


def test_seed_messages_are_the_checks_messages():
    assert (checks.MSG1, checks.MSG2) == tuple(seed.messages)
