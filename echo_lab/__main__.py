"""Command line: the tutorial's two scripts, and the fixed versions.

    python -m echo_lab server <host> <port> [--fixed] [--idle-timeout S]
    python -m echo_lab client <host> <port> <num_connections> [--fixed] [--timeout S]
    python -m echo_lab bench [--quick]     (see echo_lab.bench)

``server`` is ``multiconn-server.py`` and ``client`` is ``multiconn-client.py``:
same arguments, same usage lines, same transcript.  Everything that can go
wrong from outside (a bad argument, a port in use, an unknown host, a
refused connection, Ctrl-C) ends in one clear line and an exit status,
never a traceback.  The transcript goes to stdout, every error to stderr.
A missing argument prints the usage line alone and exits 1, as the
tutorial's scripts do; any other mistake in the arguments is one
``error:`` line and exits 2, argparse's status for a usage error.
"""

import argparse
import gettext
import math
import selectors
import socket
import sys
import time

from . import fixed, net, seed

USAGE = {
    "server": "usage: python -m echo_lab server <host> <port> [--fixed] [--idle-timeout S]",
    "client": "usage: python -m echo_lab client <host> <port> <num_connections> [--fixed] [--timeout S]",
}
COMMANDS = ("server", "client", "bench")
USAGE_ALL = "usage: python -m echo_lab {server,client,bench} ..."

# argparse's message for missing positional arguments, as argparse itself translates it
_MISSING = gettext.gettext("the following arguments are required: %s").split("%s")[0]


def _eprint(*args):
    """Errors and warnings: stderr, in both modes (the transcript is stdout's)."""
    print(*args, file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse, with the tutorial's manners: a missing argument prints the usage
    line alone and exits 1; any other mistake is one ``error:`` line, exit 2."""

    def error(self, message):
        if message.startswith(_MISSING):
            self.exit(1, self.format_usage())
        self.exit(2, f"error: {message}\n")


def _port(text):
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number from 0 to 65535, not {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be a number from 0 to 65535, not {port}")
    return port


def _count(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"num_connections must be a whole number of 1 or more, not {text!r}")
    return n


def _seconds(text, what="timeout"):
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:  # nan fails both comparisons
        raise argparse.ArgumentTypeError(f"{what} must be a finite number of seconds above 0, not {text!r}")
    return seconds


def _parser(command):
    p = _Parser(prog=f"python -m echo_lab {command}", usage=USAGE[command].removeprefix("usage: "))
    p.add_argument("host")
    p.add_argument("port", type=_port)
    if command == "client":
        p.add_argument("num_connections", type=_count)
        p.add_argument("--timeout", type=_seconds, default=None, metavar="S",
                       help="give up after S seconds (fixed client: 10 by default)")
    p.add_argument("--fixed", action="store_true", help="run the fixed version instead of the tutorial's")
    if command == "server":
        p.add_argument("--idle-timeout", type=lambda text: _seconds(text, "the idle timeout"), default=None,
                       metavar="S", help="fixed server: close a connection that moves no byte for S seconds "
                       f"(default {fixed.IDLE_TIMEOUT:g})")
    return p


def _oneline(exc):
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, UnicodeError):  # a name the resolver cannot even encode ('a..b')
        return f"unknown host ({exc})"
    return f"{type(exc).__name__}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)


def _bind_address(host, port):
    """The IPv4 address that binding ``(host, port)`` uses; ``socket.gaierror`` for an unknown host."""
    if host == "":  # bind's name for every interface
        return "0.0.0.0"
    return socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]


WAKE = 0.5  # seconds: the longest one select() call of the server waits on Windows


class WakingSelector(selectors.DefaultSelector):
    """A selector whose ``select()`` waits in calls of at most :data:`WAKE` seconds, and goes on waiting
    until something is ready or its own timeout is over.

    Windows' ``select()`` cannot be interrupted: Ctrl-C would wait for the server's next event.  Between
    two calls Python takes the Ctrl-C, so there the server stops within half a second.
    """

    def select(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WAKE if end is None else max(0.0, min(WAKE, end - time.monotonic()))
            ready = super().select(left)
            if ready or (end is not None and time.monotonic() >= end):
                return ready


def serve(host, port, use_fixed=False, idle_timeout=None):
    """Run the server in the foreground until Ctrl-C. Returns an exit status.

    The fixed server closes a connection idle for ``idle_timeout`` seconds (default
    ``fixed.IDLE_TIMEOUT``); the tutorial's keeps every connection.  On Windows its
    selector wakes twice a second, so that Ctrl-C stops it (:class:`WakingSelector`).
    """
    sel = WakingSelector() if sys.platform == "win32" else selectors.DefaultSelector()
    make_socket = fixed.fixed_listening_socket if use_fixed else seed.listening_socket
    try:  # one try from the first line printed: Ctrl-C at any moment ends cleanly
        try:  # resolve first: an unknown host gets its error, and no warning
            address = _bind_address(host, port)
            if not net.is_loopback(address):
                shown = host if address == host else f"{host} ({address})"
                _eprint(f"warning: listening on {shown}: this echo server will accept anyone "
                        "who can reach that address")
            make_socket(sel, host, port)
        except (OSError, UnicodeError) as exc:
            _eprint(f"cannot listen on {(host, port)}: {_oneline(exc)}")
            return 1
        if use_fixed:
            accept_wrapper, service_connection = fixed.fixed_server_functions(sel, print_error=_eprint)
            fixed.fixed_event_loop(sel, accept_wrapper, service_connection, idle_timeout or fixed.IDLE_TIMEOUT)
        else:
            accept_wrapper, service_connection = seed.server_functions(sel)
            seed.event_loop(sel, accept_wrapper, service_connection)
    except KeyboardInterrupt:
        print("caught keyboard interrupt, exiting")
        return 0
    except OSError as exc:
        _eprint(f"server stopped: {_oneline(exc)} (the tutorial's server has no per-connection "
                "error handling; --fixed has)")
        return 1
    finally:
        net.close_all(sel)


def connect(host, port, num_connections, use_fixed=False, timeout=None):
    """Run the client to completion. Returns an exit status."""
    sel = selectors.DefaultSelector()
    try:
        if use_fixed:
            failures = []
            start_connections, service_connection = fixed.fixed_client_functions(
                sel, failures=failures, print_error=_eprint)
            start_connections(host, port, num_connections)
            left = fixed.fixed_client_loop(sel, service_connection, print=_eprint,
                                           timeout=10.0 if timeout is None else timeout)
            return 1 if failures or left else 0
        start_connections, service_connection = seed.client_functions(sel)
        start_connections(host, port, num_connections)
        if timeout is None:
            seed.client_loop(sel, service_connection)
            return 0
        deadline = time.monotonic() + timeout
        seed.client_loop(sel, service_connection, keep_going=lambda: time.monotonic() < deadline)
        if sel.get_map():
            _eprint(f"gave up after {timeout:g} s")
            return 1
        return 0
    except KeyboardInterrupt:
        print("caught keyboard interrupt, exiting")
        return 130
    except (OSError, UnicodeError) as exc:
        # A hint about the server only where the server is the likely cause.
        hint = (f" (is the server running at {(host, port)}?)"
                if isinstance(exc, (ConnectionRefusedError, TimeoutError)) else "")
        _eprint(f"client stopped: {_oneline(exc)}{hint}")
        return 1
    finally:
        if sel.get_map() is not None:
            net.close_all(sel)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    sys.stdout.reconfigure(line_buffering=True)  # transcript lines appear as they happen
    if argv and argv[0] == "bench":
        from . import bench
        return bench.main(argv[1:])
    if not argv:
        _eprint(USAGE_ALL)
        return 1
    if argv[0] in ("-h", "--help"):
        lines = [*USAGE.values(), "usage: python -m echo_lab bench [--quick] [...]"]
        print(*(line.replace("usage:", "      ", 1) if i else line for i, line in enumerate(lines)),
              "each command takes --help", sep="\n")
        return 0
    if argv[0] not in USAGE:
        _eprint(f"error: unknown command {argv[0]!r}: choose from {', '.join(COMMANDS)}")
        return 2
    command, rest = argv[0], argv[1:]
    args = _parser(command).parse_args(rest)
    if command == "server":
        if args.idle_timeout is not None and not args.fixed:
            _eprint("error: --idle-timeout needs --fixed: the tutorial's server keeps every connection")
            return 2
        return serve(args.host, args.port, args.fixed, args.idle_timeout)
    return connect(args.host, args.port, args.num_connections, args.fixed, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
