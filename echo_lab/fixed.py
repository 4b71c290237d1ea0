"""The tutorial's server and client with their pitfalls mended.

Same shape as :mod:`echo_lab.seed` (factories returning the tutorial's
functions), so a lesson can put the two side by side.  What changes, and why:

* **WRITE only while there is something to write.**  A connected socket is
  almost always writable, so registering ``EVENT_WRITE`` for its whole life
  makes ``select()`` return at once, forever: a busy loop.  The wanted mask
  is derived from the connection's state after every event (as trio and
  asyncio do) and ``sel.modify`` is called only when it changes.
* **Send at once.**  After a ``recv`` the echo is sent in the same pass;
  ``EVENT_WRITE`` is only for what the kernel would not take yet.
* **Bounded output.**  A client that sends and never reads would make
  ``outb`` grow without limit.  Past ``max_outb`` bytes the server stops
  reading from that client (drops ``EVENT_READ``), so TCP's flow control
  pushes back on the sender.  ``outb`` is a ``bytearray``: ``del outb[:n]``
  is cheap where ``bytes`` slicing copies.
* **One connection's error is that connection's.**  ``ConnectionResetError``
  and friends close that socket only; every other client is served on.
  ``BlockingIOError`` and ``InterruptedError`` are ``OSError`` too, but not
  errors: a READ wake-up can find nothing to read yet (a spurious wake-up),
  and the next ``select()`` tries again.  As asyncio's transports do, they
  are caught first and the connection is left as it is.
* **Half-close.**  When a client shuts down its sending side, whatever is
  still in ``outb`` is sent before the server closes.
* **An idle timeout.**  A client that vanished (its machine switched off or
  unplugged) sends neither FIN nor RST: its socket never becomes readable,
  and a server waiting to read keeps it forever.  A connection that moves no
  byte for ``idle_timeout`` seconds is closed (``service_connection.close_idle``,
  called by :func:`fixed_event_loop`).
* **Restart at once.**  ``SO_REUSEADDR`` lets a new server bind the port
  while the old connections sit in TIME_WAIT.  (On Linux the connections
  keep the option of the socket they came from: after the tutorial's
  server, which does not set it, the port stays taken for about 60 s.)
  Not on Windows, where it would let another socket bind the port the
  server listens on (as ``socket.create_server`` leaves it there); there
  ``SO_EXCLUSIVEADDRUSE`` keeps the port the server's alone.
* **Clean shutdown.**  :func:`close_all` (from :mod:`echo_lab.net`) unregisters and
  closes every socket.
* **The client** checks the result of ``connect_ex`` and the socket's
  ``SO_ERROR`` when the connect completes, reports a failed connection in one
  line, and :func:`fixed_client_loop` gives up after a timeout.
"""

import errno
import os
import selectors
import socket
import time
import types

from .net import close_all, short_repr
from .seed import messages

__all__ = [
    "MAX_OUTB",
    "RECV_SIZE",
    "fixed_listening_socket",
    "fixed_server_functions",
    "fixed_client_functions",
    "fixed_client_loop",
    "fixed_event_loop",
    "IDLE_TIMEOUT",
    "close_all",  # from echo_lab.net: the clean shutdown, as lessons name it here
]

MAX_OUTB = 256 * 1024  # per connection: stop reading from a client past this
RECV_SIZE = 64 * 1024
ACCEPTS_PER_WAKEUP = 64  # accept a burst in one pass, but don't starve the rest
IDLE_TIMEOUT = 300.0  # seconds: a connection that moves no byte for this long is closed

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


def fixed_listening_socket(sel, host, port, print=print, backlog=1024):
    """Like the tutorial's, with ``SO_REUSEADDR`` (Windows: ``SO_EXCLUSIVEADDRUSE``) and a backlog for bursts.

    Returns the socket; the printed address has the real port (for port 0).
    Raises ``OSError`` from ``bind`` after closing the socket.
    """
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((host, port))
        lsock.listen(backlog)
    except BaseException:
        lsock.close()
        raise
    if print:
        print("listening on", lsock.getsockname())
    lsock.setblocking(False)
    sel.register(lsock, READ, data=None)
    return lsock


def _send(sock, payload):
    """Send what the kernel takes now; 0 when its buffer is full (wait for EVENT_WRITE)."""
    try:
        return sock.send(payload)
    except (BlockingIOError, InterruptedError):
        return 0


def fixed_server_functions(sel, print=print, max_outb=MAX_OUTB, recv_size=RECV_SIZE, print_error=None):
    """Return ``(accept_wrapper, service_connection)`` for the fixed server.

    ``print=None`` prints nothing (for benchmarks).  Errors on one
    connection (any ``OSError`` but ``BlockingIOError`` and
    ``InterruptedError``, which only mean "not now") close that connection
    and are printed as one line, with ``print_error`` (``print`` by default);
    they never leave ``service_connection``.

    ``service_connection.close_idle(idle_timeout)`` closes the connections that
    have moved no byte for ``idle_timeout`` seconds and returns how many; the
    loop calls it (:func:`fixed_event_loop`).
    """
    print_error = print_error or print

    paused = []  # the listening socket, while accepting is paused for want of fds

    def close(sock, data, *why):
        if print:
            print("closing connection to", data.addr, *why)
        sel.unregister(sock)  # unregister first: a closed socket has no fd to find
        sock.close()
        if paused:  # an fd is free again: accept again
            sel.register(paused.pop(), READ, data=None)

    def accept_wrapper(sock):
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # no more waiting connections
            except OSError as exc:
                if print_error:
                    print_error("accept failed:", exc)
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    # Out of fds. The waiting connection keeps the listening socket
                    # readable, so select() would return at once, forever: stop
                    # watching it until one of our connections closes.
                    sel.unregister(sock)
                    paused.append(sock)
                return  # ECONNABORTED and friends: the next select() retries
            if print:
                print("accepted connection from", addr)
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            data = types.SimpleNamespace(addr=addr, inb=b"", outb=bytearray(), eof=False, last=time.monotonic())
            sel.register(conn, READ, data=data)

    first_recv = min(recv_size, max_outb)  # what a recv may add to an empty outb

    def service_connection(key, mask):
        sock, data = key.fileobj, key.data
        try:
            if key.events == READ:
                # The common case, kept cheap. We ask for READ alone exactly when
                # outb is empty (see `wanted` below), so echo at once, as asyncio's
                # write() does; only what the kernel would not take waits in outb.
                recv_data = sock.recv(first_recv)
                data.last = time.monotonic()
                if not recv_data:
                    data.eof = True  # the client sent all it will send
                else:
                    if print:
                        print("echoing", short_repr(recv_data), "to", data.addr)
                    sent = _send(sock, recv_data)
                    if sent == len(recv_data):
                        return  # all sent, and the mask stays READ
                    data.outb += recv_data[sent:]
            else:  # something is waiting in outb
                data.last = time.monotonic()
                if mask & READ:
                    room = max_outb - len(data.outb)  # never more: outb stays within max_outb
                    recv_data = sock.recv(recv_size if room > recv_size else room)
                    if recv_data:
                        data.outb += recv_data
                    else:
                        data.eof = True
                if print:
                    print("echoing", short_repr(data.outb), "to", data.addr)
                del data.outb[:_send(sock, data.outb)]
        except (BlockingIOError, InterruptedError):
            return  # woken with nothing to read after all: nothing changed, select() again
        except OSError as exc:  # reset, broken pipe...: this connection only
            if print_error:
                print_error("error on connection to", data.addr, f"{type(exc).__name__}: {exc}")
            close(sock, data)
            return
        if data.eof and not data.outb:
            close(sock, data)
            return
        # Derive the mask we want from the state; call the OS only on change.
        wanted = (READ if not data.eof and len(data.outb) < max_outb else 0) | (
            WRITE if data.outb else 0
        )
        if wanted != key.events:
            sel.modify(sock, wanted, data=data)

    def close_idle(idle_timeout):
        since = time.monotonic() - idle_timeout
        idle = [key for key in list(sel.get_map().values())
                if key.data is not None and getattr(key.data, "last", since) < since]
        for key in idle:
            close(key.fileobj, key.data, f"(idle for {idle_timeout:g} s)")
        return len(idle)

    service_connection.close_idle = close_idle
    return accept_wrapper, service_connection


def fixed_event_loop(sel, accept_wrapper, service_connection, idle_timeout=IDLE_TIMEOUT):
    """The tutorial's loop, which also closes connections idle for ``idle_timeout`` seconds.

    ``select()`` waits at most a quarter of ``idle_timeout``, so an idle
    connection goes within 1.25 times it; ``None`` (or a ``service_connection``
    without ``close_idle``) keeps every connection, as the tutorial's loop does.
    """
    close_idle = getattr(service_connection, "close_idle", None) if idle_timeout else None
    wait = idle_timeout / 4 if close_idle else None
    next_sweep = time.monotonic() + (wait or 0)
    while True:
        for key, mask in sel.select(timeout=wait):
            if key.data is None:
                accept_wrapper(key.fileobj)
            else:
                service_connection(key, mask)
        if close_idle and time.monotonic() >= next_sweep:
            close_idle(idle_timeout)
            next_sweep = time.monotonic() + wait


def fixed_client_functions(sel, messages=messages, print=print, failures=None, print_error=None):
    """Return ``(start_connections, service_connection)`` for the fixed client.

    A connection that fails (refused, reset, unknown host) is printed as
    ``connection N failed: ...`` (with ``print_error``, ``print`` by
    default), closed, and appended to ``failures`` (a list of
    ``(connid, exception)``) when one is given.
    """
    print_error = print_error or print

    def fail(connid, exc, sock=None):
        if print_error:
            print_error("connection", connid, "failed:", exc)
        if failures is not None:
            failures.append((connid, exc))
        if sock is not None:
            if sock in sel.get_map():  # the fd is still open: unregister works
                sel.unregister(sock)
            sock.close()

    def start_connections(host, port, num_conns):
        server_addr = (host, port)
        for i in range(0, num_conns):
            connid = i + 1
            if print:
                print("starting connection", connid, "to", server_addr)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                err = sock.connect_ex(server_addr)
            except OSError as exc:  # socket.gaierror: unknown host
                fail(connid, exc, sock)
                continue
            if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                fail(connid, OSError(err, os.strerror(err)), sock)
                continue
            data = types.SimpleNamespace(
                connid=connid,
                msg_total=sum(len(m) for m in messages),
                recv_total=0,
                messages=list(messages),
                outb=b"",
                connected=False,
            )
            # WRITE tells us when the connect has finished (or failed).
            sel.register(sock, READ | WRITE, data=data)

    def service_connection(key, mask):
        sock, data = key.fileobj, key.data
        try:
            if not data.connected:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                data.connected = True
            if mask & READ:
                recv_data = sock.recv(RECV_SIZE)
                if recv_data:
                    if print:
                        print("received", short_repr(recv_data), "from connection", data.connid)
                    data.recv_total += len(recv_data)
                if not recv_data or data.recv_total >= data.msg_total:
                    if print:
                        print("closing connection", data.connid)
                    sel.unregister(sock)
                    sock.close()
                    return
            if mask & WRITE:
                if not data.outb and data.messages:
                    data.outb = data.messages.pop(0)
                if data.outb:
                    if print:
                        print("sending", short_repr(data.outb), "to connection", data.connid)
                    sent = sock.send(data.outb)
                    data.outb = data.outb[sent:]
        except (BlockingIOError, InterruptedError):
            return  # not ready after all: nothing changed, select() again
        except OSError as exc:
            fail(data.connid, exc, sock)
            return
        if not data.outb and not data.messages and key.events & WRITE:
            sel.modify(sock, READ, data=data)  # all sent: wait for the echo only

    return start_connections, service_connection


def fixed_client_loop(sel, service_connection, timeout=10.0, print=print):
    """Serve the client's sockets until all are closed or ``timeout`` s pass.

    Returns the number of connections still open when it gave up (0 when
    all finished); those are closed, and ``sel`` too.
    """
    deadline = time.monotonic() + timeout
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                if print:
                    print(
                        f"gave up after {timeout:g} s: {len(sel.get_map())} connection(s)"
                        " still waiting for the server"
                    )
                return len(sel.get_map())
            # at most a minute per wait: epoll cannot wait weeks at once
            for key, mask in sel.select(timeout=min(left, 60.0)):
                service_connection(key, mask)
        return 0
    finally:
        close_all(sel)
