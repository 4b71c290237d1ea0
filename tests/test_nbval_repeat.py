"""tools/nbval_repeat.py: it runs nbval N times, and reports what fails, run by run."""

import pathlib
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "nbval_repeat.py"
SMALL = ROOT / "notebooks" / "02-listening-socket.ipynb"  # a short lesson (about 5 s under nbval)


def repeat(*args, cwd, timeout=240):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def load_script():
    import nbval_repeat  # tools/, on pytest's pythonpath

    return nbval_repeat


def stored_notebook(path, cells):
    """A notebook stored as if executed: each cell (code, stored stdout)."""
    nb = new_notebook(cells=[
        new_code_cell(code, execution_count=k, outputs=[new_output("stream", name="stdout", text=out)])
        for k, (code, out) in enumerate(cells, 1)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.skipif(not SMALL.exists(), reason="lesson 02 is not there")
def test_a_passing_notebook_is_reported_as_no_failure(tmp_path):
    result = repeat(1, SMALL, cwd=tmp_path)  # from any folder: the project's settings still apply
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "1 runs, 0 failures"
    assert lines[-2].startswith("run 1/1: ok (") and " passed" in lines[-2]


def test_a_broken_notebook_is_reported_in_every_run(tmp_path):
    stored_notebook(tmp_path / "broken.ipynb", [("print('same')", "same\n"),
                                                ("print('today')", "yesterday\n")])
    result = repeat(2, "broken.ipynb", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    runs = [line for line in lines if line.startswith("run ")]
    assert len(runs) == 2 and all(": 1 failing (1 failed, 1 passed) in " in line for line in runs), runs
    assert lines.count("    FAILED broken.ipynb::Cell 1") == 2
    assert "2 runs, 2 failures" in lines
    assert lines[-1] == "  broken.ipynb::Cell 1: failed in run(s) 1, 2"


def test_parse_reads_pytest_output():
    module = load_script()
    output = "\n".join([
        "..F.E",
        "=========================== short test summary info ============================",
        "FAILED notebooks/04-event-loop.ipynb::Cell 5 - nbval.plugin.NbCellError: output differs",
        "ERROR solutions/01-listening-socket.ipynb::Cell 2",
        "1 failed, 3 passed, 1 error in 12.34s",
    ])
    ids, counts = module.parse(output)
    assert ids == ["notebooks/04-event-loop.ipynb::Cell 5", "solutions/01-listening-socket.ipynb::Cell 2"]
    assert counts == {"failed": 1, "passed": 3, "error": 1}


def test_bad_arguments(tmp_path):
    assert repeat(0, cwd=tmp_path).returncode == 2
    result = repeat(1, tmp_path / "nothing-here", cwd=tmp_path)
    assert result.returncode == 2 and "no such path" in result.stderr
