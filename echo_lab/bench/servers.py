"""The competing echo servers, each run in its own process by :class:`~echo_lab.bench.measuring.Server`.

``SERVERS`` maps a name to a function that listens on 127.0.0.1 (any free
port), calls ``lsock_port(port)`` once listening, and serves until killed:
the tutorial's selectors loop (``seed``) and the mended one (``fixed``), a
thread per connection, and asyncio (a ``Protocol``, streams, uvloop).
"""

import asyncio
import contextlib
import selectors
import signal
import socket
import threading

from .. import fixed, seed
from .measuring import SERVER_CPU, pin, raise_fd_limit

__all__ = ["MAX_SERVER_LIFE", "SERVERS", "serve_forever", "uvloop_installed"]

MAX_SERVER_LIFE = 900  # seconds: a server left behind by a crash ends itself


def _selectors(kind):
    def run(lsock_port):
        sel = selectors.DefaultSelector()
        if kind == "seed":
            lsock = seed.listening_socket(sel, "127.0.0.1", 0, print=lambda *a: None)
            lsock.listen(1024)
            accept_wrapper, service_connection = seed.server_functions(sel, print=lambda *a: None)
        else:
            lsock = fixed.fixed_listening_socket(sel, "127.0.0.1", 0, print=None)
            accept_wrapper, service_connection = fixed.fixed_server_functions(sel, print=None)
        lsock_port(lsock.getsockname()[1])
        seed.event_loop(sel, accept_wrapper, service_connection)
    return run


class _EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def _echo_stream(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the load client resets its connections when a run ends
    finally:
        writer.close()


def _asyncio(kind):
    def run(lsock_port):
        if kind == "uvloop-protocol":
            import uvloop
            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        if kind == "asyncio-streams":
            server = loop.run_until_complete(asyncio.start_server(_echo_stream, "127.0.0.1", 0, backlog=1024))
        else:
            server = loop.run_until_complete(loop.create_server(_EchoProtocol, "127.0.0.1", 0, backlog=1024))
        lsock_port(server.sockets[0].getsockname()[1])
        loop.run_forever()
    return run


def _threads(lsock_port):
    lsock = socket.create_server(("127.0.0.1", 0), backlog=1024)
    lsock_port(lsock.getsockname()[1])

    def serve(conn):
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    threading.stack_size(256 * 1024)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


SERVERS = {
    "fixed": _selectors("fixed"),
    "seed": _selectors("seed"),
    "threads": _threads,
    "asyncio-protocol": _asyncio("asyncio-protocol"),
    "asyncio-streams": _asyncio("asyncio-streams"),
    "uvloop-protocol": _asyncio("uvloop-protocol"),
}


def uvloop_installed():
    try:
        import uvloop  # noqa: F401
        return True
    except ImportError:
        return False


def serve_forever(kind):
    """Entry point of a server process: print the port, serve until killed."""
    raise_fd_limit()
    pin(SERVER_CPU)
    signal.alarm(MAX_SERVER_LIFE)
    with contextlib.suppress(OSError):  # e.g. the seed design dies when a load client resets: the run is over anyway
        SERVERS[kind](lambda port: print(port, flush=True))
