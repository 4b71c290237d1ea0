"""Run the tutorial's client (or the fixed one, or a learner's functions) in the calling cell, bounded.

    result = run_client(server.address, 2)      # the tutorial's two connections
    result.print_log()
    result.finished, result.sent, result.received

The client's loop selects through a :class:`~echo_lab.watch.recorder.Recorder`, so
``result.recorder`` holds what it did, to draw beside the server's.
"""

import selectors
import time
import types

from .. import fixed, net, seed
from ..watch.recorder import Recorder

__all__ = ["ClientResult", "run_client"]


class ClientResult(types.SimpleNamespace):
    """What :func:`run_client` saw: ``log`` (lines), ``sent`` and ``received`` (bytes in all),
    ``finished``, ``timed_out``, ``failures`` and the ``recorder`` of the client loop."""

    def print_log(self, sort=False):
        for line in sorted(self.log) if sort else self.log:
            print(line)


def run_client(address, num_conns=2, kind="seed", *, messages=seed.messages, timeout=5.0,
               sel=None, start_connections=None, service_connection=None):
    """Run the tutorial's client (or ``kind="fixed"``, or your own functions) to the end.

    Runs in the calling cell, bounded by ``timeout`` seconds; returns a
    :class:`ClientResult`.  The client's lines go to ``result.log`` for the
    reference clients; your own functions print as they like.  Every socket
    still open at the end is closed, and so is the selector (yours too, if
    you gave one): make a new ``sel`` before the next run.
    """
    host, port = address
    result = ClientResult(log=[], finished=False, timed_out=False, failures=[])
    say = lambda *a: result.log.append(" ".join(map(str, a)))  # noqa: E731
    if start_connections is not None:  # your own functions, on your selector
        if sel is None or service_connection is None:
            raise ValueError("give sel, start_connections and service_connection together")
        loop_sel = sel if isinstance(sel, Recorder) else Recorder(sel)
    elif kind == "seed":
        sel = loop_sel = Recorder(selectors.DefaultSelector())
        start_connections, service_connection = seed.client_functions(sel, messages, print=say)
    elif kind == "fixed":
        sel = loop_sel = Recorder(selectors.DefaultSelector())
        start_connections, service_connection = fixed.fixed_client_functions(
            sel, messages, print=say, failures=result.failures)
    else:
        raise ValueError(f'kind must be "seed" or "fixed", not {kind!r}')
    sent_before, received_before = loop_sel.bytes_sent, loop_sel.bytes_received  # a learner's sel may have a past
    deadline = time.monotonic() + timeout
    try:
        start_connections(host, port, num_conns)
        seed.client_loop(loop_sel, service_connection, timeout=0.05,
                         keep_going=lambda: time.monotonic() < deadline)
        result.timed_out = bool(loop_sel.get_map())
        result.finished = not result.timed_out and not result.failures
    finally:
        if loop_sel.get_map() is not None:
            net.close_all(loop_sel)
    result.recorder = loop_sel
    result.sent = loop_sel.bytes_sent - sent_before
    result.received = loop_sel.bytes_received - received_before
    return result
