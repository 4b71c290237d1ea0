"""Exercise 09's check: the message reader ``take_messages``, beyond the tutorial.

Lesson 10 frames each message as a 4-byte big-endian length and the payload
(``struct.pack('!I', len(payload)) + payload``), and takes complete messages
out of a connection's receive buffer with ``take_messages(data)``.  Exercise
09 asks the learner to write that function; this module checks it::

    from echo_lab.checks import check_take_messages, hint, solution

    check_take_messages(take_messages)   # -> a Result, shown in the notebook
    hint("take_messages")                # graded hints, as for every exercise
    solution("take_messages")

Its hints and solution are in ``hints``, beside the others.  The check
takes no ``sel``: the function touches no selector.  It looks at the function
in two ways:

* **Directly**, on buffers it builds (``framing_direct``): nothing there yet,
  a header alone, part of a payload, one message, several at once (an empty
  one among them), one byte at a time, and a header announcing 4 GiB (which
  must raise ``ValueError``).  After each call it looks at what is left in
  ``data.inb``.
* **Over real sockets** (``framing_server``): a message server in a
  :class:`BackgroundServer`, whose ``service_connection`` calls the learner's
  function and answers each message with the message reversed, is sent
  messages one byte per ``send``, all in one ``send``, and in odd pieces.
  The check's client reads the replies with its own reader (``frames``), so
  a wrong answer is the learner's function.

Every wait is bounded.  Each direct call runs on a worker thread for at most
:data:`CALL_TIMEOUT` seconds (:meth:`Trial.call`); a loop that never ends
(the usual cause: the message is never taken out of ``data.inb``) gets an
exception raised inside it and is reported.  Every socket wait has a timeout,
and the server runs only after the direct calls have passed.
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
