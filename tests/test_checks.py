"""The exercise checkers, each tried on the starter code, the solution and plausible wrong answers.

The learner's code is taken from the notebooks themselves: the starter from
``exercises/`` (what a learner is handed), the solution from ``solutions/``.
Wrong answers are the solution with one plausible mistake made in it.  Each
is run as a notebook runs it: ``exec`` in a namespace of its own that holds
the module-level ``sel``, so the checker must find and replace it.
"""

import linecache
import pathlib
import re
import selectors
import socket
import threading
import time
import types

import nbformat
import pytest

from echo_lab import Recorder, checks, seed
from echo_lab.checks.client_functions import MSG1, MSG2
from echo_lab.checks.observe import mask_words

pytestmark = pytest.mark.usefixtures("no_server_left")

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
# plausible mistakes, exercise by exercise
#
# Each is the solution notebook's answer cell with one mistake a learner makes: from the tutorial's
# text, from the pitfalls the lessons teach, from what learners type. The check must say "not right
# yet", and what it shows (message, traceback, hint) must name the mistake: every one of `words`,
# the first in the message itself. Exercises 09 and 10 keep theirs in test_checks_framing.py and
# test_checks_protocol.py; tests/test_grading.py hands some of these to nbgrader.

ACCEPT_EVENTS = "events = selectors.EVENT_READ | selectors.EVENT_WRITE"
SLICE = "            data.outb = data.outb[sent:]\n"
UNREGISTER_CLOSE = "            sel.unregister(sock)\n            sock.close()\n"
CLOSE_UNREGISTER = "            sock.close()\n            sel.unregister(sock)\n"
ADD_WRITE = "            sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)\n"
DROP_WRITE = "        if not data.outb:\n            sel.modify(sock, selectors.EVENT_READ, data=data)"
NAMESPACE = "    data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')\n"
DROP_WRITE_ALWAYS = "    if not data.outb:\n        sel.modify(sock, selectors.EVENT_READ, data=data)"  # after READ too

MISTAKES = {  # exercise: [(case, replacements, words)]
    # 01 · the listening socket
    "listening_socket": [
        ("no-listen", [("    lsock.listen()\n", "")], ("not listening", "lsock.listen()")),
        ("still-blocking", [("    lsock.setblocking(False)\n", "")], ("still blocking", "setblocking(False)")),
        ("blocking-true", [("lsock.setblocking(False)", "lsock.setblocking(True)")], ("still blocking",)),
        ("no-return", [("    return lsock\n", "")], ("did you forget a `return`",)),
        ("hard-coded-port", [("lsock.bind((host, port))", "lsock.bind((host, 0))")], ("Asked for port",)),
        ("all-interfaces", [("lsock.bind((host, port))", "lsock.bind(('', port))")],
         ("Asked for host '127.0.0.1', the socket is bound to '0.0.0.0'",)),
        ("bind-two-arguments", [("lsock.bind((host, port))", "lsock.bind(host, port)")],
         ("raised TypeError", "lsock.bind(host, port)", "takes exactly one argument",
          "`bind` takes one argument, a (host, port) tuple: `bind((host, port))`")),
        ("udp", [("SOCK_STREAM", "SOCK_DGRAM")], ("raised OSError", "lsock.listen()")),
        ("no-print", [("    print('listening on', (host, port))\n", "")], ("did not print", "listening on")),
    ],
    # 02 · register, and the mask's bits
    "register_listening": [
        ("read-and-write",
         [("selectors.EVENT_READ, data=None", "selectors.EVENT_READ | selectors.EVENT_WRITE, data=None")],
         ("registered for EVENT_READ | EVENT_WRITE", "EVENT_READ` only")),
        ("write-only", [("selectors.EVENT_READ, data=None", "selectors.EVENT_WRITE, data=None")],
         ("registered for EVENT_WRITE only", "*readable*")),
        ("data-not-none", [("data=None", "data='listening'")], ("data='listening'", "key.data is None")),
        ("no-return", [("return sel.register", "sel.register")], ("forget a `return`",)),
        ("returns-lsock", [("    return sel.register(lsock, selectors.EVENT_READ, data=None)",
                            "    sel.register(lsock, selectors.EVENT_READ, data=None)\n    return lsock")],
         ("returned lsock itself, not the SelectorKey",)),
        ("new-selector", [("return sel.register(", "return selectors.DefaultSelector().register(")],
         ("not registered in `sel`", "the global `sel`")),
        ("registers-twice", [("    return sel.register(lsock, selectors.EVENT_READ, data=None)",
                              "    sel.register(lsock, selectors.EVENT_READ, data=None)\n"
                              "    return sel.register(lsock, selectors.EVENT_READ, data=None)")],
         ("raised KeyError", "is already registered", "Register the socket once")),
    ],
    "mask_names": [
        ("equality", [("if mask & selectors.EVENT_READ", "if mask == selectors.EVENT_READ"),
                      ("if mask & selectors.EVENT_WRITE", "if mask == selectors.EVENT_WRITE")],
         ("mask_names(3) returned []", "READ and WRITE at once")),
        ("early-return", [("names.append('READ')", "return ['READ']")], ("mask_names(3) returned ['READ']",)),
        ("elif", [("    if mask & selectors.EVENT_WRITE", "    elif mask & selectors.EVENT_WRITE")],
         ("mask_names(3) returned ['READ']", "both bits are set")),
        ("and-not-bitwise", [("if mask & selectors.EVENT_READ", "if mask and selectors.EVENT_READ"),
                             ("if mask & selectors.EVENT_WRITE", "if mask and selectors.EVENT_WRITE")],
         ("mask_names(1) returned ['READ', 'WRITE']", "`and` does not test a bit")),
        ("write-first", [("names.append('READ')", "names.insert(0, 'READ')"),
                         ("names.append('WRITE')", "names.insert(0, 'WRITE')")],
         ("returned ['WRITE', 'READ']", "READ (1) first")),
        ("no-return", [("    return names\n", "")], ("returned None: did you forget a `return`?",)),
    ],
    # 03 · the event loop
    "event_loop": [
        ("passes-the-key", [("accept_wrapper(key.fileobj)", "accept_wrapper(key)")], ("pass `key.fileobj`",)),
        ("passes-the-socket", [("service_connection(key, mask)", "service_connection(key.fileobj, mask)")],
         ("as its key: pass the `key` that select() returned",)),
        ("inverted-test", [("if key.data is None:", "if key.data is not None:")],
         ("called for the listening socket",)),
        ("accepts-everything", [("            if key.data is None:\n                accept_wrapper(key.fileobj)\n"
                                 "            else:\n                service_connection(key, mask)",
                                 "            accept_wrapper(key.fileobj)")],
         ("accept_wrapper was called with a socket that is not the listening one",)),
        ("one-pass", [("while True:", "if True:")], ("returned after", "while True:")),
        ("returns-from-the-loop", [("                service_connection(key, mask)",
                                    "                return service_connection(key, mask)")],
         ("returned after", "serve forever")),
        ("select-once", [("    while True:\n        events = sel.select(timeout=None)\n",
                          "    events = sel.select(timeout=None)\n    while True:\n")],
         ("no client was waiting", "inside `while True:`")),
        ("spins", [("sel.select(timeout=None)", "sel.select(timeout=0)")], ("the loop spins", "timeout=None")),
        ("registered-events-not-mask", [("service_connection(key, mask)", "service_connection(key, key.events)")],
         ("only ready for EVENT_WRITE", "not `key.events`")),
        ("swallows-exceptions", [("                service_connection(key, mask)",
                                  "                try:\n                    service_connection(key, mask)\n"
                                  "                except BaseException:\n                    return")],
         ("returned after",)),
    ],
    # 04 · accept_wrapper
    "accept_wrapper": [
        ("still-blocking", [("    conn.setblocking(False)\n", "")], ("The accepted socket is still blocking",)),
        ("read-only", [(ACCEPT_EVENTS, "events = selectors.EVENT_READ")], ("registered for EVENT_READ only",)),
        ("data-none", [("sel.register(conn, events, data=data)", "sel.register(conn, events)")],
         ("registered with data=None", "listening socket", "not passed to register", "data=data")),
        ("data-none-passed", [("sel.register(conn, events, data=data)", "sel.register(conn, events, data=None)")],
         ("registered with data=None", "The namespace is made but not passed to register",
          "`sel.register(conn, events, data=data)`")),
        ("no-namespace", [(NAMESPACE, ""), ("data=data", "data=None")],
         ("registered with data=None", "Make a namespace for the connection",
          "`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`")),
        ("namespace-without-its-module", [("types.SimpleNamespace(", "SimpleNamespace(")],
         ("raised NameError", "`SimpleNamespace` is not defined", "with its module", "imports it")),
        ("not-registered", [("    sel.register(conn, events, data=data)\n", "")], ("did not register it",)),
        ("registers-the-listening-socket", [("sel.register(conn,", "sel.register(sock,")],
         ("raised KeyError", "Register the new connection")),
        ("no-inb", [("addr=addr, inb=b'', outb=b''", "addr=addr, outb=b''")], ("key.data has no `inb`",)),
        ("text-not-bytes", [("addr=addr, inb=b'', outb=b''", "addr=addr, inb='', outb=''")],
         ("data.inb is ''; expected b''",)),
        ("accepts-twice", [("    print('accepted connection from', addr)\n",
                            "    print('accepted connection from', addr)\n    conn, addr = sock.accept()\n")],
         ("raised BlockingIOError", "once per call")),
        ("no-print", [("    print('accepted connection from', addr)\n", "")], ("did not print",)),
    ],
    # 05 · the server's service_connection
    "service_connection": [
        ("no-slice", [(SLICE, "")], ("Bytes that were sent are still in outb", "data.outb[sent:]")),
        ("clears-outb", [("data.outb = data.outb[sent:]", "data.outb = b''")], ("the other bytes are lost",)),
        ("sendall", [("            sent = sock.send(data.outb)  # Should be ready to write\n" + SLICE,
                      "            sock.sendall(data.outb)\n            data.outb = b''\n")],
         ("raised BlockingIOError", "`sendall` on a non-blocking socket")),
        ("replaces-outb", [("data.outb += recv_data", "data.outb = recv_data")], ("the first bytes were lost",)),
        ("keeps-it-in-inb", [("data.outb += recv_data", "data.inb += recv_data")],
         ("put the received bytes in data.inb",)),
        ("recv-on-write-only", [("    if mask & selectors.EVENT_READ:", "    if True:")],
         ("raised BlockingIOError", "mask & selectors.EVENT_READ")),
        ("close-before-unregister", [(UNREGISTER_CLOSE, CLOSE_UNREGISTER)],
         ("closed the socket before unregistering it",)),
        ("no-unregister", [("            sel.unregister(sock)\n", "")],
         ("closed the socket but did not unregister it",)),
        ("no-close", [("            sock.close()\n", "")], ("did not close it",)),
        ("closes-when-outb-is-empty", [("    if mask & selectors.EVENT_WRITE:\n        if data.outb:",
                                        "    if mask & selectors.EVENT_WRITE:\n        if not data.outb:\n"
                                        + UNREGISTER_CLOSE + "        elif data.outb:")],
         ("an empty data.outb, it closed the connection",)),
        ("no-print", [("            print('closing connection to', data.addr)\n", "")], ("did not print",)),
    ],
    # 06 · the client's start_connections
    "start_connections": [
        ("connect-not-connect_ex", [("sock.connect_ex(server_addr)", "sock.connect(server_addr)")],
         ("raised BlockingIOError", "connect_ex", "sock.connect(server_addr)")),
        ("still-blocking", [("        sock.setblocking(False)\n", ""),
                            ("sock.connect_ex(server_addr)", "sock.connect(server_addr)")], ("still blocking",)),
        ("shared-messages", [("messages=list(messages)", "messages=messages")], ("share one messages list",)),
        ("off-by-one", [("range(0, num_conns)", "range(1, num_conns)")], ("registered 2 socket(s)",)),
        ("numbered-from-0", [("connid = i + 1", "connid = i")], ("The connids are [0, 1, 2]",)),
        ("read-only", [(ACCEPT_EVENTS, "events = selectors.EVENT_READ")], ("registered for EVENT_READ only",)),
        ("counts-messages-not-bytes", [("msg_total=sum(len(m) for m in messages)", "msg_total=len(messages)")],
         ("msg_total is 2; the messages have 44 bytes in all.",)),
        ("no-print", [("        print('starting connection', connid, 'to', server_addr)\n", "")],
         ("did not print",)),
        ("connect_ex-two-arguments", [("sock.connect_ex(server_addr)", "sock.connect_ex(*server_addr)")],
         ("raised TypeError", "`connect_ex` takes one argument, a (host, port) tuple")),
    ],
    # 07 · the client's service_connection
    "client_service_connection": [
        ("pop-last", [("data.messages.pop(0)", "data.messages.pop()")], ("sent b'Message 2 from client.' first",)),
        ("no-slice", [(SLICE, "")], ("Bytes that were sent are still in outb",)),
        ("assigns-total", [("data.recv_total += len(recv_data)", "data.recv_total = len(recv_data)")],
         ("but data.recv_total is 22",)),
        ("ignores-eof", [("if not recv_data or data.recv_total == data.msg_total:",
                          "if data.recv_total == data.msg_total:")], ("When the server closed first",)),
        ("closes-early", [("        if not recv_data or data.recv_total == data.msg_total:", "        if True:")],
         ("closed the connection after receiving 22 of 44 bytes",)),
        ("recv-on-write-only", [("    if mask & selectors.EVENT_READ:", "    if True:")],
         ("raised BlockingIOError", "mask & selectors.EVENT_READ")),
        ("never-closes", [(UNREGISTER_CLOSE, "            pass\n")],
         ("neither unregistered nor closed the socket",)),
        ("close-before-unregister", [(UNREGISTER_CLOSE, CLOSE_UNREGISTER)],
         ("closed the socket before unregistering it",)),
    ],
    # 08 · the bug hunt: the always-WRITE busy loop
    "bug_hunt": [
        ("the-tutorials-server", [("events = selectors.EVENT_READ  # WRITE only while there is something to send",
                                   ACCEPT_EVENTS), (ADD_WRITE, ""), (DROP_WRITE, "")],
         ("select() woke up", "for one idle client")),
        ("write-forever", [(DROP_WRITE, "")],
         ("After the echo, select() woke up", "stayed registered for EVENT_WRITE")),
        ("never-write", [(ADD_WRITE, "")], ("got nothing back",)),
        ("still-blocking", [("    conn.setblocking(False)\n", "")], ("The accepted socket is still blocking",)),
        ("drops-write-after-a-partial-send",
         [(DROP_WRITE, "        sel.modify(sock, selectors.EVENT_READ, data=data)")],
         ("A client sent 1 MiB and got", "the rest must be sent on a later EVENT_WRITE")),
        ("modify-without-data", [(ADD_WRITE, ADD_WRITE.replace(", data=data)", ")"))],
         ("called accept_wrapper for a connection", "data=data")),
        ("sends-at-once", [("            data.outb += recv_data\n" + ADD_WRITE, "            sock.send(recv_data)\n")],
         ("raised BlockingIOError", "send buffer is full")),
        ("modifies-after-closing", [("            sock.close()\n            return\n", "            sock.close()\n"),
                                    (DROP_WRITE, DROP_WRITE_ALWAYS)],
         ("raised ValueError: Invalid file descriptor: -1", "closed before `sel.modify`", "fileno -1",
          "Unregister first, close last", "`return` right after `sock.close()`")),
        ("registers-again-for-write", [(ADD_WRITE, ADD_WRITE.replace("sel.modify", "sel.register"))],
         ("raised KeyError", "is already registered", "change its events with `sel.modify(")),
        ("modify-instead-of-register",
         [("sel.register(conn, events, data=data)", "sel.modify(conn, events, data=data)")],
         ("raised KeyError", "is not registered", "Register it first with `sel.register`")),
        ("namespace-without-outb", [("addr=addr, inb=b'', outb=b''", "addr=addr, inb=b''")],
         ("raised AttributeError", "The namespace has no `outb`: it was built without that field")),
        ("text-buffers", [("addr=addr, inb=b'', outb=b''", "addr=addr, inb='', outb=''")],
         ("raised TypeError", "Text (str) and bytes were mixed", "`b''`, not `''`")),
        ("sends-text", [("addr=addr, inb=b'', outb=b''", "addr=addr, inb='', outb=''"),
                        ("data.outb += recv_data", "data.outb += recv_data.decode()")],
         ("raised TypeError: a bytes-like object is required, not 'str'", "`send` takes bytes, not a str")),
    ],
}
WRONG = [(exercise, case, replacements, words)
         for exercise, cases in MISTAKES.items() for case, replacements, words in cases]


@pytest.mark.parametrize("exercise, case, replacements, words", WRONG,
                         ids=[f"{e}-{c}" for e, c, _, _ in WRONG])
def test_a_plausible_mistake_is_reported_with_what_it_did(exercise, case, replacements, words):
    result = check(exercise, mutate(solution_code(exercise), *replacements))
    assert result.outcome == "wrong", result
    assert words[0] in result.message, result
    for word in words[1:]:
        assert word in repr(result), (word, result)
    assert result.hint, "every failure comes with a hint"
    assert f'hint("{exercise}")' in repr(result)
    if result.traceback:  # the learner's lines only: not echo_lab's, not Python's own socket.py
        assert "echo_lab" not in result.traceback and "socket.py" not in result.traceback, result.traceback


def test_every_exercise_has_at_least_five_plausible_mistakes():
    import test_checks_framing
    import test_checks_protocol

    counts = {exercise: len(cases) for exercise, cases in MISTAKES.items()}
    counts["take_messages"] = len(test_checks_framing.WRONG)
    counts["EchoProtocol"] = len(test_checks_protocol.WRONG)
    assert set(counts) == set(checks.EXERCISES), "every exercise's checker is tried on mistakes"
    assert all(n >= 5 for n in counts.values()), counts
    for exercise, cases in MISTAKES.items():
        names = [case for case, _, _ in cases]
        assert len(names) == len(set(names)), exercise


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
    shown = serve_with(mutate(solution_code("service_connection"), *dict(
        (case, r) for case, r, _ in MISTAKES["service_connection"])["no-slice"]), capsys)
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
