"""The clients exercise 10's check sends to a :class:`ProtocolServer`, each bounded.

* :func:`exchange`: send a payload while reading the echo, until all of it
  is back (optionally half-closing once it is sent);
* :func:`flood`: send up to :data:`FLOOD` bytes and read nothing, until TCP
  pushes back, noting the most the server held meanwhile;
* :func:`drain_flood`: read a flood's echo back, and find the first wrong byte.

A flood is :data:`PATTERN` repeated (:func:`flood_bytes`), so that a lost,
doubled or swapped byte shows in what comes back.  Every wait is bounded by
a deadline, :data:`NET_TIMEOUT` or :data:`FLOOD_SECONDS`.
"""

import contextlib
import selectors
import socket
import time

from .. import net
from .protocol_server import SMALL_BUFFER
from .trial import NET_TIMEOUT

__all__ = ["FLOOD", "FLOOD_SECONDS", "KiB", "MiB", "drain_flood", "exchange", "flood", "flood_bytes"]

KiB, MiB = 1024, 1024 * 1024
FLOOD = 8 * MiB  # what the flooding client tries to send without reading
PATTERN = bytes(range(256)) * 256  # 64 KiB; the flood is this, repeated: any lost or swapped byte shows
STALL = 0.5  # seconds without progress after which the flooding client counts as pushed back
FLOOD_SECONDS = 3.0  # the most the flood may take, sending; as much again to read it all back


def flood_bytes(offset, size):
    """The flood's bytes from ``offset``: PATTERN repeated."""
    start = offset % len(PATTERN)
    return (PATTERN * (2 + size // len(PATTERN)))[start:start + size]


def exchange(sock, payload, deadline, half_close=False):
    """Send ``payload`` while reading what comes back, until all is back (or the end of the stream,
    or ``deadline``). Returns ``(bytes received, whether the stream ended)``."""
    sock.setblocking(False)
    received, sent = bytearray(), 0
    eof = False
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while time.monotonic() < deadline:
            done_sending = sent == len(payload)
            if done_sending and (len(received) >= len(payload) and not half_close or eof):
                break
            for _, mask in sel.select(timeout=max(0.0, deadline - time.monotonic())):
                if mask & selectors.EVENT_READ:
                    chunk = sock.recv(256 * KiB)
                    if not chunk:
                        eof = True
                        sel.unregister(sock)
                        break
                    received += chunk
                if mask & selectors.EVENT_WRITE and not done_sending:
                    with contextlib.suppress(BlockingIOError):
                        sent += sock.send(payload[sent:sent + 64 * KiB])
                    if sent == len(payload):
                        if half_close:
                            sock.shutdown(socket.SHUT_WR)
                        sel.modify(sock, selectors.EVENT_READ)
            if eof:
                break
    return bytes(received), eof


def flood(server, total=FLOOD, seconds=FLOOD_SECONDS):
    """A client that sends up to ``total`` bytes to ``server`` and reads nothing, until TCP pushes
    back (no progress for STALL s) or ``seconds`` pass. Returns ``(sock, sent, held)``: the client's
    socket (still open: read from it, then close it), what it sent, and the most the server held for
    it in a transport's write buffer meanwhile. If the server ends the connection, it stops there."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)  # before connect: a small window
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    sock.settimeout(NET_TIMEOUT)
    try:
        sock.connect(server.address)
    except OSError:
        sock.close()
        raise
    held = 0

    def note_held():  # while TCP pushes back: what the server holds for the client
        nonlocal held
        held = max(held, server.buffered())

    sent, _ = net.flood(sock, total, seconds, chunk=flood_bytes, stall=STALL, on_blocked=note_held)
    time.sleep(0.05)  # let the server take what is in flight
    return sock, sent, max(held, server.buffered())


def drain_flood(sock, sent, seconds=FLOOD_SECONDS):
    """Read what comes back of a flood of ``sent`` bytes, until all is back or ``seconds`` pass.
    Returns (bytes back, offset of the first wrong byte or None, whether the stream ended)."""
    sock.setblocking(False)
    got, wrong, ended = 0, None, False
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        while got < sent and time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            try:
                chunk = sock.recv(256 * KiB)
            except ConnectionError:
                chunk = b""
            if not chunk:
                ended = True
                break
            expected = flood_bytes(got, len(chunk))
            if wrong is None and chunk != expected:
                wrong = got + next(i for i, (a, b) in enumerate(zip(chunk, expected, strict=False)) if a != b)
            got += len(chunk)
    return got, wrong, ended
