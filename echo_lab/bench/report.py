"""``python -m echo_lab bench``: every server measured in rounds, the table, the ratios, idle and capacity."""

import argparse
import statistics
import subprocess
import sys

from .build import CompileError, loadgen_path
from .measuring import connection_capacity, idle_cost, measure, shared_cpus
from .servers import SERVERS, uvloop_installed

__all__ = ["DESCRIPTION", "main"]

DESCRIPTION = "One selectors thread against threads and asyncio, measured side by side."


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
    p = argparse.ArgumentParser(prog="python -m echo_lab bench", description=DESCRIPTION)
    p.add_argument("--seconds", type=float, help="length of each measurement (default 1; 0.5 with --quick)")
    p.add_argument("--conns", help="numbers of connections (default 100,1000; 100 with --quick)")
    p.add_argument("--sizes", default="64,16384", help="message sizes in bytes (default 64,16384)")
    p.add_argument("--servers", default=",".join(SERVERS), help="servers to compare")
    p.add_argument("--rounds", type=int, help="repeat every measurement; report medians (default 5; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="0.5 s each, 100 connections, one round, no idle/capacity runs")
    args = p.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print(f"python -m echo_lab bench needs Linux (/proc, CPU affinity, epoll); this is {sys.platform}.",
              file=sys.stderr)
        return 2
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
    if "uvloop-protocol" in kinds and not uvloop_installed():
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
    shared = shared_cpus()
    if shared:
        print(f"servers and load clients not pinned to CPUs: this is {shared}", file=sys.stderr)
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
                pairs = [(base[r], f[r]) for r in base if r in f and f[r]["msgs_per_s"]]
                if not pairs:
                    continue
                ratios = [b["msgs_per_s"] / o["msgs_per_s"] for b, o in pairs]
                ratio = statistics.median(ratios)
                # /proc counts CPU in 10 ms ticks: a short round on a busy machine may count none for fixed
                cpus = [o["cpu_us_per_msg"] / b["cpu_us_per_msg"] for b, o in pairs if b["cpu_us_per_msg"] > 0]
                cpu = f"{statistics.median(cpus):5.2f}x" if cpus else "  n/a (too little CPU to count)"
                spread = f" (rounds {min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
                met = "met" if target is not None and ratio >= target else "NOT met"
                if len(ratios) == 1:  # one round swings by a third on a busy machine: no verdict
                    met = "one round, judged only over several (run without --quick)"
                verdict = "" if target is None else f"  target >= {target:g}x: {met}"
                print(f"  {n:>5} conns, {size:>5} B: {other:<16} msgs/s {ratio:5.2f}x{spread}"
                      f"   CPU/msg {cpu}{verdict}")
