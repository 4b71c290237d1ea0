"""A load client for benchmarks: N connections doing request/response echoes.

Run it in its own process so it does not share the server's GIL::

    python -m echo_lab.bench.load HOST PORT --conns 100 --size 64 --seconds 2

Each connection sends ``size`` bytes, waits until all of them are echoed,
notes the round trip and sends again, for ``seconds`` (and at most
``max_messages`` in all).  It reads while it sends, so a server that pushes
back never deadlocks it.  The ``seconds`` are counted once the server is
ready: every connection sends one message, has its echo and waits for the
others (a warm-up of :data:`WARM_UP` seconds at most, not counted), and then
``ready`` is printed on a line of its own.  Prints one JSON line: messages, seconds, msgs_per_s, p50_us, p99_us,
errors.
"""

import argparse
import json
import selectors
import socket
import sys
import time

__all__ = ["WARM_UP", "drive", "main"]

WARM_UP = 30.0  # seconds at most for every connection's first echo


def drive(host, port, conns=100, size=64, seconds=2.0, max_messages=10_000_000, connect_timeout=5.0,
          on_ready=None):
    """Drive the echo server at ``(host, port)``; return a dict of figures.

    ``on_ready()`` is called when the warm-up is over and the counted seconds start.
    """
    sel = selectors.DefaultSelector()
    payload = b"x" * size
    latencies, errors = [], 0
    socks = []
    try:
        for _ in range(conns):
            sock = socket.create_connection((host, port), timeout=connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            socks.append(sock)
        state = {}
        start = time.perf_counter()
        for sock in socks:
            state[sock] = [payload, 0, time.perf_counter()]  # unsent, echoed so far, sent at
            sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        waiting = set(socks)  # the warm-up: connections alive and still without their first echo
        end = start + WARM_UP
        while time.perf_counter() < end and len(latencies) < max_messages and sel.get_map():
            if waiting is not None and not waiting:
                waiting = None  # every connection alive has had its echo: count from now
                if on_ready:
                    on_ready()
                start = time.perf_counter()
                end = start + seconds
                for key in list(sel.get_map().values()):
                    state[key.fileobj] = [payload, state[key.fileobj][1], start]
                    sel.modify(key.fileobj, selectors.EVENT_READ | selectors.EVENT_WRITE)
            for key, mask in sel.select(timeout=0.1):
                sock, st = key.fileobj, state[key.fileobj]
                try:
                    if mask & selectors.EVENT_WRITE and st[0]:
                        st[0] = st[0][sock.send(st[0]):]
                        if not st[0]:
                            sel.modify(sock, selectors.EVENT_READ)
                    if mask & selectors.EVENT_READ:
                        data = sock.recv(65536)
                        if not data:
                            raise ConnectionError("server closed the connection")
                        st[1] += len(data)
                        if st[1] >= size:
                            now = time.perf_counter()
                            if waiting is not None:  # served once: wait for the others, reading only
                                waiting.discard(sock)
                                st[:] = [b"", st[1] - size, now]
                                continue
                            latencies.append(now - st[2])
                            st[:] = [payload, st[1] - size, now]
                            sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    errors += 1
                    sel.unregister(sock)
                    if waiting is not None:
                        waiting.discard(sock)
        elapsed = time.perf_counter() - start
    finally:
        for sock in socks:
            sock.close()
        sel.close()
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6 if latencies else 0.0  # noqa: E731
    return {"messages": len(latencies), "seconds": round(elapsed, 3),
            "msgs_per_s": round(len(latencies) / elapsed, 1), "p50_us": round(pick(0.50), 1),
            "p99_us": round(pick(0.99), 1), "errors": errors}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m echo_lab.bench.load", description=__doc__.splitlines()[0])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=2.0)
    args = p.parse_args(argv)
    figures = drive(args.host, args.port, args.conns, args.size, args.seconds,
                    on_ready=lambda: print("ready", flush=True))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
