"""Socket helpers the whole package shares: is a host loopback, close a selector's sockets, close with a
reset, show bytes short, one entry per socket from select(), a client that sends and never reads."""

import ipaddress
import socket
import struct
import sys
import time

__all__ = ["LINGER_0", "close_all", "close_with_reset", "flood", "is_loopback", "one_entry_per_socket", "short_repr"]

# SO_LINGER's value, struct linger: two ints on Linux and macOS, two unsigned shorts on Windows (Winsock's u_short
# l_onoff, l_linger).  On: 1; for 0 s: close() drops what is unsent and sends a reset (RST).
LINGER_0 = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)


def is_loopback(host):
    """True for addresses only this machine can reach: 127.0.0.0/8 in any spelling
    ``bind`` takes ('127.0.0.1', '127.1', 'localhost', a name that resolves there) and ::1.

    False for '' (``bind``'s every interface), any other address, and a host
    that does not resolve.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not host:
        return False
    try:  # the servers' sockets are IPv4: bind((host, port)) uses the first IPv4 address
        address = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except (OSError, UnicodeError):
        return False
    return ipaddress.ip_address(address).is_loopback


def close_all(sel):
    """Unregister and close every socket in ``sel``, then close ``sel``."""
    for key in list(sel.get_map().values()):
        sel.unregister(key.fileobj)
        key.fileobj.close()
    sel.close()


def close_with_reset(sock):
    """Close ``sock`` with a reset (RST) instead of an orderly end (FIN): no TIME_WAIT, the peer's next
    ``recv`` raises ``ConnectionResetError``."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
    sock.close()


def short_repr(data, limit=80):
    """``repr(data)``, cut to about ``limit`` characters with the length said."""
    if len(data) <= limit:
        return repr(bytes(data))
    return f"{bytes(data[:limit])!r}... ({len(data)} bytes)"


def one_entry_per_socket(events):
    """``select()``'s ``(key, mask)`` pairs with one pair per socket, its masks OR-ed together.

    Linux's epoll, poll and select report a socket ready for reading and
    writing once, as READ|WRITE.  macOS's and the BSDs' kqueue reports it
    twice, one entry per kernel filter (READ, WRITE, in either order): a loop
    that handles WRITE first finds nothing to send, then READ fills ``outb``,
    and the echo waits for the next pass.  Merged, every system reads alike.
    """
    merged = {}
    for key, mask in events:
        merged[key.fd] = (key, merged.get(key.fd, (key, 0))[1] | mask)
    return list(merged.values())


def flood(sock, total, seconds, *, chunk=lambda offset, size: b"x" * size, stall=None, on_blocked=None):
    """Send up to ``total`` bytes from ``sock`` (made non-blocking) and read nothing: a client that never reads.

    Stops after ``seconds``, or once ``stall`` seconds pass without a byte taken (the peer pushes back),
    or when the peer closes or resets the connection.  ``chunk(offset, size)`` gives the bytes from
    ``offset`` (``b"x"`` by default); ``on_blocked()`` is called each time the send buffer is full, then
    it waits 2 ms.  Returns ``(bytes sent, seconds since a send last took a byte)``.
    """
    sock.setblocking(False)
    sent, start = 0, time.monotonic()
    last = start
    while sent < total and time.monotonic() - start < seconds:
        if stall is not None and time.monotonic() - last >= stall:
            break
        try:
            n = sock.send(chunk(sent, min(64 * 1024, total - sent)))
        except BlockingIOError:
            if on_blocked is not None:
                on_blocked()
            time.sleep(0.002)
            continue
        except ConnectionError:  # closed or reset by the peer: what was sent is what counts
            break
        sent += n
        last = time.monotonic()
    return sent, time.monotonic() - last
