"""Exercise 09's check: the message reader ``take_messages``, beyond the tutorial.

Lesson 10 puts each message on the wire as a 4-byte big-endian length and
the payload; exercise 09 asks for ``take_messages(data)``, which takes the
complete messages out of a connection's receive buffer::

    from echo_lab.checks import check_take_messages, hint, solution

    check_take_messages(take_messages)   # -> a Result, shown in the notebook

:func:`check_take_messages` takes no ``sel`` (the function touches no
selector) and runs two checks in turn: the function called directly on
buffers the check builds (:mod:`~echo_lab.checks.framing_direct`), then, if
that passed, a server that uses it, over real sockets
(:mod:`~echo_lab.checks.framing_server`).  Its hints are its row in
:mod:`~echo_lab.checks.exercises`, beside the others.
"""

from ..i18n import _
from .framing_direct import check_on_buffers
from .framing_server import check_over_sockets
from .trial import run_check

__all__ = ["check_take_messages"]


def _body(trial, take_messages):
    check_on_buffers(trial, take_messages)
    check_over_sockets(trial, take_messages)
    return _("It takes every complete message out of `data.inb`, leaves a partial one there, "
             "refuses a header announcing 4 GiB, and a server using it answered five messages "
             "sent one byte per send, all in one send, and in odd pieces.")


def check_take_messages(take_messages):
    """Check a learner's ``take_messages(data)``; returns a :class:`Result`."""
    return run_check("take_messages", _body, [("take_messages", take_messages)], None, needs_sel=False)
