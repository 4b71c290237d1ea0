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
"""

import selectors
import socket
import time
import types

from ..i18n import _
from ..run.bounded import CallTimedOut, call_bounded
from .hints import EXERCISES
from .observe import mask_words, recv_upto
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
    problems, accepted, served = [], [], []

    def accept_wrapper(sock):
        if not hasattr(sock, "accept"):
            problems.append(_("accept_wrapper was called with a {kind}, not with the "
                              "listening socket: pass `key.fileobj`.").format(kind=type(sock).__name__))
            raise StopLoop
        if sock.fileno() != lsock.fileno():
            problems.append(_("accept_wrapper was called with a socket that is not the listening one."))
            raise StopLoop
        try:
            conn, addr = sock.accept()
        except BlockingIOError:
            problems.append(_("accept_wrapper was called for the listening socket when no client was "
                              "waiting: the loop handled an event it had already handled. Call "
                              "`sel.select(timeout=None)` inside `while True:`, once per pass: each call "
                              "says what is ready *now*."))
            raise StopLoop from None
        conn.setblocking(False)
        fresh.register(conn, READ, data=types.SimpleNamespace(addr=addr))
        accepted.append(addr)

    def service_connection(key, mask):
        if not isinstance(key, selectors.SelectorKey):
            problems.append(_("service_connection was called with a {kind} as its key: "
                              "pass the `key` that select() returned.").format(kind=type(key).__name__))
            raise StopLoop
        if key.data is _WAKE:
            raise StopLoop
        if key.data is None:
            problems.append(_("service_connection was called for the listening socket (its key.data is "
                              "None): that one goes to `accept_wrapper(key.fileobj)`."))
            raise StopLoop
        if not isinstance(mask, int) or not mask or mask & ~(READ | WRITE):
            problems.append(_("service_connection was called with mask={mask!r}: pass the `mask` that "
                              "came with the key.").format(mask=mask))
            raise StopLoop
        if key.data is _PROBE:
            if mask != WRITE:
                problems.append(_("service_connection was called with mask={mask} ({events}) for "
                                  "a socket registered for EVENT_READ | EVENT_WRITE that was only ready for "
                                  "EVENT_WRITE: pass the `mask` that select() returned with the key, not "
                                  "`key.events` (what the socket is registered for).").format(
                                      mask=mask, events=mask_words(mask)))
                raise StopLoop
            fresh.unregister(key.fileobj)  # seen once: enough
            return
        served.append(mask)
        if mask & READ:
            data = key.fileobj.recv(1024)
            if data:
                key.fileobj.sendall(data)
            else:
                fresh.unregister(key.fileobj)
                key.fileobj.close()

    copy = trial.rebind(fn, fresh, accept_wrapper=accept_wrapper, service_connection=service_connection)
    idle = 0

    def loop():  # how the learner's loop ended is the check's business: given back, not raised
        try:
            copy()
        except BaseException as exc:  # the learner's error, or our StopLoop
            return exc
        return None

    def drive(worker):  # in the check's thread, while the loop runs: the clients, the probe, the stop
        nonlocal idle
        for n in (1, 2):
            if not worker.running:
                break
            client = trial.connect(lsock.getsockname())
            message = b"ping %d" % n
            client.sendall(message)
            echo = recv_upto(client, len(message), until=lambda: not worker.running)
            client.close()
            if echo != message and not problems and worker.running:
                raise Wrong(_("A client connected and sent {message!r}, but got no echo within "
                               "{timeout:g} s.").format(message=message, timeout=NET_TIMEOUT),
                             hint=_("For each `(key, mask)` that select() returns, call "
                                    "`accept_wrapper(key.fileobj)` or `service_connection(key, mask)`."))
        deadline = time.monotonic() + NET_TIMEOUT
        while worker.running and len(fresh.get_map()) > 2 and time.monotonic() < deadline:
            time.sleep(0.005)  # the loop closes the two connections
        if worker.running and not problems:  # a socket ready for WRITE only: is the mask passed on?
            probe, peer = socket.socketpair()
            trial.own(probe), trial.own(peer)
            fresh.register(probe, READ | WRITE, data=_PROBE)
            while worker.running and fresh.get_map().get(probe) and time.monotonic() < deadline:
                time.sleep(0.005)
        idle = _idle_selects(fresh, SPIN_WINDOW) if worker.running else 0
        wake_w.send(b"x")  # the loop calls service_connection for it: StopLoop ends the loop

    try:
        ended_by = call_bounded(loop, timeout=CALL_TIMEOUT, name="echo_lab check: event_loop",
                                sockets=trial.open_sockets, meanwhile=drive)
    except CallTimedOut:
        raise Wrong(_("event_loop did not stop when the check's handler raised an exception."),
                     hint=_("Let exceptions from the handlers leave the loop: no `try/except` that "
                            "swallows everything.")) from None
    if problems:
        raise Wrong(problems[0], hint=_(EXERCISES["event_loop"].hints[2]))
    if ended_by is not None and not isinstance(ended_by, StopLoop):
        trial.learner_error(ended_by, "event_loop")
    if ended_by is None:
        raise Wrong(_("event_loop returned after {calls} select() call(s): it should serve "
                       "forever.").format(calls=fresh.calls), hint=_("Put the loop body in `while True:`."))
    if idle > SPINS:
        raise Wrong(_("With no client, select() came back {idle} times in {window:g} s with nothing "
                       "ready: the loop spins, using a whole core, instead of waiting.").format(
                           idle=idle, window=SPIN_WINDOW),
                     hint=_("`sel.select(timeout=None)` waits until a socket is ready."))
    if len(accepted) < 2:
        raise Wrong(_("accept_wrapper was not called for each new client."),
                     hint="`if key.data is None: accept_wrapper(key.fileobj)`")
    return _("Your loop called accept_wrapper(key.fileobj) for the listening socket and "
             "service_connection(key, mask) for each connection: 2 clients were served until they "
             "closed.")


def _idle_selects(sel, seconds):
    """Sleep ``seconds``; return how many select() calls on ``sel`` came back with nothing ready meanwhile."""
    first = sel.calls
    time.sleep(seconds)
    last = sel.calls
    # The calls made meanwhile are numbered first+1..last. The ring keeps the newest 100,000 events:
    # a loop spinning faster than that is undercounted, and still far above SPINS.
    return sum(1 for e in sel.events("select") if first < e.call <= last and e.ready == 0)
