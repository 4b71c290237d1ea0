"""exercises/ is generated from solutions/, stays in sync, and runs unfinished.

* The generator (``tools/make_exercises.py``) follows nbgrader's markers; on a
  small notebook every rule is checked, and on the real solutions its
  student code is compared with nbgrader's own preprocessors.
* A hand-edited exercise, or a stale ``echo_lab/checks/solutions.json``, is caught by ``--check``.
* Every exercise notebook, as handed out, runs top to bottom without an
  error, and its check cells say "not attempted".
"""

import copy
import json
import pathlib
import re
import shutil
import subprocess
import sys

import ipykernel.kernelspec
import make_exercises as tool  # tools/, on pytest's pythonpath
import nbformat
import pytest
from data.mistakes import mistaken
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from echo_lab.checks import EXERCISES as EXERCISES_TABLE

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
TOOL = ROOT / "tools" / "make_exercises.py"

SOLUTION_NOTEBOOKS = sorted(SOLUTIONS.glob("[0-9][0-9]-*.ipynb"))


def nbgrader_cell(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


# ---------------------------------------------------------------------------
# the generator's rules, on a small notebook

def small_notebook():
    code = new_code_cell(
        "def f(x):\n"
        "    ### BEGIN SOLUTION\n"
        "    return x + 1\n"
        "    ### END SOLUTION\n"
        "\n"
        "def g():\n"
        "        ### BEGIN SOLUTION\n"
        "        pass\n"
        "        ### END SOLUTION",
        metadata={"tags": ["keep-me"], "nbgrader": {"solution": True, "grade": False, "grade_id": "f"},
                  "collapsed": True, "execution": {"iopub.status.idle": "2024-01-01"}},
        execution_count=3, outputs=[new_output("stream", name="stdout", text="hi\n")])
    check = new_code_cell(
        "result = f(1)\n### BEGIN HIDDEN TESTS\nassert result == 2\n### END HIDDEN TESTS\nresult",
        metadata={"nbgrader": {"grade": True, "points": 1, "grade_id": "check"}}, execution_count=4)
    whole = new_code_cell("answer = 42", metadata={"nbgrader": {"solution": True, "grade_id": "whole"}})
    text = new_markdown_cell("Why?\n\n=== BEGIN SOLUTION ===\nBecause.\n=== END SOLUTION ===")
    plain = new_code_cell("x = 1  # no markers", execution_count=5)
    nb = new_notebook(cells=[code, check, whole, text, plain],
                      metadata={"widgets": {"state": {}}, "echo_lab": {"minutes": 5}})
    return nb


def test_generator_follows_nbgraders_markers():
    nb = small_notebook()
    student = tool.student_version(nb)
    code, check, whole, text, plain = student.cells
    assert code.source == ("def f(x):\n"
                           "    # YOUR CODE HERE\n"
                           "    raise NotImplementedError()\n"
                           "\n"
                           "def g():\n"
                           "        # YOUR CODE HERE\n"
                           "        raise NotImplementedError()")
    assert check.source == "result = f(1)\nresult"
    assert whole.source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert text.source == "Why?\n\nYOUR ANSWER HERE"
    assert plain.source == "x = 1  # no markers"
    for cell in (code, check, whole, plain):
        assert cell.outputs == [] and cell.execution_count is None
    assert code.metadata["tags"] == ["keep-me"] and code.metadata["nbgrader"]["grade_id"] == "f"
    assert "collapsed" not in code.metadata and "execution" not in code.metadata
    assert [c.id for c in student.cells] == [c.id for c in nb.cells]
    assert "widgets" not in student.metadata and student.metadata["echo_lab"] == {"minutes": 5}
    assert nb.cells[0].outputs, "the solution notebook itself is not changed"


@pytest.mark.parametrize("source", [
    "### BEGIN SOLUTION\nx\n### BEGIN SOLUTION\ny\n### END SOLUTION",
    "### BEGIN SOLUTION\nx",
])
def test_malformed_solution_markers_are_an_error(source):
    with pytest.raises(ValueError):
        tool.clear_solutions(source, tool.CODE_STUB)


def test_malformed_hidden_tests_are_an_error():
    with pytest.raises(ValueError):
        tool.remove_hidden_tests("### BEGIN HIDDEN TESTS\nassert x")


# ---------------------------------------------------------------------------
# the real notebooks

def test_solutions_are_numbered_in_the_tutorials_order_then_beyond():
    names = [path.name for path in SOLUTION_NOTEBOOKS]
    assert [name[:3] for name in names] == [f"{n:02d}-" for n in range(1, len(names) + 1)]
    assert len(names) >= 9
    assert "bug-hunt" in names[7]  # the tutorial's six blocks first, then the bug hunt


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: p.stem)
def test_solution_has_answer_cells_and_ends_in_a_check_cell(path):
    nb = nbformat.read(path, as_version=4)
    answers = [c for c in nb.cells if nbgrader_cell(c).get("solution")]
    checks = [c for c in nb.cells if nbgrader_cell(c).get("grade")]
    assert answers and all("### BEGIN SOLUTION" in c.source for c in answers)
    assert checks and all("### BEGIN HIDDEN TESTS" in c.source and "check_" in c.source for c in checks)
    assert nb.cells[-1] is checks[-1], "the notebook ends in a check cell"
    ids = [nbgrader_cell(c)["grade_id"] for c in answers + checks]
    assert len(ids) == len(set(ids)), "nbgrader needs a unique grade_id per cell"
    assert nb.metadata["echo_lab"]["minutes"] and nb.metadata["echo_lab"]["question"]


def test_exercises_are_up_to_date():
    stale = tool.stale(SOLUTIONS, EXERCISES) + tool.package_stale(SOLUTIONS)
    assert not stale, f"run python tools/make_exercises.py: out of date: {stale}"


def test_the_package_carries_each_answer_cells_code_without_its_markers(tmp_path):
    written = json.loads(tool.solutions_json())["exercises"]
    for name, exercise in written.items():  # name: the answer cell's grade_id
        nb = nbformat.read(SOLUTIONS / f"{exercise['notebook']}.ipynb", as_version=4)
        cell = next(c for c in nb.cells if nbgrader_cell(c).get("grade_id") == name and nbgrader_cell(c)["solution"])
        assert exercise["solution"] == tool.answer_code(cell.source) and "### " not in exercise["solution"]
        assert exercise["minutes"] == nb.metadata["echo_lab"]["minutes"]
    package = tmp_path / "solutions.json"  # written where there was none
    assert tool.write_package(SOLUTIONS, package) == [package] and tool.package_stale(SOLUTIONS, package) == []


def test_a_hand_edited_exercise_is_caught(tmp_path, capsys):
    shutil.copytree(EXERCISES, tmp_path, dirs_exist_ok=True)
    edited = tmp_path / "04-accept-wrapper.ipynb"
    nb = nbformat.read(edited, as_version=4)
    cell = next(c for c in nb.cells if "def accept_wrapper(" in c.source)
    cell.source = cell.source.replace("raise NotImplementedError()", "conn, addr = sock.accept()")
    nbformat.write(nb, edited)
    (tmp_path / "99-left-over.ipynb").write_text(edited.read_text())

    assert tool.stale(SOLUTIONS, tmp_path) == ["04-accept-wrapper.ipynb", "99-left-over.ipynb"]
    assert tool.main(["--check", "--solutions", str(SOLUTIONS), "--exercises", str(tmp_path)]) == 1
    report = capsys.readouterr().out
    assert "04-accept-wrapper.ipynb" in report and "99-left-over.ipynb" in report
    print(report)  # shown with pytest -s

    assert tool.write(SOLUTIONS, tmp_path) == ["04-accept-wrapper.ipynb", "99-left-over.ipynb"]
    assert tool.stale(SOLUTIONS, tmp_path) == []
    assert not (tmp_path / "99-left-over.ipynb").exists()


def test_the_command_line_check_exits_1_listing_stale_files(tmp_path):
    shutil.copytree(EXERCISES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "01-listening-socket.ipynb").unlink()
    run = subprocess.run([sys.executable, str(TOOL), "--check", "--exercises", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "01-listening-socket.ipynb" in run.stdout and "tools/make_exercises.py" in run.stdout
    run = subprocess.run([sys.executable, str(TOOL), "--exercises", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "written: 01-listening-socket.ipynb" in run.stdout
    run = subprocess.run([sys.executable, str(TOOL), "--check", "--exercises", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout


def test_nbgraders_clear_solutions_gives_the_same_student_code():
    try:
        from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions
    except ImportError:
        pytest.fail("nbgrader is not installed, so tools/make_exercises.py cannot be compared with nbgrader's "
                    "ClearSolutions. Install the dev extra: pip install -e '.[dev]' (make install).",
                    pytrace=False)

    def nbgrader_version(nb, enforce_metadata=True):
        nb, resources = copy.deepcopy(nb), {}
        for preprocessor in (ClearSolutions(enforce_metadata=enforce_metadata),
                             ClearHiddenTests(enforce_metadata=enforce_metadata), ClearOutput()):
            nb, resources = preprocessor.preprocess(nb, resources)
        return nb

    def student_code(nb):
        return [(c.cell_type, c.source, c.get("outputs", []), c.get("execution_count")) for c in nb.cells]

    for path in SOLUTION_NOTEBOOKS:  # with nbgrader's metadata checks on: they are nbgrader source notebooks
        nb = nbformat.read(path, as_version=4)
        assert student_code(tool.student_version(nb)) == student_code(nbgrader_version(nb)), path.name
    small = small_notebook()
    assert student_code(tool.student_version(small)) == student_code(nbgrader_version(small, False))


# ---------------------------------------------------------------------------
# every exercise runs unfinished

class ThisPython(KernelSpecManager):
    """The kernel is this test run's Python (as nbval's --nbval-current-env)."""

    def get_kernel_spec(self, kernel_name):
        return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                      **ipykernel.kernelspec.get_kernel_dict())


def run_notebook(nb, folder, twice=False):
    """Run ``nb`` in a kernel of this Python, each code cell once (or twice in a row); return the errors."""
    km = KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())
    client = NotebookClient(nb, km=km, timeout=60, allow_errors=True, resources={"metadata": {"path": str(folder)}})
    errors = []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            for _ in range(2 if twice and cell.cell_type == "code" else 1):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
                    errors += [f"cell {index}: {o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
    return errors


def said(cell):
    """What a cell showed: its printed text and its displayed values, as plain text."""
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)


@pytest.mark.parametrize("name", [p.name for p in SOLUTION_NOTEBOOKS], ids=lambda n: n[:-6])
def test_unfinished_exercise_runs_and_its_checks_say_not_attempted(name):
    """Top to bottom, each code cell twice in a row ("run it again" must work too), without an error."""
    nb = nbformat.read(EXERCISES / name, as_version=4)
    assert not run_notebook(nb, EXERCISES, twice=True)
    check_cells = [c for c in nb.cells if nbgrader_cell(c).get("grade")]
    assert check_cells
    for cell in check_cells:
        assert "not attempted" in said(cell), said(cell)


# ---------------------------------------------------------------------------
# a run cell tells the truth about a mistake, and agrees with the check

def with_mistake(exercise, case):
    """The exercise's solution notebook with a plausible mistake (tests/data/mistakes.py) in its answer cell."""
    nb = nbformat.read(SOLUTIONS / f"{EXERCISES_TABLE[exercise].notebook}.ipynb", as_version=4)
    answer = next(c for c in nb.cells if nbgrader_cell(c).get("grade_id") == exercise)
    answer.source = mistaken(exercise, case, answer.source)
    return nb


def run_cell(nb, words):
    return next(c for c in nb.cells if c.cell_type == "code" and words in c.source)


LIBRARY = ("echo_lab/", "site-packages", "background.py", "recorder.py", "socket.py", "Traceback (most recent")


def test_a_blocking_accepted_socket_runs_and_the_run_cell_says_what_happened_not_that_it_is_right():
    nb = with_mistake("accept_wrapper", "still-blocking")
    assert not [e for e in run_notebook(nb, SOLUTIONS) if "AssertionError" not in e]  # only the hidden test fails
    shown = said(run_cell(nb, "serve_tutorial_clients("))
    assert "the 2 clients sent 88 bytes and got 88 bytes back" in shown, shown
    assert "True" not in shown and "False" not in shown
    assert "still blocking" in said(nb.cells[-1])


def test_sent_bytes_never_sliced_off_show_as_numbers_and_the_learners_line():
    nb = with_mistake("service_connection", "no-slice")
    assert not [e for e in run_notebook(nb, SOLUTIONS) if "AssertionError" not in e]
    shown = said(run_cell(nb, "serve_tutorial_clients("))
    assert re.search(r"the 2 clients sent [\d,]+ bytes and got [\d,]+ bytes back", shown), shown
    assert not any(word in shown for word in LIBRARY), shown
    assert len(shown.splitlines()) <= 35, f"the transcript of a loop gone wrong is cut short:\n{shown}"
    if "Your code raised an error" in shown:  # the server's error, when there is one: the learner's line
        assert "in service_connection" in shown and "What it means:" in shown, shown
    assert "Bytes that were sent are still in outb" in said(nb.cells[-1])


def test_a_fix_that_never_drops_write_measures_as_busy_after_the_echo_as_the_check_finds():
    nb = with_mistake("bug_hunt", "write-forever")
    assert not [e for e in run_notebook(nb, SOLUTIONS) if "AssertionError" not in e]
    shown = said(run_cell(nb, "try:\n    before, echo, after"))
    before = int(re.search(r"before its echo: (\d+)", shown)[1])
    after = int(re.search(r"after its echo: (\d+)", shown)[1])
    assert before < 25 and after > 1000, shown
    assert "the echo: b'ping'" in shown
    assert "After the echo, select() woke up" in said(nb.cells[-1])
