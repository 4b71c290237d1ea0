"""Check of the bug hunt: exercise 08, the always-WRITE busy loop.

The tutorial's server registers every connection for EVENT_WRITE, and a
connected socket is almost always writable, so its loop never sleeps.  The
fix is checked end to end, on a background server running the learner's
``accept_wrapper`` and ``service_connection``: the accepted socket must be
non-blocking; wake-ups are counted while a client sits idle, before and
after an echo; a 1 MiB echo with small buffers, to a client that waits a
moment before it reads, must come back whole (the rest of a partial send
waits for EVENT_WRITE); and the tutorial's clients must be served to the end.
A connection whose key lost its data (``sel.modify`` without ``data=``) is
reported when the loop takes it for the listening socket.

Each of those is a named step (:class:`~echo_lab.checks.steps.Steps`): a
failure says which.
"""

import contextlib
import selectors
import socket
import threading
import time

from ..i18n import _
from ..run.background import BackgroundServer
from ..run.client import run_client
from ..watch.recorder import Recorder
from .observe import blocking_hint, recv_upto, sending_part
from .steps import Steps
from .trial import HOST, NET_TIMEOUT, READ, Wrong, run_check

__all__ = ["BUSY", "IDLE", "check_bug_hunt"]

IDLE = 0.25  # seconds a client sits idle while the check counts select() calls
BUSY = 25  # more select() calls than this in IDLE seconds, for one idle client, is a busy loop
STALL = 3.0  # seconds without a byte moving: the rest is not coming (a busy machine pauses a thread for less)
BIG_ECHO = 60.0  # seconds at most for the 1 MiB echo, as long as bytes keep moving


def check_bug_hunt(accept_wrapper, service_connection, sel):
    """Check the fixed server: an idle client costs no wake-ups, and every echo still comes back."""
    return run_check("bug_hunt", _bug_hunt,
                [("accept_wrapper", accept_wrapper), ("service_connection", service_connection)], sel)


def _bug_hunt(trial, accept_fn, service_fn):
    run = _Run(trial, *_server(trial, accept_fn, service_fn))
    steps = Steps((_("a connection is accepted"), _accepted), (_("an idle client"), _idle_client),
                  (_("an echo"), _echo), (_("a 1 MiB echo"), _big_echo),
                  (_("the tutorial's clients"), _tutorials_clients))
    finished = False
    try:
        finished = steps.run(run)
    finally:
        try:
            run.server.stop()
        except BaseException as exc:  # the learner's error, raised in the server thread
            trial.learner_error(exc, _("While serving clients, your code"),
                                on_error={BlockingIOError: blocking_hint})
    if not finished:
        raise Wrong(steps.name(_("The server's loop stopped while the check was running.")))
    return _("An idle client costs no wake-ups before or after its echo, a 1 MiB echo comes back "
             "whole, and the tutorial's client is served to the end.")


def _server(trial, accept_fn, service_fn):
    """A background server running the learner's handlers on a recorded selector: ``(server, sel)``."""
    sel = Recorder(selectors.DefaultSelector())
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind((HOST, 0))
    lsock.listen()
    lsock.setblocking(False)
    sel.register(lsock, READ, data=None)
    learners_accept = trial.rebind(accept_fn, sel)

    def accept_wrapper(sock):  # the loop calls it for every key whose data is None
        if sock.fileno() != lsock.fileno():
            raise Wrong(_("The loop called accept_wrapper for a connection: its key's data had become "
                           "None. `sel.modify(sock, events)` without `data=` sets the key's data to None, "
                           "and the loop takes a key with no data for the listening socket."),
                         hint=_("Pass the data on each time: `sel.modify(sock, events, data=data)`."))
        learners_accept(sock)

    server = BackgroundServer(sel=sel, accept_wrapper=accept_wrapper,
                              service_connection=trial.rebind(service_fn, sel)).start()
    return server, sel


class _Run:
    """What the steps share: the trial, the server and its selector's record, the client of the moment."""

    def __init__(self, trial, server, sel):
        self.trial, self.server, self.sel, self.client = trial, server, sel, None

    def wait(self, condition, what):
        """True once ``condition()`` holds; False if the server stopped first; Wrong after NET_TIMEOUT."""
        deadline = time.monotonic() + NET_TIMEOUT
        while not condition():
            if not self.server.running:
                return False
            if time.monotonic() > deadline:
                raise Wrong(_("Waited {timeout:g} s for {what}.").format(timeout=NET_TIMEOUT, what=what))
            time.sleep(0.005)
        return True

    def settle(self, seconds=0.5):
        """Wait until no connection is registered for EVENT_WRITE, ``seconds`` at most (a loop that
        keeps WRITE waits them all, and :meth:`wakeups` then says so)."""
        deadline = time.monotonic() + seconds
        while any(k.events & selectors.EVENT_WRITE for k in self.server.registered() if k.data is not None):
            if time.monotonic() > deadline or not self.server.running:
                return
            time.sleep(0.005)

    def wait_moving(self, count, target, what):
        """True once ``count()`` reaches ``target``; False if the server stopped first; Wrong once it has
        not moved for :data:`STALL` s (or after :data:`BIG_ECHO` s): progress, not a deadline, on a busy machine."""
        start = last = time.monotonic()
        seen = count()
        while seen < target:
            if not self.server.running:
                return False
            now = time.monotonic()
            if now - last > STALL or now - start > BIG_ECHO:
                raise Wrong(_("Waited {timeout:g} s for {what}.").format(timeout=round(now - start, 1), what=what))
            time.sleep(0.005)
            if (moved := count()) != seen:
                seen, last = moved, time.monotonic()
        return True

    def wakeups(self):
        """How many times select() came back in :data:`IDLE` seconds."""
        before = self.sel.calls
        time.sleep(IDLE)
        return self.sel.calls - before

    def connect(self, rcvbuf=None):
        """A new client; True once the server has registered its connection."""
        self.client = self.trial.connect(self.server.address, rcvbuf=rcvbuf)
        return self.wait(lambda: self.server.connections() == 1, _("the server to register the connection"))

    def close(self):
        """Close the client; True once the server has closed its side."""
        self.client.close()
        return self.wait(lambda: self.server.connections() == 0, _("the server to close the connection"))


def _accepted(run):
    """A client connects: the accepted socket must be non-blocking."""
    if not run.connect():
        return False
    conn = next((k.fileobj for k in run.server.registered() if k.data is not None), None)
    if conn is not None and conn.getblocking():
        raise Wrong(_("The accepted socket is still blocking: a `send()` to a client that is slow to read, "
                       "or one `recv()` too many, would freeze the whole server, every other client "
                       "with it."), hint=_("Keep the tutorial's `conn.setblocking(False)` right after "
                                           "`sock.accept()`."))
    return True


def _idle_client(run):
    """The client sits idle: select() must not keep waking up."""
    n = run.wakeups()
    if n > BUSY:
        raise Wrong(_("select() woke up {n} times in {idle:g} s for one idle client: the connection is "
                       "registered for EVENT_WRITE, and a connected socket is always writable.").format(
                           n=n, idle=IDLE),
                     hint=_("Register a new connection for EVENT_READ only; add EVENT_WRITE with "
                            "`sel.modify(...)` only while data.outb holds bytes."))
    return True


def _echo(run):
    """The client sends b'ping': the echo comes back, and then select() sleeps again."""
    run.client.sendall(b"ping")
    if recv_upto(run.client, 4, until=lambda: not run.server.running) != b"ping":
        if not run.server.running:
            return False
        raise Wrong(_("A client sent b'ping' and got nothing back: the echo waits in data.outb, but "
                       "the connection is not registered for EVENT_WRITE, so service_connection is never "
                       "called to send it."),
                     hint=_("After a recv with data, `sel.modify(sock, selectors.EVENT_READ | "
                            "selectors.EVENT_WRITE, data=data)`."))
    run.settle()  # the loop finishes the pass that sent the echo
    n = run.wakeups()
    if n > BUSY:
        raise Wrong(_("After the echo, select() woke up {n} times in {idle:g} s: the connection stayed "
                       "registered for EVENT_WRITE with nothing to send.").format(n=n, idle=IDLE),
                     hint=_("When data.outb is empty again: `sel.modify(sock, selectors.EVENT_READ, "
                            "data=data)`."))
    return run.close()


def _big_echo(run):
    """A big echo with a small send buffer: send() takes part (on any system: sending_part), the rest must
    wait for EVENT_WRITE."""
    big = bytes(range(256)) * 4096  # 1 MiB
    if not run.connect(rcvbuf=4096):
        return False
    conn = next((k.fileobj for k in run.server.registered() if hasattr(k.data, "outb")), None)
    if conn is not None:  # a small send buffer: send() will take only part of a big echo
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    before = run.sel.bytes_received
    sender = threading.Thread(target=_send_quietly, args=(run.client, big), daemon=True)
    sender.start()
    # The client reads nothing until the server has read all of it: the echo piles up in data.outb, and
    # the send() after the last recv can take only part of it. A server that drops EVENT_WRITE after a
    # partial send never sends the rest. (Waiting on the bytes, not a while: on a busy machine the
    # upload could still be arriving, and its READs would keep asking for WRITE again.)
    if not run.wait_moving(lambda: run.sel.bytes_received - before, len(big),
                           _("the server to read the client's 1 MiB")):
        return False
    if conn is not None:  # whatever the system's buffers would take, its next send() takes only part
        sending_part(conn)
    got = recv_upto(run.client, len(big), timeout=BIG_ECHO, stall=STALL, until=lambda: not run.server.running)
    sender.join(NET_TIMEOUT)
    if not run.server.running:
        return False
    if got != big:
        raise Wrong(_("A client sent 1 MiB and got {got:,} bytes back: when send() takes only part of "
                       "data.outb, the rest must be sent on a later EVENT_WRITE.").format(got=len(got)),
                     hint=_("Keep EVENT_WRITE while data.outb holds bytes; drop it only when it is empty."))
    return run.close()


def _tutorials_clients(run):
    """Two of the tutorial's clients, served to the end."""
    result = run_client(run.server.address, 2, kind="seed", timeout=NET_TIMEOUT)
    if not run.server.running:
        return False
    if not result.finished:
        raise Wrong(_("2 of the tutorial's clients were not served to the end within {timeout:g} s.").format(
            timeout=NET_TIMEOUT))
    return run.wait(lambda: run.server.connections() == 0, _("the server to close the tutorial's clients"))


def _send_quietly(sock, payload):
    with contextlib.suppress(OSError):
        sock.sendall(payload)
