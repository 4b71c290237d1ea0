"""One job: the hint for an exception that a learner's code raised, from one table of the common ones.

A check that calls the learner's function and sees it raise shows the hint
the check gives for that exception (``on_error`` in :meth:`Trial.call`);
without one, :func:`exception_hint` looks here: the first row of the table
whose exception type matches and whose pattern is found in the exception's
text (``str(error)``) gives the hint, and the pattern's named groups fill
the hint's fields (``{name}``).  An exception no row matches gets the
generic line, that the last lines of the traceback show where it failed.

A row is about what a learner of this course does to get that exception
(``bind(host, port)``, a ``sel.modify`` after ``sock.close()``...), so the
hint names the mistake, not only where it happened.
"""

import re

from ..i18n import _

__all__ = ["ROWS", "exception_hint"]


def _rows(_):
    """(exception type, pattern in its text, hint), in English. ``_`` here only marks the hints for
    translation: :func:`exception_hint` translates one when it shows it, in the language in use then."""
    return (
        (TypeError, r"(?P<call>bind|connect|connect_ex)\(\) takes exactly one argument",
         _("`{call}` takes one argument, a (host, port) tuple: `{call}((host, port))`, with two pairs of "
           "parentheses.")),
        (TypeError, r"bytes-like object is required, not 'str'",
         _("`send` takes bytes, not a str: `b'...'`, or `text.encode()`. Keep the namespace's buffers bytes "
           "too: `outb=b''`, not `''`.")),
        (TypeError, r"can't concat str to bytes|can only concatenate str \(not \"bytes\"\) to str",
         _("Text (str) and bytes were mixed: a socket receives bytes, so a buffer starts as `b''`, not `''` "
           "(`inb=b'', outb=b''`).")),
        (ValueError, r"Invalid file descriptor: -1",
         _("The socket was closed before `sel.modify` or `sel.unregister`: a closed socket has fileno -1, so "
           "`sel` cannot find it any more. Unregister first, close last, and do not modify a closed socket: "
           "`return` right after `sock.close()`.")),
        (OSError, r"Bad file descriptor|not a socket",  # Linux, macOS | Windows (WinError 10038)
         _("A socket was used after it was closed: a closed socket has no file descriptor any more. Close it "
           "last, after `sel.unregister(sock)`, and `return` right after `sock.close()`.")),
        (BlockingIOError, r"",
         _("A non-blocking socket was not ready: call `recv` only when select() said it is readable "
           "(`mask & selectors.EVENT_READ`), `accept` once each time the listening socket is ready, `send` "
           "(not `sendall`) only when it is writable; and connect with `connect_ex`, not `connect`.")),
        (KeyError, r"is not registered",
         _("That socket is not registered in `sel`: `sel.modify`, `sel.unregister` and `sel.get_key` work on a "
           "registered socket only. Register it first with `sel.register`, and unregister it once, when you "
           "close it.")),
        (KeyError, r"is already registered",
         _("That socket is already registered in `sel`: register each socket once, and change its events "
           "with `sel.modify(sock, events, data=data)`.")),
        (NameError, r"name '(?P<name>\w+)' is not defined",
         _("`{name}` is not defined where your function runs: is it spelled right, with its module if it has "
           "one (`types.SimpleNamespace`, `selectors.EVENT_READ`), and did you run the cell that defines or "
           "imports it (after a restart, the cells above again)?")),
        (AttributeError, r"'types\.SimpleNamespace' object has no attribute '(?P<attr>\w+)'",
         _("The namespace has no `{attr}`: it was built without that field. Use a field it was given, or "
           "give it one where it is made: `types.SimpleNamespace(..., {attr}=...)`.")),
        (AttributeError, r"'NoneType' object has no attribute '(?P<attr>\w+)'",
         _("Something was None where an object with `{attr}` was expected: a key registered with `data=None` "
           "(the listening socket's), or a function that forgot to `return`?")),
    )


ROWS = _rows(lambda message: message)


def exception_hint(error):
    """The hint for ``error``, raised by the learner's code: its row's, or the generic line."""
    text = str(error)
    for kind, pattern, hint in ROWS:
        found = isinstance(error, kind) and re.search(pattern, text)
        if found:
            return _(hint).format(**found.groupdict())
    return _("The last lines of the traceback show where in your code it failed.")
