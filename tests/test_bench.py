"""`python -m echo_lab bench` runs every server and prints its table and ratios (figures not asserted).

The tests that need the C load client skip, saying why, when there is no C
compiler; with the environment variable CI set they fail instead.
"""

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from echo_lab import bench
from helpers import cannot

LOADGEN_C = bench.build.HERE / "loadgen.c"
NO_COMPILER = ("no C compiler (cc or gcc) on PATH, so the C load client (echo_lab/bench/loadgen.c) "
               "cannot be built; install one, e.g. apt-get install gcc")


def needs_c_compiler():
    """The C compiler; without one, ``cannot`` with the reason."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        cannot("the C load client's tests", NO_COMPILER)
    return cc


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
    verdict = re.search(r"asyncio-protocol .*target >= 3x: (.*)$", out.stdout, re.M)
    assert verdict and verdict[1].startswith("one round"), "one round is too noisy to say met or not"
    assert "Traceback" not in out.stderr


def test_a_round_with_no_cpu_counted_for_fixed_still_prints_its_ratio(capsys):
    """/proc counts CPU in 10 ms ticks: a short round on a busy machine may count none for the fixed server."""
    from echo_lab.bench import report

    figures = lambda rate, cpu: {"msgs_per_s": rate, "cpu_us_per_msg": cpu}  # noqa: E731
    report._ratios({(100, 64, "fixed"): {1: figures(3000.0, 0.0)},
                    (100, 64, "asyncio-protocol"): {1: figures(1000.0, 40.0)}}, [100], [64])
    out = capsys.readouterr().out
    assert re.search(r"asyncio-protocol\s+msgs/s\s+3\.00x\s+CPU/msg\s+n/a \(too little CPU to count\)", out), out


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
    assert re.search(r"asyncio-protocol .*target >= 3x: (met|NOT met)$", out.stdout, re.M), out.stdout


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
    needs_c_compiler()
    loadgen = bench.loadgen_path()
    fixed, connected = bench.idle_cost("fixed", loadgen, conns=50, hold=1.0)
    seed, _ = bench.idle_cost("seed", loadgen, conns=50, hold=1.0)
    assert connected == 50
    # The fixed server sleeps; the seed spins, on whatever share of a core a busy machine leaves it: in a
    # clean-clone CI run with every worker busy, 0.064 of a core (where the fixed server counted 0.0). So the
    # floor is 3 of /proc's 10 ms ticks in the second held, what a spinning process gets beside 60 busy ones.
    assert fixed < 0.05 and seed > max(0.03, 10 * fixed), (fixed, seed)
    held, limit, kib = bench.connection_capacity(loadgen, target=300, hold=2.0)
    assert held == 300 and limit >= 300 and kib > 0


def refused_port():
    with socket.socket() as s:  # bound, never listening: a connect is refused
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_loadgen_never_closes_fd_0_after_a_failed_connect(tmp_path):
    """Built with close() watched: a slot with no socket must not be taken for fd 0 (stdin)."""
    cc = needs_c_compiler()
    guard = tmp_path / "watch_close.h"
    guard.write_text(
        "#include <stdio.h>\n#include <unistd.h>\n"
        "static int watched_close(int fd) {\n"
        '    if (fd == 0) fprintf(stderr, "close(0)\\n");\n'
        "    return close(fd);\n}\n"
        "#define close watched_close\n")
    binary = tmp_path / "loadgen"
    subprocess.run([cc, "-O2", "-include", str(guard), "-o", str(binary), str(LOADGEN_C)],
                   check=True, capture_output=True, timeout=120)
    out = subprocess.run([str(binary), "127.0.0.1", str(refused_port()), "5", "64", "0.2"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert (figures["connected"], figures["errors"]) == (0, 1), figures
    assert "refused" in out.stderr.lower(), out.stderr
    assert "close(0)" not in out.stderr, f"loadgen closed fd 0:\n{out.stderr}"


def with_usage_line(name):
    """loadgen.c, its usage line naming it ``name``: which source a binary was built from shows."""
    source = LOADGEN_C.read_text()
    assert '"usage: loadgen ' in source
    return source.replace('"usage: loadgen ', f'"usage: {name} ')


def test_the_cached_load_client_follows_its_source_whatever_the_file_times(tmp_path, monkeypatch):
    needs_c_compiler()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(bench.build, "HERE", tmp_path)
    source = tmp_path / "loadgen.c"
    source.write_text(with_usage_line("loadgen-one"))
    first = bench.loadgen_path()
    said = subprocess.run([first], capture_output=True, text=True, timeout=30).stderr
    assert "usage: loadgen-one" in said, said
    # another source, older than the binary (a checkout or a copy keeps old times)
    source.write_text(with_usage_line("loadgen-two"))
    os.utime(source, (os.path.getmtime(first) - 3600,) * 2)
    second = bench.loadgen_path()
    said = subprocess.run([second], capture_output=True, text=True, timeout=30).stderr
    assert "usage: loadgen-two" in said, f"the binary built from the old source ran: {said}"


def test_a_compiler_that_fails_is_reported_with_its_own_message(tmp_path, monkeypatch, capsys):
    needs_c_compiler()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(bench.build, "HERE", tmp_path)
    (tmp_path / "loadgen.c").write_text("#error this system has no epoll\n")
    status = bench.main(["--quick", "--seconds", "0.2", "--sizes", "64", "--servers", "fixed"])
    out, err = capsys.readouterr()
    assert "no C compiler" not in out + err, out + err
    assert "this system has no epoll" in err, err  # the compiler's own words
    assert "Python load client" in out, out
    assert status == 0 and re.search(r"^fixed\s+100\s+64\s+[\d,]+\s", out, re.M), out


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_pin_stays_within_the_cpus_this_process_may_use():
    """As in a container allowed only some CPUs: here, only the last one."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip(f"needs 2 CPUs to leave one out; this process may use {allowed}")
    code = ("import os; from echo_lab import bench; "
            f"os.sched_setaffinity(0, {{{allowed[-1]}}}); "
            "bench.pin(0); print(sorted(os.sched_getaffinity(0)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str([allowed[-1]]), "pinned outside the CPUs it was allowed"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_pin_leaves_shared_cpus_alone_under_a_hub():
    """A hub's learners share the host's CPUs: pinning every learner's servers to the first would pile them up."""
    allowed = sorted(os.sched_getaffinity(0))
    code = "import os; from echo_lab import bench; bench.pin(0); print(sorted(os.sched_getaffinity(0)))"
    run = lambda env: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,  # noqa: E731
                                     timeout=60, env=env)
    hub = run(dict(os.environ, JUPYTERHUB_USER="learner01"))
    assert hub.returncode == 0 and hub.stdout.strip() == str(allowed), hub.stdout + hub.stderr
    from echo_lab.bench.measuring import shared_cpus
    if shared_cpus() is None and len(allowed) > 1:  # this machine's CPUs are the benchmark's: pinned
        alone = run({k: v for k, v in os.environ.items() if k != "JUPYTERHUB_USER"})
        assert alone.stdout.strip() == str(allowed[:1]), alone.stdout + alone.stderr


def test_a_cpu_quota_is_read_from_cgroup_v2_and_v1(tmp_path):
    from echo_lab.bench import measuring

    def machine(cgroup, files):  # /proc/self/cgroup, and files under /sys/fs/cgroup
        where = tmp_path / str(len(list(tmp_path.iterdir())))
        where.mkdir()
        for path, text in files.items():
            (where / path).parent.mkdir(parents=True, exist_ok=True)
            (where / path).write_text(text)
        (where / "cgroup").write_text(cgroup)
        return measuring.cpu_quota(where / "cgroup", where / "fs")

    assert machine("0::/user/learner\n", {"fs/user/learner/cpu.max": "150000 100000\n"}) == 1.5
    assert machine("0::/\n", {"fs/cpu.max": "max 100000\n"}) is None
    assert machine("4:cpu,cpuacct:/pod1\n0::/\n", {"fs/cpu/pod1/cpu.cfs_quota_us": "200000\n",
                                                    "fs/cpu/pod1/cpu.cfs_period_us": "100000\n"}) == 2
    assert machine("1:cpu:/\n0::/\n", {"fs/cpu/cpu.cfs_quota_us": "-1\n",
                                       "fs/cpu/cpu.cfs_period_us": "100000\n"}) is None
    assert machine("", {}) is None  # nothing to read: no quota known


def test_without_a_compiler_the_c_tests_skip_saying_why_and_fail_under_ci():
    """These tests' own rule, run in a pytest whose PATH has no C compiler."""
    bindir = os.path.dirname(sys.executable)
    if shutil.which("cc", path=bindir) or shutil.which("gcc", path=bindir):
        pytest.skip(f"{bindir} holds a C compiler too: cannot hide it from a PATH")
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PATH": bindir}
    # (without the notebooks' plugin, nbval, and its options: they load in 2 s of the 3 s this pytest takes)
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:nbval", "-o", "addopts=",
           __file__, "-k", "idle_cost"]
    local = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout + local.stderr
    assert "no C compiler (cc or gcc) on PATH" in local.stdout, local.stdout
    ci = subprocess.run(cmd, env=env | {"CI": "true"}, capture_output=True, text=True, timeout=120)
    assert ci.returncode == 1 and "1 failed" in ci.stdout, ci.stdout + ci.stderr
    assert "cannot run in CI" in ci.stdout, ci.stdout


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_elsewhere_than_linux_bench_says_so_in_one_line(platform, monkeypatch, capsys):
    from echo_lab.bench import report

    monkeypatch.setattr(report.sys, "platform", platform)
    assert report.main(["--quick"]) == 2
    err = capsys.readouterr().err
    assert err == f"python -m echo_lab bench needs Linux (/proc, CPU affinity, epoll); this is {platform}.\n"


def test_an_infinite_hard_limit_on_open_files_asks_for_macos_ceiling(monkeypatch):
    import resource

    from echo_lab.bench import measuring

    asked = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (asked or [(256, resource.RLIM_INFINITY)])[-1])
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: asked.append(limits))
    assert measuring.raise_fd_limit() == 10_240  # setrlimit(RLIM_INFINITY) raises ValueError on macOS
    assert asked == [(10_240, resource.RLIM_INFINITY)]


class LateServer:
    """An echo server on 127.0.0.1 that accepts nothing for its first ``late`` seconds (a slow start)."""

    def __init__(self, late):
        import threading
        import time
        self.lsock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.lsock.getsockname()[1]
        self.started = time.monotonic()

        self.stopping = threading.Event()

        def serve():
            self.stopping.wait(late)
            self.lsock.settimeout(0.1)  # to see `stopping` soon
            deadline = time.monotonic() + 60
            while not self.stopping.is_set() and time.monotonic() < deadline:
                try:
                    conn, _ = self.lsock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                threading.Thread(target=echo, args=(conn,), daemon=True).start()

        def echo(conn):
            with conn, contextlib.suppress(OSError):
                conn.settimeout(10)
                while data := conn.recv(65536):
                    conn.sendall(data)

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=15)
        self.lsock.close()


def test_a_run_that_counted_no_message_is_run_again_for_twice_as_long(monkeypatch):
    """On a machine with no CPU to spare (ten learners' sweeps at once on 2 cores) a run can count no message."""
    from echo_lab.bench import measuring

    asked, real = [], measuring.run_load

    def starved_at_first(loadgen, port, conns, size, seconds, on_ready=None):
        asked.append(seconds)
        figures = real(loadgen, port, conns, size, seconds, on_ready=on_ready)
        return dict(figures, messages=0) if len(asked) < 3 else figures

    monkeypatch.setattr(measuring, "run_load", starved_at_first)
    figures = measuring.measure("fixed", None, 5, 64, 0.2)
    assert asked == [0.2, 0.4, 0.8] and figures["messages"] > 0 and figures["cpu_us_per_msg"] > 0, (asked, figures)


@pytest.mark.parametrize("client", ["C", "Python"])
def test_the_counted_seconds_start_once_every_connection_has_had_an_echo(client):
    """A server that accepts nothing for 1 s still gets a 0.3 s window of echoes, counted after "ready"."""
    import time
    loadgen = bench.loadgen_path() if client == "C" and needs_c_compiler() else None
    server = LateServer(late=1.0)
    ready = []
    try:
        figures = bench.run_load(loadgen, server.port, 5, 64, 0.3, on_ready=lambda: ready.append(time.monotonic()))
    finally:
        server.close()
    assert len(ready) == 1 and ready[0] - server.started >= 1.0, ready  # after the first accept, not before
    assert figures["errors"] == 0 and figures["messages"] > 5, figures  # in a window of 0.3 s after the wait
    assert 0.25 < figures["seconds"] < 2, figures
