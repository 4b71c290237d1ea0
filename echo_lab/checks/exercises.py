"""The exercises, one row each: the table the checks, ``hint()``, ``solution()`` and the tests read.

A row holds what is written by hand about an exercise:

* ``name``: the exercise's name, which is also the nbgrader ``grade_id`` of
  its answer cell in the solution notebook (``hint(name)``, ``solution(name)``);
* ``functions``: what the learner's answer cell defines, in the order the
  check takes them; ``sel``: whether the check also takes the learner's selector;
* ``check``: the name of its check in :mod:`echo_lab.checks`, as the
  notebook's check cell calls it: ``check(*functions, sel)``;
* ``hints``: three, from a nudge to nearly the code.  ``_`` here only marks
  them for translation (``tools/translate.py`` collects every ``_("...")``):
  ``hint()`` translates one when it shows it, in the language in use then.

What the solution notebook says of itself is not written again here: its
file name (``notebook``), its ``minutes`` and the code between its solution
markers (``solution``) come from ``solutions.json``, which
``tools/make_exercises.py`` writes from ``solutions/`` and
``tests/test_make_exercises.py`` holds up to date.
"""

import dataclasses
import functools
import json
import pathlib

__all__ = ["EXERCISES", "SOLUTIONS", "Exercise", "answers_withheld"]

SOLUTIONS = pathlib.Path(__file__).with_name("solutions.json")  # written by tools/make_exercises.py


@functools.cache
def _file():
    try:
        return json.loads(SOLUTIONS.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LookupError(f"{SOLUTIONS} is missing: run python tools/make_exercises.py") from None


def _written():
    """{name: {"notebook", "minutes", "solution"}}: what tools/make_exercises.py read from the solution notebooks."""
    return _file()["exercises"]


def answers_withheld():
    """Whether this copy of the course is the learners' one, without the answers (``tools/teach.py students``)."""
    return bool(_file().get("graded"))


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise: its name, the functions its check takes, the check's name and its hints."""

    name: str
    functions: tuple
    check: str
    hints: tuple
    sel: bool = True

    @property
    def notebook(self):
        """The solution notebook's name (``solutions/NOTEBOOK.ipynb``; ``exercises/`` has the same)."""
        return _written()[self.name]["notebook"]

    @property
    def minutes(self):
        """How long the exercise takes, as its notebook's metadata says."""
        return _written()[self.name]["minutes"]

    @property
    def solution(self):
        """The code of the solution notebook's answer cell, without its solution markers."""
        return _written()[self.name]["solution"]


def _(message):
    """Mark ``message`` for translation; it is translated when shown (``hints.hint``)."""
    return message


EXERCISES = {exercise.name: exercise for exercise in (
    Exercise("listening_socket", ("listening_socket",), "check_listening_socket", hints=(
        _("Four calls, in the tutorial's order: make a TCP socket, bind it to (host, port), "
          "listen, make it non-blocking. Then return it."),
        _("`socket.socket(socket.AF_INET, socket.SOCK_STREAM)` makes a TCP socket; `bind` takes "
          "one tuple: `lsock.bind((host, port))`."),
        _("After `lsock.listen()`: `print('listening on', (host, port))`, "
          "`lsock.setblocking(False)`, `return lsock`."),
    )),
    Exercise("register_listening", ("register_listening",), "check_register_listening", hints=(
        _("One line: ask `sel` to watch `lsock`, and return what it gives back."),
        _("A listening socket becomes *readable* when a client waits to be accepted, so the "
          "mask is `selectors.EVENT_READ`; `data=None` marks it as the listening socket."),
        _("`return sel.register(lsock, selectors.EVENT_READ, data=None)`"),
    )),
    Exercise("mask_names", ("mask_names",), "check_mask_names", sel=False, hints=(
        _("A mask is a number whose bits are events: test each bit on its own."),
        _("`mask & selectors.EVENT_READ` is non-zero when the READ bit is set, whatever the "
          "other bits are. `==` would miss 3 (READ | WRITE)."),
        _("Start with `names = []`, append `'READ'` if `mask & selectors.EVENT_READ`, then "
          "`'WRITE'` if `mask & selectors.EVENT_WRITE`, and return `names`."),
    )),
    Exercise("event_loop", ("event_loop",), "check_event_loop", hints=(
        _("Forever: wait for ready sockets, then handle each one. The listening socket is the "
          "one whose key has no data."),
        _("`events = sel.select(timeout=None)` gives `(key, mask)` pairs; `key.fileobj` is the "
          "socket, `key.data` what was registered with it."),
        _("`while True:`, then `for key, mask in events:` with `if key.data is None: "
          "accept_wrapper(key.fileobj)` and `else: service_connection(key, mask)`."),
    )),
    Exercise("accept_wrapper", ("accept_wrapper",), "check_accept_wrapper", hints=(
        _("Accept the waiting connection, make it non-blocking, and register it with a "
          "namespace that remembers its address and its bytes."),
        _("`conn, addr = sock.accept()`; `conn.setblocking(False)`; "
          "`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`."),
        _("Register for both events: `events = selectors.EVENT_READ | selectors.EVENT_WRITE`, "
          "then `sel.register(conn, events, data=data)`. The tutorial also prints "
          "`'accepted connection from', addr`."),
    )),
    Exercise("service_connection", ("service_connection",), "check_service_connection", hints=(
        _("Two independent parts: if the mask has READ, receive (or close on end of file); "
          "if it has WRITE, send what is waiting in `data.outb`."),
        _("`recv_data = sock.recv(1024)`; bytes received go to `data.outb += recv_data`. "
          "An empty `recv_data` means the client closed: `sel.unregister(sock)`, then "
          "`sock.close()`."),
        _("For WRITE: `if data.outb:` then `sent = sock.send(data.outb)` and "
          "`data.outb = data.outb[sent:]` (send may take only part of it)."),
    )),
    Exercise("start_connections", ("start_connections",), "check_start_connections", hints=(
        _("For each of the `num_conns` connections: a non-blocking socket, a connect that does "
          "not wait, and a registration with a namespace of what to send and receive."),
        _("`sock.setblocking(False)` then `sock.connect_ex(server_addr)`: `connect()` would "
          "raise BlockingIOError on a non-blocking socket; `connect_ex` returns EINPROGRESS."),
        _("`data = types.SimpleNamespace(connid=connid, msg_total=sum(len(m) for m in messages), "
          "recv_total=0, messages=list(messages), outb=b'')` and "
          "`sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)`."),
    )),
    Exercise("client_service_connection", ("service_connection",), "check_client_service_connection", hints=(
        _("Like the server's: READ receives and counts bytes, WRITE sends. The client closes "
          "when it has everything back, or when the server closed."),
        _("READ: `recv_data = sock.recv(1024)`; `data.recv_total += len(recv_data)`; close "
          "(unregister, then close) `if not recv_data or data.recv_total == data.msg_total`."),
        _("WRITE: `if not data.outb and data.messages: data.outb = data.messages.pop(0)`, then "
          "`if data.outb:` send it and keep the rest: `data.outb = data.outb[sent:]`."),
    )),
    Exercise("bug_hunt", ("accept_wrapper", "service_connection"), "check_bug_hunt", hints=(
        _("A connected socket is almost always writable. What does `select()` do for a socket "
          "registered for EVENT_WRITE when there is nothing to write?"),
        _("Register a new connection for `selectors.EVENT_READ` only. Ask for EVENT_WRITE with "
          "`sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)` when "
          "`data.outb` gets bytes."),
        _("After a send, `if not data.outb: sel.modify(sock, selectors.EVENT_READ, data=data)`. "
          "After closing a socket, `return`: it must not be modified any more."),
    )),
    # beyond the tutorial: lesson 10's message reader, and lesson 12's asyncio server that pushes back
    Exercise("take_messages", ("take_messages",), "check_take_messages", sel=False, hints=(
        _("Loop while `data.inb` holds at least a whole header (4 bytes). Each time round, read "
          "the length from the header; if the whole message has not arrived yet, stop and leave "
          "`data.inb` as it is."),
        _("`(length,) = HEADER.unpack_from(data.inb)` reads the header. The message is "
          "`data.inb[HEADER.size:HEADER.size + length]`, and it is all there when "
          "`len(data.inb) >= HEADER.size + length`. Refuse `length > MAX_MESSAGE` with "
          "`raise ValueError(...)` before waiting for it."),
        _("With `end = HEADER.size + length`: `messages.append(bytes(data.inb[HEADER.size:end]))`, "
          "then `del data.inb[:end]` so that the next header starts at 0. Start with "
          "`messages = []` and `return messages` after the loop."),
    )),
    Exercise("EchoProtocol", ("EchoProtocol",), "check_echo_protocol", sel=False, hints=(
        _("Three methods, one line each. `data_received` echoes; the other two are asyncio telling "
          "you that the transport's write buffer is full (`pause_writing`) and that it has drained "
          "(`resume_writing`). While it is full, stop reading from the client."),
        _("`self.transport.write(data)` sends now, or keeps the rest in the transport's buffer. "
          "`self.transport.pause_reading()` stops calling `data_received`, so the kernel's buffer "
          "fills and TCP tells the client to wait; `self.transport.resume_reading()` undoes it."),
        _("`data_received`: `self.transport.write(data)`. `pause_writing`: "
          "`self.transport.pause_reading()`. `resume_writing`: `self.transport.resume_reading()`."),
    )),
)}
