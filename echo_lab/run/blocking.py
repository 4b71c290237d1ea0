"""Run a blocking server function on a thread of the kernel, and stop it on demand.

Lesson 01 runs the guide's first echo server, which blocks in ``accept()``
and ``recv()``.  In a cell it would hold the kernel until its client came and
went; :class:`BlockingServer` runs it on a daemon thread instead, so the next
cells can play the clients::

    def echo_server(s):            # s: listening on 127.0.0.1, a free port
        while True:
            conn, addr = s.accept()
            ...

    server = BlockingServer(echo_server)
    client = socket.create_connection(server.address)
    ...
    server.stop()

No wait has a time limit, so a learner may pause between cells as long as
they like.  The server ends when it is told to:

* :meth:`~BlockingServer.stop` shuts down every connection the function
  accepted (a blocked ``recv()`` returns ``b''``) and wakes a blocked
  ``accept()`` with a connection of its own, which ``accept()`` answers by
  raising :class:`ServerStopped`; then it closes the listening socket.
* Starting a server for a function stops any server still running a
  function of the same name: running the cell again replaces the server
  (the rule is :func:`~echo_lab.run.runner.replace`'s).
* If the function still runs after ``stop(timeout)`` (it blocks where no
  shutdown reaches), it is ended as a last resort and ``stop()`` raises a
  ``RuntimeError`` saying so.  The thread, the bounded stop and the registry
  :func:`~echo_lab.stop_all` empties are a :class:`~echo_lab.run.runner.Runner`'s;
  ``with BlockingServer(f) as server:`` stops it at the end of the block.
* An error from one client (a reset) goes to the log, and the function is
  called again for the next client.  What the function prints goes to the
  log too (see :mod:`echo_lab.run.threadout`): the last ``log_limit`` lines.
"""

import contextlib
import socket

from .runner import LOG_LIMIT, Log, Runner, Served

__all__ = ["BlockingServer", "ServerStopped"]

STOP_TIMEOUT = 2.0  # seconds stop() waits for the function by default


class ServerStopped(Exception):
    """Raised by ``accept()`` in the server thread once :meth:`BlockingServer.stop` was called."""


class _Listener(socket.socket):
    """A listening socket that remembers the connections it accepted, and stops accepting."""

    def __init__(self):
        super().__init__(socket.AF_INET, socket.SOCK_STREAM)
        self.accepted = []
        self.stopping = False

    def accept(self):
        conn, addr = super().accept()
        if self.stopping:
            conn.close()
            raise ServerStopped("the server was stopped")
        self.accepted = [c for c in self.accepted if c.fileno() != -1] + [conn]
        return conn, addr


class BlockingServer(Served):
    """``function(s)`` on a daemon thread, with ``s`` listening on ``host``, a free port.

    :attr:`address` is where clients connect; :attr:`log` holds what the
    function printed, one string per line; :meth:`stop` ends it.  The thread
    starts at once: ``start()`` does nothing more.
    """

    def __init__(self, function, host="127.0.0.1", log_limit=LOG_LIMIT):
        self.function = function
        self.log = Log(maxlen=log_limit)
        self.lsock = _Listener()
        try:
            self.lsock.bind((host, 0))
            self.lsock.listen()
        except BaseException:
            self.lsock.close()
            raise
        self.address = self.lsock.getsockname()[:2]
        self.runner = Runner(self._serve, name=f"echo_lab {function.__name__}", key=("function", function.__name__),
                             log=self.log, wake=self._wake, sockets=self._sockets, release=self.lsock.close,
                             join=STOP_TIMEOUT, stuck_message="the server thread did not stop within {timeout:g} s")
        self.runner.start()

    def _serve(self):
        try:
            while not self.lsock.stopping:
                try:
                    self.function(self.lsock)
                    return  # the function ended by itself
                except ConnectionError as exc:  # one client's trouble: note it, serve the next
                    if not self.lsock.stopping:
                        self.log.append(f"{type(exc).__name__}: {exc}; serving the next client")
        except ServerStopped:
            pass
        except OSError:
            if not self.lsock.stopping:  # the sockets closed under it by stop(): expected
                raise

    def _wake(self):
        """Shut every accepted connection down (a blocked recv() returns b''); wake a blocked accept()."""
        self.lsock.stopping = True
        for conn in list(self.lsock.accepted):
            with contextlib.suppress(OSError):  # closed already
                conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            socket.create_connection(self.address, timeout=STOP_TIMEOUT).close()

    def _sockets(self):
        return [*self.lsock.accepted, self.lsock]

    def stop(self, timeout=STOP_TIMEOUT, raise_error=True):
        """End the function: shut its connections down, wake its accept(), wait at most ``timeout`` s."""
        self.runner.stop(timeout=timeout, raise_error=raise_error)

    def __repr__(self):
        state = "running" if self.running else "stopped"
        return f"<BlockingServer {self.function.__name__} on {self.address[0]}:{self.address[1]}, {state}>"
