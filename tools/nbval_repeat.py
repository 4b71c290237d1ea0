"""Run the notebooks under nbval N times and report every failure: is the course flaky?

    python tools/nbval_repeat.py N [paths...] [-- extra pytest arguments]

Runs ``python -m pytest <paths> -q`` N times, one after the other, with the
project's pytest settings (``pyproject.toml``: strict nbval, cell timeout),
whatever the current directory.  Paths default to ``notebooks/`` and
``solutions/`` (those that exist).  Prints one line per run as it ends, then

    N runs, F failures

where F counts failed or erroring tests over all runs (plus whole runs that
crashed or timed out), then every failing test id with the runs it failed
in.  Exits 1 if anything failed, 0 otherwise.  ``--run-timeout S`` bounds each
run (default 1800 s).
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import time
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_PATHS = ["notebooks", "solutions"]
SUMMARY_LINE = re.compile(r"^(FAILED|ERROR) (.+?)(?: - .*)?$")
COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")


def parse(output):
    """(failing test ids in order, {outcome: count}) from pytest's ``-rfE`` output."""
    ids = []
    for line in output.splitlines():
        match = SUMMARY_LINE.match(line)
        if match and match[2] not in ids:
            ids.append(match[2])
    counts = {}
    for line in reversed(output.splitlines()):  # the last line with counts: "1 failed, 9 passed in 3s"
        found = COUNTS.findall(line)
        if found and re.search(r"\bin [\d.]+s\b", line):
            counts = {("error" if kind.startswith("error") else kind): int(n) for n, kind in found}
            break
    return ids, counts


def rootdir_for(paths):
    """The project for its own notebooks; else the paths' common folder (so test ids name the file)."""
    if all(pathlib.Path(p).is_relative_to(ROOT) for p in paths):
        return ROOT
    common = pathlib.Path(os.path.commonpath(paths))
    return common if common.is_dir() else common.parent


def run_once(paths, extra, timeout):
    """One pytest run: (failing ids, counts, exit code or None on timeout, seconds, output)."""
    rootdir = rootdir_for(paths)
    cmd = [sys.executable, "-m", "pytest", *paths, "-q", "-rfE",
           "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(rootdir),  # the project's settings, anywhere
           "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), *extra]
    env = {**os.environ, "COLUMNS": "1000"}  # short-summary lines unwrapped
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=rootdir, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return [], {}, None, time.monotonic() - t0, out
    ids, counts = parse(proc.stdout)
    return ids, counts, proc.returncode, time.monotonic() - t0, proc.stdout + proc.stderr


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    parser = argparse.ArgumentParser(prog="python tools/nbval_repeat.py", description=__doc__.split("\n")[0])
    parser.add_argument("n", type=int, help="how many runs")
    parser.add_argument("paths", nargs="*", help="notebooks or folders (default: notebooks/ solutions/)")
    parser.add_argument("--run-timeout", type=float, default=1800.0, help="seconds per run (default 1800)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("N must be 1 or more")
    paths = args.paths or [p for p in DEFAULT_PATHS if (ROOT / p).exists()]
    paths = [str(pathlib.Path(p).resolve()) for p in paths]
    missing = [p for p in paths if not pathlib.Path(p).exists()]
    if missing:
        parser.error(f"no such path: {', '.join(missing)}")
    shown = [p.replace(str(ROOT) + "/", "") for p in paths]
    print(f"nbval {args.n} times over: {' '.join(shown)}", flush=True)

    failed_in = defaultdict(list)  # test id -> [run numbers]
    failures = 0
    for run in range(1, args.n + 1):
        ids, counts, rc, seconds, output = run_once(paths, extra, args.run_timeout)
        if rc is None:
            ids = [f"<run timed out after {args.run_timeout:g} s>"]
        elif rc != 0 and not ids:  # collection error, crash, no tests...: still a failure
            tail = " | ".join(output.strip().splitlines()[-3:])
            ids = [f"<pytest exit code {rc}: {tail}>"]
        for test_id in ids:
            failed_in[test_id].append(run)
        failures += len(ids)
        tally = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "no counts"
        verdict = "ok" if not ids else f"{len(ids)} failing"
        print(f"run {run}/{args.n}: {verdict} ({tally}) in {seconds:.1f} s", flush=True)
        for test_id in ids:
            print(f"    FAILED {test_id}", flush=True)

    print(f"{args.n} runs, {failures} failures", flush=True)
    for test_id, runs in failed_in.items():
        print(f"  {test_id}: failed in run(s) {', '.join(map(str, runs))}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
