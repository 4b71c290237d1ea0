"""echo_lab.net's one_entry_per_socket: select()'s entries as Linux gives them, whatever the system."""

import selectors
import socket

from echo_lab.net import one_entry_per_socket

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


def test_macos_two_entries_for_one_socket_become_one_read_write_entry():
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d, selectors.DefaultSelector() as sel:
        ka, kc = sel.register(a, READ | WRITE), sel.register(c, READ | WRITE)
        b.send(b"x")
        got = sel.select(timeout=5)  # a ready both ways, c writable only: epoll (Linux) and select() say so in
        merged = one_entry_per_socket(got)  # two entries, macOS's kqueue in three
        assert sorted((key.fd, mask) for key, mask in merged) == sorted([(ka.fd, READ | WRITE), (kc.fd, WRITE)])
        kqueue = [(ka, WRITE), (kc, WRITE), (ka, READ)]  # as macOS reports the same moment
        assert one_entry_per_socket(kqueue) == [(ka, READ | WRITE), (kc, WRITE)]
        if len(got) == 2:  # nothing to merge: the entries stay as they were, in their order
            assert merged == got
        assert one_entry_per_socket([]) == []
