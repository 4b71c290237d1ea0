"""One selectors thread against threads and asyncio, measured side by side.

    python -m echo_lab bench [--seconds 1] [--conns 100,1000] [--sizes 64,16384]
                             [--servers fixed,seed,...] [--rounds 3] [--quick]

Each server runs in its own process pinned to the first CPU this process
may use (CPU 0 on a whole machine; a container may allow others); the load
client (``loadgen.c``, compiled with the system's C compiler on first use,
since a Python client tops out below what a good server answers) runs
pinned to the second.  It needs Linux (``/proc``, CPU affinity, epoll).
Every figure comes from the same run, and each ratio pairs two
measurements taken seconds apart in the same round; the median of the
rounds (5 by default) is printed with its spread.  So the ratios are fair on
a noisy machine even when the absolute numbers drift.

Besides throughput and latency it measures what an idle server costs
(1,000 idle connections for 5 s) and how many connections the fixed server
holds (10,000, or the limit that stops it) and what each costs in memory.
"""

import argparse
import asyncio
import hashlib
import json
import os
import pathlib
import resource
import select
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

from . import fixed, seed

HERE = pathlib.Path(__file__).parent
SERVER_CPU, CLIENT_CPU = 0, 1  # the first and the second of the CPUs this process may use
CFLAGS = ["-O2"]
MAX_SERVER_LIFE = 900  # seconds: a server left behind by a crash ends itself
START_TIMEOUT = 30  # seconds for a server process to say its port


# -- the servers (each runs in its own process) ------------------------------

def _selectors(kind):
    def run(lsock_port):
        sel = selectors.DefaultSelector()
        if kind == "seed":
            lsock = seed.listening_socket(sel, "127.0.0.1", 0, print=lambda *a: None)
            lsock.listen(1024)
            accept_wrapper, service_connection = seed.server_functions(sel, print=lambda *a: None)
        else:
            lsock = fixed.fixed_listening_socket(sel, "127.0.0.1", 0, print=None)
            accept_wrapper, service_connection = fixed.fixed_server_functions(sel, print=None)
        lsock_port(lsock.getsockname()[1])
        seed.event_loop(sel, accept_wrapper, service_connection)
    return run


class _EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def _echo_stream(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the load client resets its connections when a run ends
    finally:
        writer.close()


def _asyncio(kind):
    def run(lsock_port):
        if kind == "uvloop-protocol":
            import uvloop
            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        if kind == "asyncio-streams":
            server = loop.run_until_complete(asyncio.start_server(_echo_stream, "127.0.0.1", 0, backlog=1024))
        else:
            server = loop.run_until_complete(loop.create_server(_EchoProtocol, "127.0.0.1", 0, backlog=1024))
        lsock_port(server.sockets[0].getsockname()[1])
        loop.run_forever()
    return run


def _threads(lsock_port):
    lsock = socket.create_server(("127.0.0.1", 0), backlog=1024)
    lsock_port(lsock.getsockname()[1])

    def serve(conn):
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    threading.stack_size(256 * 1024)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


SERVERS = {
    "fixed": _selectors("fixed"),
    "seed": _selectors("seed"),
    "threads": _threads,
    "asyncio-protocol": _asyncio("asyncio-protocol"),
    "asyncio-streams": _asyncio("asyncio-streams"),
    "uvloop-protocol": _asyncio("uvloop-protocol"),
}


def _uvloop_installed():
    try:
        import uvloop  # noqa: F401
        return True
    except ImportError:
        return False


def serve_forever(kind):
    """Entry point of a server process: print the port, serve until killed."""
    _raise_fd_limit()
    _pin(SERVER_CPU)
    signal.alarm(MAX_SERVER_LIFE)
    try:
        SERVERS[kind](lambda port: print(port, flush=True))
    except OSError:
        pass  # e.g. the seed design dies when a load client resets: the run is over anyway


# -- measuring ---------------------------------------------------------------

def _pin(index):
    """Pin this process to the ``index``-th CPU it may use; unpinned if it may use fewer.

    ``os.sched_getaffinity``, not ``os.cpu_count``: a container may allow
    only some of the machine's CPUs, and not necessarily CPU 0.
    """
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        if index < len(allowed):
            os.sched_setaffinity(0, {allowed[index]})


def _raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _cpu_seconds(pid):
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class CompileError(RuntimeError):
    """There is a C compiler, but it could not build loadgen.c; the message has its own words."""


def c_compiler():
    """The system's C compiler (``cc``, else ``gcc``), or None."""
    return shutil.which("cc") or shutil.which("gcc")


def _compiler_version(cc):
    try:
        return subprocess.run([cc, "--version"], capture_output=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return b""


def loadgen_path():
    """Compile loadgen.c once (into a cache folder) and return the program's path.

    None if there is no C compiler.  If there is one and it fails (no epoll
    on macOS, say), raises :class:`CompileError` with the compiler's message.
    The cached program is named by a hash of the source, the flags and the
    compiler, so a changed source or compiler is rebuilt whatever the files' times.
    """
    cc = c_compiler()
    if cc is None:
        return None
    source = HERE / "loadgen.c"
    key = hashlib.sha256()
    for part in (source.read_bytes(), " ".join(CFLAGS).encode(), os.path.realpath(cc).encode(),
                 _compiler_version(cc)):
        key.update(hashlib.sha256(part).digest())
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "echo_lab"
    binary = cache / f"loadgen-{key.hexdigest()[:16]}"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f"{binary.name}.{os.getpid()}"  # then renamed: a half-written binary never runs
        try:
            built = subprocess.run([cc, *CFLAGS, "-o", str(tmp), str(source)], capture_output=True,
                                   text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            raise CompileError(f"{cc} could not compile {source}: {exc}") from None
        if built.returncode != 0:
            tmp.unlink(missing_ok=True)
            said = (built.stderr or built.stdout).strip() or f"exit status {built.returncode}"
            raise CompileError(f"{cc} could not compile {source}:\n{said}")
        tmp.replace(binary)
    return str(binary)


class Server:
    """A benchmark server in its own process."""

    def __init__(self, kind):
        self.kind = kind
        self.proc = subprocess.Popen([sys.executable, "-c", f"from echo_lab.bench import serve_forever; "
                                      f"serve_forever({kind!r})"], stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""  # the port, once listening
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"the {kind} server did not start")
        self.port = int(line)

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_load(loadgen, port, conns, size, seconds, hold=0.0):
    """Run the load client pinned to CLIENT_CPU; return its figures."""
    if loadgen:
        cmd = [loadgen, "127.0.0.1", str(port), str(conns), str(size), str(seconds), str(hold)]
    else:
        cmd = [sys.executable, "-m", "echo_lab.load", "127.0.0.1", str(port), "--conns", str(conns),
               "--size", str(size), "--seconds", str(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + hold + 120,
                         preexec_fn=lambda: (_raise_fd_limit(), _pin(CLIENT_CPU)))
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"load client failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(kind, loadgen, conns, size, seconds):
    with Server(kind) as server:
        cpu0 = _cpu_seconds(server.proc.pid)
        figures = run_load(loadgen, server.port, conns, size, seconds)
        cpu = _cpu_seconds(server.proc.pid) - cpu0
    figures["cpu_us_per_msg"] = cpu / figures["messages"] * 1e6 if figures["messages"] else float("nan")
    return figures


def idle_cost(kind, loadgen, conns=1000, hold=5.0):
    """Share of a core the server uses while ``conns`` connections sit idle for ``hold`` s.

    Returns ``(share, connected)``: how many connections the load client made."""
    with Server(kind) as server:
        proc = subprocess.Popen(
            [loadgen, "127.0.0.1", str(server.port), str(conns), "64", "0", str(hold + 1)],
            stdout=subprocess.PIPE, text=True, preexec_fn=lambda: (_raise_fd_limit(), _pin(CLIENT_CPU)))
        time.sleep(1.0)  # let the connections be made
        cpu0, t0 = _cpu_seconds(server.proc.pid), time.monotonic()
        time.sleep(hold)
        share = (_cpu_seconds(server.proc.pid) - cpu0) / (time.monotonic() - t0)
        out, _ = proc.communicate(timeout=hold + 30)
    return share, json.loads(out.strip().splitlines()[-1])["connected"]


def connection_capacity(loadgen, target=10_000, hold=5.0):
    """Connect ``target`` idle clients to the fixed server; return (held, fd limit, KiB per connection)."""
    limit = _raise_fd_limit()
    with Server("fixed") as server:
        rss0 = _rss_kib(server.proc.pid)
        proc = subprocess.Popen(
            [loadgen, "127.0.0.1", str(server.port), str(target), "64", "0", str(hold)],
            stdout=subprocess.PIPE, text=True, preexec_fn=lambda: (_raise_fd_limit(), _pin(CLIENT_CPU)))
        deadline, held = time.monotonic() + hold * 0.8, 0
        while time.monotonic() < deadline and held < target:  # until all are accepted
            time.sleep(0.05)
            held = _sockets(server.proc.pid) - 1  # minus the listening socket
        rss = _rss_kib(server.proc.pid)
        out, _ = proc.communicate(timeout=hold + 60)
    connected = json.loads(out.strip().splitlines()[-1])["connected"]
    return min(held, connected), limit, (rss - rss0) / max(1, held)


def _sockets(pid):
    """How many sockets a process has open (Linux)."""
    count = 0
    for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            pass  # closed meanwhile
    return count


# -- the report --------------------------------------------------------------

def _numbers(text, name, most, p):
    """'100,1000' -> [100, 1000]; a clear usage error for anything else."""
    try:
        numbers = [int(n) for n in text.split(",")]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1 or max(numbers) > most:
        p.error(f"{name} takes comma-separated whole numbers from 1 to {most:,}, not {text!r}")
    return numbers


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m echo_lab bench", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, help="length of each measurement (default 1; 0.5 with --quick)")
    p.add_argument("--conns", help="numbers of connections (default 100,1000; 100 with --quick)")
    p.add_argument("--sizes", default="64,16384", help="message sizes in bytes (default 64,16384)")
    p.add_argument("--servers", default=",".join(SERVERS), help="servers to compare")
    p.add_argument("--rounds", type=int, help="repeat every measurement; report medians (default 5; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="0.5 s each, 100 connections, one round, no idle/capacity runs")
    args = p.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else 0.5 if args.quick else 1.0
    rounds = args.rounds if args.rounds is not None else 1 if args.quick else 5
    if not 0 < seconds <= 600:
        p.error(f"--seconds takes a length between 0 and 600, not {seconds:g}")
    if not 1 <= rounds <= 100:
        p.error(f"--rounds takes a whole number from 1 to 100, not {rounds}")
    conns = _numbers(args.conns or ("100" if args.quick else "100,1000"), "--conns", 100_000, p)
    sizes = _numbers(args.sizes, "--sizes", 16 * 2**20, p)
    kinds = [k for k in args.servers.split(",") if k]
    unknown = [k for k in kinds if k not in SERVERS]
    if unknown or not kinds:
        p.error(f"unknown server(s) {', '.join(unknown) or repr(args.servers)}; choose from {', '.join(SERVERS)}")
    if "uvloop-protocol" in kinds and not _uvloop_installed():
        print("uvloop is not installed: skipping uvloop-protocol (pip install uvloop)")
        kinds.remove("uvloop-protocol")
    try:
        loadgen = loadgen_path()
        why_not_c = "no C compiler found"
    except CompileError as exc:  # e.g. no epoll (macOS): the Python client will do
        print(exc, file=sys.stderr)
        loadgen, why_not_c = None, "the C compiler failed on loadgen.c (its message is on stderr)"
    if loadgen is None:
        print(f"{why_not_c}: using the Python load client, which may be slower than the servers")
    runs = [(n, size, kind) for n in conns for size in sizes for kind in kinds]
    samples = {}  # (n, size, kind) -> {round: figures}
    header = f"{'server':<18}{'conns':>6}{'size':>7}{'msgs/s':>11}{'p50 us':>11}{'p99 us':>11}{'CPU us/msg':>12}"
    for r in range(1, rounds + 1):  # rounds interleave the servers: drift hits all alike
        print(header if rounds == 1 else f"round {r} of {rounds}\n{header}")
        for i, (n, size, kind) in enumerate(runs, 1):
            _progress(f"[{i}/{len(runs)}] {kind}, {n} connections, {size} B ...")
            try:
                f = measure(kind, loadgen, n, size, seconds)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                _progress("")
                print(f"{kind:<18}{n:>6}{size:>7}  failed: {exc}")
                continue
            samples.setdefault((n, size, kind), {})[r] = f
            _progress("")
            _row(kind, n, size, f)
    if rounds > 1:
        print(f"medians of {rounds} rounds\n{header}")
        for (n, size, kind), by_round in samples.items():
            _row(kind, n, size, _median(by_round.values()))
    _ratios(samples, conns, sizes)
    if not args.quick and loadgen:
        for kind in ("fixed", "seed"):
            share, connected = idle_cost(kind, loadgen)
            print(f"idle: {kind} with {connected:,} idle connections uses {share:.1%} of a core over 5 s"
                  + ("  (target < 1%)" if kind == "fixed" else ""))
        held, limit, kib = connection_capacity(loadgen)
        print(f"capacity: the fixed server held {held:,} connections (target 10,000; fd limit {limit:,}), "
              f"{kib:.1f} KiB of server memory (RSS, the kernel's socket buffers not counted) each")
    elif not args.quick:
        print(f"idle and capacity: skipped, they need the C load client ({why_not_c})")
    return 0


def _row(kind, n, size, f):
    print(f"{kind:<18}{n:>6}{size:>7}{f['msgs_per_s']:>11,.0f}{f['p50_us']:>11,.0f}"
          f"{f['p99_us']:>11,.0f}{f['cpu_us_per_msg']:>12.1f}", flush=True)


def _median(figures):
    """The median of each figure over the rounds."""
    return {name: statistics.median(f[name] for f in figures)
            for name in ("msgs_per_s", "p50_us", "p99_us", "cpu_us_per_msg")}


def _progress(text):
    """A progress line on a terminal's stderr, overwritten by the next one."""
    if sys.stderr.isatty():
        print(f"\r{text:<70}\r" if text else f"\r{'':<70}\r", end="", file=sys.stderr, flush=True)


def _ratios(samples, conns, sizes):
    """Fixed against each other server, round by round: each ratio compares two
    measurements taken seconds apart; the median of the rounds is printed."""
    print("ratios, measured in this run: msgs/s (fixed / other), server CPU per message (other / fixed)")
    for n in conns:
        for size in sizes:
            base = samples.get((n, size, "fixed"), {})
            for other, target in (("uvloop-protocol", 0.9), ("asyncio-protocol", 3.0),
                                  ("asyncio-streams", None), ("threads", None), ("seed", None)):
                f = samples.get((n, size, other), {})
                pairs = [(base[r], f[r]) for r in base if r in f
                         and f[r]["msgs_per_s"] and base[r]["cpu_us_per_msg"] > 0]
                if not pairs:
                    continue
                ratios = [b["msgs_per_s"] / o["msgs_per_s"] for b, o in pairs]
                ratio = statistics.median(ratios)
                cpu = statistics.median(o["cpu_us_per_msg"] / b["cpu_us_per_msg"] for b, o in pairs)
                spread = f" (rounds {min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
                verdict = "" if target is None else f"  target >= {target:g}x: {'met' if ratio >= target else 'NOT met'}"
                print(f"  {n:>5} conns, {size:>5} B: {other:<16} msgs/s {ratio:5.2f}x{spread}"
                      f"   CPU/msg {cpu:5.2f}x{verdict}")


if __name__ == "__main__":
    sys.exit(main())
