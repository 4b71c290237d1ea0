"""Measuring a server: its process, the load client against it, and what ``/proc`` says it used.

The server runs pinned to the first CPU this process may use, the load
client to the second (:func:`pin`), unless the CPUs are shared (a hub's
server, a CPU quota: :func:`shared_cpus`).  CPU time, memory and open sockets are
read from ``/proc`` (Linux).
"""

import contextlib
import json
import os
import pathlib
import select
import subprocess
import sys
import time

from .load import WARM_UP

__all__ = ["CLIENT_CPU", "SERVER_CPU", "START_TIMEOUT", "Server", "connection_capacity", "count_sockets",
           "cpu_quota", "cpu_seconds", "idle_cost", "measure", "pin", "raise_fd_limit", "rss_kib", "run_load",
           "shared_cpus"]

SERVER_CPU, CLIENT_CPU = 0, 1  # the first and the second of the CPUs this process may use
START_TIMEOUT = 30  # seconds for a server process to say its port


# -- the process and /proc ---------------------------------------------------

def cpu_quota(cgroup="/proc/self/cgroup", root="/sys/fs/cgroup"):
    """This process's CPU quota from its cgroup, in CPUs (cgroup v2's ``cpu.max``, v1's ``cpu.cfs_quota_us``);
    None when it has none, or none can be read."""
    try:
        groups = dict(line.split(":", 2)[1:] for line in pathlib.Path(cgroup).read_text().splitlines())
        root = pathlib.Path(root)
        if "" in groups and (root / groups[""].lstrip("/") / "cpu.max").exists():  # v2
            quota, period = (root / groups[""].lstrip("/") / "cpu.max").read_text().split()[:2]
        else:  # v1: the cpu controller's group
            group = root / "cpu" / next(path for names, path in groups.items() if "cpu" in names.split(",")).lstrip("/")
            quota, period = ((group / f"cpu.cfs_{name}_us").read_text().strip() for name in ("quota", "period"))
        return None if quota in ("max", "-1") else int(quota) / int(period)
    except (OSError, ValueError, StopIteration):
        return None


def shared_cpus():
    """Why this machine's CPUs are not the benchmark's to pin, or None where they are: under a JupyterHub
    (``JUPYTERHUB_USER``: every learner's servers would land on the same two CPUs), or in a cgroup with a CPU
    quota (the quota, not any one CPU, is what this process has)."""
    if os.environ.get("JUPYTERHUB_USER"):
        return "a JupyterHub's server, beside other learners'"
    quota = cpu_quota()
    if quota is not None:
        return f"a quota of {quota:g} CPUs"
    return None


def pin(index):
    """Pin this process to the ``index``-th CPU it may use; unpinned if it may use fewer, or if the CPUs are
    shared (:func:`shared_cpus`).

    ``os.sched_getaffinity``, not ``os.cpu_count``: a container may allow
    only some of the machine's CPUs, and not necessarily CPU 0.
    """
    if hasattr(os, "sched_setaffinity") and shared_cpus() is None:
        allowed = sorted(os.sched_getaffinity(0))
        if index < len(allowed):
            os.sched_setaffinity(0, {allowed[index]})


def raise_fd_limit():
    """Raise this process's limit on open files to its hard limit; return the limit now.

    macOS's hard limit is often RLIM_INFINITY, which setrlimit refuses (ValueError): there the
    kernel's own ceiling for a process, 10,240 (OPEN_MAX), is asked for instead.
    """
    import resource  # Unix only: bench runs on Linux (main() says so elsewhere)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 10_240 if hard == resource.RLIM_INFINITY else hard
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def count_sockets(pid):
    """How many sockets a process has open (Linux)."""
    count = 0
    for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            count += os.readlink(fd).startswith("socket:")
    return count


# -- a server against the load client -----------------------------------------

class Server:
    """A benchmark server in its own process."""

    def __init__(self, kind):
        self.kind = kind
        self.proc = subprocess.Popen([sys.executable, "-c", f"from echo_lab.bench.servers import serve_forever; "
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


def run_load(loadgen, port, conns, size, seconds, hold=0.0, on_ready=None):
    """Run the load client pinned to CLIENT_CPU; return its figures.

    ``on_ready()`` is called when the client says "ready": its warm-up is over and its
    counted seconds start.
    """
    if loadgen:
        cmd = [loadgen, "127.0.0.1", str(port), str(conns), str(size), str(seconds), str(hold)]
    else:
        cmd = [sys.executable, "-m", "echo_lab.bench.load", "127.0.0.1", str(port), "--conns", str(conns),
               "--size", str(size), "--seconds", str(seconds)]
    deadline = time.monotonic() + WARM_UP + seconds + hold + 120
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: (raise_fd_limit(), pin(CLIENT_CPU))) as proc:
        try:
            lines = []
            while (left := deadline - time.monotonic()) > 0 and select.select([proc.stdout], [], [], left)[0]:
                line = proc.stdout.readline()
                if not line:
                    break  # the client is done
                if line.strip() == "ready" and on_ready:
                    on_ready()
                lines.append(line.strip())
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            proc.kill()
        said = proc.stderr.read().strip()
    if proc.returncode != 0 or not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"load client failed: {said or 'no figures'}")
    return json.loads(lines[-1])


def measure(kind, loadgen, conns, size, seconds, tries=4):
    """The ``kind`` server against ``conns`` connections echoing ``size`` bytes for ``seconds``.

    The seconds, and the server's CPU, are counted once every connection has had
    an echo (the load client's warm-up): accepting them is not part of it.  A run
    that counted no message (a machine with no CPU to spare for it then: ten
    learners' sweeps at once on 2 cores) is run again for twice as long, up to
    ``tries`` runs in all.
    """
    for _ in range(tries):
        with Server(kind) as server:
            cpu = {"ready": cpu_seconds(server.proc.pid)}
            figures = run_load(loadgen, server.port, conns, size, seconds,
                               on_ready=lambda: cpu.update(ready=cpu_seconds(server.proc.pid)))  # noqa: B023
            cpu = cpu_seconds(server.proc.pid) - cpu["ready"]
        if figures["messages"]:
            break
        seconds *= 2
    figures["cpu_us_per_msg"] = cpu / figures["messages"] * 1e6 if figures["messages"] else float("nan")
    return figures


def idle_cost(kind, loadgen, conns=1000, hold=5.0):
    """Share of a core the server uses while ``conns`` connections sit idle for ``hold`` s.

    Returns ``(share, connected)``: how many connections the load client made."""
    with Server(kind) as server:
        proc = subprocess.Popen(
            [loadgen, "127.0.0.1", str(server.port), str(conns), "64", "0", str(hold + 1)],
            stdout=subprocess.PIPE, text=True, preexec_fn=lambda: (raise_fd_limit(), pin(CLIENT_CPU)))
        time.sleep(1.0)  # let the connections be made
        cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
        time.sleep(hold)
        share = (cpu_seconds(server.proc.pid) - cpu0) / (time.monotonic() - t0)
        out, _ = proc.communicate(timeout=hold + 30)
    return share, json.loads(out.strip().splitlines()[-1])["connected"]


def connection_capacity(loadgen, target=10_000, hold=5.0):
    """Connect ``target`` idle clients to the fixed server; return (held, fd limit, KiB per connection)."""
    limit = raise_fd_limit()
    with Server("fixed") as server:
        rss0 = rss_kib(server.proc.pid)
        proc = subprocess.Popen(
            [loadgen, "127.0.0.1", str(server.port), str(target), "64", "0", str(hold)],
            stdout=subprocess.PIPE, text=True, preexec_fn=lambda: (raise_fd_limit(), pin(CLIENT_CPU)))
        deadline, held = time.monotonic() + hold * 0.8, 0
        while time.monotonic() < deadline and held < target:  # until all are accepted
            time.sleep(0.05)
            held = count_sockets(server.proc.pid) - 1  # minus the listening socket
        rss = rss_kib(server.proc.pid)
        out, _ = proc.communicate(timeout=hold + 60)
    connected = json.loads(out.strip().splitlines()[-1])["connected"]
    return min(held, connected), limit, (rss - rss0) / max(1, held)
