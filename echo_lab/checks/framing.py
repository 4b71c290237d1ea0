"""The message reader (exercise 09): ``take_messages``, beyond the tutorial.

Lesson 10 frames each message as a 4-byte big-endian length and the payload
(``struct.pack('!I', len(payload)) + payload``), and takes complete messages
out of a connection's receive buffer with ``take_messages(data)``.  Exercise
09 asks the learner to write that function; this module checks it::

    from echo_lab.checks import check_take_messages, hint, solution

    check_take_messages(take_messages)   # -> a Result, shown in the notebook
    hint("take_messages")                # graded hints, as for every exercise
    solution("take_messages")

Its hints and solution are in ``exercises``, beside the others.  The check
takes no ``sel``: the function touches no selector.  It looks at the function
in two ways:

* **Directly**, on buffers it builds: nothing there yet, a header alone, part
  of a payload, one message, several at once (an empty one among them), one
  byte at a time, and a header announcing 4 GiB (which must raise
  ``ValueError``).  After each call it looks at what is left in ``data.inb``.
* **Over real sockets**: a message server in a :class:`BackgroundServer`,
  whose ``service_connection`` calls the learner's function and answers each
  message with the message reversed, is sent messages one byte per ``send``,
  all in one ``send``, and in odd pieces.  The check's client reads the
  replies with its own reader, so a wrong answer is the learner's function.

Every wait is bounded.  Each direct call runs on a worker thread for at most
:data:`CALL_TIMEOUT` seconds (:meth:`Trial.call`); a loop that never ends
(the usual cause: the message is never taken out of ``data.inb``) gets an
exception raised inside it and is reported.  Every socket wait has a timeout,
and the server runs only after the direct calls have passed.
"""

import itertools
import selectors
import socket
import struct
import types

from ..i18n import _
from ..run.background import BackgroundServer
from ..watch.recorder import Recorder
from .trial import CALL_TIMEOUT, NET_TIMEOUT, READ, WRITE, NotAttempted, Wrong, learner_traceback, run_check

__all__ = ["check_take_messages", "frame", "reference_take_messages"]

HEADER = struct.Struct("!I")
TOO_LONG = 0xFFFF_FFFF  # the largest length a header can announce: 4 GiB - 1
MESSAGES = [b"Message 1 from client.", b"Message 2 from client.", b"", b"abc" * 1000,
            b"Message 5 from client."]


def frame(payload):
    """One message as it goes on the wire: its 4-byte length, then the payload."""
    return HEADER.pack(len(payload)) + payload


def reference_take_messages(data, max_message=1024 * 1024):
    """Lesson 10's ``take_messages``: the check's own reader (for its client)."""
    messages = []
    while len(data.inb) >= HEADER.size:
        (length,) = HEADER.unpack_from(data.inb)
        if length > max_message:
            raise ValueError(f"a message of {length} bytes is too long")
        end = HEADER.size + length
        if len(data.inb) < end:
            break
        messages.append(bytes(data.inb[HEADER.size:end]))
        del data.inb[:end]
    return messages


# ---------------------------------------------------------------------------
# calling the learner's function: what it returned, or what it raised

def _call(trial, function, data, what):
    """``function(data)``, bounded by :meth:`Trial.call`. Returns (result, error).

    Raises NotAttempted for NotImplementedError, Wrong if the call does not return in time.
    """
    def run(data):
        try:
            return function(data), None
        except BaseException as exc:  # the learner's error: judged by the caller
            return None, exc

    try:
        result, error = trial.call(run, data, name="take_messages")
    except Wrong:  # run() keeps the learner's errors: only a call that never returned gets here
        raise Wrong(_("Given {what}, `take_messages` did not return within {timeout:g} s: a loop "
                       "that never ends.").format(what=what, timeout=CALL_TIMEOUT),
                     _("Each time round the loop, take the message you found out of the buffer "
                       "(`del data.inb[:end]`), and `break` when the rest has not arrived yet.")) from None
    if isinstance(error, NotImplementedError):
        raise NotAttempted("take_messages")
    return result, error


def _name(exc):
    """'ValueError', 'struct.error': an exception's type as the learner would write it."""
    kind = type(exc)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _show(buffer, limit=40):
    data = bytes(buffer)
    return repr(data) if len(data) <= limit else _("{start!r}... ({size} bytes)").format(start=data[:limit],
                                                                                         size=len(data))


def _take(trial, function, inb, what):
    """Call the learner's function on a buffer holding ``inb``; return (messages, what is left)."""
    data = types.SimpleNamespace(inb=bytearray(inb), outb=bytearray())
    result, error = _call(trial, function, data, what)
    if error is not None:
        raise Wrong(_("Given {what}, `take_messages` raised {error_type}.").format(what=what,
                                                                                    error_type=_name(error)),
                     _error_hint(error), learner_traceback(error))
    if result is None:
        raise Wrong(_("Given {what}, `take_messages` returned None.").format(what=what),
                     _("Did you forget a `return`? Return the list of messages, `[]` when there is none."))
    if not isinstance(result, list):
        raise Wrong(_("Given {what}, `take_messages` returned a {kind}, not a list.").format(
                         what=what, kind=type(result).__name__),
                     _("Collect the messages in a list (`messages.append(...)`) and return it."))
    if not all(isinstance(m, (bytes, bytearray)) for m in result):
        kinds = sorted({type(m).__name__ for m in result})
        raise Wrong(_("Given {what}, `take_messages` returned a list of {kinds}: "
                       "each message should be bytes.").format(what=what, kinds=", ".join(kinds)),
                     _("Copy each message out: `bytes(data.inb[HEADER.size:end])`."))
    return [bytes(m) for m in result], bytes(data.inb)


def _expect(trial, function, inb, what, messages, left):
    got, rest = _take(trial, function, inb, what)
    if got != messages:
        shown = "[" + ", ".join(_show(m) for m in got) + "]"
        wanted = "[" + ", ".join(_show(m) for m in messages) + "]"
        raise Wrong(_("Given {what}, `take_messages` returned {shown}; expected {wanted}.").format(
                         what=what, shown=shown, wanted=wanted),
                     _hint_for(got, messages))
    if rest != left:
        raise Wrong(_("Given {what}, `take_messages` returned the right messages but left "
                       "{rest} in `data.inb`; expected {left}.").format(what=what, rest=_show(rest),
                                                                         left=_show(left)),
                     _("Take each message, header included, off the front of the buffer "
                       "(`del data.inb[:end]`), and leave a message that is not complete yet untouched."))


def _error_hint(error):
    if isinstance(error, ValueError):
        return _("ValueError is for a length over MAX_MESSAGE only, and these are short messages: read the "
                 "length big-endian, as it was packed (`HEADER.unpack_from(data.inb)`, format '!I').")
    return _("A message that has not fully arrived is not an error: leave it in `data.inb` and return "
             "the complete ones (maybe none: `[]`).")


def _hint_for(got, expected):
    if len(got) < len(expected) and got == expected[:len(got)]:
        return _("Keep going while the buffer holds more: a `while` loop, not an `if`. One `recv` can "
                 "bring several messages.")
    if len(got) > len(expected):
        return _("Return only complete messages: compare `len(data.inb)` with 4 + the length before "
                 "taking one.")
    return _("The first 4 bytes are the length, big-endian (`HEADER.unpack_from(data.inb)`); the "
             "message is the `length` bytes after them.")


# ---------------------------------------------------------------------------
# the check

def _direct(trial, function):
    """The learner's function on buffers the check builds. Raises Wrong or NotAttempted."""
    one, empty = frame(MESSAGES[0]), frame(b"")
    _expect(trial, function, b"", _("an empty `data.inb`"), [], b"")
    _expect(trial, function, one[:3], _("3 bytes of a header"), [], one[:3])
    _expect(trial, function, one[:10], _("a header and 6 of its 22 bytes"), [], one[:10])
    _expect(trial, function, one, _("one whole message"), [MESSAGES[0]], b"")
    wire = b"".join(frame(m) for m in MESSAGES)
    _expect(trial, function, wire + one[:7], _("five messages (one of them empty) and the start of a sixth"),
            MESSAGES, one[:7])
    _expect(trial, function, empty, _("an empty message (a header saying 0)"), [b""], b"")
    # One byte at a time, as the worst cut TCP could make: one bounded call feeds them all.
    fed = types.SimpleNamespace(inb=bytearray(), outb=bytearray(), bytes=0, taken=[])

    def feed(data):
        for i in range(len(wire)):
            data.inb += wire[i:i + 1]
            data.bytes = i + 1
            data.taken += [bytes(m) for m in function(data) or ()]
        return data.taken

    taken, error = _call(trial, feed, fed, _("five messages one byte at a time"))
    if error is not None:
        raise Wrong(_("Fed five messages one byte at a time, `take_messages` raised "
                       "{error_type} after byte {byte}.").format(error_type=_name(error), byte=fed.bytes),
                     _error_hint(error), learner_traceback(error))
    if taken != MESSAGES:
        raise Wrong(_("Fed five messages one byte at a time, `take_messages` returned "
                       "{count} message(s), not the 5 sent, whole and in order.").format(count=len(taken)),
                     _hint_for(taken, MESSAGES))
    # A header announcing 4 GiB must be refused, not waited for.
    data = types.SimpleNamespace(inb=bytearray(HEADER.pack(TOO_LONG) + b"xx"), outb=bytearray())
    result, error = _call(trial, function, data, _("a header announcing 4 GiB"))
    if not isinstance(error, ValueError):
        if error is not None:
            message = _("Given a header announcing {length:,} bytes, `take_messages` raised {error_type}: it "
                        "should raise ValueError, so that the server closes that connection.")
        else:
            message = _("Given a header announcing {length:,} bytes, `take_messages` returned {result!r}: it "
                        "should raise ValueError, so that the server closes that connection.")
        raise Wrong(message.format(length=TOO_LONG, error_type=_name(error), result=result),
                     _("Before waiting for the rest, `if length > MAX_MESSAGE: raise ValueError(...)`."))


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


def _talk(trial, address, pieces):
    """Send MESSAGES cut into ``pieces``; return the replies the check's own reader found."""
    with trial.connect(address) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in pieces:
            client.sendall(piece)
        replies, inbox = [], types.SimpleNamespace(inb=bytearray())
        while len(replies) < len(MESSAGES):
            chunk = client.recv(65536)
            if not chunk:
                break
            inbox.inb += chunk
            replies += reference_take_messages(inbox, max_message=TOO_LONG)
        return replies


def _over_sockets(trial, function):
    """A message server using the learner's function, fed three ways. Raises Wrong."""
    wire = b"".join(frame(m) for m in MESSAGES)
    server = _message_server(trial, function)
    try:
        with server:
            for way, cut in WAYS.items():
                try:
                    replies = _talk(trial, server.address, cut(wire))
                except OSError as exc:
                    server.check()  # if the learner's function failed on the server's thread: that
                    raise Wrong(_("A server using your `take_messages`, sent five messages ({way}), "
                                   "did not answer them all within {timeout:g} s ({error_type}).").format(
                                       way=_way_words(way), timeout=NET_TIMEOUT, error_type=_name(exc))) from None
                expected = [m[::-1] for m in MESSAGES]
                if replies != expected:
                    right = sum(reply == want for reply, want in zip(replies, expected, strict=False))
                    raise Wrong(_("A server using your `take_messages`, sent five messages ({way}), "
                                   "answered {count}, {right} of them right (the message "
                                   "reversed); expected five right answers.").format(
                                       way=_way_words(way), count=len(replies), right=right),
                                 _hint_for(replies, expected))
    except Wrong:
        raise
    except Exception as exc:  # the learner's function raised on the server's thread
        raise Wrong(_("A server using your `take_messages` stopped with {error_type}.").format(
                         error_type=_name(exc)),
                     _("Given bytes that hold no complete message yet, return `[]`."),
                     learner_traceback(exc)) from None


def _body(trial, take_messages):
    _direct(trial, take_messages)
    _over_sockets(trial, take_messages)
    return _("It takes every complete message out of `data.inb`, leaves a partial one there, "
             "refuses a header announcing 4 GiB, and a server using it answered five messages "
             "sent one byte per send, all in one send, and in odd pieces.")


def check_take_messages(take_messages):
    """Check a learner's ``take_messages(data)``; returns a :class:`Result`."""
    return run_check("take_messages", _body, [("take_messages", take_messages)], None, needs_sel=False)
