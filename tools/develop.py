"""The developer's commands, with nothing but Python: `make test` and `make check` run them, and so may Windows.

    python tools/develop.py test [PYTEST ARGS]     # set up (or update) .venv/ and run every test
    python tools/develop.py check [PYTEST ARGS]    # the same environment; lint, generated files up to date, and
                                                   #   every test that starts no kernel, browser, hub or environment
    python tools/develop.py install                # only set up (or update) .venv/

.venv/ is the course with its ``dev`` extra (the teacher's tools and the test tools), made as the learner's
and the teacher's environments are (tools/workspace.py). PYTEST ARGS come last, so they win: ``-n 2`` for
two test processes, ``-k NAME``, ``--lf``.

Test files run on four processes at once (pytest-xdist; a notebook's cells stay on one), on a machine
with 2 cores: most of a test's time is spent waiting on sockets, kernels, browsers and a hub (at three,
the cores were still idle a quarter of the time), and what the tests check holds on a busy machine.
Python's bytecode caches are written even where PYTHONDONTWRITEBYTECODE is set: pytest keeps each test
file as its assertions were rewritten (__pycache__/, ignored by git), which each process would redo
(2 s) on every run.
"""

import argparse
import os
import subprocess
import sys

from workspace import ROOT, environment, needs_python

DEV_VENV = ROOT / ".venv"
DEV_EXTRA = "[dev]"
QUICK = "not kernel and not browser and not hub and not venv"  # the kinds conftest.py's KINDS marks
PYTEST = {
    "test": ["-n", "4", "--dist", "loadfile", "--no-loadscope-reorder"],
    "check": ["tests", "-n", "4", "--dist", "load", "-m", QUICK],  # no notebook: a test goes to any free process
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python tools/develop.py", description=__doc__.splitlines()[0],
                                     epilog="Arguments after the command go to pytest.")
    parser.add_argument("command", choices=[*PYTEST, "install"])
    argv = sys.argv[1:] if argv is None else argv
    args, pytest_args = parser.parse_args(argv[:1]), argv[1:]  # pytest's own options (-h too) are pytest's
    if args.command == "install" and pytest_args:
        parser.error(f"install takes no arguments: {' '.join(pytest_args)}")
    needs_python()
    python = environment(DEV_VENV, DEV_EXTRA)
    if args.command == "install":
        return 0
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    command = [str(python), "-m", "pytest", *PYTEST[args.command], *pytest_args]
    print(" ".join(command), flush=True)
    try:
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
