"""Each server/client pitfall of COURSE.md's table, shown on the tutorial's
code (:mod:`echo_lab.seed`) and shown mended on :mod:`echo_lab.fixed`.

Everything runs in this process: the server's event loop runs in a daemon
thread with its own selector, and talks to plain sockets made by the test.
The selector is wrapped in a counting subclass so a test can count how
often ``select()`` woke up.
"""

import errno
import selectors
import socket
import sys
import threading
import time

import pytest

from echo_lab import fixed, seed
from echo_lab.net import close_with_reset, flood
from helpers import free_port, recv_exactly, round_trip, unacknowledged, wait_until

HOST = "127.0.0.1"
MSG1, MSG2 = seed.messages
BOTH = MSG1 + MSG2


# --------------------------------------------------------------------------
# helpers


class CountingSelector(selectors.DefaultSelector):
    """A selector that counts its ``select()`` calls.

    ``calls`` counts every call, ``woke`` only the calls that returned at
    least one ready socket (a timeout with nothing ready is not a wake-up
    caused by a socket).
    """

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.woke = 0

    def select(self, timeout=None):
        events = super().select(timeout)
        self.calls += 1
        if events:
            self.woke += 1
        return events


class ServerThread:
    """The tutorial's event loop, in a daemon thread, over seed or fixed functions."""

    def __init__(self, kind, port=0, timeout=0.05):
        self.kind = kind
        self.sel = CountingSelector()
        self.lines = []
        log = lambda *a: self.lines.append(a)  # noqa: E731
        if kind == "seed":
            self.lsock = seed.listening_socket(self.sel, HOST, port, print=log)
            self.accept_wrapper, self.service_connection = seed.server_functions(self.sel, print=log)
        else:
            self.lsock = fixed.fixed_listening_socket(self.sel, HOST, port, print=log)
            self.accept_wrapper, self.service_connection = fixed.fixed_server_functions(
                self.sel, print=log
            )
        self.addr = self.lsock.getsockname()
        self.timeout = timeout
        self.stopping = threading.Event()
        self.exc = None
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"{kind}-server")

    def _run(self):
        try:
            seed.event_loop(
                self.sel,
                self.accept_wrapper,
                self.service_connection,
                timeout=self.timeout,
                keep_going=lambda: not self.stopping.is_set(),
            )
        except BaseException as exc:  # surfaced to the test
            self.exc = exc

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "server loop did not stop within 5 s"

    def close(self):
        self.stopping.set()
        if self.thread.ident is not None:
            self.thread.join(timeout=5)
        if not self.thread.is_alive() and self.sel.get_map() is not None:
            fixed.close_all(self.sel)

    def logged(self, first):
        return [line for line in self.lines if line and line[0] == first]

    def connection_data(self):
        """The ``key.data`` of every accepted connection (read from another thread)."""
        return [key.data for key in list(self.sel.get_map().values()) if key.data is not None]


@pytest.fixture
def make_server():
    servers = []

    def make(kind, port=0, timeout=0.05, start=True):
        srv = ServerThread(kind, port=port, timeout=timeout)
        servers.append(srv)
        return srv.start() if start else srv

    yield make
    for srv in servers:
        srv.close()


@pytest.fixture
def client_selector():
    """A counting selector for a client; whatever is left in it is closed at the end."""
    made = []

    def make():
        sel = CountingSelector()
        made.append(sel)
        return sel

    yield make
    for sel in made:
        if sel.get_map() is not None:
            fixed.close_all(sel)


def connect(srv, sockets):
    sock = sockets(socket.create_connection(srv.addr, timeout=5))
    me = sock.getsockname()
    wait_until(
        lambda: any(line[1] == me for line in srv.logged("accepted connection from")),
        what="the server to accept",
    )
    return sock


def quiet(*args):
    pass


# --------------------------------------------------------------------------
# EVENT_WRITE registered for the whole connection: a busy loop


def test_seed_server_busy_loops_with_one_idle_client(make_server, sockets):
    srv = make_server("seed")
    client = connect(srv, sockets)
    assert round_trip(client, b"hello") == b"hello"  # served once, then idle
    before, calls_before = srv.sel.woke, srv.sel.calls
    # every select() call returns a ready socket: wait for 1000 of them (10 s at most, however busy the CPU)
    wait_until(lambda: srv.sel.woke - before >= 1000, timeout=10, what="1000 wake-ups of the seed server")
    woke, calls = srv.sel.woke - before, srv.sel.calls - calls_before
    assert srv.exc is None
    assert woke >= 0.9 * calls, f"only {woke} of {calls} select() calls returned a ready socket"


def test_fixed_server_sleeps_with_one_idle_client(make_server, sockets):
    srv = make_server("fixed")
    client = connect(srv, sockets)
    assert round_trip(client, b"hello") == b"hello"  # served once, then idle
    calls_before, woke_before = srv.sel.calls, srv.sel.woke
    # the loop is alive: it returns from its 0.05 s timeouts (10 of them, 10 s at most) ...
    wait_until(lambda: srv.sel.calls - calls_before >= 10, timeout=10, what="10 select() calls")
    woke = srv.sel.woke - woke_before
    # ... but no socket woke it up
    assert woke <= 1, f"the fixed server woke {woke} times for an idle client, in {srv.sel.calls - calls_before} calls"
    # and it still serves that client
    assert round_trip(client, b"still there?") == b"still there?"
    assert srv.exc is None


# --------------------------------------------------------------------------
# a client whose server never replies


@pytest.fixture
def silent_server(sockets):
    """A listening socket that completes handshakes (backlog) but never replies."""
    lsock = sockets(socket.create_server((HOST, 0)))
    return lsock


def test_seed_client_busy_loops_when_server_never_replies(silent_server, client_selector):
    sel = client_selector()
    lines = []
    start_connections, service_connection = seed.client_functions(
        sel, print=lambda *a: lines.append(a)
    )
    start_connections(HOST, silent_server.getsockname()[1], 1)
    deadline = time.monotonic() + 0.5
    seed.client_loop(sel, service_connection, keep_going=lambda: time.monotonic() < deadline)
    assert sel.woke > 1000, f"the seed client woke only {sel.woke} times in 0.5 s"
    assert len(sel.get_map()) == 1, "the seed client should still be waiting (it never exits)"
    assert [a[1] for a in lines if a[0] == "sending"] == [repr(MSG1), repr(MSG2)]


def test_fixed_client_gives_up_when_server_never_replies(silent_server, client_selector, sockets):
    sel = client_selector()
    lines, failures = [], []
    log = lambda *a: lines.append(a)  # noqa: E731
    start_connections, service_connection = fixed.fixed_client_functions(
        sel, print=log, failures=failures
    )
    start_connections(HOST, silent_server.getsockname()[1], 1)
    t0 = time.monotonic()
    left = fixed.fixed_client_loop(sel, service_connection, timeout=0.5, print=log)
    elapsed = time.monotonic() - t0
    assert left == 1
    assert 0.45 <= elapsed < 2.0, elapsed
    assert sel.calls < 10, f"the fixed client woke {sel.calls} times in 0.5 s"
    assert failures == []
    assert any("gave up" in str(a[0]) for a in lines), lines
    assert sel.get_map() is None, "fixed_client_loop closes its selector"
    # it did its work before waiting: the server got both messages
    conn, _ = silent_server.accept()
    sockets(conn)
    assert recv_exactly(conn, len(BOTH) + 1) == BOTH  # then EOF: the client closed


# --------------------------------------------------------------------------
# TCP is a byte stream


@pytest.mark.parametrize("kind", ["seed", "fixed"])
def test_two_sends_arrive_as_one_recv(kind, make_server, sockets):
    """The seed client's two ``send`` calls reach the server as one ``recv``.

    Deterministic: the client connects and sends both messages (two separate
    ``send`` calls, Nagle off) before the server's loop runs; the bytes wait
    in the kernel and the server's first ``recv`` takes them together.  This
    is TCP, not a bug in either server: the fixed one sees the same, and the
    mend is on the client's side (count bytes, ``msg_total``, not messages).
    """
    srv = make_server(kind, start=False)
    client = sockets(socket.create_connection(srv.addr, timeout=5))
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert client.send(MSG1) == len(MSG1)
    assert client.send(MSG2) == len(MSG2)
    # both are in the server's kernel once the client has nothing unacknowledged left (Linux's SIOCOUTQ)
    wait_until(lambda: unacknowledged(client) == 0, timeout=5, what="the server's kernel to have both sends")
    srv.start()
    assert recv_exactly(client, len(BOTH)) == BOTH
    wait_until(lambda: srv.logged("echoing"), what="the echo line")
    echoes = srv.logged("echoing")
    assert echoes == [("echoing", repr(BOTH), "to", client.getsockname())]
    assert srv.exc is None


# --------------------------------------------------------------------------
# connect_ex result ignored


def test_seed_client_dies_on_refused_connection(client_selector):
    sel = client_selector()
    start_connections, service_connection = seed.client_functions(sel, print=quiet)
    start_connections(HOST, free_port(), 1)  # connect_ex's ECONNREFUSED/EINPROGRESS is ignored
    deadline = time.monotonic() + 2
    with pytest.raises(ConnectionRefusedError):
        seed.client_loop(
            sel, service_connection, timeout=0.5, keep_going=lambda: time.monotonic() < deadline
        )


def test_fixed_client_records_refused_connection(client_selector):
    sel = client_selector()
    lines, failures = [], []
    log = lambda *a: lines.append(a)  # noqa: E731
    start_connections, service_connection = fixed.fixed_client_functions(
        sel, print=log, failures=failures
    )
    start_connections(HOST, free_port(), 2)
    t0 = time.monotonic()
    left = fixed.fixed_client_loop(sel, service_connection, timeout=5, print=log)
    assert time.monotonic() - t0 < 2, "a refused connection should not wait for the timeout"
    assert left == 0
    assert [connid for connid, _ in failures] == [1, 2]
    for _, exc in failures:
        assert isinstance(exc, ConnectionRefusedError)
        assert exc.errno == errno.ECONNREFUSED
    assert [a[:2] for a in lines if a[0] == "connection"] == [("connection", 1), ("connection", 2)]
    assert all(a[2] == "failed:" for a in lines if a[0] == "connection")


# --------------------------------------------------------------------------
# one client resets the connection (RST)


def reset_connection(srv, sockets):
    """Connect, get one echo, then close with SO_LINGER (1, 0): the kernel sends RST."""
    bad = connect(srv, sockets)
    assert round_trip(bad, b"bye") == b"bye"
    addr = bad.getsockname()
    close_with_reset(bad)
    return addr


def test_seed_server_dies_when_one_client_resets(make_server, sockets):
    srv = make_server("seed")
    healthy = connect(srv, sockets)
    assert round_trip(healthy, b"before") == b"before"
    reset_connection(srv, sockets)
    srv.thread.join(timeout=5)
    assert not srv.thread.is_alive(), "the seed server's loop should have died"
    assert isinstance(srv.exc, ConnectionResetError), repr(srv.exc)
    # the healthy client is no longer served
    healthy.sendall(b"after")
    healthy.settimeout(0.5)
    with pytest.raises(socket.timeout):
        healthy.recv(100)


def test_fixed_server_survives_a_reset(make_server, sockets):
    srv = make_server("fixed")
    healthy = connect(srv, sockets)
    assert round_trip(healthy, b"before") == b"before"
    bad_addr = reset_connection(srv, sockets)
    wait_until(
        lambda: any(line[1] == bad_addr for line in srv.logged("error on connection to")),
        what="the 'error on connection to' line",
    )
    (error,) = srv.logged("error on connection to")
    assert "ConnectionResetError" in error[2]
    assert round_trip(healthy, b"after") == b"after"
    assert srv.thread.is_alive() and srv.exc is None
    # the reset connection is gone from the selector, the healthy one is still there
    assert [d.addr for d in srv.connection_data()] == [healthy.getsockname()]


# --------------------------------------------------------------------------
# restart right after the server closed its connections (TIME_WAIT)


def server_closes_first(kind, port, make_server, sockets):
    """Run a server on ``port``, exchange data, close the server side first, then the client."""
    srv = make_server(kind, port=port)
    client = connect(srv, sockets)
    assert round_trip(client, b"hello") == b"hello"
    srv.stop()
    fixed.close_all(srv.sel)  # the server closes first: its side goes to TIME_WAIT
    client.settimeout(5)
    assert client.recv(10) == b""  # the server's FIN arrived
    client.close()


def test_restart_at_once(make_server, sockets):
    port = free_port()
    server_closes_first("fixed", port, make_server, sockets)
    # the tutorial's setup (no SO_REUSEADDR) cannot bind the port now
    sel = selectors.DefaultSelector()
    try:
        with pytest.raises(OSError) as info:
            seed.listening_socket(sel, HOST, port, print=quiet)
        assert info.value.errno == errno.EADDRINUSE
        assert not sel.get_map(), "nothing is registered when bind fails"
    finally:
        sel.close()
    # the fixed one binds at once, and serves
    srv = make_server("fixed", port=port)
    assert srv.addr == (HOST, port)
    client = connect(srv, sockets)
    assert round_trip(client, b"again") == b"again"


def test_the_fixed_listening_socket_sets_so_reuseaddr_here_and_so_exclusiveaddruse_on_windows(monkeypatch):
    def options():
        with selectors.DefaultSelector() as sel:
            lsock = fixed.fixed_listening_socket(sel, HOST, 0, print=quiet)
            with lsock:
                # macOS answers an option that is on with its bit (SO_REUSEADDR: 4), Linux with 1
                return [bool(lsock.getsockopt(socket.SOL_SOCKET, option))
                        for option in (socket.SO_REUSEADDR, socket.SO_KEEPALIVE)]

    windows = hasattr(socket, "SO_EXCLUSIVEADDRUSE")
    assert options() == ([False, False] if windows else [True, False])
    # Where socket has SO_EXCLUSIVEADDRUSE (Windows), that is set and SO_REUSEADDR is not (there it would let
    # another socket bind the port). Here the constant stands for a harmless option, SO_KEEPALIVE.
    monkeypatch.setattr(socket, "SO_EXCLUSIVEADDRUSE", socket.SO_KEEPALIVE, raising=False)
    assert options() == [False, True]


@pytest.mark.skipif(sys.platform != "linux", reason="Linux's bind rule for TIME_WAIT sockets")
def test_restart_after_seed_server_needs_reuseaddr_on_the_old_socket_too(make_server, sockets):
    """On Linux, SO_REUSEADDR on the new socket is not enough: the TIME_WAIT
    connection keeps the old listener's setting.  A fixed server cannot take
    over a port right after the *seed* server (no SO_REUSEADDR) closed a
    connection there; lessons must not promise that."""
    port = free_port()
    server_closes_first("seed", port, make_server, sockets)
    sel = selectors.DefaultSelector()
    try:
        with pytest.raises(OSError) as info:
            fixed.fixed_listening_socket(sel, HOST, port, print=quiet)
        assert info.value.errno == errno.EADDRINUSE
    finally:
        sel.close()


# --------------------------------------------------------------------------
# a client that sends and never reads


def flooding_client(srv, sockets):
    # Small kernel buffers on both sides (an accepted socket inherits the
    # listener's), so the amount the kernel can soak up is small and known:
    # what the client manages to send beyond it sits in the server's outb.
    srv.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    srv.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock = sockets(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # never read: keep it small
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock.settimeout(5)
    sock.connect(srv.addr)
    me = sock.getsockname()
    wait_until(
        lambda: any(line[1] == me for line in srv.logged("accepted connection from")),
        what="the server to accept",
    )
    return sock


def max_outb_while(srv, sock, seconds):
    """Flood from ``sock`` in a thread for ``seconds``; sample the server's outb meanwhile."""
    result = {}
    sender = threading.Thread(
        target=lambda: result.update(sent=flood(sock, 8 * 1024 * 1024, seconds)[0]), daemon=True
    )
    sender.start()
    biggest = 0
    deadline = time.monotonic() + seconds + 0.2
    while time.monotonic() < deadline:
        for data in srv.connection_data():
            biggest = max(biggest, len(data.outb))
        time.sleep(0.01)
    sender.join(timeout=5)
    assert not sender.is_alive()
    return biggest, result["sent"]


def test_seed_server_outb_grows_without_bound(make_server, sockets):
    srv = make_server("seed")
    sock = flooding_client(srv, sockets)
    biggest, sent = max_outb_while(srv, sock, 1.0)
    assert srv.exc is None
    assert biggest > fixed.MAX_OUTB, (biggest, sent)


def test_fixed_server_outb_stays_bounded(make_server, sockets):
    srv = make_server("fixed")
    sock = flooding_client(srv, sockets)
    biggest, sent = max_outb_while(srv, sock, 1.0)
    assert srv.exc is None
    assert biggest <= fixed.MAX_OUTB + fixed.RECV_SIZE, (biggest, sent)
    # the client did send more than the bound (so the bound was tested), and was
    # pushed back: it could hand over only a fraction of its 8 MiB
    assert biggest >= fixed.MAX_OUTB, (biggest, sent)
    assert sent < 2 * 1024 * 1024, sent
    # the server stopped reading from it: READ is dropped, WRITE kept
    (key,) = [k for k in srv.sel.get_map().values() if k.data is not None]
    assert key.events == selectors.EVENT_WRITE
