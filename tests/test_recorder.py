"""The Recorder gives the keys a plain selector gives: same objects, same sockets (``is``).

Each test runs on real sockets on 127.0.0.1 (port 0), every select() with a timeout.
"""

import contextlib
import selectors
import socket
import time
import types

import pytest

from echo_lab import Recorder
from echo_lab.watch.recorder import READ, WRITE

HOST = "127.0.0.1"
WAIT = 2.0  # seconds any one select() may wait
SELECTORS = [selectors.DefaultSelector] + [getattr(selectors, name) for name in ("SelectSelector", "PollSelector")
                                           if hasattr(selectors, name)]


def listening():
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind((HOST, 0))
    lsock.listen()
    lsock.setblocking(False)
    return lsock


def ready_key(sel, sock, mask=READ):
    """The key select() returns for ``sock`` with ``mask`` ready, within WAIT seconds (None if none)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for key, ready in sel.select(timeout=0.1):
            if key.fd == sock.fileno() and ready & mask:
                return key
    return None


def identities(sel):
    """What ``is`` (and ``==``) says about the keys and sockets ``sel`` gives, step by step."""
    seen = {}
    lsock = listening()
    client = socket.create_connection(lsock.getsockname(), timeout=WAIT)
    marker = object()
    try:
        lkey = sel.register(lsock, READ, data=marker)
        key = ready_key(sel, lsock)
        seen["select: key is lkey"] = key is lkey
        seen["select: key.fileobj is lsock"] = key.fileobj is lsock
        seen["select: key.fileobj == lsock"] = key.fileobj == lsock
        seen["select: key.data is data"] = key.data is marker
        seen["get_key is lkey"] = sel.get_key(lsock) is lkey
        seen["get_map()[lsock] is lkey"] = sel.get_map()[lsock] is lkey
        seen["get_map().fileobj is lsock"] = sel.get_map()[lsock].fileobj is lsock

        conn, _ = key.fileobj.accept()
        conn.setblocking(False)
        data = types.SimpleNamespace(outb=b"")
        ckey = sel.register(conn, READ, data=data)
        client.sendall(b"hi")
        key = ready_key(sel, conn)
        seen["conn: key is ckey"] = key is ckey
        seen["conn: key.fileobj is conn"] = key.fileobj is conn
        seen["conn: key.data is data"] = key.data is data
        seen["conn: recv"] = key.fileobj.recv(16)

        same = sel.modify(conn, READ, data=data)  # nothing changes
        seen["modify, same events and data: is ckey"] = same is ckey
        data2 = types.SimpleNamespace(outb=b"hi")
        new_data = sel.modify(conn, READ, data=data2)  # only the data changes
        seen["modify, new data: is ckey"] = new_data is ckey
        seen["modify, new data: .data is data2"] = new_data.data is data2
        seen["modify, new data: .fileobj is conn"] = new_data.fileobj is conn
        seen["modify, new data: get_key is it"] = sel.get_key(conn) is new_data
        new_events = sel.modify(conn, READ | WRITE, data=data2)  # the events change
        seen["modify, new events: is the previous key"] = new_events is new_data
        seen["modify, new events: .fileobj is conn"] = new_events.fileobj is conn
        seen["modify, new events: .data is data2"] = new_events.data is data2
        key = ready_key(sel, conn, WRITE)
        seen["select after modify: key is the modified key"] = key is new_events
        seen["select after modify: key.fileobj is conn"] = key.fileobj is conn
        seen["get_key after modify is it"] = sel.get_key(conn) is new_events
        seen["get_map after modify is it"] = sel.get_map()[conn] is new_events
        seen["unregister returns it"] = sel.unregister(conn) is new_events
        conn.close()
        seen["unregister lsock returns lkey"] = sel.unregister(lsock) is lkey
    finally:
        client.close()
        lsock.close()
        sel.close()
    return seen


@pytest.mark.parametrize("make", SELECTORS, ids=lambda cls: cls.__name__)
def test_the_recorder_gives_the_same_keys_and_sockets_as_a_plain_selector(make):
    plain = identities(make())
    recorded = identities(Recorder(make()))
    assert recorded == plain
    for what in ("select: key is lkey", "select: key.fileobj is lsock", "select: key.data is data",
                 "get_key is lkey", "conn: key is ckey", "conn: key.fileobj is conn",
                 "select after modify: key is the modified key", "select after modify: key.fileobj is conn"):
        assert plain[what] is True, what  # what a plain selector says: the Recorder must say the same


def serve(sel, lsock, done, timeout=5.0):
    """The tutorial's server, dispatching with ``is``, until ``done()`` (at most ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        for key, mask in sel.select(timeout=0.05):
            if key.fileobj is lsock:  # the idiom a learner writes
                conn, addr = key.fileobj.accept()
                conn.setblocking(False)
                sel.register(conn, READ | WRITE, data=types.SimpleNamespace(addr=addr, outb=b""))
                continue
            sock, data = key.fileobj, key.data
            if mask & READ:
                received = sock.recv(1024)
                if not received:
                    sel.unregister(sock)
                    sock.close()
                    continue
                data.outb += received
            if mask & WRITE and data.outb:
                data.outb = data.outb[sock.send(data.outb):]


@pytest.mark.parametrize("recorded", [False, True], ids=["plain", "Recorder"])
def test_a_server_dispatching_with_is_echoes_through_the_recorder(recorded):
    sel = Recorder(selectors.DefaultSelector()) if recorded else selectors.DefaultSelector()
    lsock = listening()
    sel.register(lsock, READ, data=None)
    client = socket.create_connection(lsock.getsockname(), timeout=WAIT)
    payload, got = b"hello, is", bytearray()

    def echoed():
        with contextlib.suppress(BlockingIOError):
            got.extend(client.recv(1024))
        return len(got) >= len(payload)

    try:
        client.sendall(payload)
        client.setblocking(False)
        serve(sel, lsock, echoed)
        assert got == payload
        client.close()  # the server sees the end of file: unregisters and closes
        serve(sel, lsock, lambda: len(sel.get_map()) == 1)
        assert [key.fileobj for key in sel.get_map().values()] == [lsock]
    finally:
        client.close()
        sel.unregister(lsock)
        lsock.close()
        sel.close()
    if recorded:  # and the Recorder still saw every byte
        assert (sel.bytes_received, sel.bytes_sent) == (len(payload), len(payload))
        kinds = [e.kind for e in sel.events() if e.kind not in ("select", "ready")]
        assert kinds[:3] == ["register", "accept", "register"]
        assert kinds[-4:] == ["unregister", "close", "unregister", "close"]  # the connection, then lsock


def test_a_watched_socket_stays_a_socket_and_is_given_back_plain():
    sel = Recorder(selectors.DefaultSelector())
    a, b = socket.socketpair()
    with a, b:
        sel.register(a, READ)
        b.sendall(b"hey")
        [(key, _)] = sel.select(timeout=WAIT)
        assert key.fileobj is a and isinstance(a, socket.socket)
        assert repr(a).startswith("<socket.socket fd=")  # what the learner sees printed is unchanged
        assert a.recv(16) == b"hey"  # recorded, whichever name the learner uses
        dup = a.dup()
        with dup:
            assert type(dup) is socket.socket  # a copy is not watched
        sel.unregister(a)
        a.close()  # recorded, then a is plain again
        assert type(a) is socket.socket
    kinds = [e.kind for e in sel.events() if e.kind in ("recv", "unregister", "close")]
    assert kinds == ["recv", "unregister", "close"]
    assert sel.bytes_received == 3

    c, d = socket.socketpair()
    with c, d:  # closing the Recorder gives back the sockets it still watches
        sel2 = Recorder(selectors.DefaultSelector())
        sel2.register(c, READ)
        d.sendall(b"x")
        [(key, _)] = sel2.select(timeout=WAIT)
        assert key.fileobj is c and type(c) is not socket.socket
        sel2.unregister(c)
        sel2.close()
        assert type(c) is socket.socket
        assert c.recv(1) == b"x" and sel2.bytes_received == 0
