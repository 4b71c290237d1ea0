"""BlockingServer: the guide's blocking echo server on a thread, with no time limit, stopped on demand."""

import socket
import threading
import time

import pytest

from echo_lab import BlockingServer, stop_all
from helpers import open_fds


def echo_server(s):  # lesson 01's function: the guide's lines in a while True
    while True:
        conn, addr = s.accept()
        with conn:
            print("Connected by", addr)
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                conn.sendall(data)


def echo(sock, payload):
    sock.sendall(payload)
    return sock.recv(1024)


def test_a_pause_longer_than_any_timeout_breaks_nothing():
    server = BlockingServer(echo_server)
    try:
        with socket.create_connection(server.address, timeout=2) as a:
            time.sleep(1.5)  # a reader's pause (lesson 01 used to give up after 5 s of one)
            assert echo(a, b"hello from A") == b"hello from A"
            time.sleep(1.5)
            assert server.running
    finally:
        server.stop()
    assert server.log[0].startswith("Connected by ('127.0.0.1', ")


def test_stop_wakes_a_blocked_recv_and_a_blocked_accept_and_frees_everything():
    fds, threads = open_fds(), threading.active_count()
    for waiting_in in ("accept", "recv"):
        server = BlockingServer(echo_server)
        client = socket.create_connection(server.address, timeout=2)
        if waiting_in == "recv":
            assert echo(client, b"x") == b"x"  # the thread now waits in recv() for this client
        else:
            client.close()  # served and gone: the thread waits in accept()
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1, waiting_in
        assert not server.running and server.lsock.fileno() == -1
        if waiting_in == "recv":
            assert client.recv(1024) == b""  # the server shut the connection down
        client.close()
        server.stop()  # a second stop does nothing
    assert (open_fds(), threading.active_count()) == (fds, threads)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(server.address, timeout=2)


def test_a_second_server_for_the_same_function_replaces_the_first():
    first = BlockingServer(echo_server)
    held = socket.create_connection(first.address, timeout=2)
    assert echo(held, b"1") == b"1"
    second = BlockingServer(echo_server)  # the cell run again
    try:
        assert not first.running and first.lsock.fileno() == -1
        assert held.recv(1024) == b""
        with socket.create_connection(second.address, timeout=2) as c:
            assert echo(c, b"2") == b"2"
    finally:
        held.close()
        second.stop()


def test_the_clients_queue_behind_the_first_and_a_reset_does_not_end_the_server():
    with_linger0 = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # SO_LINGER on, 0 s: close() sends an RST
    server = BlockingServer(echo_server)
    try:
        a = socket.create_connection(server.address, timeout=2)
        assert echo(a, b"A") == b"A"
        b = socket.create_connection(server.address, timeout=0.3)
        b.sendall(b"B")
        with pytest.raises(TimeoutError):
            b.recv(1024)  # A holds the only thread
        a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, with_linger0)
        a.close()  # a reset, not a goodbye
        b.settimeout(2)
        assert b.recv(1024) == b"B"
        b.close()
        assert server.running
    finally:
        server.stop()
    assert sum(line.startswith("Connected by") for line in server.log) == 2


def test_an_error_in_the_function_is_raised_by_stop():
    def broken_server(s):
        conn, addr = s.accept()
        conn.close()
        raise ValueError("a learner's mistake")

    server = BlockingServer(broken_server)
    socket.create_connection(server.address, timeout=2).close()
    deadline = time.monotonic() + 2
    while server.running and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(ValueError, match="a learner's mistake"):
        server.stop()


def test_stop_all_stops_it_and_its_log_is_bounded():
    def chatty_server(s):
        for n in range(50):
            print("line", n)
        echo_server(s)

    server = BlockingServer(chatty_server, log_limit=10)
    deadline = time.monotonic() + 2
    while len(server.log) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop_all()
    assert not server.running and server.lsock.fileno() == -1
    assert list(server.log)[-1] == "line 49" and len(server.log) == 10
