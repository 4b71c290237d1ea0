"""Command line: the tutorial's two scripts, and the fixed versions.

    python -m echo_lab server <host> <port> [--fixed]
    python -m echo_lab client <host> <port> <num_connections> [--fixed] [--timeout S]
    python -m echo_lab bench [--quick]     (see echo_lab.bench)

``server`` is ``multiconn-server.py`` and ``client`` is ``multiconn-client.py``:
same arguments, same usage lines, same transcript.  Everything that can go
wrong from outside (a bad argument, a port in use, an unknown host, a
refused connection, Ctrl-C) ends in one clear line and an exit status,
never a traceback.
"""

import argparse
import selectors
import socket
import sys
import time

from . import fixed, seed

USAGE = {
    "server": "usage: python -m echo_lab server <host> <port> [--fixed]",
    "client": "usage: python -m echo_lab client <host> <port> <num_connections> [--fixed] [--timeout S]",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake prints the tutorial's usage line and exits 1."""

    def error(self, message):
        print(self.usage, file=sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(1)


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


def _parser(command):
    p = _Parser(prog=f"python -m echo_lab {command}", usage=USAGE[command])
    p.add_argument("host")
    p.add_argument("port", type=_port)
    if command == "client":
        p.add_argument("num_connections", type=_count)
        p.add_argument("--timeout", type=float, default=None,
                       help="give up after this many seconds (fixed client: 10 by default)")
    p.add_argument("--fixed", action="store_true", help="run the fixed version instead of the tutorial's")
    return p


def _oneline(exc):
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    return f"{type(exc).__name__}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)


def serve(host, port, use_fixed=False):
    """Run the server in the foreground until Ctrl-C. Returns an exit status."""
    if not fixed.is_loopback(host):
        print(f"warning: listening on {host}: this echo server will accept anyone who can reach "
              "that address", file=sys.stderr)
    sel = selectors.DefaultSelector()
    make_socket = fixed.fixed_listening_socket if use_fixed else seed.listening_socket
    functions = fixed.fixed_server_functions if use_fixed else seed.server_functions
    try:  # one try from the first line printed: Ctrl-C at any moment ends cleanly
        try:
            make_socket(sel, host, port)
        except OSError as exc:
            print(f"cannot listen on {(host, port)}: {_oneline(exc)}", file=sys.stderr)
            return 1
        accept_wrapper, service_connection = functions(sel)
        seed.event_loop(sel, accept_wrapper, service_connection)
    except KeyboardInterrupt:
        print("caught keyboard interrupt, exiting")
        return 0
    except OSError as exc:
        print(f"server stopped: {_oneline(exc)} (the tutorial's server has no per-connection "
              "error handling; --fixed has)", file=sys.stderr)
        return 1
    finally:
        fixed.close_all(sel)


def connect(host, port, num_connections, use_fixed=False, timeout=None):
    """Run the client to completion. Returns an exit status."""
    sel = selectors.DefaultSelector()
    try:
        if use_fixed:
            failures = []
            start_connections, service_connection = fixed.fixed_client_functions(sel, failures=failures)
            start_connections(host, port, num_connections)
            left = fixed.fixed_client_loop(sel, service_connection, timeout=timeout or 10.0)
            return 1 if failures or left else 0
        start_connections, service_connection = seed.client_functions(sel)
        start_connections(host, port, num_connections)
        if timeout is None:
            seed.client_loop(sel, service_connection)
            return 0
        deadline = time.monotonic() + timeout
        seed.client_loop(sel, service_connection, keep_going=lambda: time.monotonic() < deadline)
        if sel.get_map():
            print(f"gave up after {timeout:g} s", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        print("caught keyboard interrupt, exiting")
        return 130
    except OSError as exc:
        print(f"client stopped: {_oneline(exc)} (is the server running at {(host, port)}?)",
              file=sys.stderr)
        return 1
    finally:
        if sel.get_map() is not None:
            fixed.close_all(sel)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    sys.stdout.reconfigure(line_buffering=True)  # transcript lines appear as they happen
    commands = ", ".join([*USAGE, "bench"])
    if argv and argv[0] == "bench":
        from . import bench
        return bench.main(argv[1:])
    if not argv or argv[0] not in USAGE:
        print("usage: python -m echo_lab {server,client,bench} ...", file=sys.stderr)
        print(f"commands: {commands}", file=sys.stderr)
        return 1
    command, rest = argv[0], argv[1:]
    args = _parser(command).parse_args(rest)
    if command == "server":
        return serve(args.host, args.port, args.fixed)
    return connect(args.host, args.port, args.num_connections, args.fixed, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
