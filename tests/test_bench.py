"""`python -m echo_lab bench` runs every server and prints its table and ratios (figures not asserted)."""

import re
import subprocess
import sys

import pytest


def test_bench_quick_prints_a_row_per_server_and_the_ratios():
    out = subprocess.run(
        [sys.executable, "-m", "echo_lab", "bench", "--quick", "--seconds", "0.3", "--sizes", "64",
         "--servers", "fixed,seed,threads,asyncio-protocol,asyncio-streams"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for kind in ("fixed", "seed", "threads", "asyncio-protocol", "asyncio-streams"):
        row = re.search(rf"^{kind}\s+100\s+64\s+([\d,]+)\s", out.stdout, re.M)
        assert row, f"no row for {kind}:\n{out.stdout}"
        assert int(row[1].replace(",", "")) > 100, f"{kind} answered almost nothing"
    assert re.search(r"asyncio-protocol\s+msgs/s\s+[\d.]+x\s+CPU/msg", out.stdout)
    assert "Traceback" not in out.stderr


def test_bench_rejects_an_unknown_server():
    out = subprocess.run([sys.executable, "-m", "echo_lab", "bench", "--servers", "nginx"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "unknown server" in out.stderr


def test_bench_rounds_pair_the_servers_and_print_the_spread():
    out = subprocess.run(
        [sys.executable, "-m", "echo_lab", "bench", "--quick", "--rounds", "2", "--seconds", "0.2",
         "--sizes", "64", "--servers", "fixed,asyncio-protocol"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("round ") >= 2 and "medians of 2 rounds" in out.stdout, out.stdout
    ratio = re.search(r"asyncio-protocol\s+msgs/s\s+([\d.]+)x \(rounds ([\d.]+)-([\d.]+)\)", out.stdout)
    assert ratio, out.stdout
    low, mid, high = float(ratio[2]), float(ratio[1]), float(ratio[3])
    assert low <= mid <= high  # the median of two paired ratios lies between them


@pytest.mark.parametrize("args, message", [
    (["--rounds", "0"], "--rounds takes"),
    (["--seconds", "-1"], "--seconds takes"),
    (["--conns", "100,"], "--conns takes"),
    (["--sizes", "1e9"], "--sizes takes"),
    (["--servers", ","], "unknown server"),
])
def test_bench_rejects_bad_arguments_in_one_line(args, message):
    out = subprocess.run([sys.executable, "-m", "echo_lab", "bench", *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out
    assert message in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_idle_cost_separates_the_busy_loop_and_capacity_counts_connections():
    from echo_lab import bench
    loadgen = bench.loadgen_path()
    assert loadgen, "the C load client did not compile: is cc installed?"
    fixed, connected = bench.idle_cost("fixed", loadgen, conns=50, hold=1.0)
    seed, _ = bench.idle_cost("seed", loadgen, conns=50, hold=1.0)
    assert connected == 50
    assert fixed < 0.05 < 0.5 < seed, (fixed, seed)  # the fixed server sleeps; the seed spins
    held, limit, kib = bench.connection_capacity(loadgen, target=300, hold=2.0)
    assert held == 300 and limit >= 300 and kib > 0
