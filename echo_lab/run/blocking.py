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
  function of the same name: running the cell again replaces the server.
* An error from one client (a reset) goes to the log, and the function is
  called again for the next client.  What the function prints goes to the
  log too (see :mod:`echo_lab.run.threadout`).
"""

import contextlib
import socket
import threading

from .threadout import route_stdout, unroute_stdout

__all__ = ["BlockingServer", "ServerStopped"]

_running = {}  # function name -> its BlockingServer


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


class BlockingServer:
    """``function(s)`` on a daemon thread, with ``s`` listening on ``host``, a free port.

    :attr:`address` is where clients connect; :attr:`log` holds what the
    function printed, one string per line; :meth:`stop` ends it.
    """

    def __init__(self, function, host="127.0.0.1"):
        old = _running.get(function.__name__)
        if old is not None:
            old.stop(raise_error=False)
        self.function, self.log, self.error = function, [], None
        self._partial = ""
        self._stopped = False
        self.lsock = _Listener()
        try:
            self.lsock.bind((host, 0))
            self.lsock.listen()
        except BaseException:
            self.lsock.close()
            raise
        self.address = self.lsock.getsockname()[:2]
        self._thread = threading.Thread(target=self._run, name=f"echo_lab {function.__name__}", daemon=True)
        _running[function.__name__] = self
        self._thread.start()

    def _write(self, text):
        *lines, self._partial = (self._partial + text).split("\n")
        self.log.extend(lines)
        return len(text)

    def _run(self):
        ident = threading.get_ident()
        route_stdout(ident, self._write)
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
        except BaseException as exc:  # the learner's error: kept for stop()
            self.error = exc
        finally:
            unroute_stdout(ident)

    @property
    def running(self):
        return self._thread.is_alive()

    def stop(self, timeout=2.0, raise_error=True):
        """End the function: shut its connections down, wake its accept(), wait for the thread."""
        if not self._stopped:
            self._stopped = True
            self.lsock.stopping = True
            for conn in list(self.lsock.accepted):
                with contextlib.suppress(OSError):  # closed already
                    conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                socket.create_connection(self.address, timeout=timeout).close()
            self._thread.join(timeout)
            self.lsock.close()
            if _running.get(self.function.__name__) is self:
                del _running[self.function.__name__]
            if self._thread.is_alive():
                self.error = RuntimeError(f"the server thread did not stop within {timeout:g} s")
        error, self.error = self.error, None
        if error is not None and raise_error:
            raise error

    def print_log(self):
        """Print what the function printed."""
        for line in self.log:
            print(line)

    def __repr__(self):
        state = "running" if self.running else "stopped"
        return f"<BlockingServer {self.function.__name__} on {self.address[0]}:{self.address[1]}, {state}>"
