"""Send what a server thread prints to that server's log, not to a notebook cell.

In a kernel, a background thread's ``print`` lands in whichever cell runs at
that moment.  :func:`route_stdout` replaces ``sys.stdout`` with a stream that
sends each registered thread's writes to a callable of its own and everything
else to the stream it replaced; :func:`unroute_stdout` puts that stream back
as ``sys.stdout`` when the last routed thread is gone.
"""

import sys
import threading

__all__ = ["route_stdout", "routed", "unroute_stdout"]

_sinks = {}  # thread ident -> callable(text): one table for every _ThreadStdout ever made
_lock = threading.Lock()


class _ThreadStdout:
    """sys.stdout for the kernel: writes from a registered thread go to its sink."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        sink = _sinks.get(threading.get_ident())
        return sink(text) if sink else self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def route_stdout(ident, sink):
    """From now on, what thread ``ident`` prints is passed to ``sink(text)``."""
    with _lock:
        if not isinstance(sys.stdout, _ThreadStdout):
            sys.stdout = _ThreadStdout(sys.stdout)
        _sinks[ident] = sink


def unroute_stdout(ident):
    """Thread ``ident`` prints to the real stdout again; the last one gone puts ``sys.stdout`` back.

    Only our own stream is taken away: if something replaced ``sys.stdout``
    after us (a capture), it stays, and passes through ours when it is done.
    """
    with _lock:
        _sinks.pop(ident, None)
        while not _sinks and isinstance(sys.stdout, _ThreadStdout):
            sys.stdout = sys.stdout.stream


def routed():
    """How many threads' output is routed now."""
    return len(_sinks)
