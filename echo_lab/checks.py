"""Check a learner's version of the tutorial's functions against real sockets.

An exercise notebook asks for one of the tutorial's functions, with its name
and signature, then checks it::

    from echo_lab.checks import check_accept_wrapper, hint, solution

    check_accept_wrapper(accept_wrapper, sel)   # -> a Result, shown in the notebook
    hint("accept_wrapper")                      # the first hint
    hint("accept_wrapper", 2)                   # the next one
    solution("accept_wrapper")                  # the tutorial's code

A check says one of three things (:class:`Result`):

* **not attempted yet**: the function still raises ``NotImplementedError``;
* **not right yet**: what the function did (``the accepted socket is still
  blocking``, ``closed the socket before unregistering it``...) and a hint;
  an exception from the learner's code is shown with its traceback;
* **passed**.

A result shows itself in a notebook as a coloured box (``_repr_html_``) and
has a plain-text form (``repr``) that is the same on every run.

How a check runs your function without touching your state
-----------------------------------------------------------
The tutorial's functions use a module-level selector, ``sel``.  A check must
not register its test sockets in *your* ``sel``, nor close it, so you pass
your function **and** your ``sel`` in, and the check runs a *copy* of your
function in which every global name bound to that selector (normally just
``sel``) means a fresh ``Recorder(selectors.DefaultSelector())`` of the
check's own.  The same is done for a default argument or an enclosing
variable holding it, and for the functions defined beside yours that it
calls.  In the copy, ``print`` writes into the check's transcript instead of
the notebook.  Your variables are read only to make that copy, and never
changed; a selector your code reaches some other way (an attribute, another
module) is not replaced.  The event-loop check also puts its own
``accept_wrapper`` and ``service_connection`` in the copy, to watch how the
loop calls them.

Every wait is bounded
---------------------
Each call of your function runs on a worker thread and gets
:data:`CALL_TIMEOUT` seconds.  If it has not returned by then (a ``recv`` on
a blocking socket, a loop that never ends), the check shuts its sockets
down, which ends a blocked ``recv``/``accept``; if the thread still runs, an
exception is raised inside it (``PyThreadState_SetAsyncExc``), which ends a
Python loop.  A call stuck where neither reaches (``time.sleep(1000)``) is
left on its daemon thread: the check returns anyway.  Every network wait of
the check has a timeout too; clients run through :func:`run_client` and
servers through :class:`BackgroundServer`, whose ``stop()`` is bounded.
"""

import ctypes
import html
import pathlib
import re
import select
import selectors
import socket
import threading
import time
import traceback
import types

from . import seed
from .background import BackgroundServer, run_client
from .recorder import Recorder

__all__ = [
    "CALL_TIMEOUT",
    "EXERCISES",
    "Hint",
    "Result",
    "Solution",
    "check_accept_wrapper",
    "check_bug_hunt",
    "check_client_service_connection",
    "check_event_loop",
    "check_listening_socket",
    "check_mask_names",
    "check_register_listening",
    "check_service_connection",
    "check_start_connections",
    "hint",
    "solution",
]

CALL_TIMEOUT = 2.0  # seconds one call of the learner's function may take
NET_TIMEOUT = 2.0  # seconds for any network wait of the check
HOST = "127.0.0.1"
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
MSG1, MSG2 = seed.messages
_HERE = str(pathlib.Path(__file__).resolve().parent) + "/"  # this package's frames


def mask_words(mask):
    """'EVENT_READ only', 'EVENT_WRITE only', 'EVENT_READ | EVENT_WRITE', 'no events'."""
    if mask == READ | WRITE:
        return "EVENT_READ | EVENT_WRITE"
    return {READ: "EVENT_READ only", WRITE: "EVENT_WRITE only"}.get(mask, f"events={mask!r}")


# ---------------------------------------------------------------------------
# What a check says: Result, Hint, Solution

_STYLE = {  # outcome: (icon, headline, border colour, background)
    "passed": ("✔", "passed", "#2e7d32", "#edf7ed"),
    "wrong": ("✘", "not right yet", "#c62828", "#fdecea"),
    "not attempted": ("…", "not attempted yet", "#757575", "#f5f5f5"),
}


def _html_text(text):
    """Escape text for HTML; `code` spans become <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _box(colour, background, inner):
    return (f'<div style="border-left: 6px solid {colour}; background: {background}; color: #212121; '
            f'padding: 6px 12px; margin: 4px 0; line-height: 1.5">{inner}</div>')


class Result:
    """What a check found: ``outcome`` is ``"passed"``, ``"wrong"`` or ``"not attempted"``.

    ``message`` says what was observed, ``hint`` what to try, ``traceback``
    the learner's error (if one was raised).  ``passed`` is True for a pass.
    """

    def __init__(self, exercise, outcome, message, hint=None, traceback=None):
        if outcome not in _STYLE:
            raise ValueError(f"outcome must be one of {sorted(_STYLE)}, not {outcome!r}")
        self.exercise, self.outcome, self.message = exercise, outcome, message
        self.hint, self.traceback = hint, traceback

    @property
    def passed(self):
        return self.outcome == "passed"

    def _more(self):
        return f'More help: hint("{self.exercise}"), then hint("{self.exercise}", 2)...'

    def __repr__(self):
        icon, headline, _, _ = _STYLE[self.outcome]
        lines = [f"{icon} {self.exercise}: {headline}. {self.message}"]
        if self.traceback:
            lines.append(self.traceback.rstrip())
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        if self.outcome == "wrong":
            lines.append(self._more())
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self):
        icon, headline, colour, background = _STYLE[self.outcome]
        parts = [f"<b>{icon} {html.escape(self.exercise)}: {headline}.</b> {_html_text(self.message)}"]
        if self.traceback:
            parts.append(f"<details open><summary>Traceback</summary><pre>{html.escape(self.traceback)}</pre>"
                         "</details>")
        if self.hint:
            parts.append(f"<div><b>Hint:</b> {_html_text(self.hint)}</div>")
        if self.outcome == "wrong":
            parts.append(f'<div style="color: #555">{_html_text(self._more())}</div>')
        return _box(colour, background, "".join(parts))


class Hint:
    """One graded hint for an exercise, shown in the notebook."""

    def __init__(self, exercise, level, total, text):
        self.exercise, self.level, self.total, self.text = exercise, level, total, text

    def _next(self):
        if self.level < self.total:
            return f'Next: hint("{self.exercise}", {self.level + 1})'
        return f'That was the last hint. solution("{self.exercise}") shows the tutorial\'s code.'

    def __repr__(self):
        return f"Hint {self.level} of {self.total} for {self.exercise}: {self.text}\n{self._next()}"

    def _repr_html_(self):
        inner = (f"<b>Hint {self.level} of {self.total}</b> for <code>{html.escape(self.exercise)}</code>: "
                 f"{_html_text(self.text)}<div style='color: #555'>{_html_text(self._next())}</div>")
        return _box("#1565c0", "#e8f0fe", inner)


class Solution:
    """The tutorial's code for an exercise, shown in the notebook."""

    def __init__(self, exercise, code):
        self.exercise, self.code = exercise, code

    def __repr__(self):
        return f"Solution for {self.exercise}:\n{self.code}"

    def _repr_html_(self):
        inner = (f"<b>Solution</b> for <code>{html.escape(self.exercise)}</code>:"
                 f"<pre>{html.escape(self.code)}</pre>")
        return _box("#6a1b9a", "#f3e5f5", inner)


# ---------------------------------------------------------------------------
# The exercises: graded hints and the tutorial's code

class Exercise(types.SimpleNamespace):
    """``name``, ``hints`` (from a nudge to nearly the code) and ``solution`` (code)."""


EXERCISES = {
    "listening_socket": Exercise(
        name="listening_socket",
        hints=(
            "Four calls, in the tutorial's order: make a TCP socket, bind it to (host, port), "
            "listen, make it non-blocking. Then return it.",
            "`socket.socket(socket.AF_INET, socket.SOCK_STREAM)` makes a TCP socket; `bind` takes "
            "one tuple: `lsock.bind((host, port))`.",
            "After `lsock.listen()`: `print('listening on', (host, port))`, "
            "`lsock.setblocking(False)`, `return lsock`.",
        ),
        solution="""\
def listening_socket(host, port):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind((host, port))
    lsock.listen()
    print('listening on', (host, port))
    lsock.setblocking(False)
    return lsock""",
    ),
    "register_listening": Exercise(
        name="register_listening",
        hints=(
            "One line: ask `sel` to watch `lsock`, and return what it gives back.",
            "A listening socket becomes *readable* when a client waits to be accepted, so the "
            "mask is `selectors.EVENT_READ`; `data=None` marks it as the listening socket.",
            "`return sel.register(lsock, selectors.EVENT_READ, data=None)`",
        ),
        solution="""\
def register_listening(lsock):
    return sel.register(lsock, selectors.EVENT_READ, data=None)""",
    ),
    "mask_names": Exercise(
        name="mask_names",
        hints=(
            "A mask is a number whose bits are events: test each bit on its own.",
            "`mask & selectors.EVENT_READ` is non-zero when the READ bit is set, whatever the "
            "other bits are. `==` would miss 3 (READ | WRITE).",
            "Start with `names = []`, append `'READ'` if `mask & selectors.EVENT_READ`, then "
            "`'WRITE'` if `mask & selectors.EVENT_WRITE`, and return `names`.",
        ),
        solution="""\
def mask_names(mask):
    names = []
    if mask & selectors.EVENT_READ:
        names.append('READ')
    if mask & selectors.EVENT_WRITE:
        names.append('WRITE')
    return names""",
    ),
    "event_loop": Exercise(
        name="event_loop",
        hints=(
            "Forever: wait for ready sockets, then handle each one. The listening socket is the "
            "one whose key has no data.",
            "`events = sel.select(timeout=None)` gives `(key, mask)` pairs; `key.fileobj` is the "
            "socket, `key.data` what was registered with it.",
            "`while True:`, then `for key, mask in events:` with `if key.data is None: "
            "accept_wrapper(key.fileobj)` and `else: service_connection(key, mask)`.",
        ),
        solution="""\
def event_loop():
    while True:
        events = sel.select(timeout=None)
        for key, mask in events:
            if key.data is None:
                accept_wrapper(key.fileobj)
            else:
                service_connection(key, mask)""",
    ),
    "accept_wrapper": Exercise(
        name="accept_wrapper",
        hints=(
            "Accept the waiting connection, make it non-blocking, and register it with a "
            "namespace that remembers its address and its bytes.",
            "`conn, addr = sock.accept()`; `conn.setblocking(False)`; "
            "`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`.",
            "Register for both events: `events = selectors.EVENT_READ | selectors.EVENT_WRITE`, "
            "then `sel.register(conn, events, data=data)`. The tutorial also prints "
            "`'accepted connection from', addr`.",
        ),
        solution="""\
def accept_wrapper(sock):
    conn, addr = sock.accept()  # Should be ready to read
    print('accepted connection from', addr)
    conn.setblocking(False)
    data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')
    events = selectors.EVENT_READ | selectors.EVENT_WRITE
    sel.register(conn, events, data=data)""",
    ),
    "service_connection": Exercise(
        name="service_connection",
        hints=(
            "Two independent parts: if the mask has READ, receive (or close on end of file); "
            "if it has WRITE, send what is waiting in `data.outb`.",
            "`recv_data = sock.recv(1024)`; bytes received go to `data.outb += recv_data`. "
            "An empty `recv_data` means the client closed: `sel.unregister(sock)`, then "
            "`sock.close()`.",
            "For WRITE: `if data.outb:` then `sent = sock.send(data.outb)` and "
            "`data.outb = data.outb[sent:]` (send may take only part of it).",
        ),
        solution="""\
def service_connection(key, mask):
    sock = key.fileobj
    data = key.data
    if mask & selectors.EVENT_READ:
        recv_data = sock.recv(1024)  # Should be ready to read
        if recv_data:
            data.outb += recv_data
        else:
            print('closing connection to', data.addr)
            sel.unregister(sock)
            sock.close()
    if mask & selectors.EVENT_WRITE:
        if data.outb:
            print('echoing', repr(data.outb), 'to', data.addr)
            sent = sock.send(data.outb)  # Should be ready to write
            data.outb = data.outb[sent:]""",
    ),
    "start_connections": Exercise(
        name="start_connections",
        hints=(
            "For each of the `num_conns` connections: a non-blocking socket, a connect that does "
            "not wait, and a registration with a namespace of what to send and receive.",
            "`sock.setblocking(False)` then `sock.connect_ex(server_addr)`: `connect()` would "
            "raise BlockingIOError on a non-blocking socket; `connect_ex` returns EINPROGRESS.",
            "`data = types.SimpleNamespace(connid=connid, msg_total=sum(len(m) for m in messages), "
            "recv_total=0, messages=list(messages), outb=b'')` and "
            "`sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)`.",
        ),
        solution="""\
def start_connections(host, port, num_conns):
    server_addr = (host, port)
    for i in range(0, num_conns):
        connid = i + 1
        print('starting connection', connid, 'to', server_addr)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(server_addr)
        events = selectors.EVENT_READ | selectors.EVENT_WRITE
        data = types.SimpleNamespace(connid=connid,
                                     msg_total=sum(len(m) for m in messages),
                                     recv_total=0,
                                     messages=list(messages),
                                     outb=b'')
        sel.register(sock, events, data=data)""",
    ),
    "client_service_connection": Exercise(
        name="client_service_connection",
        hints=(
            "Like the server's: READ receives and counts bytes, WRITE sends. The client closes "
            "when it has everything back, or when the server closed.",
            "READ: `recv_data = sock.recv(1024)`; `data.recv_total += len(recv_data)`; close "
            "(unregister, then close) `if not recv_data or data.recv_total == data.msg_total`.",
            "WRITE: `if not data.outb and data.messages: data.outb = data.messages.pop(0)`, then "
            "`if data.outb:` send it and keep the rest: `data.outb = data.outb[sent:]`.",
        ),
        solution="""\
def service_connection(key, mask):
    sock = key.fileobj
    data = key.data
    if mask & selectors.EVENT_READ:
        recv_data = sock.recv(1024)  # Should be ready to read
        if recv_data:
            print('received', repr(recv_data), 'from connection', data.connid)
            data.recv_total += len(recv_data)
        if not recv_data or data.recv_total == data.msg_total:
            print('closing connection', data.connid)
            sel.unregister(sock)
            sock.close()
    if mask & selectors.EVENT_WRITE:
        if not data.outb and data.messages:
            data.outb = data.messages.pop(0)
        if data.outb:
            print('sending', repr(data.outb), 'to connection', data.connid)
            sent = sock.send(data.outb)  # Should be ready to write
            data.outb = data.outb[sent:]""",
    ),
    "bug_hunt": Exercise(
        name="bug_hunt",
        hints=(
            "A connected socket is almost always writable. What does `select()` do for a socket "
            "registered for EVENT_WRITE when there is nothing to write?",
            "Register a new connection for `selectors.EVENT_READ` only. Ask for EVENT_WRITE with "
            "`sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)` when "
            "`data.outb` gets bytes.",
            "After a send, `if not data.outb: sel.modify(sock, selectors.EVENT_READ, data=data)`. "
            "After closing a socket, `return`: it must not be modified any more.",
        ),
        solution="""\
def accept_wrapper(sock):
    conn, addr = sock.accept()  # Should be ready to read
    print('accepted connection from', addr)
    conn.setblocking(False)
    data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')
    events = selectors.EVENT_READ  # WRITE only while there is something to send
    sel.register(conn, events, data=data)


def service_connection(key, mask):
    sock = key.fileobj
    data = key.data
    if mask & selectors.EVENT_READ:
        recv_data = sock.recv(1024)  # Should be ready to read
        if recv_data:
            data.outb += recv_data
            sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)
        else:
            print('closing connection to', data.addr)
            sel.unregister(sock)
            sock.close()
            return
    if mask & selectors.EVENT_WRITE:
        if data.outb:
            print('echoing', repr(data.outb), 'to', data.addr)
            sent = sock.send(data.outb)  # Should be ready to write
            data.outb = data.outb[sent:]
        if not data.outb:
            sel.modify(sock, selectors.EVENT_READ, data=data)""",
    ),
}


def _exercise(name):
    try:
        return EXERCISES[name]
    except KeyError:
        raise ValueError(f"no exercise {name!r}; the exercises are: {', '.join(EXERCISES)}") from None


def hint(name, level=1):
    """Hint number ``level`` (1 = a nudge ... last = nearly the code) for exercise ``name``."""
    hints = _exercise(name).hints
    level = min(max(int(level), 1), len(hints))
    return Hint(name, level, len(hints), hints[level - 1])


def solution(name):
    """The tutorial's code for exercise ``name``."""
    return Solution(name, _exercise(name).solution)


# ---------------------------------------------------------------------------
# Running the learner's function: a copy with the check's selector, bounded

class _Wrong(Exception):
    def __init__(self, message, hint=None, traceback=None):
        super().__init__(message)
        self.message, self.hint, self.traceback = message, hint, traceback


class _NotAttempted(Exception):
    """The learner's code raised NotImplementedError; ``args[0]`` names the function, if known."""


class _Timeout(BaseException):
    """Raised inside a learner's thread that would not stop."""


class _StopLoop(BaseException):
    """Raised by the event-loop check's handlers to end the learner's ``while True`` loop."""


def _learner_frames(exc):
    return [f for f in traceback.extract_tb(exc.__traceback__)
            if not f.filename.startswith(_HERE) and not f.filename.endswith("threading.py")]


def _learner_traceback(exc):
    """The traceback of ``exc`` without this package's frames and the thread machinery."""
    frames = _learner_frames(exc)
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "Traceback (most recent call last):\n" + "".join(lines)


def _async_raise(thread, exc_type):
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))


def _quiet_close(sock):
    try:
        sock.close()
    except OSError:
        pass


class _Trial:
    """One run of a check: its selectors and sockets, the learner's prints, cleanup."""

    def __init__(self, learner_sel):
        self.learner_sel = learner_sel
        self.printed = []  # lines the learner's copy printed
        self.sockets = []  # every socket to shut down / close at the end
        self.selectors = []

    # -- making things ------------------------------------------------------
    def selector(self):
        rec = Recorder(selectors.DefaultSelector())
        self.selectors.append(rec)
        return rec

    def own(self, sock):
        self.sockets.append(sock)
        return sock

    def listener(self, sel=None):
        """A listening socket on 127.0.0.1, any free port, non-blocking; registered in ``sel``."""
        lsock = self.own(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        lsock.bind((HOST, 0))
        lsock.listen()
        lsock.setblocking(False)
        if sel is not None:
            sel.register(lsock, READ, data=None)
        return lsock

    def connect(self, address, rcvbuf=None):
        client = self.own(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        if rcvbuf:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: a small window
        client.settimeout(NET_TIMEOUT)
        client.connect(address)
        return client

    def pair(self):
        """A connected TCP pair ``(server_side, client_side)``, both blocking with a timeout."""
        lsock = self.own(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        lsock.bind((HOST, 0))
        lsock.listen()
        lsock.settimeout(NET_TIMEOUT)
        client = self.connect(lsock.getsockname())
        conn, _ = lsock.accept()
        conn.settimeout(NET_TIMEOUT)
        return self.own(conn), client

    def print(self, *args, sep=" ", end="\n", file=None, flush=False):
        self.printed.append((sep if sep is not None else " ").join(map(str, args)))

    def printed_line(self, start):
        return any(line.startswith(start) for line in self.printed)

    # -- the learner's function, with our selector ----------------------------
    def rebind(self, fn, sel, **replace):
        """A copy of ``fn`` where the learner's selector is ``sel`` and ``print`` is ours.

        ``replace`` puts other globals in the copy (the event loop's handlers).
        """
        mine = self.learner_sel

        def swap(value):
            return sel if value is mine else value

        old = fn.__globals__
        new = dict(old)
        for name, value in old.items():
            if value is mine:
                new[name] = sel
        new["print"] = self.print
        for name, value in old.items():  # helpers defined beside fn use the copy too
            if isinstance(value, types.FunctionType) and value.__globals__ is old and name not in replace:
                new[name] = _copy_function(value, new, swap)
        new.update(replace)
        return _copy_function(fn, new, swap)

    def uses_learner_sel(self, fn):
        mine = self.learner_sel
        cells = []
        for cell in fn.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:
                pass
        return (any(v is mine for v in fn.__globals__.values())
                or any(v is mine for v in (fn.__defaults__ or ()))
                or any(v is mine for v in (fn.__kwdefaults__ or {}).values())
                or any(v is mine for v in cells))

    def call(self, fn, *args, name=None, on_error=None, timeout=CALL_TIMEOUT):
        """Call ``fn(*args)`` on a worker thread, bounded; return its value.

        ``NotImplementedError`` -> not attempted; another exception -> wrong,
        with its traceback and the hint ``on_error`` gives for its type.
        """
        name = name or getattr(fn, "__name__", "your function")
        box = {}

        def target():
            try:
                box["value"] = fn(*args)
            except BaseException as exc:  # the learner's error, reported by the check
                box["error"] = exc

        worker = threading.Thread(target=target, daemon=True, name=f"echo_lab check: {name}")
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            self.unstick(worker)
            raise _Wrong(
                f"{name} did not return within {timeout:g} s: it is blocked (waiting on a socket "
                "that is still blocking?) or loops forever.",
                hint="Every socket the loop serves must be non-blocking, and a handler must "
                     "return after one recv or send.")
        error = box.get("error")
        if error is not None:
            self.learner_error(error, name, on_error)
        return box.get("value")

    def learner_error(self, error, name, on_error=None):
        if isinstance(error, NotImplementedError):
            frames = _learner_frames(error)
            raise _NotAttempted(frames[-1].name if frames else None)
        if isinstance(error, _Wrong):
            raise error
        hint = "The last lines of the traceback show where in your code it failed."
        for exc_type, text in (on_error or {}).items():
            if isinstance(error, exc_type):
                hint = text
                break
        raise _Wrong(f"{name} raised {type(error).__name__}: {error}", hint=hint,
                     traceback=_learner_traceback(error))

    def unstick(self, worker):
        """A learner's call did not return: shut our sockets down, then raise inside it."""
        sockets = list(self.sockets)
        for sel in self.selectors:
            sel_map = sel.get_map()
            try:  # the learner's thread may be registering as we copy
                sockets += [key.fileobj for key in list(sel_map.values())] if sel_map is not None else []
            except (RuntimeError, KeyError):
                pass
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
        worker.join(0.5)
        for _ in range(3):
            if not worker.is_alive():
                return
            _async_raise(worker, _Timeout)
            worker.join(0.5)

    def close(self):
        for sel in self.selectors:
            sel_map = sel.get_map()
            for key in list(sel_map.values()) if sel_map is not None else []:
                try:
                    sel.unregister(key.fileobj)
                except (KeyError, ValueError, OSError):
                    pass
                _quiet_close(key.fileobj)
            sel.close()
        for sock in self.sockets:
            _quiet_close(sock)


def _copy_function(fn, globals_, swap):
    closure = None
    if fn.__closure__:
        cells = []
        for cell in fn.__closure__:
            try:
                cells.append(types.CellType(swap(cell.cell_contents)))
            except ValueError:  # an empty cell
                cells.append(cell)
        closure = tuple(cells)
    defaults = tuple(swap(v) for v in fn.__defaults__) if fn.__defaults__ else fn.__defaults__
    copy = types.FunctionType(fn.__code__, globals_, fn.__name__, defaults, closure)
    if fn.__kwdefaults__:
        copy.__kwdefaults__ = {k: swap(v) for k, v in fn.__kwdefaults__.items()}
    copy.__qualname__ = fn.__qualname__
    return copy


def _run(exercise, body, functions, sel, needs_sel=True):
    """Run one check: validate the arguments, call ``body(trial, ...)``, turn it into a Result."""
    for label, fn in functions:
        if fn is None:
            return Result(exercise, "wrong", f"Pass your function: the argument for `{label}` is None.")
        if not isinstance(fn, types.FunctionType):
            return Result(exercise, "wrong",
                          f"Pass the function `{label}` itself (defined with def), not a "
                          f"{type(fn).__name__}.")
    if needs_sel and not isinstance(sel, selectors.BaseSelector):
        return Result(exercise, "wrong",
                      f"The last argument should be your selector `sel`, not {type(sel).__name__}: "
                      f"check_{exercise}(..., sel).")
    trial = _Trial(sel)
    if needs_sel:
        for label, fn in functions:
            if not trial.uses_learner_sel(fn):
                return Result(exercise, "wrong",
                              f"The selector you passed is not one `{label}` can use: it is not a global "
                              "variable of the notebook (or module) where the function was defined. Pass "
                              f"the `sel` your function registers in: check_{exercise}(..., sel).")
    try:
        message = body(trial, *(fn for _, fn in functions))
    except _NotAttempted as unfinished:
        labels = [label for label, _ in functions]
        if unfinished.args and unfinished.args[0] in labels:
            labels = [unfinished.args[0]]  # of two functions, the one that is not written yet
        names = " and ".join(labels)
        verb, it = ("raises", "it") if len(labels) == 1 else ("raise", "them")
        return Result(exercise, "not attempted",
                      f"{names} still {verb} NotImplementedError. Write {it} in the cell marked "
                      "`# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run that "
                      "cell, then run this one again.")
    except _Wrong as wrong:
        return Result(exercise, "wrong", wrong.message, wrong.hint, wrong.traceback)
    finally:
        trial.close()
    return Result(exercise, "passed", message)


def _wait_key(sel, sock, bits, timeout=NET_TIMEOUT):
    """Select on ``sel`` until ``sock`` is ready for one of ``bits``; return its key (a recording one)."""
    deadline = time.monotonic() + timeout
    fd = sock.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the socket was not ready within {timeout:g} s")
        for key, mask in sel.select(timeout=left):
            if key.fd == fd and mask & bits:
                return key


def _recv_upto(sock, n, timeout=NET_TIMEOUT, until=None):
    """Receive until ``n`` bytes, end of file, ``timeout`` or ``until()``; return what came."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    sock.settimeout(0.05)
    while len(got) < n and time.monotonic() < deadline and not (until and until()):
        try:
            chunk = sock.recv(n - len(got))
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    sock.settimeout(NET_TIMEOUT)
    return bytes(got)


def _events_of(sel, fd, since, kinds):
    return [e.kind for e in sel.events()[since:] if e.fd == fd and e.kind in kinds]


def _registered(sel, sock):
    """Is ``sock`` (open or closed) in ``sel``?"""
    return any(key.fileobj is sock for key in list(sel.get_map().values()))


def _check_closed(sel, sock, fd, since, why):
    """The socket must have been unregistered, then closed, in the events after ``since``."""
    order = _events_of(sel, fd, since, ("unregister", "close"))
    registered = _registered(sel, sock)
    closed = sock.fileno() == -1
    unregister_first = "Unregister first: `sel.unregister(sock)`, then `sock.close()`."
    if order[:2] == ["close", "unregister"]:
        raise _Wrong(f"{why}, it closed the socket before unregistering it.",
                     hint="A closed socket has no file descriptor left for the selector to look up; "
                          f"on some systems `sel.unregister` then fails. {unregister_first}")
    if closed and registered:
        raise _Wrong(f"{why}, it closed the socket but did not unregister it: `sel` still holds it.",
                     hint=f"The selector would keep a dead socket. {unregister_first}")
    if not closed and not registered:
        raise _Wrong(f"{why}, it unregistered the socket but did not close it: the connection stays "
                     "open.", hint="After `sel.unregister(sock)`, call `sock.close()`.")
    if not closed:
        raise _Wrong(f"{why}, it neither unregistered nor closed the socket: it stays registered and open.",
                     hint=unregister_first)


def _serve(trial, make_handlers, clients=2):
    """Run a BackgroundServer with ``make_handlers(sel)`` and ``clients`` of the tutorial's clients.

    Raises _Wrong if the clients are not all echoed and closed within the timeouts.
    """
    sel = Recorder(selectors.DefaultSelector())  # the server closes it, and its sockets, at stop()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind((HOST, 0))
    lsock.listen()
    lsock.setblocking(False)
    sel.register(lsock, READ, data=None)
    accept_wrapper, service_connection = make_handlers(sel)
    server = BackgroundServer(sel=sel, accept_wrapper=accept_wrapper,
                              service_connection=service_connection).start()
    problem = error = None
    try:
        result = run_client(server.address, clients, kind="fixed", timeout=NET_TIMEOUT)
        if not result.finished:
            problem = (f"Served by a background server, {clients} of the tutorial's clients did not "
                       f"get their messages echoed within {NET_TIMEOUT:g} s.")
        else:
            server.wait_idle(timeout=NET_TIMEOUT)
    except TimeoutError:
        problem = (f"Served by a background server, the {clients} clients got their echo and closed, "
                   "but the server still had connections registered.")
    except BaseException as exc:  # the loop's error, raised by wait_idle
        error = exc
    finally:
        try:
            server.stop()
        except BaseException as exc:  # the learner's error, kept by the server thread
            error = error or exc
    if error is not None:
        trial.learner_error(error, "while serving clients, your code")
    if problem:
        raise _Wrong(problem)


def _reference_server(trial, sel):
    return seed.server_functions(sel, print=trial.print)


def _reference_client(trial, sel):
    return seed.client_functions(sel, print=trial.print)


def _expect_return(value, what, name):
    if value is None:
        raise _Wrong(f"{name} returned None: did you forget a `return`?", hint=f"Return {what}.")


# ---------------------------------------------------------------------------
# 01 · the listening socket

def check_listening_socket(listening_socket, sel):
    """Check ``listening_socket(host, port)``: a TCP socket bound, listening, non-blocking, returned."""
    return _run("listening_socket", _listening_socket, [("listening_socket", listening_socket)], sel)


def _listening_socket(trial, fn):
    copy = trial.rebind(fn, trial.selector())
    lsock = trial.call(copy, HOST, 0, name="listening_socket('127.0.0.1', 0)",
                       on_error={OSError: "Make the socket with `socket.socket(socket.AF_INET, "
                                          "socket.SOCK_STREAM)` and bind it once."})
    _expect_return(lsock, "the socket: `return lsock`", "listening_socket('127.0.0.1', 0)")
    if not isinstance(lsock, socket.socket):
        raise _Wrong(f"listening_socket returned a {type(lsock).__name__}, not the socket.",
                     hint="`return lsock`")
    trial.own(lsock)
    if lsock.family != socket.AF_INET or lsock.type != socket.SOCK_STREAM:
        raise _Wrong("The socket is not a TCP socket over IPv4.",
                     hint="`socket.socket(socket.AF_INET, socket.SOCK_STREAM)`")
    host, port = lsock.getsockname()[:2]
    if port == 0:
        raise _Wrong("The socket is not bound to an address.", hint="`lsock.bind((host, port))`")
    if host != HOST:
        raise _Wrong(f"Asked for host '{HOST}', the socket is bound to '{host}'.",
                     hint="Bind to the `host` argument: `lsock.bind((host, port))`.")
    if not lsock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise _Wrong("The socket is bound but not listening: clients would be refused.",
                     hint="`lsock.listen()` after `bind`.")
    if lsock.getblocking():
        raise _Wrong("The listening socket is still blocking: an `accept()` with no client waiting "
                     "would freeze the whole server.", hint="`lsock.setblocking(False)`")
    if not trial.printed_line("listening on"):
        raise _Wrong("It works, but did not print the tutorial's line `listening on (host, port)`.",
                     hint="`print('listening on', (host, port))`")
    # A second call with a port of our choosing: is the port argument used?
    probe = socket.socket()
    probe.bind((HOST, 0))
    wanted = probe.getsockname()[1]
    probe.close()
    second = trial.call(copy, HOST, wanted, name=f"listening_socket('127.0.0.1', {wanted})")
    if isinstance(second, socket.socket):
        trial.own(second)
        if second.getsockname()[1] != wanted:
            raise _Wrong(f"Asked for port {wanted}, the socket is bound to port "
                         f"{second.getsockname()[1]}.", hint="Bind to the `port` argument.")
    client = trial.connect((host, port))
    ready, _, _ = select.select([lsock], [], [], NET_TIMEOUT)
    if not ready:
        raise _Wrong("A client connected, but the socket never became readable.")
    trial.own(lsock.accept()[0])
    client.close()
    return ("It returns a TCP socket bound to (host, port), listening and non-blocking, and prints "
            "'listening on (host, port)'. A client connected to it.")


# ---------------------------------------------------------------------------
# 02 · register, and the mask's bits

def check_register_listening(register_listening, sel):
    """Check ``register_listening(lsock)``: registered in ``sel`` for READ with data None; key returned."""
    return _run("register_listening", _register_listening, [("register_listening", register_listening)], sel)


def _register_listening(trial, fn):
    fresh = trial.selector()
    lsock = trial.listener()
    key = trial.call(trial.rebind(fn, fresh), lsock, name="register_listening(lsock)",
                     on_error={KeyError: "Register the socket once, in `sel`."})
    sel_map = fresh.get_map()
    if not _registered(fresh, lsock):
        raise _Wrong("After register_listening(lsock), lsock is not registered in `sel`.",
                     hint="`sel.register(lsock, selectors.EVENT_READ, data=None)`, with the global `sel` "
                          "(not a new selector).")
    registered = sel_map[lsock]
    if registered.events != READ:
        raise _Wrong(f"lsock is registered for {mask_words(registered.events)}.",
                     hint="A listening socket becomes *readable* when a client waits to be accepted: "
                          "register it for `selectors.EVENT_READ` only.")
    if registered.data is not None:
        raise _Wrong(f"lsock is registered with data={registered.data!r}.",
                     hint="The event loop tells the listening socket by `key.data is None`: pass "
                          "`data=None`.")
    _expect_return(key, "the SelectorKey that `sel.register(...)` returns", "register_listening(lsock)")
    if key != registered:
        raise _Wrong(f"register_listening returned {key!r}, not the SelectorKey.",
                     hint="`return sel.register(...)`")
    client = trial.connect(lsock.getsockname())
    _wait_key(fresh, lsock, READ)
    client.close()
    return ("lsock is registered for EVENT_READ with data=None, the key is returned, and select() "
            "reported lsock readable when a client connected.")


def check_mask_names(mask_names):
    """Check ``mask_names(mask)``: the names of the bits set, e.g. 3 -> ['READ', 'WRITE']."""
    return _run("mask_names", _mask_names, [("mask_names", mask_names)], None, needs_sel=False)


def _mask_names(trial, fn):
    copy = trial.rebind(fn, None)
    for mask, expected in ((READ, ["READ"]), (WRITE, ["WRITE"]), (READ | WRITE, ["READ", "WRITE"]), (0, [])):
        got = trial.call(copy, mask, name=f"mask_names({mask})")
        _expect_return(got, f"a list such as {expected!r}", f"mask_names({mask})")
        try:
            got_list = list(got)
        except TypeError:
            got_list = None
        if got_list != expected:
            why = {3: " 3 is 0b11: both bits are set, so it is READ and WRITE at once.",
                   0: " 0 has no bit set."}.get(mask, "")
            raise _Wrong(f"mask_names({mask}) returned {got!r}, expected {expected!r}.{why}",
                         hint="Test each bit on its own with `&`: `if mask & selectors.EVENT_READ:`.")
    return "mask_names gives ['READ'], ['WRITE'], ['READ', 'WRITE'] and [] for the masks 1, 2, 3 and 0."


# ---------------------------------------------------------------------------
# 03 · the event loop

_WAKE = types.SimpleNamespace(role="the check's stop signal")


def check_event_loop(event_loop, sel):
    """Check ``event_loop()``: the tutorial's ``while True`` loop, run on a thread with the check's handlers.

    The check gives the loop its own ``accept_wrapper`` and ``service_connection``
    (in the copy of the function; yours are not used), connects two clients, and
    stops the loop by raising an exception from ``service_connection`` when a
    socket of its own becomes readable.
    """
    return _run("event_loop", _event_loop, [("event_loop", event_loop)], sel)


def _event_loop(trial, fn):
    fresh = trial.selector()
    lsock = trial.listener(fresh)
    wake_r, wake_w = socket.socketpair()
    trial.own(wake_r), trial.own(wake_w)
    fresh.register(wake_r, READ, data=_WAKE)
    problems, accepted, served = [], [], []

    def accept_wrapper(sock):
        if not hasattr(sock, "accept"):
            problems.append(f"accept_wrapper was called with a {type(sock).__name__}, not with the "
                            "listening socket: pass `key.fileobj`.")
            raise _StopLoop
        if sock.fileno() != lsock.fileno():
            problems.append("accept_wrapper was called with a socket that is not the listening one.")
            raise _StopLoop
        conn, addr = sock.accept()
        conn.setblocking(False)
        fresh.register(conn, READ, data=types.SimpleNamespace(addr=addr))
        accepted.append(addr)

    def service_connection(key, mask):
        if not isinstance(key, selectors.SelectorKey):
            problems.append(f"service_connection was called with a {type(key).__name__} as its key: "
                            "pass the `key` that select() returned.")
            raise _StopLoop
        if key.data is _WAKE:
            raise _StopLoop
        if key.data is None:
            problems.append("service_connection was called for the listening socket (its key.data is "
                            "None): that one goes to `accept_wrapper(key.fileobj)`.")
            raise _StopLoop
        if not isinstance(mask, int) or not mask or mask & ~(READ | WRITE):
            problems.append(f"service_connection was called with mask={mask!r}: pass the `mask` that "
                            "came with the key.")
            raise _StopLoop
        served.append(mask)
        if mask & READ:
            data = key.fileobj.recv(1024)
            if data:
                key.fileobj.sendall(data)
            else:
                fresh.unregister(key.fileobj)
                key.fileobj.close()

    copy = trial.rebind(fn, fresh, accept_wrapper=accept_wrapper, service_connection=service_connection)
    box = {}

    def target():
        try:
            box["value"] = copy()
        except BaseException as exc:  # the learner's error, or our _StopLoop
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="echo_lab check: event_loop")
    worker.start()
    try:
        for n in (1, 2):
            if not worker.is_alive():
                break
            client = trial.connect(lsock.getsockname())
            message = b"ping %d" % n
            client.sendall(message)
            echo = _recv_upto(client, len(message), until=lambda: not worker.is_alive())
            client.close()
            if echo != message and not problems and worker.is_alive():
                raise _Wrong(f"A client connected and sent {message!r}, but got no echo within "
                             f"{NET_TIMEOUT:g} s.",
                             hint="For each `(key, mask)` that select() returns, call "
                                  "`accept_wrapper(key.fileobj)` or `service_connection(key, mask)`.")
        deadline = time.monotonic() + NET_TIMEOUT
        while worker.is_alive() and len(fresh.get_map()) > 2 and time.monotonic() < deadline:
            time.sleep(0.005)  # the loop closes the two connections
        wake_w.send(b"x")  # the loop calls service_connection for it: _StopLoop ends the loop
        worker.join(CALL_TIMEOUT)
        if worker.is_alive():
            trial.unstick(worker)
            raise _Wrong("event_loop did not stop when the check's handler raised an exception.",
                         hint="Let exceptions from the handlers leave the loop: no `try/except` that "
                              "swallows everything.")
    finally:
        if worker.is_alive():
            trial.unstick(worker)
    if problems:
        raise _Wrong(problems[0], hint=EXERCISES["event_loop"].hints[2])
    error = box.get("error")
    if error is not None and not isinstance(error, _StopLoop):
        trial.learner_error(error, "event_loop")
    if "error" not in box:
        raise _Wrong(f"event_loop returned after {fresh.calls} select() call(s): it should serve "
                     "forever.", hint="Put the loop body in `while True:`.")
    idle = sum(1 for e in fresh.events("select") if e.ready == 0)
    if idle > 50:
        raise _Wrong(f"select() came back {idle} times with nothing ready: the loop spins, using a "
                     "whole core, instead of waiting.",
                     hint="`sel.select(timeout=None)` waits until a socket is ready.")
    if len(accepted) < 2:
        raise _Wrong("accept_wrapper was not called for each new client.",
                     hint="`if key.data is None: accept_wrapper(key.fileobj)`")
    return ("Your loop called accept_wrapper(key.fileobj) for the listening socket and "
            "service_connection(key, mask) for each connection: 2 clients were served until they "
            "closed.")


# ---------------------------------------------------------------------------
# 04 · accept_wrapper

def check_accept_wrapper(accept_wrapper, sel):
    """Check the server's ``accept_wrapper(sock)``: accept, non-blocking, register READ|WRITE with a namespace."""
    return _run("accept_wrapper", _accept_wrapper, [("accept_wrapper", accept_wrapper)], sel)


def _accept_wrapper(trial, fn):
    fresh = trial.selector()
    lsock = trial.listener(fresh)
    copy = trial.rebind(fn, fresh)
    for _ in range(2):
        client = trial.connect(lsock.getsockname())
        key = _wait_key(fresh, lsock, READ)
        before = {k.fd for k in fresh.get_map().values()}
        accepts = len(fresh.events("accept"))
        trial.call(copy, key.fileobj, name="accept_wrapper(sock)",
                   on_error={BlockingIOError: "Call `sock.accept()` once per call of accept_wrapper.",
                             KeyError: "Register the new connection `conn`, not the listening `sock`."})
        new = [k for k in fresh.get_map().values() if k.fd not in before]
        if not new:
            if len(fresh.events("accept")) == accepts:
                raise _Wrong("accept_wrapper did not accept the waiting connection.",
                             hint="`conn, addr = sock.accept()`")
            raise _Wrong("accept_wrapper accepted the connection but did not register it in `sel`: "
                         "the loop would never hear from it.",
                         hint="`sel.register(conn, events, data=data)`")
        if len(new) > 1:
            raise _Wrong(f"One call of accept_wrapper registered {len(new)} sockets.",
                         hint="Register just the accepted connection.")
        registered = new[0]
        conn = registered.fileobj
        trial.own(conn)
        peer = client.getsockname()
        if conn.getpeername() != peer:
            raise _Wrong("accept_wrapper registered a socket that is not the accepted connection.",
                         hint="Register `conn`, the first value `sock.accept()` returns.")
        if conn.getblocking():
            raise _Wrong("The accepted socket is still blocking: one `recv()` waiting for a quiet "
                         "client would freeze the whole server.",
                         hint="`conn.setblocking(False)` right after `sock.accept()`.")
        if registered.events != READ | WRITE:
            raise _Wrong(f"The connection is registered for {mask_words(registered.events)}.",
                         hint="The tutorial's server waits for both events, "
                              "`events = selectors.EVENT_READ | selectors.EVENT_WRITE`: READ to receive, "
                              "WRITE to send the echo. (Exercise 08 shows what WRITE costs.)")
        data = registered.data
        if data is None:
            raise _Wrong("The connection is registered with data=None: the event loop would take it "
                         "for the listening socket and call accept_wrapper on it.",
                         hint="`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`")
        for attr, expected in (("addr", peer), ("inb", b""), ("outb", b"")):
            if not hasattr(data, attr):
                raise _Wrong(f"key.data has no `{attr}`: service_connection needs data.addr, data.inb "
                             "and data.outb.",
                             hint="`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`")
            if getattr(data, attr) != expected:
                shown = "the client's address" if attr == "addr" else repr(expected)
                raise _Wrong(f"data.{attr} is {getattr(data, attr)!r}; expected {shown}.",
                             hint="`types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`")
    if not trial.printed_line("accepted connection from"):
        raise _Wrong("It works, but did not print the tutorial's line `accepted connection from ...`.",
                     hint="`print('accepted connection from', addr)`")
    _serve(trial, lambda sel: (trial.rebind(fn, sel), _reference_server(trial, sel)[1]))
    return ("It accepted each connection, made it non-blocking, and registered it for "
            "EVENT_READ | EVENT_WRITE with addr, inb and outb. With the tutorial's service_connection, "
            "a background server running it echoed 2 clients.")


# ---------------------------------------------------------------------------
# 05 · the server's service_connection

def check_service_connection(service_connection, sel):
    """Check the server's ``service_connection(key, mask)``: recv into outb, send and slice, close on EOF."""
    return _run("service_connection", _service_connection, [("service_connection", service_connection)], sel)


_RECV_ONLY_ON_READ = ("With mask EVENT_WRITE only there may be nothing to read: call `sock.recv` only "
                      "`if mask & selectors.EVENT_READ:`.")


def _server_side(trial, fresh):
    conn, client = trial.pair()
    conn.setblocking(False)
    data = types.SimpleNamespace(addr=client.getsockname(), inb=b"", outb=b"")
    fresh.register(conn, READ | WRITE, data=data)
    return conn, client, data


def _service_connection(trial, fn):
    fresh = trial.selector()
    copy = trial.rebind(fn, fresh)
    call = lambda key, mask, what: trial.call(  # noqa: E731
        copy, key, mask, name=f"service_connection(key, {what})",
        on_error={BlockingIOError: _RECV_ONLY_ON_READ})
    conn, client, data = _server_side(trial, fresh)
    fd = conn.fileno()

    # READ: the bytes go to data.outb
    client.sendall(b"hello")
    call(_wait_key(fresh, conn, READ), READ, "EVENT_READ")
    if conn.fileno() == -1 or not _registered(fresh, conn):
        raise _Wrong("After receiving b'hello', it closed the connection.",
                     hint="Close only when `recv` returns b'' (the client closed).")
    echoed = b""
    if data.outb != b"hello":
        echoed = _recv_upto(client, 5, timeout=0.2)
        if echoed != b"hello" or data.outb:
            if not _events_of(fresh, fd, 0, ("recv",)):
                raise _Wrong("Called with mask EVENT_READ, it did not receive.",
                             hint="`if mask & selectors.EVENT_READ:` then `recv_data = sock.recv(1024)`.")
            if data.inb == b"hello":
                raise _Wrong("It put the received bytes in data.inb; the tutorial's server echoes "
                             "from data.outb.", hint="`data.outb += recv_data`")
            raise _Wrong(f"It received b'hello', but then data.outb is {data.outb!r}.",
                         hint="Keep what you received for the echo: `data.outb += recv_data`.")
    # READ again with bytes still waiting: they must be kept
    if not echoed:
        client.sendall(b" world")
        call(_wait_key(fresh, conn, READ), READ, "EVENT_READ")
        if data.outb == b" world":
            raise _Wrong("data.outb held b'hello'; after receiving b' world' it is b' world': the "
                         "first bytes were lost before they were echoed.",
                         hint="Append, don't replace: `data.outb += recv_data`.")
        if data.outb != b"hello world":
            raise _Wrong(f"data.outb held b'hello'; after receiving b' world' it is {data.outb!r}.",
                         hint="`data.outb += recv_data`")
        # WRITE: send and slice
        call(_wait_key(fresh, conn, WRITE), WRITE, "EVENT_WRITE")
        got = _recv_upto(client, 11, timeout=0.5)
        if not got:
            raise _Wrong("Called with mask EVENT_WRITE while data.outb held b'hello world', it sent "
                         "nothing.", hint="`if mask & selectors.EVENT_WRITE:` and `if data.outb:` then "
                                          "`sent = sock.send(data.outb)`.")
        if data.outb == b"hello world":
            raise _Wrong("Bytes that were sent are still in outb: the client got b'hello world', and "
                         "data.outb still holds b'hello world', so the next EVENT_WRITE sends them again.",
                         hint="`data.outb = data.outb[sent:]`")
        if got != b"hello world" or data.outb:
            raise _Wrong(f"The client got {got!r}, and data.outb is now {data.outb!r}.",
                         hint="`sent = sock.send(data.outb)` then `data.outb = data.outb[sent:]`.")
    # WRITE with nothing to send: nothing happens
    call(_wait_key(fresh, conn, WRITE), WRITE, "EVENT_WRITE")
    if _recv_upto(client, 1, timeout=0.05) or data.outb:
        raise _Wrong("Called with mask EVENT_WRITE and an empty data.outb, it sent something.",
                     hint="Send only `if data.outb:`.")
    # End of file: unregister, then close
    since = len(fresh.events())
    client.close()
    call(_wait_key(fresh, conn, READ), READ, "EVENT_READ")
    _check_closed(fresh, conn, fd, since, "When recv returned b'' (the client closed)")
    if not trial.printed_line("closing connection to"):
        raise _Wrong("It works, but did not print the tutorial's line `closing connection to ...`.",
                     hint="`print('closing connection to', data.addr)`")
    _partial_send(trial, fresh, call)
    _serve(trial, lambda sel: (_reference_server(trial, sel)[0], trial.rebind(fn, sel)))
    return ("It keeps received bytes in data.outb, sends them on EVENT_WRITE and keeps only what was "
            "not sent, and unregisters then closes the socket when the client closes. A background "
            "server running it echoed 2 clients.")


def _partial_send(trial, fresh, call):
    """A big outb and small buffers: send() takes only part; the rest must stay in outb."""
    conn, client, data = _server_side(trial, fresh)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = bytes(range(256)) * 4096  # 1 MiB
    data.outb = big
    since = len(fresh.events())
    call(_wait_key(fresh, conn, WRITE), WRITE, "EVENT_WRITE")
    sent = sum(e.nbytes for e in fresh.events()[since:] if e.kind == "send" and e.fd == conn.fileno())
    if 0 < sent < len(big) and data.outb != big[sent:]:
        if not data.outb:
            raise _Wrong(f"With 1 MiB in data.outb, send() took only {sent} bytes, but data.outb is now "
                         "empty: the other bytes are lost.",
                         hint="Keep what was not sent: `data.outb = data.outb[sent:]`.")
        raise _Wrong(f"With 1 MiB in data.outb, send() took {sent} bytes, but data.outb does not hold "
                     "the rest.", hint="`data.outb = data.outb[sent:]`")


# ---------------------------------------------------------------------------
# 06 · the client's start_connections

def check_start_connections(start_connections, sel):
    """Check the client's ``start_connections(host, port, num_conns)``."""
    return _run("start_connections", _start_connections, [("start_connections", start_connections)], sel)


def _start_connections(trial, fn):
    fresh = trial.selector()
    lsock = trial.own(socket.socket())
    lsock.bind((HOST, 0))
    lsock.listen()
    lsock.settimeout(NET_TIMEOUT)
    port = lsock.getsockname()[1]
    copy = trial.rebind(fn, fresh)
    trial.call(copy, HOST, port, 3, name=f"start_connections('127.0.0.1', {port}, 3)",
               on_error={BlockingIOError: "`connect()` on a non-blocking socket raises BlockingIOError "
                                          "at once: use `sock.connect_ex(server_addr)`, which returns "
                                          "an error number (EINPROGRESS) instead."})
    keys = list(fresh.get_map().values())
    for key in keys:
        trial.own(key.fileobj)
    if len(keys) != 3:
        raise _Wrong(f"start_connections(host, port, 3) registered {len(keys)} socket(s) in `sel`; "
                     "expected 3.", hint="One socket per connection: `for i in range(0, num_conns):`, "
                                         "each registered with `sel.register(sock, events, data=data)`.")
    try:
        for _ in keys:
            trial.own(lsock.accept()[0])
    except socket.timeout:
        raise _Wrong("The sockets did not connect to (host, port).",
                     hint="`sock.connect_ex(server_addr)` with `server_addr = (host, port)`.") from None
    for key in keys:
        if key.fileobj.getblocking():
            raise _Wrong("A client socket is still blocking: one slow server would freeze the client.",
                         hint="`sock.setblocking(False)` before `sock.connect_ex(server_addr)`.")
        if key.events != READ | WRITE:
            raise _Wrong(f"A client socket is registered for {mask_words(key.events)}.",
                         hint="The client waits for both: WRITE tells it the connection is made and it "
                              "can send, READ that the echo came. "
                              "`events = selectors.EVENT_READ | selectors.EVENT_WRITE`")
    datas = [key.data for key in keys]
    for attr in ("connid", "msg_total", "recv_total", "messages", "outb"):
        if any(not hasattr(d, attr) for d in datas):
            raise _Wrong(f"key.data has no `{attr}`: service_connection needs connid, msg_total, "
                         "recv_total, messages and outb.", hint=EXERCISES["start_connections"].hints[2])
    ids = sorted(d.connid for d in datas)
    if ids != [1, 2, 3]:
        raise _Wrong(f"The connids are {ids}; number the connections 1, 2, 3.", hint="`connid = i + 1`")
    for d in datas:
        if not isinstance(d.messages, list) or not d.messages or not all(isinstance(m, bytes) for m in d.messages):
            raise _Wrong(f"data.messages is {d.messages!r}; expected a list of the messages to send (bytes).",
                         hint="`messages=list(messages)`")
        total = sum(len(m) for m in d.messages)
        if d.msg_total != total:
            raise _Wrong(f"msg_total is {d.msg_total!r}; the messages have {total} bytes in all.",
                         hint="`msg_total=sum(len(m) for m in messages)`")
        if d.recv_total != 0 or d.outb != b"":
            raise _Wrong(f"A new connection starts with recv_total={d.recv_total!r}, outb={d.outb!r}; "
                         "expected 0 and b''.", hint="`recv_total=0, outb=b''`")
    if len({id(d.messages) for d in datas}) < len(datas):
        raise _Wrong("The connections share one messages list: `pop(0)` on one connection would take "
                     "the messages away from the others.",
                     hint="Give each connection its own copy: `messages=list(messages)`.")
    if not trial.printed_line("starting connection 1 to"):
        raise _Wrong("It works, but did not print the tutorial's line `starting connection 1 to ...`.",
                     hint="`print('starting connection', connid, 'to', server_addr)`")
    with BackgroundServer("fixed") as server:
        sel2 = Recorder(selectors.DefaultSelector())
        result = _run_own_client(trial, server.address, sel2, trial.rebind(fn, sel2),
                                 _reference_client(trial, sel2)[1])
    if not result.finished:
        raise _Wrong("With the tutorial's service_connection, 2 connections it started were not echoed "
                     f"within {NET_TIMEOUT:g} s by a background server.")
    return ("It starts num_conns non-blocking connections with connect_ex and registers each for "
            "EVENT_READ | EVENT_WRITE with its own messages. With the tutorial's service_connection, "
            "2 connections were echoed by a background server.")


def _run_own_client(trial, address, sel, start_connections, service_connection):
    """run_client with the learner's pieces, on a worker thread (a client runs in the calling thread)."""
    return trial.call(lambda: run_client(address, 2, sel=sel, start_connections=start_connections,
                                         service_connection=service_connection, timeout=NET_TIMEOUT),
                      name="the client, run to the end,", timeout=NET_TIMEOUT + 1)


# ---------------------------------------------------------------------------
# 07 · the client's service_connection

def check_client_service_connection(service_connection, sel):
    """Check the client's ``service_connection(key, mask)``: send messages in order, count, close."""
    return _run("client_service_connection", _client_service_connection,
                [("service_connection", service_connection)], sel)


def _client_side(trial, fresh):
    peer, sock = trial.pair()
    sock.setblocking(False)
    data = types.SimpleNamespace(connid=1, msg_total=len(MSG1) + len(MSG2), recv_total=0,
                                 messages=[MSG1, MSG2], outb=b"")
    fresh.register(sock, READ | WRITE, data=data)
    return peer, sock, data


def _client_service_connection(trial, fn):
    fresh = trial.selector()
    copy = trial.rebind(fn, fresh)
    call = lambda key, mask, what: trial.call(  # noqa: E731
        copy, key, mask, name=f"service_connection(key, {what})",
        on_error={BlockingIOError: _RECV_ONLY_ON_READ})
    peer, sock, data = _client_side(trial, fresh)
    fd = sock.fileno()

    # WRITE: the first message, then the second, then nothing
    call(_wait_key(fresh, sock, WRITE), WRITE, "EVENT_WRITE")
    got = _recv_upto(peer, len(MSG1), timeout=0.5)
    if not got:
        raise _Wrong("Called with mask EVENT_WRITE, with two messages to send, it sent nothing.",
                     hint="`if not data.outb and data.messages: data.outb = data.messages.pop(0)`, "
                          "then send data.outb.")
    if got[:9] == MSG2[:9]:
        raise _Wrong(f"It sent {MSG2!r} first: the messages go in order.",
                     hint="`data.messages.pop(0)` takes the first one; `pop()` takes the last.")
    if data.outb == MSG1:
        raise _Wrong(f"Bytes that were sent are still in outb: the server got {MSG1!r}, and data.outb "
                     "still holds it, so the next EVENT_WRITE sends it again.",
                     hint="`data.outb = data.outb[sent:]`")
    call(_wait_key(fresh, sock, WRITE), WRITE, "EVENT_WRITE")
    got += _recv_upto(peer, len(MSG1) + len(MSG2) - len(got), timeout=0.5)
    if got != MSG1 + MSG2 or data.messages:
        raise _Wrong(f"After two calls with mask EVENT_WRITE the server got {got!r}; expected both "
                     "messages, in order, one per call.",
                     hint="Take the next message when outb is empty: "
                          "`if not data.outb and data.messages: data.outb = data.messages.pop(0)`.")
    call(_wait_key(fresh, sock, WRITE), WRITE, "EVENT_WRITE")
    if _recv_upto(peer, 1, timeout=0.05):
        raise _Wrong("With every message sent, a call with mask EVENT_WRITE sent more bytes.",
                     hint="Send only `if data.outb:`.")
    # READ: count the echo; close when all of it came
    peer.sendall(MSG1)
    call(_wait_key(fresh, sock, READ), READ, "EVENT_READ")
    if sock.fileno() == -1 or not _registered(fresh, sock):
        raise _Wrong(f"It closed the connection after receiving {len(MSG1)} of {data.msg_total} bytes.",
                     hint="Close when `data.recv_total == data.msg_total` (or recv returned b'').")
    if data.recv_total != len(MSG1):
        raise _Wrong(f"After receiving {len(MSG1)} bytes, data.recv_total is {data.recv_total!r}.",
                     hint="`data.recv_total += len(recv_data)`")
    since = len(fresh.events())
    peer.sendall(MSG2)
    call(_wait_key(fresh, sock, READ), READ, "EVENT_READ")
    if data.recv_total != data.msg_total:
        raise _Wrong(f"It received all {data.msg_total} bytes, but data.recv_total is "
                     f"{data.recv_total!r}.", hint="Add up, don't assign: `data.recv_total += len(recv_data)`.")
    _check_closed(fresh, sock, fd, since, f"When all {data.msg_total} bytes had come back")
    # READ: the server closes early
    peer2, sock2, data2 = _client_side(trial, fresh)
    since = len(fresh.events())
    fd2 = sock2.fileno()
    peer2.close()
    call(_wait_key(fresh, sock2, READ), READ, "EVENT_READ")
    _check_closed(fresh, sock2, fd2, since, "When the server closed first (recv returned b'')")
    for start in ("sending", "received", "closing connection"):
        if not trial.printed_line(start):
            raise _Wrong(f"It works, but did not print the tutorial's line `{start} ...`.",
                         hint=EXERCISES["client_service_connection"].hints[2])
    with BackgroundServer("fixed") as server:
        sel2 = Recorder(selectors.DefaultSelector())
        result = _run_own_client(trial, server.address, sel2, _reference_client(trial, sel2)[0],
                                 trial.rebind(fn, sel2))
    if not result.finished:
        raise _Wrong("2 connections of the tutorial's start_connections, served by your "
                     f"service_connection, were not echoed and closed within {NET_TIMEOUT:g} s.")
    return ("It sends the messages in order and keeps what was not sent, counts the bytes received, and "
            "unregisters then closes the socket when all came back or the server closed. With the "
            "tutorial's start_connections, 2 connections were echoed by a background server.")


# ---------------------------------------------------------------------------
# 08 · bug hunt: the always-WRITE busy loop

IDLE = 0.25  # seconds a client sits idle while the check counts select() calls
BUSY = 25  # more select() calls than this in IDLE seconds, for one idle client, is a busy loop


def check_bug_hunt(accept_wrapper, service_connection, sel):
    """Check the fixed server: an idle client costs no wake-ups, and every echo still comes back."""
    return _run("bug_hunt", _bug_hunt,
                [("accept_wrapper", accept_wrapper), ("service_connection", service_connection)], sel)


def _bug_hunt(trial, accept_fn, service_fn):
    sel = Recorder(selectors.DefaultSelector())
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind((HOST, 0))
    lsock.listen()
    lsock.setblocking(False)
    sel.register(lsock, READ, data=None)
    server = BackgroundServer(sel=sel, accept_wrapper=trial.rebind(accept_fn, sel),
                              service_connection=trial.rebind(service_fn, sel)).start()
    finished = False
    try:
        finished = _bug_hunt_steps(trial, server, sel)
    finally:
        try:
            server.stop()
        except BaseException as exc:  # the learner's error, raised in the server thread
            trial.learner_error(exc, "while serving clients, your code")
    if not finished:
        raise _Wrong("The server's loop stopped while the check was running.")
    return ("An idle client costs no wake-ups before or after its echo, a 1 MiB echo comes back "
            "whole, and the tutorial's client is served to the end.")


def _bug_hunt_steps(trial, server, sel):
    def wait(condition, what):
        deadline = time.monotonic() + NET_TIMEOUT
        while not condition():
            if not server.running:
                return False
            if time.monotonic() > deadline:
                raise _Wrong(f"Waited {NET_TIMEOUT:g} s for {what}.")
            time.sleep(0.005)
        return True

    def wakeups():
        before = sel.calls
        time.sleep(IDLE)
        return sel.calls - before

    client = trial.connect(server.address)
    if not wait(lambda: server.connections() == 1, "the server to register the connection"):
        return False
    n = wakeups()
    if n > BUSY:
        raise _Wrong(f"select() woke up {n} times in {IDLE:g} s for one idle client: the connection is "
                     "registered for EVENT_WRITE, and a connected socket is always writable.",
                     hint="Register a new connection for EVENT_READ only; add EVENT_WRITE with "
                          "`sel.modify(...)` only while data.outb holds bytes.")
    client.sendall(b"ping")
    if _recv_upto(client, 4, until=lambda: not server.running) != b"ping":
        if not server.running:
            return False
        raise _Wrong("A client sent b'ping' and got nothing back: the echo waits in data.outb, but "
                     "the connection is not registered for EVENT_WRITE, so service_connection is never "
                     "called to send it.",
                     hint="After a recv with data, `sel.modify(sock, selectors.EVENT_READ | "
                          "selectors.EVENT_WRITE, data=data)`.")
    time.sleep(0.05)  # let the loop finish the pass that sent the echo
    n = wakeups()
    if n > BUSY:
        raise _Wrong(f"After the echo, select() woke up {n} times in {IDLE:g} s: the connection stayed "
                     "registered for EVENT_WRITE with nothing to send.",
                     hint="When data.outb is empty again: `sel.modify(sock, selectors.EVENT_READ, "
                          "data=data)`.")
    client.close()
    if not wait(lambda: server.connections() == 0, "the server to close the connection"):
        return False
    # A big echo with a small send buffer: send() takes part, the rest waits for EVENT_WRITE.
    big = bytes(range(256)) * 4096  # 1 MiB
    client = trial.connect(server.address, rcvbuf=4096)
    if not wait(lambda: server.connections() == 1, "the server to register the connection"):
        return False
    conn = next((k.fileobj for k in server.registered() if hasattr(k.data, "outb")), None)
    if conn is not None:  # a small send buffer: send() will take only part of a big echo
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sender = threading.Thread(target=_send_quietly, args=(client, big), daemon=True)
    sender.start()
    got = _recv_upto(client, len(big), timeout=NET_TIMEOUT * 2, until=lambda: not server.running)
    sender.join(NET_TIMEOUT)
    if not server.running:
        return False
    if got != big:
        raise _Wrong(f"A client sent 1 MiB and got {len(got)} bytes back: when send() takes only part of "
                     "data.outb, the rest must be sent on a later EVENT_WRITE.",
                     hint="Keep EVENT_WRITE while data.outb holds bytes; drop it only when it is empty.")
    client.close()
    if not wait(lambda: server.connections() == 0, "the server to close the connection"):
        return False
    result = run_client(server.address, 2, kind="seed", timeout=NET_TIMEOUT)
    if not server.running:
        return False
    if not result.finished:
        raise _Wrong(f"2 of the tutorial's clients were not served to the end within {NET_TIMEOUT:g} s.")
    return wait(lambda: server.connections() == 0, "the server to close the tutorial's clients")


def _send_quietly(sock, payload):
    try:
        sock.sendall(payload)
    except OSError:
        pass
