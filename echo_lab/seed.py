"""The tutorial's multi-connection server and client, as written.

This is the code of Real Python's "multi-connection client and server"
section (``multiconn-server.py`` and ``multiconn-client.py``), with the
tutorial's names, logic and printed lines.  Its flaws are kept on purpose:
the lessons measure them, and :mod:`echo_lab.fixed` mends them.

The tutorial keeps its selector ``sel`` in a global, so one process can run
only one server.  Here the functions are made by a factory that takes
``sel`` (and ``print``) and returns the tutorial's functions as closures.
Their bodies are the tutorial's, line for line and as it spells them
(its quotes, its layout); only where ``sel`` comes from has changed, so a
notebook and a background thread can each have their own selector
(:func:`listening_socket` and :func:`event_loop` say what else they add)::

    sel = selectors.DefaultSelector()
    accept_wrapper, service_connection = server_functions(sel)
    lsock = listening_socket(sel, '127.0.0.1', 0)
    event_loop(sel, accept_wrapper, service_connection)

This module is the course's one copy of the tutorial's code.  The solutions
of the four handler exercises (``accept_wrapper``, ``service_connection``,
``start_connections`` and the client's ``service_connection``) are these
functions' source; the solution notebooks write ``listening_socket`` and
``event_loop`` in the exercises' own shape.
``tests/test_tutorial_code.py`` checks this module and those solutions
against the tutorial's text.
"""

import selectors
import socket
import types

__all__ = [
    'messages',
    'listening_socket',
    'event_loop',
    'server_functions',
    'client_functions',
    'client_loop',
]

messages = [b'Message 1 from client.', b'Message 2 from client.']


def listening_socket(sel, host, port, print=print):
    """The tutorial's listening-socket setup, registered in ``sel``.

    Returns the socket.  Raises ``OSError`` (for example ``EADDRINUSE``)
    from ``bind``; the socket is closed before the error leaves.
    """
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        lsock.bind((host, port))
        lsock.listen()
    except BaseException:
        lsock.close()
        raise
    print('listening on', (host, port))
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, data=None)
    return lsock


def event_loop(sel, accept_wrapper, service_connection, timeout=None, keep_going=lambda: True):
    """The tutorial's event loop: ``while True`` becomes ``while keep_going()``,
    and ``select(timeout=None)`` takes the caller's ``timeout``.

    With the defaults this is the tutorial's loop exactly and runs until
    an exception (Ctrl-C raises ``KeyboardInterrupt`` out of it).
    """
    while keep_going():
        events = sel.select(timeout=timeout)
        for key, mask in events:
            if key.data is None:
                accept_wrapper(key.fileobj)
            else:
                service_connection(key, mask)


def server_functions(sel, print=print):
    """Return the tutorial's server ``(accept_wrapper, service_connection)`` bound to ``sel``."""

    def accept_wrapper(sock):
        conn, addr = sock.accept()  # Should be ready to read
        print('accepted connection from', addr)
        conn.setblocking(False)
        data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')
        events = selectors.EVENT_READ | selectors.EVENT_WRITE
        sel.register(conn, events, data=data)

    def service_connection(key, mask):
        sock = key.fileobj
        data = key.data
        if mask & selectors.EVENT_READ:
            recv_data = sock.recv(1024)  # Should be ready to read
            if recv_data:
                data.outb += recv_data
            else:
                print('closing connection to', data.addr)
                sel.unregister(sock)
                sock.close()
        if mask & selectors.EVENT_WRITE:
            if data.outb:
                print('echoing', repr(data.outb), 'to', data.addr)
                sent = sock.send(data.outb)  # Should be ready to write
                data.outb = data.outb[sent:]

    return accept_wrapper, service_connection


def client_functions(sel, messages=messages, print=print):
    """Return the tutorial's client ``(start_connections, service_connection)`` bound to ``sel``."""

    def start_connections(host, port, num_conns):
        server_addr = (host, port)
        for i in range(0, num_conns):
            connid = i + 1
            print('starting connection', connid, 'to', server_addr)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(server_addr)
            events = selectors.EVENT_READ | selectors.EVENT_WRITE
            data = types.SimpleNamespace(connid=connid,
                                         msg_total=sum(len(m) for m in messages),
                                         recv_total=0,
                                         messages=list(messages),
                                         outb=b'')
            sel.register(sock, events, data=data)

    def service_connection(key, mask):
        sock = key.fileobj
        data = key.data
        if mask & selectors.EVENT_READ:
            recv_data = sock.recv(1024)  # Should be ready to read
            if recv_data:
                print('received', repr(recv_data), 'from connection', data.connid)
                data.recv_total += len(recv_data)
            if not recv_data or data.recv_total == data.msg_total:
                print('closing connection', data.connid)
                sel.unregister(sock)
                sock.close()
        if mask & selectors.EVENT_WRITE:
            if not data.outb and data.messages:
                data.outb = data.messages.pop(0)
            if data.outb:
                print('sending', repr(data.outb), 'to connection', data.connid)
                sent = sock.send(data.outb)  # Should be ready to write
                data.outb = data.outb[sent:]

    return start_connections, service_connection


def client_loop(sel, service_connection, timeout=1, keep_going=lambda: True):
    """The full guide's client loop: serve events until no socket is left."""
    while keep_going():
        events = sel.select(timeout=timeout)
        for key, mask in events:
            service_connection(key, mask)
        # Check for a socket being monitored to continue.
        if not sel.get_map():
            break
