"""tools/pace.py, the runner of notebooks at a learner's pace: it finds what it is for, and says so.

Small notebooks with the flaws the course had, each breaking in one mode only;
the simulated selectors and Windows' rules; its arguments.  The course itself
at a learner's pace is tests/test_pace_course.py.
"""

import concurrent.futures
import os
import pathlib
import subprocess
import sys
import textwrap

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACE = ROOT / "tools" / "pace.py"


def pace(*args, timeout=600):
    return subprocess.run([sys.executable, str(PACE), *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def paces(*runs, timeout=120):
    """Several runs of the runner at once (each a list of its arguments), as pace() runs one; in their order."""
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        return list(pool.map(lambda run: pace(*run, timeout=timeout), runs))


def errors(output):
    return "\n".join(line for line in output.splitlines() if line.startswith(("ERROR", "pace ")))


# -- the runner finds what it is for --------------------------------------------------------------

def notebook(path, *cells):
    nb = new_notebook(cells=[new_code_cell(textwrap.dedent(code).strip()) for code in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def flawed(tmp_path_factory):
    """Three small notebooks with the flaws the course had: each breaks in one mode only."""
    folder = tmp_path_factory.mktemp("flawed")
    impatient = notebook(folder / "impatient.ipynb", """
        import socket, threading
        s = socket.create_server(('127.0.0.1', 0))
        s.settimeout(1.5)  # gives up if the reader takes longer than 1.5 s
        address = s.getsockname()
        def serve():
            with s:
                conn, _ = s.accept()
                conn.close()
        server = threading.Thread(target=serve, daemon=True)
        server.start()
        """, "socket.create_connection(address, timeout=2).close()")
    closing = notebook(folder / "closing.ipynb", """
        import selectors, socket
        sel = selectors.DefaultSelector()
        lsock = socket.create_server(('127.0.0.1', 0))
        sel.register(lsock, selectors.EVENT_READ)
        """, """
        sel.unregister(lsock)
        lsock.close()
        """)
    piling = notebook(folder / "piling.ipynb", """
        import socket, threading
        log = [] if 'log' not in globals() else log
        listener = socket.create_server(('127.0.0.1', 0))
        threading.Thread(target=listener.accept, daemon=True).start()  # a second server on a re-run
        log.append('started')
        print(*log, sep='\\n')
        """)
    return impatient, closing, piling


def test_the_runner_reports_a_thread_that_gives_up_during_a_pause(flawed):
    impatient, closing, piling = flawed
    assert pace("pause", 0, impatient).returncode == 0  # straight through, as nbval runs it: fine
    done = pace("restart", "--pause", 2, impatient, timeout=120)  # a pause after every cell, a restart halfway
    assert done.returncode == 1
    assert "impatient.ipynb cell 0: before the restart, after a 2 s pause: a thread died: TimeoutError" in done.stdout
    assert "impatient.ipynb cell 0: after a restart and a 2 s pause: a thread died: TimeoutError" in done.stdout
    assert "impatient.ipynb cell 1: after a restart: ConnectionRefusedError" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("pace restart (a 2 s pause after every cell): 1 notebooks")


def test_the_runner_reports_what_a_second_run_breaks_or_leaves_behind(flawed, tmp_path):
    impatient, closing, piling = flawed
    garbage = notebook(tmp_path / "garbage.ipynb", """
        import gc, socket
        gc.disable()  # only the runner's own collection frees it
        held = {'server': socket.create_server(('127.0.0.1', 0))}
        held['me'] = held  # a reference cycle: the listening socket is garbage, not left running
        del held
        """)
    done = pace("twice", closing, piling, garbage, timeout=120)
    assert done.returncode == 1
    assert "garbage.ipynb" not in errors(done.stdout), done.stdout
    assert "closing.ipynb cell 0: run twice: left listening sockets behind (" in done.stdout  # sel holds it
    assert "closing.ipynb cell 1: run twice: ValueError: Invalid file descriptor: -1" in done.stdout
    assert "piling.ipynb cell 0: run twice: left threads behind (" in done.stdout
    assert "piling.ipynb cell 0: run twice: left listening sockets behind (" in done.stdout
    assert "piling.ipynb cell 0: run twice: output grew from 1 to 2 lines" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("pace twice: 3 notebooks, 8 code cells, 5 errors")


def test_the_runner_reports_a_demonstration_whose_claim_changes_when_run_again(tmp_path):
    # Lesson 04's socketpair demonstration printed "still inside select(timeout=None): False" the second
    # time (the first run's pair still held its byte); a cell tagged rerun-differs moves on by design.
    code = """
        import selectors, socket, threading
        sel = sel if 'sel' in globals() else selectors.DefaultSelector()
        r, w = socket.socketpair()
        sel.register(r, selectors.EVENT_READ)
        waiter = threading.Thread(target=sel.select, daemon=True)
        waiter.start()
        waiter.join(timeout=0.5)
        print('still inside select():', waiter.is_alive())
        w.send(b'x')
        """
    claim = notebook(tmp_path / "claim.ipynb", code, "step = globals().get('step', 0) + 1\nprint('step', step)")
    done = pace("twice", claim, timeout=120)
    assert "claim.ipynb cell 0: run twice: printed ['still inside select(): False'] where the first run printed " \
           "['still inside select(): True']" in done.stdout, done.stdout
    assert "claim.ipynb cell 1: run twice: printed ['step 2']" in done.stdout, done.stdout
    nb = nbformat.read(claim, as_version=4)
    nb.cells[1].metadata["tags"] = ["rerun-differs"]
    nbformat.write(nb, claim)
    done = pace("twice", claim, timeout=120)
    assert done.stdout.splitlines()[-1].startswith("pace twice: 1 notebooks, 4 code cells, 1 errors"), done.stdout


def test_the_split_selector_reports_read_and_write_apart_in_the_order_asked(tmp_path):
    cell = """
        import selectors, socket
        a, b = socket.socketpair()
        b.send(b'x')
        with selectors.DefaultSelector() as sel:
            sel.register(a, selectors.EVENT_READ | selectors.EVENT_WRITE)
            masks = [mask for key, mask in sel.select(timeout=5)]
        a.close(), b.close()
        assert masks == {expected}, masks
        """
    modes = ((["--split", "write-first"], [2, 1]), (["--split", "read-first"], [1, 2]), ([], [3]))
    runs = [["twice", *split, notebook(tmp_path / f"split{len(split)}{expected[0]}.ipynb",
                                       cell.format(expected=expected))] for split, expected in modes]
    linux = runs[-1][-1]  # expects Linux's [3]
    *right, wrong = paces(*runs, ["twice", "--split", "read-first", linux])
    for done in right:
        assert done.returncode == 0, done.stdout  # each run saw the entries its selector gives
    assert "AssertionError: [1, 2]" in wrong.stdout, wrong.stdout


def test_the_windows_rules_refuse_a_pipe_or_nothing_in_select_and_sigint_for_a_child(tmp_path):
    pipe = notebook(tmp_path / "pipe.ipynb", """
        import os, selectors
        r, w = os.pipe()
        with selectors.DefaultSelector() as sel:
            sel.register(r, selectors.EVENT_READ)
            sel.select(timeout=0)
        """)
    sigint = notebook(tmp_path / "sigint.ipynb", """
        import signal, subprocess, sys
        child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
        try:
            child.send_signal(signal.SIGINT)
        finally:
            child.kill()
            child.wait(timeout=10)
        """)
    empty = notebook(tmp_path / "empty.ipynb", """
        import selectors
        with selectors.DefaultSelector() as sel:
            sel.select(timeout=0)
        """)
    linux, done = paces(["restart", pipe, sigint, empty], ["restart", "--windows", pipe, sigint, empty])
    assert linux.returncode == 0, linux.stdout  # fine on Linux
    assert "pipe.ipynb cell 0: after a restart: OSError: [Errno 10038]" in done.stdout, done.stdout
    assert "sigint.ipynb cell 0: after a restart: ValueError: Unsupported signal: 2" in done.stdout, done.stdout
    assert "empty.ipynb cell 0: after a restart: OSError: [Errno 22]" in done.stdout, done.stdout


def test_bad_arguments_get_one_line_and_status_2():
    done = pace("pause", "-1")
    assert done.returncode == 2
    assert "not a number of seconds: -1" in done.stderr


# A kernel that dies before it answers: the first start of each kernel binds to a folder that is not there.
FLAKY_START = """
import sys

import pace  # tools/, on the child's PYTHONPATH

def kernel_manager(self, attempt, made=pace.Run.kernel_manager):
    km = made(self, attempt)
    if attempt in {dead}:
        km.ip = "/nonexistent-folder/k"  # the kernel cannot bind its sockets, and dies
    return km

pace.Run.kernel_manager = kernel_manager
sys.exit(pace.main(["twice", {path!r}]))
"""


@pytest.mark.parametrize("dead, errors", [((1,), 0), ((1, 2), 1)], ids=["once", "twice"])
def test_a_kernel_that_dies_while_starting_is_started_again_once(tmp_path, dead, errors):
    plain = notebook(tmp_path / "plain.ipynb", "x = 1")
    code = FLAKY_START.format(tools=str(PACE.parent), dead=dead, path=str(plain))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(PACE.parent)})
    assert "plain.ipynb: its kernel died while starting; starting another" in done.stdout
    ran = 0 if errors else 2  # its one cell, twice
    assert done.stdout.splitlines()[-1].startswith(f"pace twice: 1 notebooks, {ran} code cells, {errors} errors")
    assert done.returncode == errors, done.stdout
    if errors:
        assert "plain.ipynb cell -: RuntimeError" in done.stdout


def test_load_keeps_that_many_processes_busy_while_the_cells_run(tmp_path):
    busy = notebook(tmp_path / "busy.ipynb", """
        import os, psutil, time
        deadline = time.monotonic() + 60  # on a busy machine a hog may wait for its first CPU time
        while True:  # the hogs this kernel's pace started (the kernel's parent too), not another run's
            hogs = [p for p in psutil.process_iter(['cmdline', 'ppid']) if p.info['ppid'] == os.getppid()
                    and 'monotonic() < end' in ' '.join(p.info['cmdline'] or [])]
            busy = sum(sum(p.cpu_times()[:2]) > 0.1 for p in hogs)  # each has had CPU time
            if len(hogs) != 2 or busy == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(hogs) == 2 and busy == 2, (len(hogs), busy)
        """)
    done = pace("twice", "--load", 2, busy, timeout=120)
    assert done.returncode == 0, done.stdout
    done = pace("twice", busy, timeout=120)  # no load: no busy processes, and the cell says so
    assert done.returncode == 1 and "AssertionError: (0, 0)" in done.stdout, done.stdout
    assert pace("twice", "--load", -1, busy).returncode == 2  # argparse's own error
