"""Checks of the server's handlers: exercises 04 (accept_wrapper) and 05 (service_connection).

Each calls the learner's handler, one call at a time, on sockets the check
prepared, then looks at what changed: what the selector holds, what the
connection's namespace holds, what the :class:`Recorder` saw.  The handlers
are then run for real, on a background server serving the tutorial's
clients.  The event loop (03) never returns, so it is checked differently,
in ``event_loop``; exercises 01 and 02 are checked in ``listening``.
"""

import socket
import types

from ..i18n import _
from .observe import (
    blocking_hint,
    check_closed,
    events_of,
    is_registered,
    mask_words,
    recv_upto,
    reference_server,
    sending_part,
    serve_clients,
    wait_key,
)
from .trial import READ, WRITE, Wrong, run_check

__all__ = ["check_accept_wrapper", "check_service_connection"]


# ---------------------------------------------------------------------------
# 04 · accept_wrapper

def check_accept_wrapper(accept_wrapper, sel):
    """Check the server's ``accept_wrapper(sock)``: accept, non-blocking, register READ|WRITE with a namespace."""
    return run_check("accept_wrapper", _accept_wrapper, [("accept_wrapper", accept_wrapper)], sel)


def _accept_wrapper(trial, fn):
    fresh = trial.selector()
    lsock = trial.listener(fresh)
    copy = trial.rebind(fn, fresh)
    for _attempt in range(2):
        client = trial.connect(lsock.getsockname())
        key = wait_key(fresh, lsock, READ)
        before = {k.fd for k in fresh.get_map().values()}
        accepts = len(fresh.events("accept"))
        trial.call(copy, key.fileobj, name="accept_wrapper(sock)",
                   on_error={BlockingIOError: _("Call `sock.accept()` once per call of accept_wrapper."),
                             KeyError: _("Register the new connection `conn`, not the listening `sock`.")})
        new = [k for k in fresh.get_map().values() if k.fd not in before]
        if not new:
            if len(fresh.events("accept")) == accepts:
                raise Wrong(_("accept_wrapper did not accept the waiting connection."),
                             hint="`conn, addr = sock.accept()`")
            raise Wrong(_("accept_wrapper accepted the connection but did not register it in `sel`: "
                           "the loop would never hear from it."),
                         hint="`sel.register(conn, events, data=data)`")
        if len(new) > 1:
            raise Wrong(_("One call of accept_wrapper registered {count} sockets.").format(count=len(new)),
                         hint=_("Register just the accepted connection."))
        registered = new[0]
        conn = registered.fileobj
        trial.own(conn)
        peer = client.getsockname()
        if conn.getpeername() != peer:
            raise Wrong(_("accept_wrapper registered a socket that is not the accepted connection."),
                         hint=_("Register `conn`, the first value `sock.accept()` returns."))
        if conn.getblocking():
            raise Wrong(_("The accepted socket is still blocking: one `recv()` waiting for a quiet "
                           "client would freeze the whole server."),
                         hint=_("`conn.setblocking(False)` right after `sock.accept()`."))
        if registered.events != READ | WRITE:
            raise Wrong(_("The connection is registered for {events}.").format(
                             events=mask_words(registered.events)),
                         hint=_("The tutorial's server waits for both events, "
                                "`events = selectors.EVENT_READ | selectors.EVENT_WRITE`: READ to receive, "
                                "WRITE to send the echo. (Exercise 08 shows what WRITE costs.)"))
        data = registered.data
        if data is None:
            raise Wrong(_("The connection is registered with data=None: the event loop would take it "
                           "for the listening socket and call accept_wrapper on it."),
                         hint=_("The namespace is made but not passed to register, so the key's data is None: "
                                "`sel.register(conn, events, data=data)`.") if _makes_namespace(fn) else
                         _("Make a namespace for the connection and pass it to register: "
                           "`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`, then "
                           "`sel.register(conn, events, data=data)`."))
        for attr, expected in (("addr", peer), ("inb", b""), ("outb", b"")):
            if not hasattr(data, attr):
                raise Wrong(_("key.data has no `{attr}`: service_connection needs data.addr, data.inb "
                               "and data.outb.").format(attr=attr),
                             hint="`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`")
            if getattr(data, attr) != expected:
                shown = _("the client's address") if attr == "addr" else repr(expected)
                raise Wrong(_("data.{attr} is {value!r}; expected {shown}.").format(
                                 attr=attr, value=getattr(data, attr), shown=shown),
                             hint="`types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`")
    if not trial.printed_line("accepted connection from"):
        raise Wrong(_("It works, but did not print the tutorial's line `accepted connection from ...`."),
                     hint="`print('accepted connection from', addr)`")
    serve_clients(trial, lambda sel: (trial.rebind(fn, sel), reference_server(trial, sel)[1]))
    return _("It accepted each connection, made it non-blocking, and registered it for "
             "EVENT_READ | EVENT_WRITE with addr, inb and outb. With the tutorial's service_connection, "
             "a background server running it echoed 2 clients.")


def _makes_namespace(fn):
    """Does ``fn`` build the connection's namespace (``types.SimpleNamespace(...)``, or a local ``data``)?
    Registered with data=None, it was then made but not passed on."""
    code = fn.__code__
    return "SimpleNamespace" in code.co_names or "data" in code.co_varnames[code.co_argcount:]


# ---------------------------------------------------------------------------
# 05 · the server's service_connection

def check_service_connection(service_connection, sel):
    """Check the server's ``service_connection(key, mask)``: recv into outb, send and slice, close on EOF."""
    return run_check("service_connection", _service_connection, [("service_connection", service_connection)], sel)


def _server_side(trial, fresh):
    conn, client = trial.pair()
    conn.setblocking(False)
    data = types.SimpleNamespace(addr=client.getsockname(), inb=b"", outb=b"")
    fresh.register(conn, READ | WRITE, data=data)
    return conn, client, data


def _service_connection(trial, fn):
    fresh = trial.selector()
    copy = trial.rebind(fn, fresh)
    call = lambda key, mask, what: trial.call(  # noqa: E731
        copy, key, mask, name=f"service_connection(key, {what})",
        on_error={BlockingIOError: blocking_hint})
    conn, client, data = _server_side(trial, fresh)
    fd = conn.fileno()

    # READ: the bytes go to data.outb
    client.sendall(b"hello")
    call(wait_key(fresh, conn, READ), READ, "EVENT_READ")
    if conn.fileno() == -1 or not is_registered(fresh, conn):
        raise Wrong(_("After receiving b'hello', it closed the connection."),
                     hint=_("Close only when `recv` returns b'' (the client closed)."))
    echoed = b""
    if data.outb != b"hello":
        echoed = recv_upto(client, 5, timeout=0.2)
        if echoed != b"hello" or data.outb:
            if not events_of(fresh, fd, 0, ("recv",)):
                raise Wrong(_("Called with mask EVENT_READ, it did not receive."),
                             hint=_("`if mask & selectors.EVENT_READ:` then `recv_data = sock.recv(1024)`."))
            if data.inb == b"hello":
                raise Wrong(_("It put the received bytes in data.inb; the tutorial's server echoes "
                               "from data.outb."), hint="`data.outb += recv_data`")
            raise Wrong(_("It received b'hello', but then data.outb is {outb!r}.").format(outb=data.outb),
                         hint=_("Keep what you received for the echo: `data.outb += recv_data`."))
    # READ again with bytes still waiting: they must be kept
    if not echoed:
        client.sendall(b" world")
        call(wait_key(fresh, conn, READ), READ, "EVENT_READ")
        if data.outb == b" world":
            raise Wrong(_("data.outb held b'hello'; after receiving b' world' it is b' world': the "
                           "first bytes were lost before they were echoed."),
                         hint=_("Append, don't replace: `data.outb += recv_data`."))
        if data.outb != b"hello world":
            raise Wrong(_("data.outb held b'hello'; after receiving b' world' it is {outb!r}.").format(
                             outb=data.outb),
                         hint="`data.outb += recv_data`")
        # WRITE: send and slice
        call(wait_key(fresh, conn, WRITE), WRITE, "EVENT_WRITE")
        got = recv_upto(client, 11, timeout=0.5)
        if not got:
            raise Wrong(_("Called with mask EVENT_WRITE while data.outb held b'hello world', it sent "
                           "nothing."), hint=_("`if mask & selectors.EVENT_WRITE:` and `if data.outb:` then "
                                               "`sent = sock.send(data.outb)`."))
        if data.outb == b"hello world":
            raise Wrong(_("Bytes that were sent are still in outb: the client got b'hello world', and "
                           "data.outb still holds b'hello world', so the next EVENT_WRITE sends them again."),
                         hint="`data.outb = data.outb[sent:]`")
        if got != b"hello world" or data.outb:
            raise Wrong(_("The client got {got!r}, and data.outb is now {outb!r}.").format(got=got, outb=data.outb),
                         hint=_("`sent = sock.send(data.outb)` then `data.outb = data.outb[sent:]`."))
    # WRITE with nothing to send: nothing happens
    call(wait_key(fresh, conn, WRITE), WRITE, "EVENT_WRITE")
    if conn.fileno() == -1 or not is_registered(fresh, conn):
        raise Wrong(_("Called with mask EVENT_WRITE and an empty data.outb, it closed the connection: an "
                       "empty outb only means that everything was echoed; the client is still there."),
                     hint=_("Close only when `recv` returns b'' (the client closed)."))
    if recv_upto(client, 1, timeout=0.05) or data.outb:
        raise Wrong(_("Called with mask EVENT_WRITE and an empty data.outb, it sent something."),
                     hint=_("Send only `if data.outb:`."))
    # End of file: unregister, then close
    since = len(fresh.events())
    client.close()
    call(wait_key(fresh, conn, READ), READ, "EVENT_READ")
    check_closed(fresh, conn, fd, since, _("When recv returned b'' (the client closed)"))
    if not trial.printed_line("closing connection to"):
        raise Wrong(_("It works, but did not print the tutorial's line `closing connection to ...`."),
                     hint="`print('closing connection to', data.addr)`")
    _partial_send(trial, fresh, call)
    serve_clients(trial, lambda sel: (reference_server(trial, sel)[0], trial.rebind(fn, sel)))
    return _("It keeps received bytes in data.outb, sends them on EVENT_WRITE and keeps only what was "
             "not sent, and unregisters then closes the socket when the client closes. A background "
             "server running it echoed 2 clients.")


def _partial_send(trial, fresh, call):
    """A big outb, and a send() that takes only part (on any system); the rest must stay in outb."""
    conn, client, data = _server_side(trial, fresh)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = bytes(range(256)) * 4096  # 1 MiB
    data.outb = big
    since = len(fresh.events())
    key = wait_key(fresh, conn, WRITE)  # (select() returned it: the Recorder watches it, records its sends)
    sending_part(conn)
    call(key, WRITE, "EVENT_WRITE")
    sent = sum(e.nbytes for e in fresh.events()[since:] if e.kind == "send" and e.fd == conn.fileno())
    if 0 < sent < len(big) and data.outb != big[sent:]:
        if not data.outb:
            raise Wrong(_("With 1 MiB in data.outb, send() took only {sent} bytes, but data.outb is now "
                           "empty: the other bytes are lost.").format(sent=sent),
                         hint=_("Keep what was not sent: `data.outb = data.outb[sent:]`."))
        raise Wrong(_("With 1 MiB in data.outb, send() took {sent} bytes, but data.outb does not hold "
                       "the rest.").format(sent=sent), hint="`data.outb = data.outb[sent:]`")
