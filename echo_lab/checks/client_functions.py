"""Checks of the client's functions: exercises 06 and 07.

As for the server: the learner's function is called on sockets the check
prepared (here the peer socket plays the server) and what changed is looked
at; then the tutorial's client runs, with the learner's piece in it, against
a background echo server.
"""

import selectors
import socket
import types

from .. import seed
from ..i18n import _
from ..run.background import BackgroundServer
from ..run.client import run_client
from ..watch.recorder import Recorder
from .hints import last_hint
from .observe import blocking_hint, check_closed, is_registered, mask_words, recv_upto, reference_client, wait_key
from .trial import HOST, NET_TIMEOUT, READ, WRITE, Wrong, run_check

__all__ = ["MSG1", "MSG2", "check_client_service_connection", "check_start_connections"]

MSG1, MSG2 = seed.messages  # what the tutorial's client sends


# ---------------------------------------------------------------------------
# 06 · the client's start_connections

def check_start_connections(start_connections, sel):
    """Check the client's ``start_connections(host, port, num_conns)``."""
    return run_check("start_connections", _start_connections, [("start_connections", start_connections)], sel)


def _start_connections(trial, fn):
    fresh = trial.selector()
    lsock = trial.own(socket.socket())
    lsock.bind((HOST, 0))
    lsock.listen()
    lsock.settimeout(NET_TIMEOUT)
    port = lsock.getsockname()[1]
    copy = trial.rebind(fn, fresh)
    trial.call(copy, HOST, port, 3, name=f"start_connections('127.0.0.1', {port}, 3)",
               on_error={BlockingIOError: _("`connect()` on a non-blocking socket raises BlockingIOError "
                                            "at once: use `sock.connect_ex(server_addr)`, which returns "
                                            "an error number (EINPROGRESS) instead.")})
    keys = list(fresh.get_map().values())
    for key in keys:
        trial.own(key.fileobj)
    if len(keys) != 3:
        raise Wrong(_("start_connections(host, port, 3) registered {count} socket(s) in `sel`; "
                       "expected 3.").format(count=len(keys)),
                     hint=_("One socket per connection: `for i in range(0, num_conns):`, "
                            "each registered with `sel.register(sock, events, data=data)`."))
    try:
        for _key in keys:
            trial.own(lsock.accept()[0])
    except TimeoutError:
        raise Wrong(_("The sockets did not connect to (host, port)."),
                     hint=_("`sock.connect_ex(server_addr)` with `server_addr = (host, port)`.")) from None
    for key in keys:
        if key.fileobj.getblocking():
            raise Wrong(_("A client socket is still blocking: one slow server would freeze the client."),
                         hint=_("`sock.setblocking(False)` before `sock.connect_ex(server_addr)`."))
        if key.events != READ | WRITE:
            raise Wrong(_("A client socket is registered for {events}.").format(events=mask_words(key.events)),
                         hint=_("The client waits for both: WRITE tells it the connection is made and it "
                                "can send, READ that the echo came. "
                                "`events = selectors.EVENT_READ | selectors.EVENT_WRITE`"))
    datas = [key.data for key in keys]
    for attr in ("connid", "msg_total", "recv_total", "messages", "outb"):
        if any(not hasattr(d, attr) for d in datas):
            raise Wrong(_("key.data has no `{attr}`: service_connection needs connid, msg_total, "
                           "recv_total, messages and outb.").format(attr=attr),
                         hint=last_hint("start_connections"))
    ids = sorted(d.connid for d in datas)
    if ids != [1, 2, 3]:
        raise Wrong(_("The connids are {ids}; number the connections 1, 2, 3.").format(ids=ids),
                     hint="`connid = i + 1`")
    for d in datas:
        if not isinstance(d.messages, list) or not d.messages or not all(isinstance(m, bytes) for m in d.messages):
            raise Wrong(_("data.messages is {messages!r}; expected a list of the messages to send "
                           "(bytes).").format(messages=d.messages),
                         hint="`messages=list(messages)`")
        total = sum(len(m) for m in d.messages)
        if d.msg_total != total:
            raise Wrong(_("msg_total is {msg_total!r}; the messages have {total} bytes in all.").format(
                             msg_total=d.msg_total, total=total),
                         hint="`msg_total=sum(len(m) for m in messages)`")
        if d.recv_total != 0 or d.outb != b"":
            raise Wrong(_("A new connection starts with recv_total={recv_total!r}, outb={outb!r}; "
                           "expected 0 and b''.").format(recv_total=d.recv_total, outb=d.outb),
                         hint="`recv_total=0, outb=b''`")
    if len({id(d.messages) for d in datas}) < len(datas):
        raise Wrong(_("The connections share one messages list: `pop(0)` on one connection would take "
                       "the messages away from the others."),
                     hint=_("Give each connection its own copy: `messages=list(messages)`."))
    if not trial.printed_line("starting connection 1 to"):
        raise Wrong(_("It works, but did not print the tutorial's line `starting connection 1 to ...`."),
                     hint="`print('starting connection', connid, 'to', server_addr)`")
    with BackgroundServer("fixed") as server:
        sel2 = Recorder(selectors.DefaultSelector())
        result = _run_own_client(trial, server.address, sel2, trial.rebind(fn, sel2),
                                 reference_client(trial, sel2)[1])
    if not result.finished:
        raise Wrong(_("With the tutorial's service_connection, 2 connections it started were not echoed "
                       "within {timeout:g} s by a background server.").format(timeout=NET_TIMEOUT))
    return _("It starts num_conns non-blocking connections with connect_ex and registers each for "
             "EVENT_READ | EVENT_WRITE with its own messages. With the tutorial's service_connection, "
             "2 connections were echoed by a background server.")


def _run_own_client(trial, address, sel, start_connections, service_connection):
    """run_client with the learner's pieces, on a worker thread (a client runs in the calling thread)."""
    return trial.call(lambda: run_client(address, 2, sel=sel, start_connections=start_connections,
                                         service_connection=service_connection, timeout=NET_TIMEOUT),
                      name=_("the client, run to the end,"), timeout=NET_TIMEOUT + 1)


# ---------------------------------------------------------------------------
# 07 · the client's service_connection

def check_client_service_connection(service_connection, sel):
    """Check the client's ``service_connection(key, mask)``: send messages in order, count, close."""
    return run_check("client_service_connection", _client_service_connection,
                [("service_connection", service_connection)], sel)


def _client_side(trial, fresh):
    peer, sock = trial.pair()
    sock.setblocking(False)
    data = types.SimpleNamespace(connid=1, msg_total=len(MSG1) + len(MSG2), recv_total=0,
                                 messages=[MSG1, MSG2], outb=b"")
    fresh.register(sock, READ | WRITE, data=data)
    return peer, sock, data


def _client_service_connection(trial, fn):
    fresh = trial.selector()
    copy = trial.rebind(fn, fresh)
    call = lambda key, mask, what: trial.call(  # noqa: E731
        copy, key, mask, name=f"service_connection(key, {what})",
        on_error={BlockingIOError: blocking_hint})
    peer, sock, data = _client_side(trial, fresh)
    fd = sock.fileno()

    # WRITE: the first message, then the second, then nothing
    call(wait_key(fresh, sock, WRITE), WRITE, "EVENT_WRITE")
    got = recv_upto(peer, len(MSG1), timeout=0.5)
    if not got:
        raise Wrong(_("Called with mask EVENT_WRITE, with two messages to send, it sent nothing."),
                     hint=_("`if not data.outb and data.messages: data.outb = data.messages.pop(0)`, "
                            "then send data.outb."))
    if got[:9] == MSG2[:9]:
        raise Wrong(_("It sent {message!r} first: the messages go in order.").format(message=MSG2),
                     hint=_("`data.messages.pop(0)` takes the first one; `pop()` takes the last."))
    if data.outb == MSG1:
        raise Wrong(_("Bytes that were sent are still in outb: the server got {message!r}, and data.outb "
                       "still holds it, so the next EVENT_WRITE sends it again.").format(message=MSG1),
                     hint="`data.outb = data.outb[sent:]`")
    call(wait_key(fresh, sock, WRITE), WRITE, "EVENT_WRITE")
    got += recv_upto(peer, len(MSG1) + len(MSG2) - len(got), timeout=0.5)
    if got != MSG1 + MSG2 or data.messages:
        raise Wrong(_("After two calls with mask EVENT_WRITE the server got {got!r}; expected both "
                       "messages, in order, one per call.").format(got=got),
                     hint=_("Take the next message when outb is empty: "
                            "`if not data.outb and data.messages: data.outb = data.messages.pop(0)`."))
    call(wait_key(fresh, sock, WRITE), WRITE, "EVENT_WRITE")
    if recv_upto(peer, 1, timeout=0.05):
        raise Wrong(_("With every message sent, a call with mask EVENT_WRITE sent more bytes."),
                     hint=_("Send only `if data.outb:`."))
    # READ: count the echo; close when all of it came
    peer.sendall(MSG1)
    call(wait_key(fresh, sock, READ), READ, "EVENT_READ")
    if sock.fileno() == -1 or not is_registered(fresh, sock):
        raise Wrong(_("It closed the connection after receiving {received} of {total} bytes.").format(
                         received=len(MSG1), total=data.msg_total),
                     hint=_("Close when `data.recv_total == data.msg_total` (or recv returned b'')."))
    if data.recv_total != len(MSG1):
        raise Wrong(_("After receiving {received} bytes, data.recv_total is {recv_total!r}.").format(
                         received=len(MSG1), recv_total=data.recv_total),
                     hint="`data.recv_total += len(recv_data)`")
    since = len(fresh.events())
    peer.sendall(MSG2)
    call(wait_key(fresh, sock, READ), READ, "EVENT_READ")
    if data.recv_total != data.msg_total:
        raise Wrong(_("It received all {total} bytes, but data.recv_total is {recv_total!r}.").format(
                         total=data.msg_total, recv_total=data.recv_total),
                     hint=_("Add up, don't assign: `data.recv_total += len(recv_data)`."))
    check_closed(fresh, sock, fd, since, _("When all {total} bytes had come back").format(total=data.msg_total))
    # READ: the server closes early
    peer2, sock2, data2 = _client_side(trial, fresh)
    since = len(fresh.events())
    fd2 = sock2.fileno()
    peer2.close()
    call(wait_key(fresh, sock2, READ), READ, "EVENT_READ")
    check_closed(fresh, sock2, fd2, since, _("When the server closed first (recv returned b'')"))
    for start in ("sending", "received", "closing connection"):
        if not trial.printed_line(start):
            raise Wrong(_("It works, but did not print the tutorial's line `{start} ...`.").format(start=start),
                         hint=last_hint("client_service_connection"))
    with BackgroundServer("fixed") as server:
        sel2 = Recorder(selectors.DefaultSelector())
        result = _run_own_client(trial, server.address, sel2, reference_client(trial, sel2)[0],
                                 trial.rebind(fn, sel2))
    if not result.finished:
        raise Wrong(_("2 connections of the tutorial's start_connections, served by your "
                       "service_connection, were not echoed and closed within {timeout:g} s.").format(
                           timeout=NET_TIMEOUT))
    return _("It sends the messages in order and keeps what was not sent, counts the bytes received, and "
             "unregisters then closes the socket when all came back or the server closed. With the "
             "tutorial's start_connections, 2 connections were echoed by a background server.")
