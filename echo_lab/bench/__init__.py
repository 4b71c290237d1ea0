"""One selectors thread against threads and asyncio, measured side by side.

    python -m echo_lab bench [--seconds 1] [--conns 100,1000] [--sizes 64,16384]
                             [--servers fixed,seed,...] [--rounds 3] [--quick]

Each server runs in its own process pinned to the first CPU this process
may use (CPU 0 on a whole machine; a container may allow others); the load
client (``loadgen.c``, compiled with the system's C compiler on first use,
since a Python client tops out below what a good server answers) runs
pinned to the second (neither pinned where the CPUs are shared: a hub's
server, a CPU quota).  It needs Linux (``/proc``, CPU affinity, epoll).
Every figure comes from the same run, and each ratio pairs two
measurements taken seconds apart in the same round; the median of the
rounds (5 by default) is printed with its spread.  So the ratios are fair on
a noisy machine even when the absolute numbers drift.

Besides throughput and latency it measures what an idle server costs
(1,000 idle connections for 5 s) and how many connections the fixed server
holds (10,000, or the limit that stops it) and what each costs in memory.

The package, one job a module:

* :mod:`~echo_lab.bench.servers`: the competing servers, each run in its own process;
* :mod:`~echo_lab.bench.measuring`: a server process, the load client against it, and what
  ``/proc`` says the server used (CPU, memory, sockets);
* :mod:`~echo_lab.bench.build`: compiling ``loadgen.c`` once, cached by a hash;
* :mod:`~echo_lab.bench.load`: the load client in Python, for where ``loadgen.c`` cannot be built;
* :mod:`~echo_lab.bench.report`: ``python -m echo_lab bench``: the rounds, the table, the ratios.
"""

from .build import CFLAGS, CompileError, c_compiler, loadgen_path
from .measuring import (
    CLIENT_CPU,
    SERVER_CPU,
    Server,
    connection_capacity,
    count_sockets,
    cpu_seconds,
    idle_cost,
    measure,
    pin,
    raise_fd_limit,
    rss_kib,
    run_load,
)
from .report import main
from .servers import SERVERS, serve_forever, uvloop_installed

__all__ = ["CFLAGS", "CLIENT_CPU", "SERVERS", "SERVER_CPU", "CompileError", "Server", "c_compiler",
           "connection_capacity", "count_sockets", "cpu_seconds", "idle_cost", "loadgen_path", "main", "measure",
           "pin", "raise_fd_limit", "rss_kib", "run_load", "serve_forever", "uvloop_installed"]
