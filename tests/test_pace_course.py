"""The course at a learner's pace: tools/pace.py over every lesson and solution.

nbval runs each cell straight after the last.  These tests run the notebooks
the way people do: every code cell twice in a row (lessons and solutions;
tests/test_make_exercises.py runs each unfinished exercise twice), and a
kernel restart halfway with a pause after every cell (the lessons, all at
once).  The paced run mostly sleeps, so it runs in the background while the
others go on.  The runner's own tests are in tests/test_pace.py.
"""

import os
import subprocess
import sys

import pytest
from test_pace import PACE, ROOT, errors, pace

PAUSE = "3"  # seconds: more than the few-second waits that used to race the reader
FOLDERS = ["notebooks", "solutions"]


@pytest.fixture(scope="module")
def paced_run():
    """The lessons with a restart halfway and a pause after every code cell, started at once, read at the end.

    It also answers select() as macOS's kqueue does, READ first, and keeps three of Windows' rules (below)."""
    proc = subprocess.Popen([sys.executable, str(PACE), "restart", "--pause", PAUSE, "--split", "read-first",
                             "--windows", "notebooks"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


# The runs twice and after a restart also answer select() as macOS's kqueue does (--split): a socket ready
# for READ and WRITE comes back as two entries, WRITE first in one run and READ first in the other; the
# paced restart run also keeps three of Windows' rules (--windows: select() on sockets only and on one at
# least, no SIGINT for a child).
# The lessons that measure (09-12) run twice while a process keeps every core busy (--load), beside the
# test files running on the other workers, as a classroom's machine is: what they print and check must
# hold when the CPU is shared.
MEASURING = sorted(str(p.relative_to(ROOT)) for n in ("09", "10", "11", "12")
                   for p in (ROOT / "notebooks").glob(f"{n}-*.ipynb"))
QUIET = [str(p.relative_to(ROOT)) for folder in FOLDERS for p in sorted((ROOT / folder).glob("*.ipynb"))
         if str(p.relative_to(ROOT)) not in MEASURING]


def test_every_code_cell_can_run_twice(paced_run):
    done = pace("twice", "--split", "write-first", *QUIET)
    print(errors(done.stdout))
    assert done.returncode == 0, errors(done.stdout)
    assert " 0 errors" in done.stdout.splitlines()[-1]


def test_the_measuring_lessons_run_twice_on_a_loaded_machine(paced_run):
    assert len(MEASURING) == 4, MEASURING
    load = os.cpu_count() or 1
    done = pace("twice", "--split", "write-first", "--load", load, *MEASURING)
    print(errors(done.stdout))
    assert done.returncode == 0, errors(done.stdout)
    assert done.stdout.splitlines()[-1].startswith(f"pace twice (READ|WRITE split, write-first) (under a load of "
                                                   f"{load} busy processes): 4 notebooks"), done.stdout
    assert " 0 errors" in done.stdout.splitlines()[-1]


def test_every_lesson_runs_from_the_top_after_a_restart_halfway_read_with_a_pause_after_every_cell(paced_run):
    out, _ = paced_run.communicate(timeout=600)
    print(errors(out))
    assert paced_run.returncode == 0, errors(out)
    lessons = len(list((ROOT / "notebooks").glob("*.ipynb")))
    assert (f"pace restart (READ|WRITE split, read-first) (Windows' select and signals) (a {PAUSE} s pause after "
            f"every cell): {lessons} notebooks") in out, out[-2000:]
    assert " 0 errors" in out.splitlines()[-1]
