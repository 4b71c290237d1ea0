"""Run an event loop in a background thread of the notebook's kernel.

The tutorial's loop is ``while True: sel.select(timeout=None)``: run in a
cell, it freezes the kernel until a restart.  :class:`BackgroundServer` runs
the same loop in a daemon thread instead, so the next cell can start
clients, draw what happened, and stop it.  It serves the reference code
(``"seed"`` or ``"fixed"``) or a learner's own pieces, passed in explicitly::

    with BackgroundServer(sel=sel, accept_wrapper=accept_wrapper,
                          service_connection=service_connection) as server:
        result = run_client(server.address, 2)
    server.print_log()

How it stays safe in a notebook:

* **Stopping.**  The loop blocks in ``select(timeout=None)``.  A socketpair
  is registered beside the server's sockets (as asyncio's self-pipe);
  :meth:`~BackgroundServer.stop` writes one byte to it, so ``select()``
  returns at once and the loop ends.  Then every socket still registered is
  closed (connections with an RST, so no TIME_WAIT keeps the port) and the
  selector too.  ``stop()`` may be called twice.
* **Learner errors.**  An exception from the learner's function stops the
  loop; it is raised, with its traceback, by the next ``stop()``,
  ``wait_idle()`` or ``check()``, never lost in a dead thread.
* **No printing from the thread.**  In a kernel, a thread's output lands in
  whichever cell runs at that moment.  The reference code prints into
  :attr:`~BackgroundServer.log`; a learner's ``print`` calls on the server
  thread are routed there too.  A cell prints the log after it waits.
"""

import contextlib
import selectors
import socket
import struct
import threading
import time
import warnings
from collections import deque

from .. import fixed, net, seed
from ..watch.recorder import Recorder
from .threadout import route_stdout, unroute_stdout
from .unstick import unstick

__all__ = ["BackgroundServer", "stop_all"]

STOP_JOIN = 1.0  # seconds to wait for the loop thread after waking it
LINE_LIMIT = 500  # characters kept of one printed line
_WAKE = object()  # the data of the wake-up socket's key


class _Stuck(BaseException):
    """Raised inside a server thread that does not stop (see BackgroundServer._unstick)."""


_running = set()


def stop_all():
    """Stop every background server of this process (e.g. after a cell lost its variable)."""
    for server in list(_running):
        server.stop(raise_error=False)


class BackgroundServer:
    """An event loop on a daemon thread: start, record, stop, surface errors.

    ``kind`` is ``"seed"`` (the tutorial's server) or ``"fixed"``; or give
    ``sel``, ``accept_wrapper`` and ``service_connection`` of your own, with a
    listening socket already registered in ``sel`` (``data=None``).  The
    reference servers listen on ``host:port`` (127.0.0.1, port 0: a free port).
    ``record=True`` wraps the selector in a :class:`Recorder` (a learner's
    selector that is one already is used as it is): :attr:`recorder`.
    :attr:`log` keeps the last ``log_limit`` printed lines, each cut to
    ``LINE_LIMIT`` characters.

    Raises ``OSError`` if the port cannot be bound, ``ValueError`` for a
    learner's selector without a listening socket.
    """

    def __init__(self, kind=None, *, sel=None, accept_wrapper=None, service_connection=None,
                 host="127.0.0.1", port=0, record=True, capacity=100_000, log_limit=10_000):
        if (kind is None) == (service_connection is None):
            raise ValueError('give kind="seed" or "fixed", or sel, accept_wrapper and service_connection')
        self.kind = kind or "yours"
        self.log = deque(maxlen=log_limit)  # the transcript: one string per printed line
        self.error = None  # the exception that stopped the loop, until raised
        self._stop = threading.Event()
        self._thread = None
        self._stopped = False
        self._partial = ""  # a printed line not yet ended
        if kind is not None:
            self._start_reference(kind, host, port, record, capacity)
        else:
            if not callable(accept_wrapper) or not callable(service_connection):
                raise TypeError("accept_wrapper and service_connection must be functions")
            if sel is None:
                raise ValueError("give the selector your functions use: sel=sel")
            self.sel = sel
            # The learner's functions use their own ``sel``; the loop selects through a
            # Recorder so what select() returned (and the bytes moved) is recorded.
            if isinstance(sel, Recorder) or not record:
                self._loop_sel = sel
            else:
                self._loop_sel = Recorder(sel, capacity)
            self.recorder = self._loop_sel if isinstance(self._loop_sel, Recorder) else None
            self.accept_wrapper, self.service_connection = accept_wrapper, service_connection
        self.lsock = self._listening_socket()
        self.address = self.lsock.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        if self.recorder is not None:
            self.recorder.set_label(self._wake_r, "wake-up")
        self._loop_sel.register(self._wake_r, selectors.EVENT_READ, data=_WAKE)

    def _start_reference(self, kind, host, port, record, capacity):
        if kind not in ("seed", "fixed"):
            raise ValueError(f'kind must be "seed" or "fixed", not {kind!r}')
        if not net.is_loopback(host):
            warnings.warn(f"listening on {host}: this echo server will accept anyone who can reach "
                          "that address", stacklevel=3)
        for other in list(_running):  # re-running a cell: free the port it held
            if port and other.address[1] == port:
                other.stop(raise_error=False)
        self.sel = Recorder(selectors.DefaultSelector(), capacity) if record else selectors.DefaultSelector()
        self._loop_sel = self.sel
        self.recorder = self.sel if record else None
        make_socket = fixed.fixed_listening_socket if kind == "fixed" else seed.listening_socket
        functions = fixed.fixed_server_functions if kind == "fixed" else seed.server_functions
        try:
            make_socket(self.sel, host, port, print=self._print)
        except BaseException:
            self.sel.close()
            raise
        if kind == "seed" and port == 0:  # the tutorial prints the port it asked for
            self.log[-1] = f"listening on {self._listening_socket().getsockname()[:2]}"
        self.accept_wrapper, self.service_connection = functions(self.sel, print=self._print)

    def _listening_socket(self):
        try:
            return next(k.fileobj for k in self.sel.get_map().values() if k.data is None)
        except StopIteration:
            raise ValueError("no listening socket is registered in sel (register it with data=None)") from None

    def _print(self, *args, sep=" ", end="\n", **_):
        self._keep((sep.join(map(str, args)) + end).splitlines())

    def _write(self, text):
        *lines, self._partial = (self._partial + text).split("\n")
        self._keep(lines)
        return len(text)

    def _keep(self, lines):
        """Add lines to the log, each cut to LINE_LIMIT characters: the tutorial's
        ``echoing`` line prints all of ``outb``, which a client that never reads
        makes megabytes long."""
        self.log.extend(line if len(line) <= LINE_LIMIT else
                        f"{line[:LINE_LIMIT]}... ({len(line):,} characters)" for line in lines)

    # -- lifecycle --------------------------------------------------------
    def start(self):
        """Start the loop thread. Returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"echo_lab {self.kind} server",
                                            daemon=True)
            _running.add(self)
            self._thread.start()
        return self

    def _run(self):
        ident = threading.get_ident()
        route_stdout(ident, self._write)
        try:
            while not self._stop.is_set():
                for key, mask in self._loop_sel.select(timeout=None):
                    if key.data is _WAKE:
                        return
                    if key.data is None:
                        self.accept_wrapper(key.fileobj)
                    else:
                        self.service_connection(key, mask)
        except BaseException as exc:  # the learner's error: keep it for the notebook
            self.error = exc
        finally:
            unroute_stdout(ident)

    def stop(self, raise_error=True):
        """Wake the loop, wait for it, close every socket. Raises the loop's error, once."""
        if not self._stopped:
            self._stopped = True
            self._stop.set()
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
            if self._thread is not None:
                self._thread.join(STOP_JOIN)
                if self._thread.is_alive():
                    self._unstick()
            self._close_everything()
            _running.discard(self)
        self.check(raise_error)

    def _unstick(self):
        """The loop is stuck in a handler: shut its sockets down, then interrupt the thread.

        Shutting a socket down wakes a blocking ``recv``; an endless Python loop
        gets an exception raised inside it (as Ctrl-C would), so no thread is
        left spinning.  Whatever the handler raised, the error reported is ours.
        """
        sockets = [key.fileobj for key in list(self._loop_sel.get_map().values())]
        unstick(self._thread, sockets, _Stuck, STOP_JOIN)
        self.error = RuntimeError(
            "the server thread did not stop: a handler is blocked (did a socket stay in "
            "blocking mode, or does a loop never end?)")

    def _close_everything(self):
        sel_map = self._loop_sel.get_map()
        for key in list(sel_map.values()) if sel_map is not None else []:
            sock = key.fileobj
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._loop_sel.unregister(sock)
            if isinstance(sock, socket.socket) and key.data not in (None, _WAKE):
                # close with an RST: no TIME_WAIT on our side, the port is free at once
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        self._wake_w.close()
        self._wake_r.close()
        self.lsock.close()
        self._loop_sel.close()

    def check(self, raise_error=True):
        """Raise the exception that stopped the loop, if any (once)."""
        error, self.error = self.error, None
        if error is not None and raise_error:
            raise error

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    @property
    def state(self):
        """'not started', 'running' or 'stopped' (stopped also when the loop died)."""
        if self._thread is None:
            return "not started"
        return "running" if self._thread.is_alive() else "stopped"

    def registered(self, attempts=5):
        """A copy of the selector's keys sorted by fd (the wake-up socket left out); [] once stopped.

        The loop thread registers and unregisters while we copy: iterating
        the map can then raise ``RuntimeError`` or ``KeyError``; try again.
        """
        for _ in range(attempts):
            try:
                sel_map = self._loop_sel.get_map()
                if sel_map is None:
                    return []
                return sorted((k for k in list(sel_map.values()) if k.data is not _WAKE),
                              key=lambda k: k.fd)
            except (RuntimeError, KeyError):
                continue
        return []

    def connections(self):
        """How many client connections are registered now."""
        return sum(1 for key in self.registered() if key.data is not None)

    def wait_idle(self, timeout=5.0):
        """Wait until no connection is registered. Raises the loop's error; TimeoutError."""
        deadline = time.monotonic() + timeout
        while self.connections() and self.running:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.connections()} connection(s) still open after {timeout:g} s")
            time.sleep(0.002)
        if not self.running and self._thread is not None and not self._stopped:
            self.stop()  # the loop died: tidy up and raise its error
        self.check()

    def print_log(self, sort=False):
        """Print the server's transcript (``sort=True``: lines in a stable order)."""
        for line in sorted(self.log) if sort else self.log:
            print(line)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop(raise_error=exc_type is None)

    def __repr__(self):
        state = "running" if self.running else "stopped"
        return f"<BackgroundServer {self.kind} on {self.address[0]}:{self.address[1]}, {state}>"
