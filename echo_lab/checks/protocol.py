"""The asyncio echo server that pushes back (exercise 10): ``EchoProtocol``.

Lesson 12 wrote the echo server as an ``asyncio.Protocol``; lesson 11 showed
what a client that sends and never reads does to a server that buffers
without limit.  An asyncio transport buffers without limit too, unless the
protocol listens to it: the transport calls ``pause_writing()`` when its
write buffer passes the high-water mark (64 KiB by default) and
``resume_writing()`` once it has drained.  Exercise 10 asks for an
``EchoProtocol`` that stops reading in between, so that TCP's flow control
pushes back on the sender, as the fixed server does by dropping READ::

    from echo_lab.checks import ProtocolServer, check_echo_protocol, flood

    with ProtocolServer(EchoProtocol) as server:   # the class, served on a loop thread
        run_client(server.address, 2, kind="fixed")   # the tutorial's client (mended) against it
        hog, sent, held = flood(server)            # sends up to 8 MiB, reads nothing
        hog.close()
    check_echo_protocol(EchoProtocol)              # -> a Result, shown in the notebook

The check serves the learner's class on 127.0.0.1 with small kernel buffers
on both ends (so that the kernel cannot hide a growing buffer), then: two
clients are echoed; a client sends up to :data:`FLOOD` bytes without reading
and the server must hold at most :data:`BOUND` bytes for it while another
client is still answered; once it reads, every byte comes back in order; a
client that half-closes gets the rest and then the end of the stream; a
client that resets does not stop the server.  An exception in one of the
learner's methods reaches the loop's exception handler and is reported with
its traceback.  Every wait is bounded by :data:`NET_TIMEOUT` or a deadline,
and the loop's thread is stopped (or interrupted) at the end.
"""

import asyncio
import concurrent.futures
import contextlib
import selectors
import socket
import struct
import threading
import time

from ..i18n import _
from ..run.unstick import raise_in_thread
from .results import Result
from .trial import HOST, NET_TIMEOUT, CallTimeout, NotAttempted, Trial, Wrong, learner_traceback

__all__ = ["BOUND", "FLOOD", "ProtocolServer", "check_echo_protocol", "exchange", "flood"]

KiB, MiB = 1024, 1024 * 1024
SMALL_BUFFER = 64 * KiB  # kernel buffers on both ends of the check's connections
FLOOD = 8 * MiB  # what the flooding client tries to send without reading
BOUND = 1 * MiB  # what the server may hold for it: 64 KiB high-water mark + one 256 KiB read, and room
PATTERN = bytes(range(256)) * 256  # 64 KiB; the flood is this, repeated: any lost or swapped byte shows
STALL = 0.5  # seconds without progress after which the flooding client counts as pushed back
FLOOD_SECONDS = 3.0  # the most the flood may take, sending; as much again to read it all back


class ProtocolServer:
    """Serve ``protocol_class`` on 127.0.0.1 (any free port) from an asyncio loop in a daemon thread.

    ``address`` is where to connect; ``transports`` holds one transport per
    accepted connection; ``errors`` what the loop reported (the exception
    handler's contexts: an exception raised in one of the protocol's
    methods).  ``buffered()`` is the largest write buffer among the
    transports now, read on the loop's thread.  ``stop()`` (or the end of a
    ``with`` block) closes the server and every connection, bounded.
    ``buffer_size`` sets SO_SNDBUF and SO_RCVBUF of the accepted sockets:
    small, so that what piles up for a slow reader shows in the transport
    rather than in the kernel's buffers (which grow to several MiB on their
    own); ``None`` leaves the system's.
    """

    def __init__(self, protocol_class, buffer_size=SMALL_BUFFER, timeout=NET_TIMEOUT):
        self.timeout = timeout
        self.transports, self.errors = [], []
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(lambda loop, context: self.errors.append(context))
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if buffer_size:  # accepted sockets inherit these from the listening socket
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer_size)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_size)
        lsock.bind((HOST, 0))
        lsock.listen()
        lsock.setblocking(False)
        self.address = lsock.getsockname()
        transports = self.transports

        class Watched(protocol_class):  # the learner's class, telling us its transport
            def connection_made(self, transport):
                transports.append(transport)
                super().connection_made(transport)

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="echo_lab ProtocolServer")
        self.server = None
        self.thread.start()
        try:
            future = asyncio.run_coroutine_threadsafe(self.loop.create_server(Watched, sock=lsock), self.loop)
            self.server = future.result(timeout)
        except BaseException:
            lsock.close()
            self.stop()
            raise

    def on_loop(self, fn):
        """``fn()`` run on the loop's thread; its value. TimeoutError if the loop does not get to it."""
        future = concurrent.futures.Future()

        def run():
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed back to the caller
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(self.timeout)

    def buffered(self):
        """The largest write buffer among the server's transports, in bytes."""
        return self.on_loop(lambda: max((t.get_write_buffer_size() for t in self.transports), default=0))

    def learner_errors(self):
        """The exceptions the loop caught in the protocol's methods."""
        return [c["exception"] for c in self.errors if isinstance(c.get("exception"), BaseException)]

    def stop(self):
        if self.loop.is_closed():
            return

        def shut():
            if self.server is not None:
                self.server.close()
            for transport in self.transports:
                transport.abort()  # closes the socket in a callback of its own: let that run first
            self.loop.call_soon(self.loop.stop)

        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(shut)
            self.thread.join(self.timeout)
            for _attempt in range(3):  # stuck in a method that blocks or loops: interrupt it
                if not self.thread.is_alive():
                    break
                raise_in_thread(self.thread, CallTimeout)
                self.thread.join(0.5)
        if not self.thread.is_alive():
            self.loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------------------
# clients (each bounded)

def _expected(offset, size):
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
    sock.setblocking(False)
    sent = held = 0
    start = last_progress = time.monotonic()
    while sent < total and time.monotonic() - start < seconds and time.monotonic() - last_progress < STALL:
        try:
            n = sock.send(_expected(sent, min(64 * KiB, total - sent)))
        except BlockingIOError:
            held = max(held, server.buffered())
            time.sleep(0.01)
            continue
        except ConnectionError:  # the server closed or reset it: what was sent is what counts
            break
        sent += n
        last_progress = time.monotonic()
    time.sleep(0.05)  # let the server take what is in flight
    return sock, sent, max(held, server.buffered())


def _drain(sock, sent, seconds=FLOOD_SECONDS):
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
            expected = _expected(got, len(chunk))
            if wrong is None and chunk != expected:
                wrong = got + next(i for i, (a, b) in enumerate(zip(chunk, expected, strict=False)) if a != b)
            got += len(chunk)
    return got, wrong, ended


def _reset(sock):
    """Close ``sock`` with a reset (RST) instead of an orderly end."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# ---------------------------------------------------------------------------
# the check

def _look_for_errors(server, when):
    """Report the first exception the loop caught in the learner's methods."""
    errors = server.learner_errors()
    if not errors:
        return
    error = errors[0]
    if isinstance(error, NotImplementedError):
        raise NotAttempted("EchoProtocol")
    where = next((c.get("message", "") for c in server.errors if c.get("exception") is error), "")
    if where:
        message = _("{when}, your protocol raised {error_type}: {error} (asyncio: {where}).").format(
            when=when, error_type=type(error).__name__, error=error, where=where.rstrip("."))
    else:
        message = _("{when}, your protocol raised {error_type}: {error}.").format(
            when=when, error_type=type(error).__name__, error=error)
    raise Wrong(message, _("The last lines of the traceback show where in your code it failed."),
                 learner_traceback(error))


def _echo(trial, server, payload, what):
    client = trial.connect(server.address)
    back, eof = exchange(client, payload, time.monotonic() + NET_TIMEOUT)
    _look_for_errors(server, _("Sent {what}").format(what=what))
    if back != payload:
        server.on_loop(lambda: None)  # a loop stuck in a method: TimeoutError, reported as such
        if not back:
            got = _("nothing")
        elif eof:
            got = _("{count:,} bytes (the stream ended)").format(count=len(back))
        else:
            got = _("{count:,} bytes").format(count=len(back))
        raise Wrong(_("Sent {what} ({size:,} bytes), a client got {got} back within "
                       "{timeout:g} s; expected every byte, in order.").format(
                           what=what, size=len(payload), got=got, timeout=NET_TIMEOUT),
                     _("`data_received(data)` is called with each piece that arrives: write it back "
                       "with `self.transport.write(data)`."))
    return client


def _body(trial, server):
    # 1. Two clients at once, the tutorial's messages.
    first = _echo(trial, server, b"Message 1 from client.Message 2 from client.",
                  _("the tutorial's two messages"))
    _echo(trial, server, b"Message 1 from client.Message 2 from client.", _("the same from a second client"))
    first.close()
    # 2. A client that sends and does not read.
    hog, sent, held = flood(server)
    trial.own(hog)
    _look_for_errors(server, _("While a client sent and did not read"))
    if held > BOUND:
        raise Wrong(_("A client sent {sent:.1f} MiB and read nothing; your server kept reading "
                       "and held up to {held:.1f} MiB for it in its transport's write buffer "
                       "(more than {bound} MiB). A client that never reads would fill its memory.").format(
                           sent=sent / MiB, held=held / MiB, bound=BOUND // MiB),
                     _("asyncio calls `pause_writing()` when the write buffer passes its high-water "
                       "mark (64 KiB): stop reading there, with `self.transport.pause_reading()`, so that "
                       "TCP pushes back on the client."))
    if sent >= FLOOD:
        raise Wrong(_("A client sent all of {flood} MiB without reading a byte, and nothing pushed "
                       "back: your server kept reading.").format(flood=FLOOD // MiB),
                     _("In `pause_writing()`, call `self.transport.pause_reading()`."))
    _echo(trial, server, b"ping", _("`ping` while another client was pushed back"))
    got, wrong, ended = _drain(hog, sent)
    _look_for_errors(server, _("While the pushed-back client read its echo"))
    if wrong is not None:
        raise Wrong(_("The client that had sent {sent:,} bytes without reading got them back wrong "
                       "from byte {wrong:,} on: lost, doubled or swapped bytes.").format(sent=sent, wrong=wrong),
                     _("Write each piece once, as it arrives: `self.transport.write(data)`."))
    if got < sent and ended:
        raise Wrong(_("A client sent {sent:,} bytes without reading, then read: your server closed the "
                       "connection after echoing {got:,} of them.").format(sent=sent, got=got),
                     _("Close only when the client is done: leave `eof_received` out, and the transport "
                       "closes after the client's end of the stream."))
    if got < sent:
        raise Wrong(_("A client sent {sent:,} bytes without reading, then read: only {got:,} came back "
                       "within {seconds:g} s. Once paused, your server never read again.").format(
                           sent=sent, got=got, seconds=FLOOD_SECONDS),
                     _("asyncio calls `resume_writing()` when the buffer has drained below its low-water "
                       "mark: start reading again there, with `self.transport.resume_reading()`."))
    # 3. Half-close: the rest, then the end of the stream.
    half = trial.connect(server.address)
    payload = _expected(0, 200 * KiB)
    back, eof = exchange(half, payload, time.monotonic() + NET_TIMEOUT, half_close=True)
    _look_for_errors(server, _("After a client's half-close"))
    if back != payload or not eof:
        if eof:
            message = _("A client sent {size} KiB and then shut down its sending side; it got "
                        "{got:,} bytes back: expected all of them, then the end of the stream.")
        else:
            message = _("A client sent {size} KiB and then shut down its sending side; it got "
                        "{got:,} bytes back and the connection stayed open: expected all of them, then "
                        "the end of the stream.")
        raise Wrong(message.format(size=len(payload) // KiB, got=len(back)),
                     _("Leave `eof_received` out (or return None from it): the transport then sends what "
                       "is left in its buffer and closes."))
    # 4. A reset is one connection's business.
    rude = trial.connect(server.address)
    rude.sendall(b"x" * 1000)
    _reset(rude)
    time.sleep(0.05)
    _echo(trial, server, b"still there?", _("a message after another client reset its connection"))
    return _("It echoed two clients at once; for a client that sent without reading, it held at most "
             "{bound} MiB (TCP pushed back) while answering another, then echoed every byte in "
             "order once that client read; it sent the rest after a half-close and then closed; and a "
             "reset did not stop it.").format(bound=BOUND // MiB)


def check_echo_protocol(protocol_class):
    """Check a learner's ``EchoProtocol`` class; returns a :class:`Result`."""
    name = "EchoProtocol"
    if not isinstance(protocol_class, type):
        return Result(name, "wrong", _("Pass the class itself (`check_echo_protocol(EchoProtocol)`), not a "
                                       "{kind}.").format(kind=type(protocol_class).__name__))
    if not issubclass(protocol_class, asyncio.Protocol):
        return Result(name, "wrong", _("`EchoProtocol` should be a subclass of `asyncio.Protocol`: "
                                       "`class EchoProtocol(asyncio.Protocol):`."))
    trial = Trial(None)
    try:
        with ProtocolServer(protocol_class) as server:
            try:
                message = _body(trial, server)
            except concurrent.futures.TimeoutError:
                raise Wrong(_("The server's loop did not answer within {timeout:g} s: one of your "
                               "methods blocks or loops forever.").format(timeout=NET_TIMEOUT),
                             _("Each method should do its bit and return: asyncio calls it again when "
                               "there is more to do.")) from None
            except OSError as exc:
                _look_for_errors(server, _("Talking to your server"))
                raise Wrong(_("Talking to your server failed: {error_type}: {error}.").format(
                                 error_type=type(exc).__name__, error=exc),
                             _("Keep the connection open: close the transport only in `eof_received` "
                               "or not at all.")) from None
    except NotAttempted:
        return Result(name, "not attempted",
                      _("EchoProtocol still raises NotImplementedError. Write its methods in the cell "
                        "marked `# YOUR CODE HERE` (delete the `raise NotImplementedError()` lines), run "
                        "that cell, then run this one again."))
    except Wrong as wrong:
        return Result(name, "wrong", wrong.message, wrong.hint, wrong.traceback)
    finally:
        trial.close()
    return Result(name, "passed", message)
