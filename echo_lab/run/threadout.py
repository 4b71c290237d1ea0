"""Send what a server thread prints to that server's log, not to a notebook cell.

In a kernel, a background thread's ``print`` lands in whichever cell runs at
that moment.  :func:`route_stdout` replaces ``sys.stdout`` (once, for the
whole process) with a stream that sends each registered thread's writes to a
callable of its own and everything else to the stream it replaced.
"""

import sys
import threading

__all__ = ["route_stdout", "unroute_stdout"]


class _ThreadStdout:
    """sys.stdout for the kernel: writes from a registered thread go to its sink."""

    def __init__(self, stream):
        self.stream = stream
        self.sinks = {}  # thread ident -> callable(text)

    def write(self, text):
        sink = self.sinks.get(threading.get_ident())
        return sink(text) if sink else self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def route_stdout(ident, sink):
    """From now on, what thread ``ident`` prints is passed to ``sink(text)``."""
    if not isinstance(sys.stdout, _ThreadStdout):
        sys.stdout = _ThreadStdout(sys.stdout)
    sys.stdout.sinks[ident] = sink


def unroute_stdout(ident):
    """Thread ``ident`` prints to the real stdout again."""
    if isinstance(sys.stdout, _ThreadStdout):
        sys.stdout.sinks.pop(ident, None)
