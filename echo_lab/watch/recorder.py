"""Record what an event loop does, without changing the loop's code.

:class:`Recorder` wraps any selector and is itself a selector, so a lesson
only changes one line::

    sel = Recorder(selectors.DefaultSelector())

Every ``register``, ``modify`` and ``unregister`` is recorded, and every
``select()`` call with what it returned.  The keys are the wrapped
selector's own, as a plain selector gives them: ``select()`` returns the
very key ``register()`` returned (``key is lkey``) holding the very socket
that was registered (``key.fileobj is lsock``).  To see the bytes each
handler moves, a socket that ``select()`` returns is switched, in place,
to a subclass of ``socket.socket`` (:class:`RecordingSocket`) whose
``recv``, ``send``, ``sendall``, ``accept`` and ``close`` are recorded;
the object stays the same, and so does its ``repr``.  It goes back to a
plain ``socket.socket`` when it is closed or the Recorder is.

Events go into a ring of ``capacity`` entries (the oldest are dropped and
counted in :attr:`Recorder.dropped`); the bytes sent and received are
totalled as they pass (:attr:`Recorder.bytes_sent`, ``bytes_received``),
so no total is lost with the ring.  :meth:`Recorder.events` may be called
from any thread while the loop runs.
"""

import itertools
import selectors
import socket
import threading
import time
import weakref
from collections import deque
from typing import NamedTuple

__all__ = ["READ", "WRITE", "Event", "Recorder", "RecordingSocket", "label_of", "mask_name"]

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


def mask_name(mask, code=False):
    """Name an event mask: 1 -> 'READ', 2 -> 'WRITE', 3 -> 'READ|WRITE', 0 -> '-'.

    As code (``code=True``, the words the checks use): 'EVENT_READ', 'EVENT_WRITE',
    'EVENT_READ | EVENT_WRITE', or 'events=N' for any other N.
    """
    names = [name for bit, name in ((READ, "READ"), (WRITE, "WRITE")) if mask & bit]
    if not code:
        return "|".join(names) or "-"
    return " | ".join(f"EVENT_{name}" for name in names) if mask in (READ, WRITE, READ | WRITE) else f"events={mask!r}"


class Event(NamedTuple):
    """One thing the loop did.

    ``kind`` is one of ``register``, ``modify``, ``unregister`` (``events`` is
    the mask registered after the change), ``select`` (one per call: ``ready``
    is how many sockets were ready), ``ready`` (one per ready socket:
    ``events`` registered, ``ready`` the ready mask), ``accept`` (on the
    listening socket; ``label`` names the new client), ``recv`` and ``send``
    (``nbytes``; a ``recv`` of 0 bytes is the peer's end of file), ``close``.
    """

    t: float  # time.monotonic()
    call: int  # number of the select() call this happened in or after (0: before the first)
    kind: str
    fd: int  # -1 for 'select'
    label: str
    events: int = 0
    ready: int = 0
    nbytes: int = 0


def label_of(sock):
    """A readable name for a socket: 'listening 127.0.0.1:5000', 'client 127.0.0.1:40312'."""
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            host, port = sock.getsockname()[:2]
            return f"listening {host}:{port}"
        try:
            host, port = sock.getpeername()[:2]
            return f"client {host}:{port}"
        except OSError:  # a client socket still connecting: name it by its own address
            host, port = sock.getsockname()[:2]
            return f"local {host}:{port}"
    except (OSError, AttributeError, TypeError, ValueError):
        return f"fd {_fileno(sock)}"


def _fileno(obj):
    try:
        return obj if isinstance(obj, int) else obj.fileno()
    except (OSError, ValueError):
        return -1


class RecordingSocket(socket.socket):
    """The class of a socket while a :class:`Recorder` watches it; records its I/O.

    A Recorder switches a ``socket.socket`` that its ``select()`` returns to
    a subclass of this one made for it (``_recorder`` names it): the learner
    keeps the same object, so ``key.fileobj is sock`` holds, as it does
    with a plain selector.  Only the recorded methods differ.
    """

    __slots__ = ()
    _recorder = None  # set on the subclass each Recorder makes

    def recv(self, bufsize, *flags):
        data = super().recv(bufsize, *flags)
        self._recorder._add("recv", self.fileno(), nbytes=len(data))
        return data

    def send(self, data, *flags):
        sent = super().send(data, *flags)
        self._recorder._add("send", self.fileno(), nbytes=sent)
        return sent

    def sendall(self, data, *flags):
        super().sendall(data, *flags)
        self._recorder._add("send", self.fileno(), nbytes=len(data))

    def accept(self):
        conn, addr = super().accept()  # a plain socket.socket
        self._recorder._add("accept", self.fileno(), label=f"client {addr[0]}:{addr[1]}")
        return conn, addr

    def close(self):
        recorder, fd = self._recorder, self.fileno()
        try:
            if fd != -1:
                recorder._add("close", fd)
            super().close()
        finally:
            recorder._release(self)

    def dup(self):
        sock = super().dup()  # made with this class: the copy is not watched
        sock.__class__ = socket.socket
        return sock

    def __repr__(self):  # as the socket's own class shows it: '<socket.socket fd=...>'
        cls = type(self)
        return super().__repr__().replace(f"{cls.__module__}.{cls.__qualname__}", "socket.socket", 1)


class Recorder(selectors.BaseSelector):
    """A selector that records what is done with it. Wraps ``selector``."""

    def __init__(self, selector=None, capacity=100_000):
        self.selector = selector if selector is not None else selectors.DefaultSelector()
        self.capacity = capacity
        self.dropped = 0  # events pushed out of the ring
        self.calls = 0  # select() calls so far
        self.bytes_sent = self.bytes_received = 0  # through the recorded sockets, none lost with the ring
        self._ring = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._labels = {}  # fd -> label of the socket registered (or last registered) there
        self._names = {}  # fd -> label given with set_label, used at the next register
        self._watched = weakref.WeakSet()  # the sockets switched to self._socket_class
        self._socket_class = None  # made at the first socket watched
        self.selecting = False  # True while a select() call waits

    # -- recording -------------------------------------------------------
    def _add(self, kind, fd, label=None, events=0, ready=0, nbytes=0):
        event = Event(time.monotonic(), self.calls, kind, fd,
                      label if label is not None else self._labels.get(fd, ""), events, ready, nbytes)
        with self._lock:
            if len(self._ring) == self.capacity:
                self.dropped += 1
            self._ring.append(event)
            if kind == "send":
                self.bytes_sent += nbytes
            elif kind == "recv":
                self.bytes_received += nbytes

    def events(self, kind=None, last=None):
        """A snapshot of the recorded events (all, or those of one ``kind``; the ``last`` n only)."""
        with self._lock:
            # the last n: walk from the newest end, cheap even when the ring is full
            snapshot = list(self._ring) if last is None else list(itertools.islice(reversed(self._ring), last))[::-1]
        return snapshot if kind is None else [e for e in snapshot if e.kind == kind]

    def clear(self):
        with self._lock:
            self._ring.clear()
            self.dropped = 0
            self.bytes_sent = self.bytes_received = 0

    def set_label(self, fileobj, label):
        """Name a socket before registering it (the background server names its wake-up socket)."""
        self._names[_fileno(fileobj)] = label

    def label(self, fd):
        return self._labels.get(fd, f"fd {fd}")

    # -- the selector interface -------------------------------------------
    def register(self, fileobj, events, data=None):
        key = self.selector.register(fileobj, events, data)
        self._labels[key.fd] = self._names.pop(key.fd, None) or label_of(fileobj)
        self._add("register", key.fd, events=events)
        return key

    def unregister(self, fileobj):
        key = self.selector.unregister(fileobj)  # still watched: the close that follows is recorded
        self._add("unregister", key.fd, events=0)
        return key

    def modify(self, fileobj, events, data=None):
        key = self.selector.modify(fileobj, events, data)
        self._add("modify", key.fd, events=events)
        return key

    def select(self, timeout=None):
        self.selecting = True  # inside select(): the loop has done what it had to, and waits
        try:
            ready = self.selector.select(timeout)
        finally:
            self.selecting = False
        self.calls += 1
        self._add("select", -1, "", ready=len(ready))
        for key, mask in ready:
            self._add("ready", key.fd, events=key.events, ready=mask)
            if type(key.fileobj) is socket.socket:  # not yet watched (a pipe, a raw fd: nothing to record)
                self._watch(key.fileobj)
        return ready  # the selector's own keys, as a plain selector returns them

    def _watch(self, sock):
        """Switch ``sock``, in place, to this Recorder's RecordingSocket class."""
        if self._socket_class is None:
            self._socket_class = type("RecordingSocket", (RecordingSocket,),
                                      {"__slots__": (), "_recorder": self, "__module__": __name__})
        sock.__class__ = self._socket_class
        self._watched.add(sock)

    def _release(self, sock):
        """Give ``sock`` back its plain class: at its close, or the Recorder's."""
        if type(sock) is self._socket_class:
            sock.__class__ = socket.socket
        self._watched.discard(sock)

    def get_key(self, fileobj):
        return self.selector.get_key(fileobj)

    def get_map(self):
        return self.selector.get_map()

    def close(self):
        for sock in list(self._watched):
            self._release(sock)
        self.selector.close()

    def __repr__(self):
        return (f"<Recorder of {type(self.selector).__name__}: {self.calls} select() calls, "
                f"{len(self._ring)} events kept, {self.dropped} dropped>")
