"""`python -m echo_lab bench` runs every server and prints its table and ratios (figures not asserted)."""

import re
import subprocess
import sys


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
