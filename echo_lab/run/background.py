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
  selector too.  ``stop()`` may be called twice.  The thread, its bounded
  stop, its log and the registry :func:`stop_all` empties are a
  :class:`~echo_lab.run.runner.Runner`'s; a server asked for a port that
  another holds stops that one first (:func:`~echo_lab.run.runner.replace`).
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
import time
import warnings

from .. import fixed, net, seed
from ..i18n import _
from ..watch.recorder import Recorder
from .runner import LINE_LIMIT, LOG_LIMIT, Log, Runner, Served, replace, stop_all

__all__ = ["BackgroundServer", "stop_all"]

STOP_JOIN = 1.0  # seconds to wait for the loop thread after waking it
STUCK = ("the server thread did not stop: a handler is blocked (did a socket stay in "
         "blocking mode, or does a loop never end?)")
_WAKE = object()  # the data of the wake-up socket's key


def port_key(port):
    """The key of the server on ``port``: a new server asking for that port replaces it."""
    return ("port", port)


class BackgroundServer(Served):
    """An event loop on a daemon thread: start, record, stop, surface errors.

    ``kind`` is ``"seed"`` (the tutorial's server) or ``"fixed"``; or give
    ``sel``, ``accept_wrapper`` and ``service_connection`` of your own, with a
    listening socket already registered in ``sel`` (``data=None``).  The
    reference servers listen on ``host:port`` (127.0.0.1, port 0: a free port).
    The fixed server closes a connection that moves no byte for ``idle_timeout``
    seconds (default :data:`echo_lab.fixed.IDLE_TIMEOUT`, 300).
    ``record=True`` wraps the selector in a :class:`Recorder` (a learner's
    selector that is one already is used as it is): :attr:`recorder`.
    :attr:`log` keeps the last ``log_limit`` printed lines, each cut to
    ``LINE_LIMIT`` characters.  ``start()``, ``stop()``, ``check()``,
    ``running``, ``state``, ``error``, ``print_log()`` and ``with`` are the
    :class:`~echo_lab.run.runner.Runner`'s (:attr:`runner`).

    Raises ``OSError`` if the port cannot be bound, ``ValueError`` for a
    learner's selector without a listening socket.
    """

    def __init__(self, kind=None, *, sel=None, accept_wrapper=None, service_connection=None,
                 host="127.0.0.1", port=0, record=True, capacity=100_000, log_limit=LOG_LIMIT,
                 idle_timeout=None):
        if (kind is None) == (service_connection is None):
            raise ValueError('give kind="seed" or "fixed", or sel, accept_wrapper and service_connection')
        if idle_timeout is not None and kind != "fixed":
            raise ValueError("only the fixed server closes idle connections: idle_timeout needs kind='fixed'")
        self.kind = kind or "yours"
        # the fixed server closes a connection that moves no byte for this long (None: never)
        self.idle_timeout = (idle_timeout or fixed.IDLE_TIMEOUT) if kind == "fixed" else None
        self.log = Log(maxlen=log_limit, line_limit=LINE_LIMIT)  # the transcript: one string per printed line
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
        self.runner = Runner(self._loop, name=f"echo_lab {self.kind} server", key=port_key(self.address[1]),
                             log=self.log, wake=self._wake, sockets=self._sockets,
                             release=self._close_everything, join=STOP_JOIN, stuck_message=STUCK)

    def _start_reference(self, kind, host, port, record, capacity):
        if kind not in ("seed", "fixed"):
            raise ValueError(f'kind must be "seed" or "fixed", not {kind!r}')
        if not net.is_loopback(host):
            warnings.warn(f"listening on {host}: this echo server will accept anyone who can reach "
                          "that address", stacklevel=3)
        if port:
            replace(port_key(port))  # re-running a cell: free the port it held
        self.sel = Recorder(selectors.DefaultSelector(), capacity) if record else selectors.DefaultSelector()
        self._loop_sel = self.sel
        self.recorder = self.sel if record else None
        make_socket = fixed.fixed_listening_socket if kind == "fixed" else seed.listening_socket
        functions = fixed.fixed_server_functions if kind == "fixed" else seed.server_functions
        try:
            make_socket(self.sel, host, port, print=self.log.print)
        except BaseException:
            self.sel.close()
            raise
        self._asked_for_any_port = kind == "seed" and port == 0  # its line says port 0, as the tutorial's does
        self.accept_wrapper, self.service_connection = functions(self.sel, print=self.log.print)

    def print_log(self, sort=False):
        """Print the transcript (``sort=True``: lines in a stable order).

        The tutorial's server prints the port it asked for: ``listening on ('127.0.0.1', 0)`` when
        started on port 0.  A line of the course's own, before the transcript, says which port the
        system chose.
        """
        if getattr(self, "_asked_for_any_port", False):
            print(_("[echo_lab] port 0 asks the system for any free port; it chose {address}").format(
                address=self.address))
        super().print_log(sort)

    def _listening_socket(self):
        try:
            return next(k.fileobj for k in self.sel.get_map().values() if k.data is None)
        except StopIteration:
            raise ValueError("no listening socket is registered in sel (register it with data=None)") from None

    # -- lifecycle --------------------------------------------------------
    def _loop(self):
        # As fixed.fixed_event_loop: the fixed server wakes at least every quarter of its idle timeout.
        close_idle = getattr(self.service_connection, "close_idle", None) if self.idle_timeout else None
        wait = self.idle_timeout / 4 if close_idle else None
        next_sweep = time.monotonic() + (wait or 0)
        while not self.runner.stopping.is_set():
            for key, mask in self._loop_sel.select(timeout=wait):
                if key.data is _WAKE:
                    return
                if key.data is None:
                    self.accept_wrapper(key.fileobj)
                else:
                    self.service_connection(key, mask)
            if close_idle and time.monotonic() >= next_sweep:
                close_idle(self.idle_timeout)
                next_sweep = time.monotonic() + wait

    def _wake(self):
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _sockets(self):
        """What to shut down if the loop is stuck in a handler: a blocking recv wakes up."""
        sel_map = self._loop_sel.get_map()
        with contextlib.suppress(RuntimeError, KeyError):  # the loop thread may be registering as we copy
            return [key.fileobj for key in list(sel_map.values())] if sel_map is not None else []
        return []

    def _close_everything(self):
        sel_map = self._loop_sel.get_map()
        for key in list(sel_map.values()) if sel_map is not None else []:
            sock = key.fileobj
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._loop_sel.unregister(sock)
            if isinstance(sock, socket.socket) and key.data not in (None, _WAKE):
                # close with an RST: no TIME_WAIT on our side, the port is free at once
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, net.LINGER_0)
            sock.close()
        self._wake_w.close()
        self._wake_r.close()
        self.lsock.close()
        self._loop_sel.close()

    def registered(self, attempts=5):
        """A copy of the selector's keys sorted by fd (the wake-up socket left out); [] once stopped.

        The loop thread registers and unregisters while we copy: iterating
        the map can then raise ``RuntimeError`` or ``KeyError``; try again.
        """
        for _attempt in range(attempts):
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
        if self.state == "stopped" and not self.runner.stopping.is_set():
            self.stop()  # the loop died: tidy up and raise its error
        self.check()

    def __repr__(self):
        state = "running" if self.running else "stopped"
        return f"<BackgroundServer {self.kind} on {self.address[0]}:{self.address[1]}, {state}>"
