"""Exercise 09's check on buffers: the learner's ``take_messages`` called directly, and judged.

:func:`check_on_buffers` gives the function buffers the check builds:
nothing there yet, a header alone, part of a payload, one message, several
at once (an empty one among them), one byte at a time, and a header
announcing 4 GiB (which must raise ``ValueError``).  After each call it
looks at what the function returned and at what is left in ``data.inb``,
and raises :class:`Wrong` with what was wrong and a hint.

Each call runs on a worker thread for at most :data:`CALL_TIMEOUT` seconds
(:meth:`Trial.call`); a loop that never ends (the usual cause: the message
is never taken out of ``data.inb``) gets an exception raised inside it and
is reported.  :func:`hint_for_messages` is also how ``framing_server``
words what a server using the function got wrong.
"""

import types

from ..i18n import _
from .tracebacks import error_name, learner_traceback
from .trial import CALL_TIMEOUT, NotAttempted, Wrong
from .wire import HEADER, MESSAGES, TOO_LONG, frame

__all__ = ["check_on_buffers", "hint_for_messages"]


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
                                                                                    error_type=error_name(error)),
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
                     hint_for_messages(got, messages))
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


def hint_for_messages(got, expected):
    if len(got) < len(expected) and got == expected[:len(got)]:
        return _("Keep going while the buffer holds more: a `while` loop, not an `if`. One `recv` can "
                 "bring several messages.")
    if len(got) > len(expected):
        return _("Return only complete messages: compare `len(data.inb)` with 4 + the length before "
                 "taking one.")
    return _("The first 4 bytes are the length, big-endian (`HEADER.unpack_from(data.inb)`); the "
             "message is the `length` bytes after them.")


def check_on_buffers(trial, function):
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
                       "{error_type} after byte {byte}.").format(error_type=error_name(error), byte=fed.bytes),
                     _error_hint(error), learner_traceback(error))
    if taken != MESSAGES:
        raise Wrong(_("Fed five messages one byte at a time, `take_messages` returned "
                       "{count} message(s), not the 5 sent, whole and in order.").format(count=len(taken)),
                     hint_for_messages(taken, MESSAGES))
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
        raise Wrong(message.format(length=TOO_LONG, error_type=error_name(error), result=result),
                     _("Before waiting for the rest, `if length > MAX_MESSAGE: raise ValueError(...)`."))
