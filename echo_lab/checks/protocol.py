"""Exercise 10's check: the asyncio echo server that pushes back, ``EchoProtocol``.

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

The check serves the learner's class in a :class:`ProtocolServer`
(``protocol_server``) with small kernel buffers on both ends (so that the
kernel cannot hide a growing buffer), then, with the clients of
``protocol_clients``: two clients are echoed; a client sends up to
:data:`FLOOD` bytes without reading and the server must hold at most
:data:`BOUND` bytes for it while another client is still answered; once it
reads, every byte comes back in order; a client that half-closes gets the
rest and then the end of the stream; a client that resets does not stop the
server.  An exception in one of the learner's methods reaches the loop's
exception handler and is reported with its traceback.  Every wait is bounded
by :data:`NET_TIMEOUT` or a deadline, and the loop's thread is stopped (or
interrupted) at the end.
"""

import asyncio
import concurrent.futures
import time

from ..i18n import _
from ..net import close_with_reset
from .exception_hints import exception_hint
from .protocol_clients import (
    FLOOD,
    FLOOD_SECONDS,
    KiB,
    MiB,
    drain_flood,
    exchange,
    flood,
    flood_bytes,
)
from .protocol_server import ProtocolServer
from .results import Result
from .tracebacks import learner_traceback
from .trial import NET_TIMEOUT, NotAttempted, Trial, Wrong

__all__ = ["BOUND", "check_echo_protocol"]

BOUND = 1 * MiB  # what the server may hold for a flood: 64 KiB high-water mark + one 256 KiB read, and room


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
    raise Wrong(message, exception_hint(error), learner_traceback(error))


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
    got, wrong, ended = drain_flood(hog, sent)
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
    payload = flood_bytes(0, 200 * KiB)
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
    close_with_reset(rude)
    deadline = time.monotonic() + NET_TIMEOUT  # until the server has seen the reset (its transport closes)
    while not server.on_loop(lambda: server.transports[-1].is_closing()) and time.monotonic() < deadline:
        time.sleep(0.005)
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
                server.stop(timeout=0)  # the loop is stuck in a method: no use waiting for it to stop
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
