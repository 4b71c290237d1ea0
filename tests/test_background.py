"""The background server, the recorder and run_client, with real sockets on 127.0.0.1."""

import selectors
import socket
import threading
import time
import traceback
import types

import pytest

from echo_lab import BackgroundServer, Recorder, run_client, seed
from echo_lab.watch.recorder import READ, WRITE
from helpers import open_fds, wait_until

pytestmark = pytest.mark.usefixtures("no_server_left")

MESSAGE_BYTES = len(b"Message 1 from client.Message 2 from client.")


def learner_pieces(service=None, accept=None):
    """A learner's selector, listening socket and functions, written as the tutorial does."""
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, data=None)

    def accept_wrapper(sock):
        conn, addr = sock.accept()
        print("accepted connection from", addr)
        conn.setblocking(False)
        sel.register(conn, selectors.EVENT_READ, data=types.SimpleNamespace(addr=addr, outb=b""))

    def service_connection(key, mask):
        sock = key.fileobj
        recv_data = sock.recv(1024)
        if recv_data:
            sock.sendall(recv_data)
        else:
            sel.unregister(sock)
            sock.close()

    return sel, accept or accept_wrapper, service or service_connection


def test_start_stop_200_times_leaks_no_fd_and_no_thread():
    with BackgroundServer("fixed"):  # warm up lazily created objects
        pass
    fds, threads = open_fds(), threading.active_count()
    for i in range(200):
        server = BackgroundServer("seed" if i % 2 else "fixed").start()
        if i % 20 == 0:  # some cycles with a client connected at stop
            client = socket.create_connection(server.address, timeout=2)
            client.close()
        server.stop()
        assert not server.running
    assert open_fds() == fds
    assert threading.active_count() == threads


@pytest.mark.timing
def test_stop_is_fast_while_blocked_in_select_forever():
    durations = []
    for _ in range(100):
        server = BackgroundServer("seed").start()
        time.sleep(0.002)  # let the thread reach select(timeout=None)
        t0 = time.perf_counter()
        server.stop()
        durations.append(time.perf_counter() - t0)
    durations.sort()
    p99 = durations[98]
    assert p99 < 0.2, f"stop p99 {p99 * 1000:.1f} ms"


def test_stop_twice_and_context_manager():
    with BackgroundServer("fixed") as server:
        assert server.running
    server.stop()  # a second stop is harmless
    assert not server.running


def test_same_explicit_port_binds_right_after_stop():
    first = BackgroundServer("seed").start()
    port = first.address[1]
    result = run_client(first.address, 2)
    assert result.finished
    # A connection still open at stop: closing it from the server side would leave TIME_WAIT.
    lingering = socket.create_connection(first.address, timeout=2)
    first.stop()
    lingering.close()
    with BackgroundServer("seed", port=port) as second:  # the tutorial's socket: no SO_REUSEADDR
        assert second.address[1] == port
        assert run_client(second.address, 1).finished


def test_rerunning_a_cell_with_an_explicit_port_stops_the_old_server():
    first = BackgroundServer("fixed").start()
    second = BackgroundServer("fixed", port=first.address[1]).start()
    assert not first.running and second.running
    second.stop()


def test_learner_exception_surfaces_with_its_traceback():
    def service_connection(key, mask):
        raise ZeroDivisionError("learner bug")

    sel, accept_wrapper, _ = learner_pieces()
    server = BackgroundServer(sel=sel, accept_wrapper=accept_wrapper,
                              service_connection=service_connection).start()
    client = socket.create_connection(server.address, timeout=2)
    client.sendall(b"hello")
    deadline = time.monotonic() + 2
    while server.running and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not server.running, "the loop should stop on the learner's error"
    with pytest.raises(ZeroDivisionError) as info:
        server.wait_idle(timeout=1)
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "service_connection"
    server.stop()  # raised once: stop now is quiet
    client.close()


def test_learner_exception_in_accept_wrapper_raised_by_stop():
    def accept_wrapper(sock):
        sock.accept()
        raise KeyError("oops")

    sel, _, service_connection = learner_pieces()
    server = BackgroundServer(sel=sel, accept_wrapper=accept_wrapper,
                              service_connection=service_connection).start()
    socket.create_connection(server.address, timeout=2).close()
    wait_until(lambda: server.error is not None, what="the loop to stop on the learner's KeyError")
    with pytest.raises(KeyError):
        server.stop()


def test_blocking_learner_handler_does_not_hang_stop():
    blocked = threading.Event()

    def accept_wrapper(sock):
        conn, addr = sock.accept()  # forgot conn.setblocking(False), and reads at once
        sel.register(conn, selectors.EVENT_READ, data=addr)
        blocked.set()
        conn.recv(1024)  # blocks: the client sends nothing

    sel, _, service_connection = learner_pieces()
    server = BackgroundServer(sel=sel, accept_wrapper=accept_wrapper,
                              service_connection=service_connection).start()
    client = socket.create_connection(server.address, timeout=2)
    assert blocked.wait(5), "the handler never reached its recv"
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="blocked"):
        server.stop()
    assert time.perf_counter() - t0 < 3
    assert not server.running
    client.close()


def test_endless_learner_loop_is_interrupted_and_leaves_no_thread():
    looping = threading.Event()

    def service_connection(key, mask):
        looping.set()
        while True:  # never returns
            pass

    sel, accept_wrapper, _ = learner_pieces()
    threads = threading.active_count()
    server = BackgroundServer(sel=sel, accept_wrapper=accept_wrapper,
                              service_connection=service_connection).start()
    client = socket.create_connection(server.address, timeout=2)
    client.sendall(b"x")
    assert looping.wait(5), "the handler was never called"
    with pytest.raises(RuntimeError, match="did not stop"):
        server.stop()
    client.close()
    assert not server.running
    assert threading.active_count() == threads


def test_learner_prints_go_to_the_log_not_to_the_cell(capsys):
    sel, accept_wrapper, service_connection = learner_pieces()
    with BackgroundServer(sel=sel, accept_wrapper=accept_wrapper,
                          service_connection=service_connection) as server:
        result = run_client(server.address, 2, kind="fixed")
        server.wait_idle()
    assert result.finished
    assert capsys.readouterr().out == ""
    assert sum(line.startswith("accepted connection from") for line in server.log) == 2


def test_reference_server_log_is_the_tutorials_transcript():
    with BackgroundServer("seed") as server:
        run_client(server.address, 2)
        server.wait_idle()
    assert server.log[0] == "listening on ('127.0.0.1', 0)"  # the port asked for, as the tutorial prints it
    assert sum(line.startswith("accepted connection from ('127.0.0.1', ") for line in server.log) == 2
    assert sum(line.startswith("closing connection to ('127.0.0.1', ") for line in server.log) == 2
    echoed = {}  # per connection: the two connections' echoes interleave differently each run
    for line in server.log:
        if line.startswith("echoing"):
            piece, to = line.split("'")[1], line.rsplit(" to ", 1)[1]
            echoed[to] = echoed.get(to, "") + piece
    assert list(echoed.values()) == ["Message 1 from client.Message 2 from client."] * 2, server.log


@pytest.mark.parametrize("kind, conn_mask", [("seed", READ | WRITE), ("fixed", READ)])
def test_recorded_two_client_run(kind, conn_mask):
    with BackgroundServer(kind) as server:
        result = run_client(server.address, 2, kind="fixed")
        server.wait_idle()
    assert result.finished
    events = server.recorder.events()
    listening = [e for e in events if e.label.startswith("listening")]
    lfd = listening[0].fd
    accepts = [e for e in events if e.kind == "accept"]
    assert len(accepts) == 2
    ready_listening = [e for e in events if e.kind == "ready" and e.fd == lfd]
    if kind == "seed":  # one accept per READ-ready on the listening socket
        assert len(ready_listening) == len(accepts)
    assert all(e.ready == READ for e in ready_listening)
    conn_registers = [e for e in events if e.kind == "register" and e.label.startswith("client")]
    assert len(conn_registers) == 2
    assert all(e.events == conn_mask for e in conn_registers)
    for reg in conn_registers:  # every unregister comes before that socket's close
        later = [e for e in events if e.fd == reg.fd and e.t >= reg.t and e.kind in ("unregister", "close")]
        assert [e.kind for e in later[:2]] == ["unregister", "close"]
    received = sum(e.nbytes for e in events if e.kind == "recv")
    assert received == result.sent == 2 * MESSAGE_BYTES
    assert sum(e.nbytes for e in events if e.kind == "send") == result.received == 2 * MESSAGE_BYTES


def test_fixed_server_modifies_for_write_only_while_output_is_pending():
    total = 4_000_000
    with BackgroundServer("fixed") as server:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        client.settimeout(5)
        client.connect(server.address)
        sender = threading.Thread(target=client.sendall, args=(b"x" * total,), daemon=True)
        sender.start()  # sends while nobody reads: the server's sends must hit EAGAIN
        deadline = time.monotonic() + 5
        while not any(e.events & WRITE for e in server.recorder.events("modify")):
            assert time.monotonic() < deadline, "the fixed server never asked for EVENT_WRITE"
            time.sleep(0.01)
        got = 0
        while got < total:
            got += len(client.recv(1 << 16))
        sender.join(5)
        client.close()
        server.wait_idle()
    masks = [e.events for e in server.recorder.events("modify")]
    assert masks[-1] & WRITE == 0, "WRITE is dropped again once outb is empty"
    registered = [e.events for e in server.recorder.events("register") if e.label.startswith("client")]
    assert registered == [READ]


def test_recorder_ring_is_bounded_and_counts_what_it_dropped():
    with BackgroundServer("seed", capacity=20) as server:  # 3 clients make 40 events or more
        run_client(server.address, 3)
        server.wait_idle()
    rec = server.recorder
    assert len(rec.events()) == 20
    assert rec.dropped > 0
    assert rec.calls >= 3


def test_recorder_can_be_read_while_the_loop_runs():
    with BackgroundServer("seed") as server:
        stop = threading.Event()
        errors = []

        def read():
            while not stop.is_set():
                try:
                    server.recorder.events()
                except Exception as exc:  # pragma: no cover - the failure being tested
                    errors.append(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        client = socket.create_connection(server.address, timeout=2)  # busy loop: many events
        time.sleep(0.3)
        stop.set()
        reader.join(2)
        client.close()
    assert not errors
    assert server.recorder.calls > 100


def test_recorder_wraps_a_learner_selector_and_keeps_real_sockets_in_the_map():
    sel = Recorder(selectors.DefaultSelector())
    a, b = socket.socketpair()
    with a, b:
        sel.register(a, READ, data="x")
        b.send(b"hi")
        (key, mask), = sel.select(timeout=1)
        assert key.fileobj.recv(10) == b"hi"  # the registered socket itself, recorded
        assert sel.get_map()[a].fileobj is a
        sel.modify(key.fileobj, READ | WRITE, data="x")
        sel.unregister(key.fileobj)
        key.fileobj.close()
    kinds = [e.kind for e in sel.events()]
    assert kinds == ["register", "select", "ready", "recv", "modify", "unregister", "close"]
    assert sel.events("recv")[0].nbytes == 2
    sel.close()


def test_run_client_counts_every_byte_past_a_small_ring_and_not_the_selectors_past():
    sel = Recorder(selectors.DefaultSelector(), capacity=8)
    a, b = socket.socketpair()
    with a, b:  # the learner's selector already moved 5 bytes in an earlier cell
        sel.register(a, selectors.EVENT_READ)
        b.sendall(b"hello")
        [(key, _)] = sel.select(timeout=2)
        key.fileobj.recv(16)
        sel.unregister(a)
    start_connections, service_connection = seed.client_functions(sel, print=lambda *a: None)
    with BackgroundServer("seed") as server:
        result = run_client(server.address, 20, sel=sel, start_connections=start_connections,
                            service_connection=service_connection)
    expected = 20 * len(b"".join(seed.messages))
    assert result.finished
    assert sel.dropped > 100, "the ring held everything: this test needs a ring that overflows"
    assert (result.sent, result.received) == (expected, expected)


def test_run_client_gives_up_on_a_server_that_never_answers():
    silent = socket.create_server(("127.0.0.1", 0))
    with silent:
        t0 = time.monotonic()
        result = run_client(silent.getsockname(), 2, timeout=0.5)
        assert time.monotonic() - t0 < 2
    assert result.timed_out and not result.finished
    assert result.received == 0


def test_run_client_reports_a_refused_connection():
    probe = socket.create_server(("127.0.0.1", 0))
    address = probe.getsockname()
    probe.close()
    result = run_client(address, 1, kind="fixed", timeout=1)
    assert not result.finished
    assert isinstance(result.failures[0][1], ConnectionRefusedError)


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="seed"):
        BackgroundServer("faithful")
    sel = selectors.DefaultSelector()
    with pytest.raises(ValueError, match="listening socket"):
        BackgroundServer(sel=sel, accept_wrapper=print, service_connection=print)
    sel.close()
    with pytest.raises(OSError), socket.create_server(("127.0.0.1", 0)) as taken:
        BackgroundServer("seed", port=taken.getsockname()[1])


def test_log_lines_are_cut_so_the_log_stays_bounded():
    with BackgroundServer("seed", log_limit=5) as server:
        client = socket.create_connection(server.address, timeout=2)
        client.sendall(b"x" * 100_000)  # the tutorial prints all of outb in one 'echoing' line
        got = 0
        client.settimeout(5)
        while got < 100_000:
            got += len(client.recv(65536))
        client.close()
        server.wait_idle()
    assert len(server.log) <= 5
    assert all(len(line) < 600 for line in server.log)
    assert any(line.startswith("echoing") and line.endswith("characters)") for line in server.log)


def test_print_log_keeps_the_tutorials_port_0_and_says_the_chosen_port_on_a_line_of_its_own(capsys):
    with BackgroundServer("seed") as seed_server, BackgroundServer("fixed") as fixed_server:
        pass
    seed_server.print_log()
    assert capsys.readouterr().out.splitlines() == [
        f"[echo_lab] port 0 asks the system for any free port; it chose {seed_server.address}",
        "listening on ('127.0.0.1', 0)"]
    fixed_server.print_log()  # the fixed server prints the port it got: no line of the course's
    assert capsys.readouterr().out.splitlines() == [f"listening on {fixed_server.address}"]
