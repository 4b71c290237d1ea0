"""A class on JupyterHub, simulated: N learners run the lessons at once on this machine.

    python tools/classroom.py --learners 10             # lessons 01-08; a third also run 09
    python tools/classroom.py --learners 2 5 10         # one class after another, one table
    python tools/classroom.py --learners 2 --lessons 02 --busy-share 0   # a quick look
    python tools/classroom.py --learners 30 --lessons 09 --busy-share 0  # one lesson, the whole class at once
    python tools/classroom.py --learners 10 --keep-kernels   # learners who never shut a kernel down
    python tools/classroom.py --learners 30 --kernel-transport ipc       # kernels over files, not ports

What runs is real: JupyterHub (from PyPI) with configurable-http-proxy (from
npm: on PATH, or installed once into ``.cache/chp/`` with ``--install-proxy``),
the dummy authenticator and the SimpleLocalProcessSpawner, on 127.0.0.1 only,
with its database, cookie secret and pid files in a temporary folder.  Each
learner is created through the hub's REST API (an admin service token made for
this run), gets a token of their own, starts their own single-user server
(JupyterLab's server) whose home is a temporary folder holding a copy of the
course in ``echo-lab/``, and runs each lesson as JupyterLab would: a session
(a kernel) per notebook on their own server, each code cell sent over the
kernel's websocket, the next cell ``--pause`` seconds after the last one went
idle.  All learners start together; ``--busy-share`` of them (a third by
default) also run lesson 09, whose demos keep a core busy on purpose.

Measured, as a teacher needs it:

- cell latency as a learner sees it: from sending the cell to the kernel
  going idle (p50, p95, max; overall and per lesson);
- errors: cells with error output, cells that did not finish in
  ``--cell-timeout`` (interrupted), learners who could not log in or start;
- changed: cells whose printed text differs from the stored notebook (ports
  and addresses hidden as tests/nbval_sanitize.cfg does; cells tagged
  ``nbval-ignore-output`` not compared): a lesson that says something else
  when the machine is busy;
- memory: the RSS of each learner's server plus its kernels (peak per
  learner), and the peak of hub + proxy + all servers and kernels together;
- CPU: cores used by all of it, on average and at the busiest second;
- left running: any process of the run, or listening socket of one, still
  there after the hub has stopped (then it is killed).

Prints a table per class size, per-lesson figures, and last a line per size
``N learners: p95 cell latency X s, peak memory Y GiB, Z errors``.  ``--json``
writes every figure.  Every wait is bounded; the hub, the proxy and every
server and kernel are stopped on exit, on an error and on Ctrl-C.  Exit status:
0 when the runs finished with no error and nothing left running, 1 otherwise,
2 when JupyterHub or configurable-http-proxy is missing.
"""

import argparse
import contextlib
import json
import math
import os
import pathlib
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

from hub import (
    COURSE_DIR,
    PROXY_PACKAGE,
    Hub,
    find_proxy,
    install_proxy,
    jupyterhub_missing,
    kill_all,
    learner_config,
    listening,
    run_processes,
)
from learner import Learner, lesson_path, load_cells, sanitizer

ROOT = pathlib.Path(__file__).resolve().parents[1]
GiB = 1024 ** 3
MiB = 1024 ** 2
SAMPLE_EVERY = 0.5  # seconds between two samples of memory and CPU


def percentile(values, q):
    """The q-th percentile (0-100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


# -- what the machine does: memory and CPU, sampled ------------------------------------------------

class Sampler(threading.Thread):
    """Every SAMPLE_EVERY s: RSS and CPU time of the hub's process tree, grouped by learner."""

    def __init__(self, hub):
        super().__init__(daemon=True, name="sampler")
        self.hub = hub
        self.halt = threading.Event()
        self.owner = {}  # server pid -> learner name ('' for the proxy and other helpers)
        self.peak_total = 0
        self.peak_learner = {}  # learner -> peak RSS of server + kernels
        self.peak_kernel = []  # per kernel process: its peak RSS
        self._kernel_peak = {}
        self.cpu_seen = {}  # pid -> latest user+system seconds
        self.busiest = 0.0  # cores, over one sample interval
        self.samples = 0
        self.errors = 0

    def run(self):
        import psutil
        try:
            hub = psutil.Process(self.hub.proc.pid)
        except psutil.Error:
            return
        window = []  # (seconds, cpu seconds) of the last two intervals: the busiest second
        last_t, last_wall = time.monotonic(), time.time()
        while not self.halt.wait(SAMPLE_EVERY):
            try:
                total, used = 0, 0.0
                per_learner = {}
                procs = [hub] + hub.children(recursive=True)
                for proc in procs:
                    try:
                        rss = proc.memory_info().rss
                        times = proc.cpu_times()
                        ppid = proc.ppid()
                    except psutil.Error:
                        continue
                    try:
                        created = self.hub.seen.setdefault(proc.pid, proc.create_time())
                    except psutil.Error:
                        created = 0.0
                    now_cpu = times.user + times.system
                    if proc.pid in self.cpu_seen:
                        used += max(0.0, now_cpu - self.cpu_seen[proc.pid])
                    elif created >= last_wall:  # born in this interval: all its CPU time is from it
                        used += now_cpu
                    self.cpu_seen[proc.pid] = now_cpu
                    total += rss
                    learner = self._learner(proc, ppid, hub.pid)
                    if learner:
                        per_learner[learner] = per_learner.get(learner, 0) + rss
                        if ppid != hub.pid:  # a kernel (or what a kernel started)
                            self._kernel_peak[proc.pid] = max(self._kernel_peak.get(proc.pid, 0), rss)
                self.peak_total = max(self.peak_total, total)
                for learner, rss in per_learner.items():
                    self.peak_learner[learner] = max(self.peak_learner.get(learner, 0), rss)
                now = time.monotonic()
                window = window[-1:] + [(now - last_t, used)]
                last_t, last_wall = now, time.time()
                if len(window) == 2:
                    self.busiest = max(self.busiest, sum(u for _, u in window) / sum(t for t, _ in window))
                self.samples += 1
            except Exception:  # a process that vanished mid-walk: the next sample is as good
                self.errors += 1
        self.peak_kernel = sorted(self._kernel_peak.values())

    def _learner(self, proc, ppid, hub_pid):
        import psutil
        # Walk up to the hub's direct child: a learner's server (JUPYTERHUB_USER set) or the proxy.
        chain, pid, p = [], proc.pid, proc
        for _ in range(20):
            if pid in self.owner:
                break
            if ppid == hub_pid:
                try:
                    self.owner[pid] = p.environ().get("JUPYTERHUB_USER", "")
                except psutil.Error:
                    self.owner[pid] = ""
                break
            if ppid <= 1:
                return ""
            chain.append(pid)
            try:
                p = psutil.Process(ppid)
                pid, ppid = p.pid, p.ppid()
            except psutil.Error:
                return ""
        name = self.owner.get(pid, "")
        for c in chain:
            self.owner[c] = name
        return name

    def cpu_seconds(self):
        return sum(self.cpu_seen.values())


# -- one class -------------------------------------------------------------------------------------

def run_class(n, lessons, busy_lesson, busy_share, pause, cell_timeout, time_limit, proxy, stop_all,
              keep_kernels=False, keep_log=None, kernel_transport="tcp"):
    """Run one class of ``n`` learners; return its figures."""
    pairs = sanitizer()
    plan = [(num, load_cells(lesson_path(num), pairs)) for num in lessons]
    busy = max(1, round(n * busy_share)) if busy_share > 0 and busy_lesson else 0
    busy_plan = plan + [(busy_lesson, load_cells(lesson_path(busy_lesson), pairs))] if busy else plan
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    tmp = tempfile.mkdtemp(prefix="classroom-")
    hub = Hub(tmp, proxy, tag, ipc=kernel_transport == "ipc")
    learners, sampler = [], None
    result = {"learners": n, "busy learners": busy, "kernels kept": keep_kernels, "kernel transport": kernel_transport,
              "lessons": lessons + ([busy_lesson] if busy else []),
              "errors": [], "left running": [], "left listening": []}
    t_start = time.monotonic()
    cpu_before = None
    try:
        hub.start()
        sampler = Sampler(hub)
        sampler.start()
        import psutil
        cpu_before = psutil.cpu_times()
        for i in range(n):
            name = f"learner{i + 1:02d}"
            home = hub.homes / name / COURSE_DIR
            for folder in ("notebooks", "exercises"):
                shutil.copytree(ROOT / folder, home / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            for lesson in result["lessons"]:  # a notebook given by its path joins the course's copy
                if lesson_path(lesson).parent != ROOT / "notebooks":
                    shutil.copy(lesson_path(lesson), home / "notebooks")
            learner_config(hub.homes / name, kernel_transport)
            learners.append(Learner(hub, name, busy_plan if i < busy else plan, pause, cell_timeout,
                                    stop_all, pairs, keep_kernels))
        for learner in learners:
            learner.start()
        deadline = t_start + time_limit
        for learner in learners:
            learner.join(max(0.0, deadline - time.monotonic()))
        if any(learner.is_alive() for learner in learners):
            result["errors"].append(("class", "-", "-", f"the class did not finish within {time_limit} s"))
            stop_all.set()
            for learner in learners:
                learner.join(cell_timeout + 30)
    finally:
        wall = time.monotonic() - t_start
        if sampler:
            sampler.halt.set()
            sampler.join(10)
        stop_all.set()
        hub.stop()
        time.sleep(1.0)  # what the hub stopped has had its moment to go
        left = run_processes(tag, hub.seen)
        ports = {hub.port, hub.hub_port, hub.api_port}
        result["left running"] = [f"{pid} {cmd}" for pid, cmd in left.items()]
        result["left listening"] = listening(set(left), ports)
        if left:
            kill_all(left)
        still = run_processes(tag, hub.seen)
        if still:
            result["errors"].append(("class", "-", "-", f"could not stop: {still}"))
        result["hub log"] = hub.log_tail(40)
        if keep_log:
            with contextlib.suppress(OSError):
                shutil.copy(hub.tmp / "jupyterhub.log", keep_log)
        shutil.rmtree(tmp, ignore_errors=True)
    import psutil
    cpu_after = psutil.cpu_times()
    if cpu_before is not None:
        busy_t = (sum(cpu_after) - cpu_after.idle - getattr(cpu_after, "iowait", 0)) - \
                 (sum(cpu_before) - cpu_before.idle - getattr(cpu_before, "iowait", 0))
        result["machine busy %"] = round(100 * busy_t / max(1e-9, sum(cpu_after) - sum(cpu_before)), 1)
    cells = [c for learner in learners for c in learner.cells]
    latencies = [c[2] for c in cells]
    for learner in learners:
        result["errors"] += [(learner.name, _label(str(e[0])), *e[1:]) for e in learner.errors]
        if not learner.done and not learner.errors:
            result["errors"].append((learner.name, "-", "-", "stopped before the end"))
    result.update({
        "wall s": round(wall, 1),
        "cells": len(cells),
        "p50 s": _r(percentile(latencies, 50)), "p95 s": _r(percentile(latencies, 95)),
        "max s": _r(max(latencies) if latencies else None),
        "error count": len(result["errors"]),
        "changed": sum(1 for c in cells if c[4]),
        "changed cells": sorted({f"{_label(c[0])}#{c[1]}" for c in cells if c[4]}),
        "changes": [(lr.name, _label(ch[0]), *ch[1:]) for lr in learners for ch in lr.changes],
        "server start s": _r(percentile([lr.started_in for lr in learners if lr.started_in], 50)),
        "server start max s": _r(max([lr.started_in for lr in learners if lr.started_in], default=None)),
        "peak memory GiB": round(sampler.peak_total / GiB, 2) if sampler else None,
        "learner MiB median": _r(statistics.median(sampler.peak_learner.values()) / MiB, 0)
        if sampler and sampler.peak_learner else None,
        "learner MiB max": (_r(max(sampler.peak_learner.values()) / MiB, 0)
                            if sampler and sampler.peak_learner else None),
        "kernel MiB median": (_r(statistics.median(sampler.peak_kernel) / MiB, 0)
                              if sampler and sampler.peak_kernel else None),
        "cores average": round(sampler.cpu_seconds() / wall, 2) if sampler and wall else None,
        "cores busiest": round(sampler.busiest, 2) if sampler else None,
    })
    per_lesson = {}
    for num in result["lessons"]:
        mine = [c for c in cells if c[0] == num]
        if not mine:
            continue
        totals = [sum(c[2] for c in learner.cells if c[0] == num) for learner in learners
                  if any(c[0] == num for c in learner.cells)]
        per_lesson[_label(num)] = {"learners": len(totals), "cells": len(mine),
                           "p50 s": _r(percentile([c[2] for c in mine], 50)),
                           "p95 s": _r(percentile([c[2] for c in mine], 95)),
                           "max s": _r(max(c[2] for c in mine)),
                           "minutes running cells (median learner)": _r(statistics.median(totals) / 60, 2),
                           "errors": sum(1 for c in mine if c[3]),
                           "changed": sum(1 for c in mine if c[4])}
    result["per lesson"] = per_lesson
    by_cell = {}
    for c in cells:
        by_cell.setdefault((c[0], c[1]), []).append(c[2])
    slowest = sorted(by_cell.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
    result["slowest cells"] = [{"cell": f"{_label(k[0])}#{k[1]}",
                                "median s": _r(statistics.median(v)), "max s": _r(max(v))} for k, v in slowest]
    return result


def _label(lesson):
    """A lesson as the tables show it: its number, or a notebook's file name."""
    return pathlib.Path(lesson).name if lesson.endswith(".ipynb") else lesson


def _r(x, digits=2):
    return None if x is None else round(x, digits)


# -- output ----------------------------------------------------------------------------------------

def table(rows, columns):
    cells = [[str(r.get(c, "")) if r.get(c) is not None else "-" for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line, sep] + ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |"
                                    for row in cells])


SUMMARY = ["learners", "busy learners", "cells", "p50 s", "p95 s", "max s", "error count", "changed",
           "server start max s", "learner MiB median", "learner MiB max", "kernel MiB median",
           "peak memory GiB", "cores average", "cores busiest", "machine busy %", "wall s"]


def summary_line(r):
    return (f"{r['learners']} learners: p95 cell latency {r['p95 s']} s, "
            f"peak memory {r['peak memory GiB']} GiB, {r['error count']} errors")


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written, and each option's default in its help."""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=_Help)
    parser.add_argument("--learners", type=int, nargs="+", default=[5], help="class sizes, run one after another")
    parser.add_argument("--lessons", nargs="+", default=[f"{i:02d}" for i in range(1, 9)],
                        help="lesson numbers (or paths of other notebooks) every learner runs, in order")
    parser.add_argument("--busy-lesson", default="09", help="the lesson a share of learners runs last")
    parser.add_argument("--busy-share", type=float, default=0.33, help="share of learners who run it (0: none)")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds a learner waits between cells")
    parser.add_argument("--cell-timeout", type=float, default=120.0, help="seconds before a cell is interrupted")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds for one class, at most")
    parser.add_argument("--keep-kernels", action="store_true",
                        help="keep each lesson's kernel running until the learner's last lesson "
                             "(as learners who never shut a kernel down)")
    parser.add_argument("--kernel-transport", choices=["tcp", "ipc"], default="tcp",
                        help="how kernels talk to their server: tcp (Jupyter's default: 5 ports on 127.0.0.1 "
                             "each) or ipc (files)")
    parser.add_argument("--keep-log", type=pathlib.Path,
                        help="copy the hub's log (with the servers' and kernels' output) to PATH-N.log "
                             "for a class of N")
    parser.add_argument("--install-proxy", action="store_true",
                        help=f"npm install {PROXY_PACKAGE} into .cache/chp/ if it is not found")
    parser.add_argument("--json", type=pathlib.Path, help="write every figure to this file")
    args = parser.parse_args(argv)
    if any(n < 1 or n > 60 for n in args.learners):
        parser.error("--learners: 1 to 60")
    missing = jupyterhub_missing()
    if missing:
        print(f"classroom: {missing}", file=sys.stderr)
        return 2
    proxy, why = install_proxy() if args.install_proxy else (find_proxy(), "")
    if not proxy:
        why = why or "run with --install-proxy, or: npm install -g configurable-http-proxy"
        print(f"classroom: configurable-http-proxy not found ({why})", file=sys.stderr)
        return 2

    stop_all = threading.Event()

    def interrupted(signum, frame):
        stop_all.set()
        raise KeyboardInterrupt

    old = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    results = []
    try:
        for n in args.learners:
            stop_all.clear()
            print(f"classroom: {n} learners, lessons {' '.join(args.lessons)}"
                  f"{f' (+ {args.busy_lesson} for a share of {args.busy_share:.2f})' if args.busy_share else ''},"
                  f" {args.pause} s between cells ...", flush=True)
            try:
                r = run_class(n, args.lessons, args.busy_lesson, args.busy_share, args.pause, args.cell_timeout,
                              args.time_limit, proxy, stop_all, args.keep_kernels,
                              args.keep_log and args.keep_log.with_name(f"{args.keep_log.name}-{n}.log"),
                              args.kernel_transport)
            except RuntimeError as e:  # the hub did not start: said, after everything is stopped
                print(f"classroom: {e}", file=sys.stderr)
                return 1
            results.append(r)
            for who, lesson, cell, message in r["errors"][:20]:
                print(f"  error: {who}, lesson {lesson}, cell {cell}: {message}")
            if len(r["errors"]) > 20:
                print(f"  ... and {len(r['errors']) - 20} more errors")
            if any(e[2] == "-" for e in r["errors"]):  # not a cell's error: the hub's last words may say why
                print("  the hub's log, last lines:\n    " + r["hub log"][-3000:].replace("\n", "\n    "))
            for item in r["left running"]:
                print(f"  left running after the hub stopped (killed): {item}")
            for port, pid in r["left listening"]:
                print(f"  left listening after the hub stopped: port {port} (pid {pid})")
    except KeyboardInterrupt:
        print("classroom: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    print()
    print(f"machine: {os.cpu_count()} cores, {_mem_gib()} GiB; JupyterHub {_version('jupyterhub')}, "
          f"{args.pause} s between cells{', kernels kept open' if args.keep_kernels else ''}, "
          f"kernels over {args.kernel_transport}")
    print(table(results, SUMMARY))
    for r in results:
        print(f"\n{r['learners']} learners, per lesson:")
        rows = [dict(lesson=k, **v) for k, v in r["per lesson"].items()]
        print(table(rows, ["lesson", "learners", "cells", "p50 s", "p95 s", "max s",
                           "minutes running cells (median learner)", "errors", "changed"]))
        print("slowest cells (lesson#cell, counted from 0 as in JupyterLab): " + ", ".join(
            f"{c['cell']} {c['median s']} s (max {c['max s']})" for c in r["slowest cells"]))
        if r["changed cells"]:
            print("changed (lesson#cell, cells counted from 0 as in JupyterLab):", " ".join(r["changed cells"]))
            shown = set()
            for who, lesson, cell, stored, new in r["changes"]:
                if (lesson, cell, stored, new) not in shown and len(shown) < 12:
                    shown.add((lesson, cell, stored, new))
                    print(f"  {lesson}#{cell} ({who}): stored {stored!r}, now {new!r}")
    print()
    for r in results:
        print(summary_line(r))
    bad = any(r["error count"] or r["left running"] or r["left listening"] for r in results)
    return 1 if bad else 0


def _mem_gib():
    import psutil
    return round(psutil.virtual_memory().total / GiB, 1)


def _version(dist):
    from importlib.metadata import version
    try:
        return version(dist)
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
