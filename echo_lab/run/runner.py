"""One function on a daemon thread of the kernel: started, stopped within a bound, its error and log kept.

Every thread of echo_lab that runs a learner's code is a :class:`Runner`:
:class:`~echo_lab.run.background.BackgroundServer` (an event loop),
:class:`~echo_lab.run.blocking.BlockingServer` (lesson 01's blocking server),
:class:`~echo_lab.checks.protocol_server.ProtocolServer` (an asyncio loop), and
each call a check makes (:func:`~echo_lab.run.bounded.call_bounded`).  The
rules are the same for all:

* **Start.**  ``start()`` (or ``with``) starts the thread, once.
* **Stop.**  ``stop(timeout)`` sets :attr:`~Runner.stopping`, calls
  ``wake()`` (what makes the function return: a byte on a socketpair, a
  connection for ``accept()``, a callback on an asyncio loop), and waits at
  most ``timeout`` s.  A thread still running is ended as a last resort
  (:mod:`~echo_lab.run.unstick`: its sockets shut down, then an exception
  raised inside it), and the error reported is a ``RuntimeError`` saying it
  did not stop.  Then ``release()`` closes what the function used.  A second
  ``stop()`` does nothing more.
* **Errors.**  An exception from the function is kept in :attr:`~Runner.error`
  and raised, with its traceback, once: by ``check()`` or ``stop()``.
* **Log.**  What the thread prints goes to :attr:`~Runner.log` (a
  :class:`Log`: the last lines, each cut short), not to whichever cell runs
  (:mod:`~echo_lab.run.threadout`).
* **One registry.**  A runner is in it from its making until it is stopped;
  :func:`stop_all` stops every one (a server whose cell lost its variable).
* **Replacing** (:func:`replace`): a runner made with a ``key`` first stops
  the live runner that holds the same key.
"""

import contextvars
import threading
from collections import deque

from .threadout import route_stdout, unroute_stdout
from .unstick import unstick

__all__ = ["LINE_LIMIT", "LOG_LIMIT", "STOP_JOIN", "Log", "Runner", "Served", "Stuck", "live", "replace",
           "stop_all"]

STOP_JOIN = 1.0  # seconds stop() waits for the thread, after waking it, before ending it
UNSTICK_WAIT = 0.5  # seconds to wait after each step of ending a thread (see unstick)
LOG_LIMIT = 10_000  # lines a log keeps
LINE_LIMIT = 500  # characters kept of one printed line
STUCK = "the thread did not stop within {timeout:g} s"

_live = []  # every runner made and not yet stopped, oldest first
_lock = threading.Lock()


class Stuck(BaseException):
    """Raised inside a runner's thread that did not stop when told to (see :mod:`~echo_lab.run.unstick`)."""


def live():
    """The runners made and not stopped yet, oldest first."""
    with _lock:
        return list(_live)


def stop_all():
    """Stop every runner of this process: servers and calls alike (e.g. after a cell lost its variable)."""
    for runner in live():
        runner.stop(raise_error=False)


def replace(key):
    """The replacing rule, the only place it is written: a new server stops the old one holding ``key``.

    Running a cell again makes a new server while the old one still runs.
    Rather than fail, or leave two running, the new one wins: the live runner
    made with the same key is stopped (its error, if any, is dropped).  The
    keys in use: ``("port", n)`` for a :class:`~echo_lab.run.background.BackgroundServer`
    (one asked for port ``n`` frees it before it binds), ``("function", name)``
    for a :class:`~echo_lab.run.blocking.BlockingServer` (the cell that defines
    and serves ``name``, run again).  ``None`` replaces nothing.
    """
    if key is None:
        return
    for runner in live():
        if runner.key == key:
            runner.stop(raise_error=False)


class Log(deque):
    """A transcript: the last ``maxlen`` printed lines, each cut to ``line_limit`` characters.

    A line is cut because the tutorial's ``echoing`` line prints all of
    ``outb``, which a client that never reads makes megabytes long.
    """

    def __init__(self, iterable=(), maxlen=LOG_LIMIT, *, line_limit=LINE_LIMIT):
        super().__init__(iterable, maxlen)
        self.line_limit = line_limit
        self.partial = ""  # a printed line not yet ended

    def write(self, text):
        """A stream's ``write``: what a routed thread prints."""
        *lines, self.partial = (self.partial + text).split("\n")
        self.keep(lines)
        return len(text)

    def print(self, *args, sep=" ", end="\n", **_):
        """``print``, into the log: what the reference code is given to print with."""
        sep = " " if sep is None else sep
        self.keep((sep.join(map(str, args)) + ("\n" if end is None else end)).splitlines())

    def keep(self, lines):
        """Add ``lines``, each cut to ``line_limit`` characters."""
        limit = self.line_limit
        self.extend(line if len(line) <= limit else f"{line[:limit]}... ({len(line):,} characters)"
                    for line in lines)

    def show(self, sort=False):
        """Print the lines (``sort=True``: in a stable order)."""
        for line in sorted(self) if sort else self:
            print(line)


class Runner:
    """``target()`` on a daemon thread named ``name``; see the module for the rules.

    ``wake()`` makes ``target`` return; ``sockets()`` gives the sockets to shut
    down should the thread have to be ended; ``release()`` closes what it used,
    after the thread (all three optional).  ``join`` is how long ``stop()``
    waits by default; ``stuck_message`` the error when the thread had to be
    ended (``{timeout}`` is filled in).  ``route=False`` leaves what the thread
    prints where it goes (to the cell that runs).  ``value`` is what ``target``
    returned.
    """

    def __init__(self, target, *, name, key=None, log=None, wake=None, sockets=None, release=None,
                 join=STOP_JOIN, stuck_message=STUCK, route=True):
        self.target, self.name, self.key = target, name, key
        self.log = Log() if log is None else log
        self.error = self.value = None
        self.stopping = threading.Event()
        # the thread runs in a copy of the maker's context: it speaks the language in use (echo_lab.i18n)
        self.thread = threading.Thread(target=contextvars.copy_context().run, args=(self._main,), name=name,
                                       daemon=True)
        self.started = False
        self.join_timeout, self.stuck_message, self.route = join, stuck_message, route
        self._wake, self._sockets, self._release = wake, sockets, release
        self._once = threading.Lock()
        replace(key)
        with _lock:
            _live.append(self)

    def start(self):
        """Start the thread (once). Returns self."""
        with self._once:
            if self.stopping.is_set():
                raise RuntimeError(f"{self.name} was stopped: make a new one to run it again")
            if not self.started:
                self.started = True
                self.thread.start()
        return self

    def _main(self):
        ident = threading.get_ident()
        try:
            if self.route:
                route_stdout(ident, self.log.write)
            try:
                self.value = self.target()
            except Stuck:  # ended by stop(), which says so itself
                pass
            except BaseException as exc:  # the learner's error: kept for check() and stop()
                self.error = exc
            finally:
                if self.route:
                    unroute_stdout(ident)
        except Stuck:  # came just as the function returned: it has ended anyway
            pass

    def join(self, timeout):
        """Wait at most ``timeout`` s for the thread; whether it has ended."""
        if self.started:
            self.thread.join(timeout)
        return not self.running

    def stop(self, timeout=None, raise_error=True):
        """Wake the function, wait at most ``timeout`` s (default ``join``), end it if it is stuck,
        release what it used, leave the registry.  Raises the function's error, once."""
        with self._once:
            first = not self.stopping.is_set()
            self.stopping.set()
        if first:
            try:
                self._end(self.join_timeout if timeout is None else timeout)
            finally:
                with _lock:
                    if self in _live:
                        _live.remove(self)
        self.check(raise_error)

    def _end(self, timeout):
        try:
            if self._wake is not None:
                self._wake()
            if self.started and self.thread is not threading.current_thread():
                self.thread.join(timeout)
                if self.thread.is_alive():  # the last resort
                    sockets = self._sockets() if self._sockets is not None else ()
                    ended = unstick(self.thread, sockets, Stuck, UNSTICK_WAIT)
                    message = self.stuck_message.format(timeout=timeout)
                    if not ended:
                        message += " (it could not be ended either: it still runs, as a daemon thread)"
                    self.error = RuntimeError(message)
        finally:
            if self._release is not None:
                self._release()

    def check(self, raise_error=True):
        """Raise the exception that ended the function, if any (once)."""
        error, self.error = self.error, None
        if error is not None and raise_error:
            raise error

    @property
    def running(self):
        return self.thread.is_alive()

    @property
    def state(self):
        """'not started', 'running' or 'stopped' (stopped also when the function ended by itself)."""
        if not self.started:
            return "not started"
        return "running" if self.thread.is_alive() else "stopped"

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop(raise_error=exc_type is None)

    def __repr__(self):
        return f"<Runner {self.name}, {self.state}>"


class Served:
    """What a class whose thread is ``self.runner`` shows: start, stop, ``with``, state, error, log."""

    runner: Runner

    def start(self):
        """Start the thread. Returns self."""
        self.runner.start()
        return self

    def stop(self, raise_error=True):
        """Stop the thread (bounded) and close what it used; raises the function's error, once."""
        self.runner.stop(raise_error=raise_error)

    def check(self, raise_error=True):
        """Raise the exception that stopped the thread, if any (once)."""
        self.runner.check(raise_error)

    @property
    def error(self):
        """The exception that stopped the thread, until raised."""
        return self.runner.error

    @property
    def running(self):
        return self.runner.running

    @property
    def state(self):
        """'not started', 'running' or 'stopped'."""
        return self.runner.state

    def print_log(self, sort=False):
        """Print what the thread printed (``sort=True``: lines in a stable order)."""
        self.runner.log.show(sort)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop(raise_error=exc_type is None)
