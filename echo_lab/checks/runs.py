"""What an exercise's "Run it" cell shows: the learner's code at work, in numbers, and its errors
the way the checks show them.

A run cell does not grade: the check cell does.  But what it prints must be
true of the learner's code, and must not read as a verdict that the check
then contradicts.  So the run cells print what happened, in numbers (bytes
sent and echoed, connections left open), never a bare ``True``; and an
exception from the learner's code is shown as a check shows it: the
learner's own lines (not ``echo_lab``'s, not Python's ``socket.py``) and one
line on what it means (:func:`~echo_lab.checks.tracebacks.show_error`)::

    from echo_lab.checks import run_tutorial_client, serve_tutorial_clients, show_error

    serve_tutorial_clients(sel, accept_wrapper, service_connection)   # a server exercise (01-05)
    run_tutorial_client(sel, start_connections, service_connection)   # a client exercise (06, 07)

    try:
        ...
    except Exception as error:
        show_error(error)

Both runners are bounded: the clients give up after ``timeout`` seconds and
the server is always stopped.  A transcript is cut to its first
:data:`LOG_LINES` lines: a loop gone wrong can print thousands.  A learner's
client function that never returns runs in the cell itself: Kernel ->
Interrupt stops it.
"""

import contextlib
import io
import selectors

from .. import seed
from ..i18n import _
from ..run.background import BackgroundServer
from ..run.client import run_client
from ..watch.recorder import Recorder
from .tracebacks import error_line, error_meaning, show_error

__all__ = ["LOG_LINES", "run_tutorial_client", "serve_tutorial_clients"]

LOG_LINES = 20  # lines of a transcript a run cell prints


def _print_lines(lines, limit=LOG_LINES, dropped=False, more=0):
    if dropped:
        print(_("(more than {count:,} lines were printed: only the last {count:,} are kept)").format(
            count=len(lines)))
    for line in lines[:limit]:
        print(line)
    more += max(0, len(lines) - limit)
    if more:
        print(_("... and {more:,} more lines").format(more=more))


def _bytes(n):
    return (_("{n:,} byte") if n == 1 else _("{n:,} bytes")).format(n=n)


def serve_tutorial_clients(sel, accept_wrapper, service_connection, clients=2, timeout=2.0):
    """Serve ``clients`` of the tutorial's clients with these handlers, then print what happened.

    ``sel`` is the selector the handlers use, with a listening socket registered
    (``data=None``).  The loop runs on a :class:`BackgroundServer`; the clients run
    here, for at most ``timeout`` seconds.  Prints the server's transcript (its
    first :data:`LOG_LINES` lines), the bytes the clients sent and got back, the
    connections left open, and an error of your code the way the checks show it.
    """
    try:
        server = BackgroundServer(sel=sel, accept_wrapper=accept_wrapper, service_connection=service_connection)
    except Exception as exc:  # no listening socket in sel, say
        show_error(exc)
        return
    client_sel = Recorder(selectors.DefaultSelector())
    start_connections, client_service = seed.client_functions(client_sel, print=lambda *args: None)
    started = []  # each connection's data: the tutorial's client counts what it sent and received

    def start(host, port, num_conns):
        start_connections(host, port, num_conns)
        started.extend(key.data for key in client_sel.get_map().values())

    result = client_error = server_error = None
    still_open = 0
    server.start()
    try:
        result = run_client(server.address, clients, sel=client_sel, start_connections=start,
                            service_connection=client_service, timeout=timeout)
        server.wait_idle(timeout=timeout)
    except TimeoutError:
        still_open = server.connections()
    except Exception as exc:  # the clients' error (connection refused), or the loop's (from wait_idle)
        if result is None:
            client_error = exc
        else:
            server_error = exc
    finally:
        try:
            server.stop()
        except Exception as exc:  # the loop's error (your code's), if wait_idle did not raise it
            server_error = server_error or exc
    if isinstance(server_error, NotImplementedError):
        show_error(server_error)
        return
    _print_lines(list(server.log), dropped=len(server.log) == server.log.maxlen)
    gave_up = result is not None and result.timed_out
    if started:  # counted by the tutorial's client, also when it stopped on an error
        sent = sum(d.msg_total - sum(map(len, d.messages)) - len(d.outb) for d in started)
        received = sum(d.recv_total for d in started)
        if gave_up:
            line = _("the {clients} clients sent {sent} and got {received} back; after {timeout:g} s they "
                     "gave up waiting, with connections still open")
        else:
            line = _("the {clients} clients sent {sent} and got {received} back")
        print(line.format(clients=clients, sent=_bytes(sent), received=_bytes(received), timeout=timeout))
    if still_open:
        print(_("{count} connection(s) still registered in the server {timeout:g} s after the clients "
                "had closed theirs").format(count=still_open, timeout=timeout))
    if server_error is not None:
        show_error(server_error, gave_up=gave_up)
    if client_error is not None:
        print(_("The tutorial's client stopped: {error}").format(error=error_line(client_error)) + "\n"
              + _("What it means: {meaning}").format(meaning=error_meaning(client_error)))


class _Lines(io.TextIOBase):
    """A stream that keeps the first ``keep`` lines written to it and counts the others."""

    def __init__(self, keep):
        self.keep, self.lines, self.more, self.partial = keep, [], 0, ""

    def write(self, text):
        *complete, self.partial = (self.partial + text).split("\n")
        for line in complete:
            if len(self.lines) < self.keep:
                self.lines.append(line)
            else:
                self.more += 1
        return len(text)

    def done(self):
        if self.partial:
            self.write("\n")
        return self.lines, self.more


def run_tutorial_client(sel, start_connections, service_connection, connections=2, timeout=2.0):
    """Run the tutorial's client with these functions against the tutorial's server; print what happened.

    ``sel`` is the selector the functions use.  The client runs here, for at most
    ``timeout`` seconds; the server runs on a :class:`BackgroundServer`.  Prints the
    client's transcript (its first :data:`LOG_LINES` lines), the bytes the connections
    sent and got back, and an error the way the checks show it.
    """
    printed = _Lines(LOG_LINES)
    result = client_error = server_error = None
    server = BackgroundServer("seed").start()
    try:
        with contextlib.redirect_stdout(printed):
            result = run_client(server.address, connections, sel=sel, start_connections=start_connections,
                                service_connection=service_connection, timeout=timeout)
    except Exception as exc:  # your function's error: the client stopped there
        client_error = exc
    finally:  # also when Kernel -> Interrupt stopped a client that never finished
        try:
            server.wait_idle(timeout=timeout)
        except TimeoutError:
            pass  # a connection the client left open: the server closes it when it stops
        except Exception as exc:  # the tutorial's server stopped: a reset from the client, say
            server_error = exc
        finally:
            server.stop(raise_error=False)
    lines, more = printed.done()
    _print_lines(lines, more=more)
    if isinstance(client_error, NotImplementedError):
        show_error(client_error)
        return
    if result is not None:
        if result.timed_out:
            line = _("the {connections} connections sent {sent} and got {received} back; after {timeout:g} s "
                     "the client gave up waiting, with connections still open")
        else:
            line = _("the {connections} connections sent {sent} and got {received} back; the client closed "
                     "them all")
        print(line.format(connections=connections, sent=_bytes(result.sent), received=_bytes(result.received),
                          timeout=timeout))
    if client_error is not None:
        show_error(client_error)
    if server_error is not None:
        meaning = error_meaning(server_error, gave_up=result is not None and result.timed_out)
        print(_("The tutorial's server stopped: {error}").format(error=error_line(server_error)) + "\n"
              + _("What it means: {meaning}").format(meaning=meaning))
