"""The exercises' texts: three graded hints each, the tutorial's code, ``hint()`` and ``solution()``.

Kept apart from the checks so that changing a hint means reading text, not
socket code.  A hint goes from a nudge to nearly the code; the solution is
the code between the solution notebook's markers (``tests/test_checks.py``,
``tests/test_checks_framing.py`` and ``tests/test_checks_protocol.py``
check that the two agree).  Where an exercise is one of the tutorial's
functions as :mod:`echo_lab.seed` holds it, its solution is that function's
source, read from there, not written again here.
"""

import ast
import inspect
import textwrap
import types

from .. import seed
from ..i18n import _
from .results import Hint, Solution

__all__ = ["EXERCISES", "Exercise", "hint", "solution"]


class Exercise(types.SimpleNamespace):
    """``name``, ``hints`` (from a nudge to nearly the code) and ``solution`` (code)."""


def _seed_function(factory, name):
    """The source of the function ``name`` that ``factory`` (of :mod:`echo_lab.seed`) defines, dedented:
    the tutorial's function as a notebook writes it, at the top level."""
    source = textwrap.dedent(inspect.getsource(factory))
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return textwrap.dedent("\n".join(source.splitlines()[node.lineno - 1:node.end_lineno]))
    raise LookupError(f"{factory.__name__} defines no function {name}")


def _texts(_):
    """The exercises' texts in English. ``_`` here only marks the hints for translation:
    :func:`hint` translates one when it shows it, in the language in use then."""
    return {
        "listening_socket": Exercise(
            name="listening_socket",
            hints=(
                _("Four calls, in the tutorial's order: make a TCP socket, bind it to (host, port), "
                  "listen, make it non-blocking. Then return it."),
                _("`socket.socket(socket.AF_INET, socket.SOCK_STREAM)` makes a TCP socket; `bind` takes "
                  "one tuple: `lsock.bind((host, port))`."),
                _("After `lsock.listen()`: `print('listening on', (host, port))`, "
                  "`lsock.setblocking(False)`, `return lsock`."),
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
                _("One line: ask `sel` to watch `lsock`, and return what it gives back."),
                _("A listening socket becomes *readable* when a client waits to be accepted, so the "
                  "mask is `selectors.EVENT_READ`; `data=None` marks it as the listening socket."),
                _("`return sel.register(lsock, selectors.EVENT_READ, data=None)`"),
            ),
            solution="""\
def register_listening(lsock):
    return sel.register(lsock, selectors.EVENT_READ, data=None)""",
        ),
        "mask_names": Exercise(
            name="mask_names",
            hints=(
                _("A mask is a number whose bits are events: test each bit on its own."),
                _("`mask & selectors.EVENT_READ` is non-zero when the READ bit is set, whatever the "
                  "other bits are. `==` would miss 3 (READ | WRITE)."),
                _("Start with `names = []`, append `'READ'` if `mask & selectors.EVENT_READ`, then "
                  "`'WRITE'` if `mask & selectors.EVENT_WRITE`, and return `names`."),
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
                _("Forever: wait for ready sockets, then handle each one. The listening socket is the "
                  "one whose key has no data."),
                _("`events = sel.select(timeout=None)` gives `(key, mask)` pairs; `key.fileobj` is the "
                  "socket, `key.data` what was registered with it."),
                _("`while True:`, then `for key, mask in events:` with `if key.data is None: "
                  "accept_wrapper(key.fileobj)` and `else: service_connection(key, mask)`."),
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
                _("Accept the waiting connection, make it non-blocking, and register it with a "
                  "namespace that remembers its address and its bytes."),
                _("`conn, addr = sock.accept()`; `conn.setblocking(False)`; "
                  "`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`."),
                _("Register for both events: `events = selectors.EVENT_READ | selectors.EVENT_WRITE`, "
                  "then `sel.register(conn, events, data=data)`. The tutorial also prints "
                    "`'accepted connection from', addr`."),
            ),
            solution=_seed_function(seed.server_functions, "accept_wrapper"),
        ),
        "service_connection": Exercise(
            name="service_connection",
            hints=(
                _("Two independent parts: if the mask has READ, receive (or close on end of file); "
                  "if it has WRITE, send what is waiting in `data.outb`."),
                _("`recv_data = sock.recv(1024)`; bytes received go to `data.outb += recv_data`. "
                  "An empty `recv_data` means the client closed: `sel.unregister(sock)`, then "
                    "`sock.close()`."),
                _("For WRITE: `if data.outb:` then `sent = sock.send(data.outb)` and "
                  "`data.outb = data.outb[sent:]` (send may take only part of it)."),
            ),
            solution=_seed_function(seed.server_functions, "service_connection"),
        ),
        "start_connections": Exercise(
            name="start_connections",
            hints=(
                _("For each of the `num_conns` connections: a non-blocking socket, a connect that does "
                  "not wait, and a registration with a namespace of what to send and receive."),
                _("`sock.setblocking(False)` then `sock.connect_ex(server_addr)`: `connect()` would "
                  "raise BlockingIOError on a non-blocking socket; `connect_ex` returns EINPROGRESS."),
                _("`data = types.SimpleNamespace(connid=connid, msg_total=sum(len(m) for m in messages), "
                  "recv_total=0, messages=list(messages), outb=b'')` and "
                    "`sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)`."),
            ),
            solution=_seed_function(seed.client_functions, "start_connections"),
        ),
        "client_service_connection": Exercise(
            name="client_service_connection",
            hints=(
                _("Like the server's: READ receives and counts bytes, WRITE sends. The client closes "
                  "when it has everything back, or when the server closed."),
                _("READ: `recv_data = sock.recv(1024)`; `data.recv_total += len(recv_data)`; close "
                  "(unregister, then close) `if not recv_data or data.recv_total == data.msg_total`."),
                _("WRITE: `if not data.outb and data.messages: data.outb = data.messages.pop(0)`, then "
                  "`if data.outb:` send it and keep the rest: `data.outb = data.outb[sent:]`."),
            ),
            solution=_seed_function(seed.client_functions, "service_connection"),
        ),
        "bug_hunt": Exercise(
            name="bug_hunt",
            hints=(
                _("A connected socket is almost always writable. What does `select()` do for a socket "
                  "registered for EVENT_WRITE when there is nothing to write?"),
                _("Register a new connection for `selectors.EVENT_READ` only. Ask for EVENT_WRITE with "
                  "`sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)` when "
                    "`data.outb` gets bytes."),
                _("After a send, `if not data.outb: sel.modify(sock, selectors.EVENT_READ, data=data)`. "
                  "After closing a socket, `return`: it must not be modified any more."),
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
        "take_messages": Exercise(  # beyond the tutorial: lesson 10's code
            name="take_messages",
            hints=(
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
            ),
            solution="""\
def take_messages(data):
    messages = []
    while len(data.inb) >= HEADER.size:
        (length,) = HEADER.unpack_from(data.inb)
        if length > MAX_MESSAGE:
            raise ValueError(f'a message of {length} bytes is too long')
        end = HEADER.size + length
        if len(data.inb) < end:
            break                                # the rest has not arrived yet
        messages.append(bytes(data.inb[HEADER.size:end]))
        del data.inb[:end]
    return messages""",
        ),
        "EchoProtocol": Exercise(  # beyond the tutorial: lesson 12's asyncio server, pushing back
            name="EchoProtocol",
            hints=(
                _("Three methods, one line each. `data_received` echoes; the other two are asyncio telling "
                  "you that the transport's write buffer is full (`pause_writing`) and that it has drained "
                    "(`resume_writing`). While it is full, stop reading from the client."),
                _("`self.transport.write(data)` sends now, or keeps the rest in the transport's buffer. "
                  "`self.transport.pause_reading()` stops calling `data_received`, so the kernel's buffer "
                    "fills and TCP tells the client to wait; `self.transport.resume_reading()` undoes it."),
                _("`data_received`: `self.transport.write(data)`. `pause_writing`: "
                  "`self.transport.pause_reading()`. `resume_writing`: `self.transport.resume_reading()`."),
            ),
            solution="""\
class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)           # send now, or buffer the rest

    def pause_writing(self):                 # the buffer passed the high-water mark
        self.transport.pause_reading()       # read no more: TCP pushes back on the client

    def resume_writing(self):                # the buffer drained below the low-water mark
        self.transport.resume_reading()""",
        ),
    }


EXERCISES = _texts(lambda message: message)


def _exercise(name):
    try:
        return EXERCISES[name]
    except KeyError:
        raise ValueError(_("no exercise {name!r}; the exercises are: {names}").format(
            name=name, names=", ".join(EXERCISES))) from None


def hint(name, level=1):
    """Hint number ``level`` (1 = a nudge ... last = nearly the code) for exercise ``name``."""
    hints = _exercise(name).hints
    level = min(max(int(level), 1), len(hints))
    return Hint(name, level, len(hints), _(hints[level - 1]))


def solution(name):
    """The answer to exercise ``name``: the tutorial's code, or the lesson's beyond it."""
    return Solution(name, _exercise(name).solution)
