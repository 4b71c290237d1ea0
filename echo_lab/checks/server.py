"""Checks of the server's functions: exercises 01, 02, 04 and 05.

Each calls the learner's function, one call at a time, on sockets the check
prepared, then looks at what changed: the socket's options, what the
selector holds, what the :class:`Recorder` saw.  The handlers are then run
for real, on a background server serving the tutorial's clients.  The event
loop (03) never returns, so it is checked differently, in ``event_loop``.
"""

import select
import socket
import types

from ..i18n import _
from .observe import (
    blocking_hint,
    check_closed,
    events_of,
    expect_return,
    is_registered,
    mask_words,
    recv_upto,
    reference_server,
    serve_clients,
    wait_key,
)
from .results import join_text
from .trial import HOST, NET_TIMEOUT, READ, WRITE, Wrong, run_check

__all__ = ["check_accept_wrapper", "check_listening_socket", "check_mask_names",
           "check_register_listening", "check_service_connection"]


# ---------------------------------------------------------------------------
# 01 · the listening socket

def check_listening_socket(listening_socket, sel):
    """Check ``listening_socket(host, port)``: a TCP socket bound, listening, non-blocking, returned."""
    return run_check("listening_socket", _listening_socket, [("listening_socket", listening_socket)], sel)


def _listening_socket(trial, fn):
    copy = trial.rebind(fn, trial.selector())
    lsock = trial.call(copy, HOST, 0, name="listening_socket('127.0.0.1', 0)",
                       on_error={OSError: _("Make the socket with `socket.socket(socket.AF_INET, "
                                            "socket.SOCK_STREAM)` and bind it once.")})
    expect_return(lsock, _("the socket: `return lsock`"), "listening_socket('127.0.0.1', 0)")
    if not isinstance(lsock, socket.socket):
        raise Wrong(_("listening_socket returned a {kind}, not the socket.").format(kind=type(lsock).__name__),
                     hint="`return lsock`")
    trial.own(lsock)
    if lsock.family != socket.AF_INET or lsock.type != socket.SOCK_STREAM:
        raise Wrong(_("The socket is not a TCP socket over IPv4."),
                     hint="`socket.socket(socket.AF_INET, socket.SOCK_STREAM)`")
    host, port = lsock.getsockname()[:2]
    if port == 0:
        raise Wrong(_("The socket is not bound to an address."), hint="`lsock.bind((host, port))`")
    if host != HOST:
        raise Wrong(_("Asked for host '{wanted}', the socket is bound to '{host}'.").format(wanted=HOST, host=host),
                     hint=_("Bind to the `host` argument: `lsock.bind((host, port))`."))
    if not lsock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise Wrong(_("The socket is bound but not listening: clients would be refused."),
                     hint=_("`lsock.listen()` after `bind`."))
    if lsock.getblocking():
        raise Wrong(_("The listening socket is still blocking: an `accept()` with no client waiting "
                       "would freeze the whole server."), hint="`lsock.setblocking(False)`")
    if not trial.printed_line("listening on"):
        raise Wrong(_("It works, but did not print the tutorial's line `listening on (host, port)`."),
                     hint="`print('listening on', (host, port))`")
    # A second call with a port of our choosing: is the port argument used?
    probe = socket.socket()
    probe.bind((HOST, 0))
    wanted = probe.getsockname()[1]
    probe.close()
    second = trial.call(copy, HOST, wanted, name=f"listening_socket('127.0.0.1', {wanted})")
    if isinstance(second, socket.socket):
        trial.own(second)
        if second.getsockname()[1] != wanted:
            raise Wrong(_("Asked for port {wanted}, the socket is bound to port "
                           "{port}.").format(wanted=wanted, port=second.getsockname()[1]),
                         hint=_("Bind to the `port` argument."))
    client = trial.connect((host, port))
    ready = select.select([lsock], [], [], NET_TIMEOUT)[0]
    if not ready:
        raise Wrong(_("A client connected, but the socket never became readable."))
    trial.own(lsock.accept()[0])
    client.close()
    return _("It returns a TCP socket bound to (host, port), listening and non-blocking, and prints "
             "'listening on (host, port)'. A client connected to it.")


# ---------------------------------------------------------------------------
# 02 · register, and the mask's bits

def check_register_listening(register_listening, sel):
    """Check ``register_listening(lsock)``: registered in ``sel`` for READ with data None; key returned."""
    return run_check("register_listening", _register_listening, [("register_listening", register_listening)], sel)


def _register_listening(trial, fn):
    fresh = trial.selector()
    lsock = trial.listener()
    key = trial.call(trial.rebind(fn, fresh), lsock, name="register_listening(lsock)",
                     on_error={KeyError: _("Register the socket once, in `sel`.")})
    sel_map = fresh.get_map()
    if not is_registered(fresh, lsock):
        raise Wrong(_("After register_listening(lsock), lsock is not registered in `sel`."),
                     hint=_("`sel.register(lsock, selectors.EVENT_READ, data=None)`, with the global `sel` "
                            "(not a new selector)."))
    registered = sel_map[lsock]
    if registered.events != READ:
        raise Wrong(_("lsock is registered for {events}.").format(events=mask_words(registered.events)),
                     hint=_("A listening socket becomes *readable* when a client waits to be accepted: "
                            "register it for `selectors.EVENT_READ` only."))
    if registered.data is not None:
        raise Wrong(_("lsock is registered with data={data!r}.").format(data=registered.data),
                     hint=_("The event loop tells the listening socket by `key.data is None`: pass "
                            "`data=None`."))
    expect_return(key, _("the SelectorKey that `sel.register(...)` returns"), "register_listening(lsock)")
    if key is lsock:
        raise Wrong(_("register_listening returned lsock itself, not the SelectorKey that "
                       "`sel.register(...)` returns."), hint="`return sel.register(...)`")
    if key != registered:
        raise Wrong(_("register_listening returned {key!r}, not the SelectorKey.").format(key=key),
                     hint="`return sel.register(...)`")
    client = trial.connect(lsock.getsockname())
    wait_key(fresh, lsock, READ)
    client.close()
    return _("lsock is registered for EVENT_READ with data=None, the key is returned, and select() "
             "reported lsock readable when a client connected.")


def check_mask_names(mask_names):
    """Check ``mask_names(mask)``: the names of the bits set, e.g. 3 -> ['READ', 'WRITE']."""
    return run_check("mask_names", _mask_names, [("mask_names", mask_names)], None, needs_sel=False)


def _mask_names(trial, fn):
    copy = trial.rebind(fn, None)
    for mask, expected in ((READ, ["READ"]), (WRITE, ["WRITE"]), (READ | WRITE, ["READ", "WRITE"]), (0, [])):
        got = trial.call(copy, mask, name=f"mask_names({mask})")
        expect_return(got, _("a list such as {expected!r}").format(expected=expected), f"mask_names({mask})")
        try:
            got_list = list(got)
        except TypeError:
            got_list = None
        if got_list != expected:
            why = {3: _("3 is 0b11: both bits are set, so it is READ and WRITE at once."),
                   0: _("0 has no bit set.")}.get(mask, "")
            if mask in (READ, WRITE) and got_list == ["READ", "WRITE"]:
                why = _("`mask and ...` is true for any mask but 0: `and` does not test a bit, "
                        "`&` does ({mask} & 1 is {bit1}, {mask} & 2 is {bit2}).").format(
                            mask=mask, bit1=mask & 1, bit2=mask & 2)
            elif mask == READ | WRITE and got_list == ["WRITE", "READ"]:
                why = _("The names go in the bits' order: READ (1) first, then WRITE (2).")
            message = _("mask_names({mask}) returned {got!r}, expected {expected!r}.").format(
                mask=mask, got=got, expected=expected)
            raise Wrong(join_text(message, why) if why else message,
                         hint=_("Test each bit on its own with `&`: `if mask & selectors.EVENT_READ:`."))
    return _("mask_names gives ['READ'], ['WRITE'], ['READ', 'WRITE'] and [] for the masks 1, 2, 3 and 0.")


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
                         hint="`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`")
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
    """A big outb and small buffers: send() takes only part; the rest must stay in outb."""
    conn, client, data = _server_side(trial, fresh)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = bytes(range(256)) * 4096  # 1 MiB
    data.outb = big
    since = len(fresh.events())
    call(wait_key(fresh, conn, WRITE), WRITE, "EVENT_WRITE")
    sent = sum(e.nbytes for e in fresh.events()[since:] if e.kind == "send" and e.fd == conn.fileno())
    if 0 < sent < len(big) and data.outb != big[sent:]:
        if not data.outb:
            raise Wrong(_("With 1 MiB in data.outb, send() took only {sent} bytes, but data.outb is now "
                           "empty: the other bytes are lost.").format(sent=sent),
                         hint=_("Keep what was not sent: `data.outb = data.outb[sent:]`."))
        raise Wrong(_("With 1 MiB in data.outb, send() took {sent} bytes, but data.outb does not hold "
                       "the rest.").format(sent=sent), hint="`data.outb = data.outb[sent:]`")
