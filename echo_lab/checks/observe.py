"""What several checks look at: sockets, the selector's record, a background server.

Shared by the checks of the listening socket (``listening``: 01, 02), of
the server (``server_functions``, ``event_loop``), of the client
(``client_functions``) and of the bug hunt: waiting until a socket is ready or
some bytes came (never longer than :data:`NET_TIMEOUT`), reading from the
:class:`Recorder` what happened to a socket (was it unregistered, then
closed?), serving the tutorial's clients with the learner's handlers on a
:class:`BackgroundServer` (whose ``stop()`` is bounded), and the words a
message uses for an event mask.
"""

import errno
import selectors
import socket
import time

from .. import seed
from ..i18n import _
from ..run.background import BackgroundServer
from ..run.client import run_client
from ..watch.recorder import Recorder, mask_name
from .tracebacks import learner_frames
from .trial import HOST, NET_TIMEOUT, READ, WRITE, Wrong

__all__ = ["PART", "blocking_hint", "check_closed", "events_of", "expect_return", "is_registered", "mask_words",
           "recv_upto", "reference_client", "reference_server", "sending_part", "serve_clients", "wait_key"]

PART = 4096  # bytes: the most a send() takes once a check has called sending_part()


def mask_words(mask):
    """'EVENT_READ only', 'EVENT_WRITE only', 'EVENT_READ | EVENT_WRITE', or 'events=N' for any other N."""
    words = mask_name(mask, code=True)
    return _("{mask} only").format(mask=words) if mask in (READ, WRITE) else words


def _recv_only_on_read():
    """The hint for a recv on EVENT_WRITE only: the server's and the client's service_connection both get it."""
    return _("With mask EVENT_WRITE only there may be nothing to read: call `sock.recv` only "
             "`if mask & selectors.EVENT_READ:`.")


def _no_sendall():
    return _("`sendall` on a non-blocking socket raises BlockingIOError as soon as the send buffer is "
             "full, and the bytes it had sent are lost from view. Use `sent = sock.send(data.outb)`, "
             "which sends what fits, and keep the rest: `data.outb = data.outb[sent:]`.")


def blocking_hint(error):
    """The hint for a BlockingIOError raised by a service_connection: which call raised it?"""
    frames = learner_frames(error)
    line = frames[-1].line if frames else ""
    if "sendall" in line:
        return _no_sendall()
    if ".send(" in line:
        return _("`send` raised BlockingIOError: the send buffer is full. Send only on EVENT_WRITE, and "
                 "keep what was not sent in data.outb.")
    return _recv_only_on_read()


def sending_part(sock):
    """``sock``'s next ``send`` takes at most :data:`PART` bytes of what it is given (``sendall`` raises
    ``BlockingIOError`` after them), as a full send buffer makes it do: a partial send on every system.

    Linux's non-blocking ``send()`` takes only part of 1 MiB by itself once the send buffer is small;
    Windows' may take all of it at once (it keeps what a send is given), and a server that loses the rest
    would pass.  After that call ``sock`` is as it was (a socket a Recorder watches is still recorded).
    """
    watched = type(sock)

    def send(self, data, *flags):
        self.__class__ = watched
        return watched.send(self, data[:PART], *flags)

    def sendall(self, data, *flags):
        self.__class__ = watched
        if watched.send(self, data[:PART], *flags) < len(data):
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    sock.__class__ = type(watched.__name__, (watched,), {"__slots__": (), "__module__": watched.__module__,
                                                         "send": send, "sendall": sendall})


def wait_key(sel, sock, bits, timeout=NET_TIMEOUT):
    """Select on ``sel`` until ``sock`` is ready for one of ``bits``; return its key (a recording one).

    Raises Wrong if the learner's code closed or unregistered ``sock`` (so it can never be ready),
    or if it was not ready within ``timeout``.
    """
    if sock.fileno() == -1:
        raise Wrong(_("Your code closed a connection that was still open: the client had not closed it, "
                       "and the check could not go on with it."),
                     hint=_("Close a connection only when `recv` returns b'' (the other side closed), or, "
                            "in the client, when every byte has come back."))
    if not is_registered(sel, sock):
        raise Wrong(_("Your code unregistered a connection that was still open: `sel` would never report "
                       "it again."), hint=_("Unregister a connection only when you close it."))
    deadline = time.monotonic() + timeout
    fd = sock.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Wrong(_("A connection registered in `sel` was not reported ready for "
                           "{events} within {timeout:g} s.").format(events=mask_name(bits, code=True), timeout=timeout),
                         hint=_("Keep the connection registered for the events it waits for: "
                                "`selectors.EVENT_READ | selectors.EVENT_WRITE`."))
        for key, mask in sel.select(timeout=left):
            if key.fd == fd and mask & bits:
                return key


def recv_upto(sock, n, timeout=NET_TIMEOUT, until=None, stall=None):
    """Receive until ``n`` bytes, end of file, ``timeout``, ``until()``, or (if given) ``stall``
    seconds without a byte; return what came."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    sock.settimeout(0.05)
    while len(got) < n and time.monotonic() < deadline and not (until and until()):
        if stall is not None and time.monotonic() - last > stall:
            break
        try:
            chunk = sock.recv(n - len(got))
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        got += chunk
        last = time.monotonic()
    sock.settimeout(NET_TIMEOUT)
    return bytes(got)


def events_of(sel, fd, since, kinds):
    return [e.kind for e in sel.events()[since:] if e.fd == fd and e.kind in kinds]


def is_registered(sel, sock):
    """Is ``sock`` (open or closed) in ``sel``?"""
    return any(key.fileobj is sock for key in list(sel.get_map().values()))


def check_closed(sel, sock, fd, since, why):
    """The socket must have been unregistered, then closed, in the events after ``since``."""
    order = events_of(sel, fd, since, ("unregister", "close"))
    registered = is_registered(sel, sock)
    closed = sock.fileno() == -1
    unregister_first = _("Unregister first: `sel.unregister(sock)`, then `sock.close()`.")
    if order[:2] == ["close", "unregister"]:
        raise Wrong(_("{why}, it closed the socket before unregistering it.").format(why=why),
                     hint=_("A closed socket has no file descriptor left for the selector to look up; "
                            "on some systems `sel.unregister` then fails. {unregister_first}").format(
                                unregister_first=unregister_first))
    if closed and registered:
        raise Wrong(_("{why}, it closed the socket but did not unregister it: `sel` still holds it.").format(
                         why=why),
                     hint=_("The selector would keep a dead socket. {unregister_first}").format(
                         unregister_first=unregister_first))
    if not closed and not registered:
        raise Wrong(_("{why}, it unregistered the socket but did not close it: the connection stays "
                       "open.").format(why=why), hint=_("After `sel.unregister(sock)`, call `sock.close()`."))
    if not closed:
        raise Wrong(_("{why}, it neither unregistered nor closed the socket: it stays registered and "
                       "open.").format(why=why),
                     hint=unregister_first)


def serve_clients(trial, make_handlers, clients=2):
    """Run a BackgroundServer with ``make_handlers(sel)`` and ``clients`` of the tutorial's clients.

    Raises Wrong if the clients are not all echoed and closed within the timeouts.
    """
    sel = Recorder(selectors.DefaultSelector())  # the server closes it, and its sockets, at stop()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind((HOST, 0))
    lsock.listen()
    lsock.setblocking(False)
    sel.register(lsock, READ, data=None)
    accept_wrapper, service_connection = make_handlers(sel)
    server = BackgroundServer(sel=sel, accept_wrapper=accept_wrapper,
                              service_connection=service_connection).start()
    problem = error = None
    try:
        result = run_client(server.address, clients, kind="fixed", timeout=NET_TIMEOUT)
        if not result.finished:
            problem = _("Served by a background server, {clients} of the tutorial's clients did not "
                        "get their messages echoed within {timeout:g} s.").format(clients=clients,
                                                                                   timeout=NET_TIMEOUT)
        else:
            server.wait_idle(timeout=NET_TIMEOUT)
    except TimeoutError:
        problem = _("Served by a background server, the {clients} clients got their echo and closed, "
                    "but the server still had connections registered.").format(clients=clients)
    except BaseException as exc:  # the loop's error, raised by wait_idle
        error = exc
    finally:
        try:
            server.stop()
        except BaseException as exc:  # the learner's error, kept by the server thread
            error = error or exc
    if error is not None:
        trial.learner_error(error, _("While serving clients, your code"),
                            on_error={BlockingIOError: blocking_hint})
    if problem:
        raise Wrong(problem)


def reference_server(trial, sel):
    return seed.server_functions(sel, print=trial.print)


def reference_client(trial, sel):
    return seed.client_functions(sel, print=trial.print)


def expect_return(value, what, name):
    if value is None:
        raise Wrong(_("{name} returned None: did you forget a `return`?").format(name=name),
                     hint=_("Return {what}.").format(what=what))
