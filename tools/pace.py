"""Run notebooks the way people do: with pauses, cells run twice, a restart halfway.

    python tools/pace.py pause SECONDS [paths...]   # a pause after every code cell
    python tools/pace.py twice [paths...]           # every code cell run twice in a row
    python tools/pace.py restart [paths...]         # half the cells, a kernel restart, then all
    ... restart --pause SECONDS                     # and a pause after every code cell
    ... --split write-first|read-first              # select() as macOS's kqueue answers it (each mode)
    ... --windows                                   # select() on sockets only, on one at least; no SIGINT
                                                    #   for a child
    ... --load N                                    # N processes that keep a CPU busy meanwhile

nbval runs each cell straight after the last.  A learner reads between cells
(pause), runs a cell again by accident (twice), or restarts the kernel
halfway with a server running and starts again from the top (restart), reading
on between cells (restart --pause: both in one run).

Paths are notebooks or folders of them (default: ``notebooks/``).  With a
pause, every notebook runs at the same time, each in a kernel of its own, so
the wall time stays near that of the longest notebook; otherwise ``--jobs``
notebooks run at a time (default 2).

What counts as an error, reported with notebook, cell (0-based, as in
JupyterLab's cell list) and message:

- a cell's error output, unless the cell is tagged ``raises-exception``;
- an uncaught exception in a thread (recorded by a ``threading.excepthook``
  installed before the first cell), and a traceback printed on stderr;
- in twice mode, what the second run left behind that the first did not:
  more threads, listening sockets or child processes of the kernel (a second
  server), more lines of output (a log that piles up), or other text (a
  demonstration whose claim no longer holds the second time: "still inside
  select(): False"). Output is compared as nbval compares it (its sanitizer),
  except in cells tagged ``nbval-ignore-output`` (their output varies by
  design) or ``rerun-differs`` (a step that moves on each time it runs, or a
  cell that says what it closed and, run again, that it is closed already).

With ``--load N``, N processes spin on the CPU for as long as the run
lasts, as a classroom's other work does: a cell that races the reader, or a
check that needs the CPU to itself, fails under load where it passed alone.
Each of them also ends on its own after ``--cell-timeout`` times the cells
there are, should the runner itself be killed.

Kernels talk to the runner over Unix sockets (ZeroMQ's ipc transport), not
TCP ports: kernels that other processes start at the same moment cannot take
their ports between choosing and binding.  A kernel that dies before it
answers at all is started again, once, and said so: nothing of the notebook
has run in it yet.

Prints each error as it is found, then ``pace MODE: N notebooks, C code
cells, E errors`` and exits 1 if E > 0.
"""

import argparse
import asyncio
import contextlib
import copy
import json
import math
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Run in the kernel before the first cell: record exceptions that kill a thread.
SETUP = """\
import sys as _s, threading as _t, types as _ty
_p = _s.modules.setdefault('_pace', _ty.ModuleType('_pace'))
_p.errors = []
_p.hook = _t.excepthook
def _pace_hook(args, _p=_p):
    _n = args.thread.name if args.thread else "?"
    _p.errors.append(f'{args.exc_type.__name__}: {args.exc_value} (in thread {_n})')
    _p.hook(args)
_t.excepthook = _pace_hook
del _s, _t, _ty, _p, _pace_hook
"""

# With --split: selectors.DefaultSelector reports a socket ready for READ and WRITE as two entries, in the
# order given, as macOS's and the BSDs' kqueue does (one entry per kernel filter), never as READ|WRITE.
SPLIT = """\
import selectors as _se
class _KqueueLike(_se.DefaultSelector):
    _both, _order = _se.EVENT_READ | _se.EVENT_WRITE, ({order})
    def select(self, timeout=None):
        out = []
        for key, mask in super().select(timeout):
            out += [(key, m) for m in self._order] if mask == self._both else [(key, mask)]
        return out
_se.DefaultSelector = _KqueueLike
del _se, _KqueueLike
"""
# With --windows: three of Windows' rules, on this system: select() takes sockets only (a pipe or a file gives
# WinError 10038), and at least one (nothing registered: WinError 10022, which CPython's SelectSelector
# passes on), and a child process accepts no SIGINT (Popen.send_signal: SIGTERM, CTRL_C_EVENT and
# CTRL_BREAK_EVENT only; terminate() and kill() still work).  What it cannot show: Windows' refused connects
# (about 2 s of SYN retries), its SO_EXCLUSIVEADDRUSE, a non-blocking send() that takes 8 MiB at once, its
# 15.6 ms clock, WSAE error names, and a socket that is no file descriptor (os.get_blocking).
WINDOWS = """\
import os as _os, selectors as _se, signal as _si, stat as _st, subprocess as _sp
class _SocketsOnly(_se.DefaultSelector):  # (after --split, its split selector)
    _is_socket = staticmethod(lambda fd, os=_os, st=_st: st.S_ISSOCK(os.fstat(fd).st_mode))
    def select(self, timeout=None):
        if not self.get_map():
            raise OSError(22, 'An invalid argument was supplied (Windows: WinError 10022, select() with no socket)')
        for key in list(self.get_map().values()):
            if not self._is_socket(key.fd):
                raise OSError(10038, 'An operation was attempted on something that is not a socket (Windows)')
        return super().select(timeout)
_se.DefaultSelector = _SocketsOnly
def _windows_send_signal(self, sig, _send=_sp.Popen.send_signal, _ok=(_si.SIGTERM, _si.SIGKILL)):
    if sig not in _ok:  # SIGKILL: what kill() sends here, TerminateProcess there
        raise ValueError(f'Unsupported signal: {sig} (Windows)')
    return _send(self, sig)
_sp.Popen.send_signal = _windows_send_signal
del _os, _se, _si, _st, _sp, _SocketsOnly, _windows_send_signal
"""

SPLIT_ORDERS = {"read-first": "_se.EVENT_READ, _se.EVENT_WRITE", "write-first": "_se.EVENT_WRITE, _se.EVENT_READ"}

# What a cell may leave running: threads, listening sockets, child processes.  Printed as JSON.
PROBE = """\
import json as _j, sys as _s, threading as _t, psutil as _ps
_me = _ps.Process()
print(_j.dumps({'threads': _t.active_count(),
                'listening sockets': sum(c.status == 'LISTEN' for c in _me.net_connections('inet')),
                'children': len(_me.children(recursive=True)), 'errors': _s.modules['_pace'].errors[:]}))
_s.modules['_pace'].errors.clear()
del _j, _s, _t, _ps, _me
"""
# The same once the garbage is collected: what nothing refers to any more (a socket in a reference cycle) is not
# left behind, only not yet collected.  (A collection takes 30-50 ms in a lesson's kernel: only where counted.)
COLLECTED = "import gc as _gc\n_gc.collect()\ndel _gc\n" + PROBE


def notebooks(paths):
    found = []
    for path in map(pathlib.Path, paths or [ROOT / "notebooks"]):
        found += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    return found


def name(path):
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def cell_errors(cell):
    """Error lines from one executed cell's outputs."""
    errors = []
    allowed = "raises-exception" in cell.metadata.get("tags", [])
    for out in cell.outputs:
        if out.output_type == "error" and not allowed:
            errors.append(f"{out.ename}: {out.evalue}".strip())
        elif out.output_type == "stream" and out.name == "stderr" and "Traceback (most recent call last)" in out.text:
            errors.append("traceback on stderr: " + out.text.strip().splitlines()[-1])
    return errors


def out_lines(cell):
    return sum(out.text.count("\n") for out in cell.outputs if out.output_type == "stream")


SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def _sanitizers():
    lines = [line.split(": ", 1)[1] for line in SANITIZE.read_text().splitlines() if line.strip()]
    return [(re.compile(lines[i]), lines[i + 1]) for i in range(0, len(lines) - 1, 2)]


def shown(cell, sanitizers):
    """The text a cell printed, as nbval compares it (ports, addresses and kernel paths sanitized)."""
    text = "".join(out.text for out in cell.outputs if out.output_type == "stream")
    for pattern, replacement in sanitizers:
        text = pattern.sub(replacement, text)
    return text


class Run:
    """One notebook in one kernel, executed cell by cell."""

    def __init__(self, path, cell_timeout, report, sockets):
        self.path, self.report, self.sockets = path, report, sockets
        self.nb = nbformat.read(path, as_version=4)
        self.client = NotebookClient(self.nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(path.parent)}})
        self.cells = 0

    def kernel_manager(self, attempt):
        """A kernel on Unix sockets in ``sockets`` (a folder of this run's own)."""
        return AsyncKernelManager(kernel_name="python3", transport="ipc",
                                  ip=str(pathlib.Path(self.sockets) / f"{self.path.stem[:20]}-{attempt}"))

    async def run(self, code):
        """Run code that is not the notebook's (nbclient stores the cell at the index given: a spare one)."""
        cell = new_code_cell(code, id="pace-spare")
        if self.nb.cells[-1].get("id") != "pace-spare":
            self.nb.cells.append(new_code_cell(id="pace-spare"))
        await self.client.async_execute_cell(cell, len(self.nb.cells) - 1, store_history=False)
        return cell

    async def probe(self, collect=False):
        cell = await self.run(COLLECTED if collect else PROBE)
        text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
        try:
            return json.loads(text.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError(f"{name(self.path)}: the probe cell failed: {cell.outputs}") from None

    async def execute(self, index, what=""):
        cell = self.nb.cells[index]
        await self.client.async_execute_cell(cell, index)
        self.cells += 1
        for error in cell_errors(cell):
            self.report(self.path, index, what + error)
        return cell

    async def thread_errors(self, index, what="", collect=False):
        state = await self.probe(collect)
        for error in state["errors"]:
            self.report(self.path, index, what + "a thread died: " + error)
        return state

    def code_cells(self):
        return [i for i, cell in enumerate(self.nb.cells)
                if cell.cell_type == "code" and cell.get("id") != "pace-spare"]


STARTING = asyncio.Lock()
SANITIZERS = _sanitizers()


@contextlib.asynccontextmanager
async def started(run):
    """The notebook's kernel, started while no other is starting: kernels that start at the same
    moment on one machine can fail to (ports, load), which would be no fault of the notebook."""
    async with contextlib.AsyncExitStack() as stack:
        async with STARTING:
            for attempt in (1, 2):
                run.client.km = run.kernel_manager(attempt)
                try:
                    await stack.enter_async_context(run.client.async_setup_kernel())
                    break
                except RuntimeError as exc:  # "Kernel died before replying to kernel_info"
                    if attempt == 2 or "died" not in str(exc):
                        raise
                    print(f"  {name(run.path)}: its kernel died while starting; starting another", flush=True)
        yield


async def paced(run, pause):
    async with started(run):
        await run.run(SETUP)
        for index in run.code_cells():
            await run.execute(index)
            await asyncio.sleep(pause)
            await run.thread_errors(index, f"after a {pause:g} s pause: ")


async def settled(run, before):
    """The kernel's state once what the cell stopped has had up to 2 s to end, and the garbage is collected.

    Counted first without collecting: the garbage only adds to the counts, so none grown is none grown."""
    deadline, errors, collect = time.monotonic() + 2, [], False
    while True:
        state = await run.probe(collect)
        errors += state["errors"]  # each probe hands over the thread errors since the last
        grew = [key for key in ("threads", "listening sockets", "children") if state[key] > before[key]]
        if grew and not collect:
            collect = True  # counted with the garbage: count again without it, at once
            continue
        if not grew or time.monotonic() > deadline:
            return dict(state, errors=errors), grew
        await asyncio.sleep(0.1)


async def twice(run, _):
    async with started(run):
        await run.run(SETUP)
        for index in run.code_cells():
            first = copy.deepcopy(await run.execute(index))
            after_first = await run.thread_errors(index, collect=True)
            second = await run.execute(index, "run twice: ")
            state, grew = await settled(run, after_first)
            for error in state["errors"]:
                run.report(run.path, index, "run twice: a thread died: " + error)
            for key in grew:
                run.report(run.path, index, f"run twice: left {key} behind ({after_first[key]} after one run, "
                                            f"{state[key]} after two)")
            varies = "nbval-ignore-output" in second.metadata.get("tags", [])  # its output varies anyway
            moves_on = "rerun-differs" in second.metadata.get("tags", [])  # may say more: what the last run left
            if out_lines(second) > out_lines(first) and not varies and not moves_on:
                run.report(run.path, index, f"run twice: output grew from {out_lines(first)} to "
                                            f"{out_lines(second)} lines")
            elif not varies and not moves_on and (
                    shown(second, SANITIZERS) != shown(first, SANITIZERS)):
                was, now = shown(first, SANITIZERS).splitlines(), shown(second, SANITIZERS).splitlines()
                pairs = enumerate(zip(was, now, strict=False))
                line = next((i for i, (a, b) in pairs if a != b), min(len(was), len(now)))
                run.report(run.path, index, f"run twice: printed {now[line:line + 1]} where the first run printed "
                                            f"{was[line:line + 1]}")


async def restart(run, pause):
    code = run.code_cells()
    async with started(run):
        await run.run(SETUP)
        for index in code[:len(code) // 2]:
            await run.execute(index, "before the restart: ")
            if pause:
                await asyncio.sleep(pause)
                await run.thread_errors(index, f"before the restart, after a {pause:g} s pause: ")
        await run.client.km.restart_kernel(now=False)  # as Kernel > Restart: ipykernel ends its children
        await run.client.kc.wait_for_ready(timeout=60)
        await run.run(SETUP)
        for index in code:
            await run.execute(index, "after a restart: ")
            await asyncio.sleep(pause)
            await run.thread_errors(index, f"after a restart{f' and a {pause:g} s pause' if pause else ''}: ")


MODES = {"pause": paced, "twice": twice, "restart": restart}


async def main_async(mode, paths, pause, jobs, cell_timeout):
    errors = []

    def report(path, index, message):
        line = f"{name(path)} cell {index}: {message}"
        errors.append(line)
        print("ERROR", line, flush=True)

    sockets = tempfile.mkdtemp(prefix="pace-")
    runs = [Run(path, cell_timeout, report, sockets) for path in notebooks(paths)]
    limit = asyncio.Semaphore(len(runs) if pause else jobs)

    async def one(run):
        async with limit:
            started = time.monotonic()
            try:
                await MODES[mode](run, pause)
            except Exception as exc:  # a cell that timed out, a kernel that died: say so, go on
                report(run.path, "-", f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1:]}")
            print(f"  {name(run.path)}: {run.cells} cells in {time.monotonic() - started:.0f} s", flush=True)

    try:
        await asyncio.gather(*(one(run) for run in runs))
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    return runs, errors


# One CPU kept busy, for at most `seconds`: a bound of its own, in case the runner is killed.
HOG = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    sum(range(1000))\n"


@contextlib.contextmanager
def load(count, seconds):
    """``count`` processes keeping a CPU busy each, for at most ``seconds``; ended on leaving."""
    hogs = [subprocess.Popen([sys.executable, "-c", HOG.format(seconds=seconds)]) for _ in range(count)]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait(timeout=10)


def positive(text):
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text}")
    return value


def count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a number of processes: {text}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    pause = modes.add_parser("pause", help="a pause of SECONDS after every code cell")
    pause.add_argument("seconds", type=positive)
    modes.add_parser("twice", help="every code cell run twice in a row")
    restart_ = modes.add_parser("restart", help="half the cells, a kernel restart, then every cell from the top")
    restart_.add_argument("--pause", dest="seconds", type=positive, default=0, metavar="SECONDS",
                          help="and a pause of SECONDS after every code cell (all notebooks at once)")
    for sub in modes.choices.values():
        sub.add_argument("paths", nargs="*", help="notebooks or folders (default: notebooks/)")
        sub.add_argument("--jobs", type=int, default=2, help="notebooks at a time without a pause")
        sub.add_argument("--cell-timeout", type=positive, default=60, help="seconds per cell (default 60)")
        sub.add_argument("--split", choices=sorted(SPLIT_ORDERS),
                         help="report READ|WRITE as two entries in this order, as macOS's kqueue does")
        sub.add_argument("--windows", action="store_true",
                         help="select() on sockets only and on one at least, and no SIGINT for a child, "
                              "as on Windows")
        sub.add_argument("--load", type=count, default=0, metavar="N",
                         help="N processes that keep a CPU busy while the notebooks run (default 0)")
    args = parser.parse_args(argv)
    global SETUP
    if args.split:
        SETUP += SPLIT.format(order=SPLIT_ORDERS[args.split])
    if args.windows:
        SETUP += WINDOWS
    started = time.monotonic()
    cells = sum(cell.cell_type == "code" for path in notebooks(args.paths)
                for cell in nbformat.read(path, as_version=4).cells)
    limit = (2 * args.cell_timeout + getattr(args, "seconds", 0)) * cells + 60  # the longest a run can take
    with load(args.load, limit):
        runs, errors = asyncio.run(main_async(args.mode, args.paths, getattr(args, "seconds", 0), args.jobs,
                                              args.cell_timeout))
    cells = sum(run.cells for run in runs)
    split = f" (READ|WRITE split, {args.split})" if args.split else ""
    split += " (Windows' select and signals)" if args.windows else ""
    split += f" (under a load of {args.load} busy processes)" if args.load else ""
    split += f" (a {args.seconds:g} s pause after every cell)" if args.mode == "restart" and args.seconds else ""
    print(f"pace {args.mode}{split}: {len(runs)} notebooks, {cells} code cells, {len(errors)} errors "
          f"in {time.monotonic() - started:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
