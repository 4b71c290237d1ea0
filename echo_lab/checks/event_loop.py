"""Check of the event loop: exercise 03.

A ``while True`` loop cannot be called and looked at like a handler.  It
runs on a thread of its own (:func:`~echo_lab.run.bounded.call_bounded`,
while the check plays the clients), with the check's own ``accept_wrapper`` and
``service_connection`` put in its copy (yours are not used), so a mistake in
a handler cannot hide one in the loop.  The check stops it by making a
socket of its own readable: the check's ``service_connection`` then raises
``StopLoop``.

After the clients, the check registers a socket of its own for READ | WRITE
that is only ever writable: the loop must pass on the ``mask`` that
``select()`` returned (EVENT_WRITE), not ``key.events``.

Before stopping it, the check leaves the loop with nothing to do for
:data:`SPIN_WINDOW` seconds and counts the ``select()`` calls that came back
with nothing ready.  A loop that waits (``timeout=None``) makes none; one
that polls (``timeout=0``) makes thousands, even on a busy machine.  A
window of its own, rather than the time the clients took, keeps the verdict
independent of how fast the machine is.

The check's side is named steps (:class:`~echo_lab.checks.steps.Steps`):
the clients, the probe, the idle window, the stop; what goes wrong says in
which step it was seen.
"""

import selectors
import socket
import time
import types

from ..i18n import _
from ..run.bounded import CallTimedOut, call_bounded
from .hints import last_hint
from .observe import mask_words, recv_upto
from .steps import Steps
from .trial import CALL_TIMEOUT, NET_TIMEOUT, READ, WRITE, StopLoop, Wrong, run_check

__all__ = ["SPINS", "SPIN_WINDOW", "check_event_loop"]

SPIN_WINDOW = 0.2  # seconds the loop is left with nothing to do while select() calls are counted
SPINS = 50  # more select() calls than this in SPIN_WINDOW, all with nothing ready: the loop spins
_WAKE = types.SimpleNamespace(role="the check's stop signal")
_PROBE = types.SimpleNamespace(role="the check's probe: registered for READ | WRITE, only ever writable")


def check_event_loop(event_loop, sel):
    """Check ``event_loop()``: the tutorial's ``while True`` loop, run on a thread with the check's handlers.

    The check gives the loop its own ``accept_wrapper`` and ``service_connection``
    (in the copy of the function; yours are not used), connects two clients, and
    stops the loop by raising an exception from ``service_connection`` when a
    socket of its own becomes readable.
    """
    return run_check("event_loop", _event_loop, [("event_loop", event_loop)], sel)


def _event_loop(trial, fn):
    fresh = trial.selector()
    lsock = trial.listener(fresh)
    wake_r, wake_w = socket.socketpair()
    trial.own(wake_r), trial.own(wake_w)
    fresh.register(wake_r, READ, data=_WAKE)
    drive = _Drive(trial, fresh, lsock, wake_w)
    handlers, steps = drive.handlers, drive.steps
    copy = trial.rebind(fn, fresh, accept_wrapper=handlers.accept_wrapper,
                        service_connection=handlers.service_connection)

    def loop():  # how the learner's loop ended is the check's business: given back, not raised
        try:
            copy()
        except BaseException as exc:  # the learner's error, or our StopLoop
            return exc
        return None

    try:
        ended_by = call_bounded(loop, timeout=CALL_TIMEOUT, name="echo_lab check: event_loop",
                                sockets=trial.open_sockets, meanwhile=drive)
    except CallTimedOut:
        raise Wrong(steps.name(_("event_loop did not stop when the check's handler raised an exception.")),
                     hint=_("Let exceptions from the handlers leave the loop: no `try/except` that "
                            "swallows everything.")) from None
    return _verdict(trial, fresh, handlers, drive, ended_by)


def _verdict(trial, fresh, handlers, drive, ended_by):
    """What the check says once the loop has ended: the first problem the handlers saw, or how it ended."""
    if handlers.problems:
        raise Wrong(handlers.problems[0], hint=last_hint("event_loop"))
    if ended_by is not None and not isinstance(ended_by, StopLoop):
        trial.learner_error(ended_by, "event_loop")
    if ended_by is None:
        raise Wrong(_("event_loop returned after {calls} select() call(s): it should serve "
                       "forever.").format(calls=fresh.calls), hint=_("Put the loop body in `while True:`."))
    if drive.idle > SPINS:
        raise Wrong(_("With no client, select() came back {idle} times in {window:g} s with nothing "
                       "ready: the loop spins, using a whole core, instead of waiting.").format(
                           idle=drive.idle, window=SPIN_WINDOW),
                     hint=_("`sel.select(timeout=None)` waits until a socket is ready."))
    if len(handlers.accepted) < 2:
        raise Wrong(_("accept_wrapper was not called for each new client."),
                     hint="`if key.data is None: accept_wrapper(key.fileobj)`")
    return _("Your loop called accept_wrapper(key.fileobj) for the listening socket and "
             "service_connection(key, mask) for each connection: 2 clients were served until they "
             "closed.")


class _Handlers:
    """The check's ``accept_wrapper`` and ``service_connection``, put in the copy of the learner's loop.

    They note the first thing the loop got wrong (named with the check's step, ``steps``) and end the
    loop with :class:`StopLoop`; they echo what the clients send.
    """

    def __init__(self, fresh, lsock, steps):
        self.fresh, self.lsock, self.steps = fresh, lsock, steps
        self.problems, self.accepted, self.served = [], [], []

    def stop(self, problem):
        self.problems.append(self.steps.name(problem))
        raise StopLoop

    def accept_wrapper(self, sock):
        if not hasattr(sock, "accept"):
            self.stop(_("accept_wrapper was called with a {kind}, not with the "
                        "listening socket: pass `key.fileobj`.").format(kind=type(sock).__name__))
        if sock.fileno() != self.lsock.fileno():
            self.stop(_("accept_wrapper was called with a socket that is not the listening one."))
        try:
            conn, addr = sock.accept()
        except BlockingIOError:
            self.problems.append(self.steps.name(_(
                "accept_wrapper was called for the listening socket when no client was "
                "waiting: the loop handled an event it had already handled. Call "
                "`sel.select(timeout=None)` inside `while True:`, once per pass: each call "
                "says what is ready *now*.")))
            raise StopLoop from None
        conn.setblocking(False)
        self.fresh.register(conn, READ, data=types.SimpleNamespace(addr=addr))
        self.accepted.append(addr)

    def service_connection(self, key, mask):
        if not isinstance(key, selectors.SelectorKey):
            self.stop(_("service_connection was called with a {kind} as its key: "
                        "pass the `key` that select() returned.").format(kind=type(key).__name__))
        if key.data is _WAKE:
            raise StopLoop
        if key.data is None:
            self.stop(_("service_connection was called for the listening socket (its key.data is "
                        "None): that one goes to `accept_wrapper(key.fileobj)`."))
        if not isinstance(mask, int) or not mask or mask & ~(READ | WRITE):
            self.stop(_("service_connection was called with mask={mask!r}: pass the `mask` that "
                        "came with the key.").format(mask=mask))
        if key.data is _PROBE:
            self.probed(key, mask)
            return
        self.served.append(mask)
        if mask & READ:
            data = key.fileobj.recv(1024)
            if data:
                key.fileobj.sendall(data)
            else:
                self.fresh.unregister(key.fileobj)
                key.fileobj.close()

    def probed(self, key, mask):
        """The probe, registered for READ | WRITE and only ever writable, must come with mask EVENT_WRITE."""
        if mask != WRITE:
            self.stop(_("service_connection was called with mask={mask} ({events}) for "
                        "a socket registered for EVENT_READ | EVENT_WRITE that was only ready for "
                        "EVENT_WRITE: pass the `mask` that select() returned with the key, not "
                        "`key.events` (what the socket is registered for).").format(
                            mask=mask, events=mask_words(mask)))
        self.fresh.unregister(key.fileobj)  # seen once: enough


class _Drive:
    """The check's side while the learner's loop runs (in the check's thread), in named steps."""

    def __init__(self, trial, fresh, lsock, wake):
        self.trial, self.fresh, self.wake = trial, fresh, wake
        self.idle = 0  # select() calls with nothing ready in SPIN_WINDOW
        self.deadline = None
        self.steps = Steps((_("two clients"), self.clients), (_("a socket ready for WRITE only"), self.probe),
                           (_("a loop with nothing to do"), self.count_idle), (_("the stop signal"), self.stop))
        self.handlers = _Handlers(fresh, lsock, self.steps)  # their problems say the step they were seen in

    def __call__(self, worker):
        self.steps.run(worker)

    def clients(self, worker):
        """Two clients connect and send a line each: each gets its echo, then closes."""
        problems = self.handlers.problems
        for n in (1, 2):
            if not worker.running:
                break
            client = self.trial.connect(self.handlers.lsock.getsockname())
            message = b"ping %d" % n
            client.sendall(message)
            echo = recv_upto(client, len(message), until=lambda: not worker.running)
            client.close()
            if echo != message and not problems and worker.running:
                raise Wrong(_("A client connected and sent {message!r}, but got no echo within "
                               "{timeout:g} s.").format(message=message, timeout=NET_TIMEOUT),
                             hint=_("For each `(key, mask)` that select() returns, call "
                                    "`accept_wrapper(key.fileobj)` or `service_connection(key, mask)`."))
        self.deadline = time.monotonic() + NET_TIMEOUT
        while worker.running and len(self.fresh.get_map()) > 2 and time.monotonic() < self.deadline:
            time.sleep(0.005)  # the loop closes the two connections
        return True

    def probe(self, worker):
        """A socket ready for WRITE only: is the mask that select() returned passed on?"""
        if worker.running and not self.handlers.problems:
            probe, peer = socket.socketpair()
            self.trial.own(probe), self.trial.own(peer)
            self.fresh.register(probe, READ | WRITE, data=_PROBE)
            while worker.running and self.fresh.get_map().get(probe) and time.monotonic() < self.deadline:
                time.sleep(0.005)
        return True

    def count_idle(self, worker):
        """Nothing to do for SPIN_WINDOW seconds: count the select() calls that came back with nothing ready."""
        self.idle = _idle_selects(self.fresh, SPIN_WINDOW) if worker.running else 0
        return True

    def stop(self, worker):
        """The check's stop signal: the loop calls service_connection for it, and StopLoop ends the loop."""
        self.wake.send(b"x")
        return True


def _idle_selects(sel, seconds):
    """Sleep ``seconds``; return how many select() calls on ``sel`` came back with nothing ready meanwhile."""
    first = sel.calls
    time.sleep(seconds)
    last = sel.calls
    # The calls made meanwhile are numbered first+1..last. The ring keeps the newest 100,000 events:
    # a loop spinning faster than that is undercounted, and still far above SPINS.
    return sum(1 for e in sel.events("select") if first < e.call <= last and e.ready == 0)
