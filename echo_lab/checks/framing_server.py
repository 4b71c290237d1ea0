"""Exercise 09's check over real sockets: a message server that uses the learner's ``take_messages``.

:func:`check_over_sockets` runs a message server in a
:class:`BackgroundServer` whose ``service_connection`` calls the learner's
function and answers each message with the message reversed, and sends it
the check's messages three ways (:data:`WAYS`): one byte per ``send``, all
in one ``send``, and in odd pieces.  The check's client reads the replies
with its own reader (:func:`reference_take_messages`), so a wrong answer is
the learner's function.  Every socket wait has a timeout, and the server's
``stop()`` is bounded.
"""

import itertools
import selectors
import socket
import time
import types

from ..i18n import _
from ..run.background import BackgroundServer
from ..watch.recorder import Recorder
from .framing_direct import hint_for_messages
from .tracebacks import error_name, learner_traceback
from .trial import NET_TIMEOUT, READ, WRITE, Wrong
from .wire import MESSAGES, TOO_LONG, frame, reference_take_messages

__all__ = ["check_over_sockets"]

SLOW_LIMIT = 60  # seconds: the longest a server still at work may take to answer


def _message_server(trial, function):
    """A BackgroundServer whose service_connection answers each message (by ``function``) reversed."""
    sel = Recorder(selectors.DefaultSelector())  # the server closes it, and its sockets, at stop()
    trial.listener(sel)

    def accept_wrapper(sock):
        conn, addr = sock.accept()
        conn.setblocking(False)
        sel.register(conn, READ, data=types.SimpleNamespace(addr=addr, inb=bytearray(), outb=bytearray()))

    def service_connection(key, mask):
        sock, data = key.fileobj, key.data
        if mask & READ:
            recv_data = sock.recv(65536)
            if not recv_data:
                sel.unregister(sock)
                sock.close()
                return
            data.inb += recv_data
            for message in function(data):
                data.outb += frame(bytes(message)[::-1])
        if mask & WRITE:
            del data.outb[:sock.send(data.outb)]
        wanted = READ | (WRITE if data.outb else 0)
        if wanted != key.events:
            sel.modify(sock, wanted, data=data)

    return BackgroundServer(sel=sel, accept_wrapper=accept_wrapper, service_connection=service_connection)


def _odd_pieces(wire, sizes=(1, 700, 900, 13, 300)):
    starts = itertools.accumulate(itertools.cycle(sizes), initial=0)
    pieces = []
    for start, size in zip(starts, itertools.cycle(sizes)):
        if start >= len(wire):
            return pieces
        pieces.append(wire[start:start + size])


WAYS = {
    "one byte per send": lambda wire: [wire[i:i + 1] for i in range(len(wire))],
    "all in one send": lambda wire: [wire],
    "odd pieces": _odd_pieces,
}


def _way_words(way):
    """How the messages were cut (a key of WAYS), in the language in use."""
    return {"one byte per send": _("one byte per send"), "all in one send": _("all in one send"),
            "odd pieces": _("odd pieces")}.get(way, way)


def _talk(trial, server, pieces):
    """Send MESSAGES cut into ``pieces`` to ``server``; return the replies the check's own reader found.

    Waits while the server works: a busy machine's server may take seconds over five messages sent a
    byte at a time.  It gives up (``TimeoutError``) once the server has read every byte and waits in
    select() with nothing moving for :data:`NET_TIMEOUT` s (it has answered all it will), or after
    :data:`SLOW_LIMIT` s in all."""
    recorder, size = server.recorder, sum(map(len, pieces))
    before = recorder.bytes_received
    with trial.connect(server.address) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in pieces:
            client.sendall(piece)
        replies, inbox = [], types.SimpleNamespace(inb=bytearray())
        start, seen = time.monotonic(), recorder.calls
        while len(replies) < len(MESSAGES):
            try:
                chunk = client.recv(65536)
            except TimeoutError:
                idle = recorder.selecting and recorder.calls == seen and recorder.bytes_received - before >= size
                if idle or time.monotonic() - start > SLOW_LIMIT:
                    raise
                seen = recorder.calls
                continue
            if not chunk:
                break
            inbox.inb += chunk
            replies += reference_take_messages(inbox, max_message=TOO_LONG)
        return replies


def check_over_sockets(trial, function):
    """A message server using the learner's function, fed three ways. Raises Wrong."""
    wire = b"".join(frame(m) for m in MESSAGES)
    server = _message_server(trial, function)
    try:
        with server:
            for way, cut in WAYS.items():
                try:
                    replies = _talk(trial, server, cut(wire))
                except OSError as exc:
                    server.check()  # if the learner's function failed on the server's thread: that
                    raise Wrong(_("A server using your `take_messages`, sent five messages ({way}), "
                                   "did not answer them all within {timeout:g} s ({error_type}).").format(
                                       way=_way_words(way), timeout=NET_TIMEOUT, error_type=error_name(exc))) from None
                expected = [m[::-1] for m in MESSAGES]
                if replies != expected:
                    right = sum(reply == want for reply, want in zip(replies, expected, strict=False))
                    raise Wrong(_("A server using your `take_messages`, sent five messages ({way}), "
                                   "answered {count}, {right} of them right (the message "
                                   "reversed); expected five right answers.").format(
                                       way=_way_words(way), count=len(replies), right=right),
                                 hint_for_messages(replies, expected))
    except Wrong:
        raise
    except Exception as exc:  # the learner's function raised on the server's thread
        raise Wrong(_("A server using your `take_messages` stopped with {error_type}.").format(
                         error_type=error_name(exc)),
                     _("Given bytes that hold no complete message yet, return `[]`."),
                     learner_traceback(exc)) from None
