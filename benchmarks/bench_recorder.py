"""What recording costs: the fixed server with and without a Recorder, side by side.

The load client runs in its own process (python -m echo_lab.bench.load); the two
servers take turns, several rounds, in one run, so the ratio is fair on a
noisy machine.  Target: recorded throughput at least half of unrecorded
(a cost under 2x).

    python benchmarks/bench_recorder.py [--rounds 3] [--seconds 2] [--conns 50]
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

from echo_lab import BackgroundServer


def measure(record, conns, seconds, size):
    with BackgroundServer("fixed", record=record, capacity=100_000) as server:
        cpu = time.process_time()  # this process: the server thread works, the main thread waits
        out = subprocess.run(
            [sys.executable, "-m", "echo_lab.bench.load", *map(str, server.address), "--conns", str(conns),
             "--size", str(size), "--seconds", str(seconds)],
            capture_output=True, text=True, timeout=seconds + 30, check=True)
        cpu = time.process_time() - cpu
    figures = json.loads(out.stdout)
    figures["cpu_us_per_msg"] = cpu / max(1, figures["messages"]) * 1e6
    return figures


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--conns", type=int, default=50)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args()
    rates, cpus = {False: [], True: []}, {False: [], True: []}
    for r in range(args.rounds):
        for record in (False, True):
            figures = measure(record, args.conns, args.seconds, args.size)
            rates[record].append(figures["msgs_per_s"])
            cpus[record].append(figures["cpu_us_per_msg"])
            print(f"round {r + 1}: {'recorded  ' if record else 'unrecorded'} "
                  f"{figures['msgs_per_s']:>10,.0f} msgs/s  p50 {figures['p50_us']:>7.0f} us  "
                  f"p99 {figures['p99_us']:>7.0f} us  server CPU {figures['cpu_us_per_msg']:5.1f} us/msg",
                  flush=True)
    plain, recorded = statistics.median(rates[False]), statistics.median(rates[True])
    cpu_plain, cpu_recorded = statistics.median(cpus[False]), statistics.median(cpus[True])
    print(f"median: unrecorded {plain:,.0f} msgs/s, {cpu_plain:.1f} us CPU/msg; "
          f"recorded {recorded:,.0f} msgs/s, {cpu_recorded:.1f} us CPU/msg")
    for what, ratio in (("throughput", plain / recorded), ("server CPU per message", cpu_recorded / cpu_plain)):
        print(f"recording costs {ratio:.2f}x in {what} (target < 2x): {'met' if ratio < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
