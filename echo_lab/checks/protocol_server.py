"""``ProtocolServer``: an asyncio protocol class served from a loop on a daemon thread.

Exercise 10's check and notebook serve the learner's ``EchoProtocol`` with
it, on 127.0.0.1 (any free port), and look at it from the outside: the
transport of each accepted connection (how much its write buffer holds) and
what the loop's exception handler caught (an exception raised in one of the
protocol's methods).  Every wait for the loop is bounded by
:data:`NET_TIMEOUT`; ``stop()`` closes the server and every connection, and
interrupts the loop's thread if one of the protocol's methods never returns.
The thread is a :class:`~echo_lab.run.runner.Runner` (bounded stop, last
resort, the registry ``stop_all`` empties).  What the protocol prints is left
to go to the cell that runs, as the loop serves inside that cell's ``with``.
"""

import asyncio
import concurrent.futures
import socket

from ..run.runner import Runner, Served
from .trial import HOST, NET_TIMEOUT

__all__ = ["SMALL_BUFFER", "ProtocolServer"]

SMALL_BUFFER = 64 * 1024  # kernel buffers on both ends of the check's connections


class ProtocolServer(Served):
    """Serve ``protocol_class`` on 127.0.0.1 (any free port) from an asyncio loop in a daemon thread.

    ``address`` is where to connect; ``transports`` holds one transport per
    accepted connection; ``errors`` what the loop reported (the exception
    handler's contexts: an exception raised in one of the protocol's
    methods).  ``buffered()`` is the largest write buffer among the
    transports now, read on the loop's thread.  ``stop()`` (or the end of a
    ``with`` block) closes the server and every connection, bounded.
    ``buffer_size`` sets SO_SNDBUF and SO_RCVBUF of the accepted sockets:
    small, so that what piles up for a slow reader shows in the transport
    rather than in the kernel's buffers (which grow to several MiB on their
    own); ``None`` leaves the system's.  ``stop()`` raises nothing: what went
    wrong is in ``errors`` (and ``on_loop`` raises ``TimeoutError`` for a stuck loop).
    ``loop`` is the event loop to serve from, a new one by default; lesson 12 gives
    ``asyncio.SelectorEventLoop(Recorder(...))`` to watch what asyncio asks ``select()`` for.
    The loop is closed when the server stops.
    """

    def __init__(self, protocol_class, buffer_size=SMALL_BUFFER, timeout=NET_TIMEOUT, loop=None):
        self.timeout = timeout
        self.transports, self.errors = [], []
        self.loop = loop if loop is not None else asyncio.new_event_loop()
        self.loop.set_exception_handler(lambda loop, context: self.errors.append(context))
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if buffer_size:  # accepted sockets inherit these from the listening socket
                lsock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer_size)
                lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_size)
            lsock.bind((HOST, 0))
            lsock.listen()
            lsock.setblocking(False)
        except BaseException:
            lsock.close()
            self.loop.close()
            raise
        self.address = lsock.getsockname()
        transports = self.transports

        class Watched(protocol_class):  # the learner's class, telling us its transport
            def connection_made(self, transport):
                transports.append(transport)
                super().connection_made(transport)

        self.server = None
        self.runner = Runner(self.loop.run_forever, name="echo_lab ProtocolServer", wake=self._shut,
                             release=self._close_loop, join=timeout, route=False).start()
        try:
            future = asyncio.run_coroutine_threadsafe(self.loop.create_server(Watched, sock=lsock), self.loop)
            self.server = future.result(timeout)
        except BaseException:
            lsock.close()
            self.stop()
            raise

    def on_loop(self, fn):
        """``fn()`` run on the loop's thread; its value. TimeoutError if the loop does not get to it."""
        future = concurrent.futures.Future()

        def run():
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed back to the caller
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(self.timeout)

    def buffered(self):
        """The largest write buffer among the server's transports, in bytes."""
        return self.on_loop(lambda: max((t.get_write_buffer_size() for t in self.transports), default=0))

    def learner_errors(self):
        """The exceptions the loop caught in the protocol's methods."""
        return [c["exception"] for c in self.errors if isinstance(c.get("exception"), BaseException)]

    def _shut(self):
        """On the loop: close the server and every connection, then stop the loop."""
        def shut():
            if self.server is not None:
                self.server.close()
            for transport in self.transports:
                transport.abort()  # closes the socket in a callback of its own: let that run first
            self.loop.call_soon(self.loop.stop)

        if self.runner.running:
            self.loop.call_soon_threadsafe(shut)

    def _close_loop(self):
        if not self.runner.running:  # a thread that could not be ended still holds it
            self.loop.close()

    def stop(self, raise_error=False, timeout=None):
        """Close the server and every connection, stop the loop (waiting at most ``timeout`` s, by default
        the server's, before its thread is ended); raises nothing unless asked."""
        self.runner.stop(timeout, raise_error=raise_error)

    def __exit__(self, exc_type, exc, tb):
        self.stop()
