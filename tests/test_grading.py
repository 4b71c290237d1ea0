"""Grading as a teacher does it: nbgrader's own commands on a course folder, scores from its gradebook.

The test builds a course folder in a temporary directory (``nbgrader_config.py``
with ``CourseDirectory.root`` and ``course_id``), copies ``solutions/*.ipynb``
to ``source/echo_lab/``, and runs ``nbgrader generate_assignment`` as a
teacher would.  Then four students hand in the released notebooks:

* ``untouched``: as released (nothing written);
* ``solutions``: every answer cell filled in with the solution's code;
* ``mistakes-a``, ``mistakes-b``: every notebook with one plausible learner
  mistake in it, a different one for each student (``GRADED`` in
  ``tests/data/mistakes.py``, among the mistakes the checks are tried on).

``nbgrader autograde`` grades them all, in one run.  The gradebook must say:
0 points for the untouched notebooks, full marks for the solutions, and less
than full marks for every notebook with a mistake.  ``pytest -s`` shows the
table of scores.  ``nbgrader generate_feedback`` then writes each student's
feedback, which must show the check's words.

nbgrader runs ``alembic`` as a program: the commands run with this
environment's ``bin/`` first on ``PATH``, as in an activated virtualenv.
Every command is bounded (:data:`COMMAND_TIMEOUT`).
"""

import os
import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest
from data.mistakes import GRADED, mistaken

from echo_lab.checks import EXERCISES
from helpers import cannot

try:
    from nbgrader.api import Gradebook
except ImportError:
    cannot("nbgrader's grading loop", "nbgrader is not installed: pip install -e '.[dev]' (make install)",
           module=True)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = sorted(path.stem for path in SOLUTIONS.glob("[0-9][0-9]-*.ipynb"))
ASSIGNMENT = "echo_lab"
COMMAND_TIMEOUT = 600  # seconds for one nbgrader command (autograde of 40 notebooks: about a minute here)
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

GRADED_STUDENTS = ("mistakes-a", "mistakes-b")  # in the order of the two cases of each GRADED row


def mistakes_of(student):
    """{notebook: {exercise: case}}: the mistakes ``GRADED`` (tests/data/mistakes.py) has ``student`` make."""
    found = {}
    for exercise, cases in GRADED.items():
        case = cases[GRADED_STUDENTS.index(student)]
        if case is not None:
            found.setdefault(EXERCISES[exercise].notebook, {})[exercise] = case
    return found


MISTAKES = {student: mistakes_of(student) for student in GRADED_STUDENTS}
STUDENTS = ["untouched", "solutions", *MISTAKES]


def nbgrader(course, *args):
    """Run ``nbgrader ARGS`` in the course folder, with this environment's bin/ first on PATH."""
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               JUPYTER_CONFIG_DIR=str(course.parent / "jupyter-config"))  # no teacher's own settings
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                         text=True, timeout=COMMAND_TIMEOUT)
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run


def without_markers(source):
    return "\n".join(line for line in source.split("\n") if BEGIN not in line and END not in line)


def answer_cells(nb):
    return {cell.metadata["nbgrader"]["grade_id"]: cell for cell in nb.cells
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution")}


def hand_in(course, student, notebook, solution):
    """Write ``student``'s submission of ``notebook``: the released notebook, answered as the student does."""
    nb = nbformat.read(course / "release" / ASSIGNMENT / f"{notebook}.ipynb", as_version=4)
    solved = answer_cells(solution)
    for grade_id, cell in answer_cells(nb).items():
        if student == "solutions":
            cell.source = without_markers(solved[grade_id].source)
        elif student in MISTAKES:
            source, case = solved[grade_id].source, MISTAKES[student][notebook].get(grade_id)
            if case is not None:  # an answer cell of this notebook with a mistake in it (grade_id: the exercise)
                source = mistaken(grade_id, case, source)
            cell.source = without_markers(source)
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{notebook}.ipynb")
    (folder / "timestamp.txt").write_text("2026-01-05 10:00:00.000000 UTC")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course folder, after nbgrader's generate_assignment, autograde and generate_feedback."""
    course = tmp_path_factory.mktemp("grading") / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.course_id = {ASSIGNMENT!r}\n")
    for notebook in NOTEBOOKS:
        shutil.copy(SOLUTIONS / f"{notebook}.ipynb", course / "source" / ASSIGNMENT)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    for notebook in NOTEBOOKS:
        solution = nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)
        for student in STUDENTS:
            hand_in(course, student, notebook, solution)
    nbgrader(course, "autograde", ASSIGNMENT, "--force")
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    return course


@pytest.fixture(scope="module")
def graded(course):
    """{student: {notebook: (score, max_score)}}, from nbgrader's gradebook."""
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in STUDENTS:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            scores[student] = {nb.name: (nb.score, nb.max_score) for nb in submission.notebooks}
    print_table(scores)
    return scores


def print_table(scores):
    width = max(map(len, NOTEBOOKS))
    print(f"\n{'notebook':<{width}}  points  " + "  ".join(f"{s:>10}" for s in STUDENTS))
    for notebook in NOTEBOOKS:
        points = scores["solutions"][notebook][1]
        row = "  ".join(f"{scores[s][notebook][0]:>10g}" for s in STUDENTS)
        print(f"{notebook:<{width}}  {points:>6g}  {row}")
    totals = "  ".join(f"{sum(v[0] for v in scores[s].values()):>10g}" for s in STUDENTS)
    print(f"{'total':<{width}}  {sum(v[1] for v in scores['solutions'].values()):>6g}  {totals}")
    for student, mistakes in MISTAKES.items():
        print(f"{student}: " + "; ".join(f"{nb[:2]} {case}" for nb, cases in sorted(mistakes.items())
                                         for case in cases.values()))


def test_every_notebook_is_graded_with_the_points_its_check_cells_carry(graded):
    for student in STUDENTS:
        assert sorted(graded[student]) == NOTEBOOKS, student
    for notebook in NOTEBOOKS:
        nb = nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)
        points = sum(c.metadata["nbgrader"]["points"] for c in nb.cells
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
        assert graded["solutions"][notebook][1] == points > 0, notebook


def test_the_notebooks_as_released_score_nothing(graded):
    assert {nb: score for nb, (score, _) in graded["untouched"].items() if score != 0} == {}


def test_the_solutions_get_full_marks(graded):
    assert {nb: (score, most) for nb, (score, most) in graded["solutions"].items() if score != most} == {}


@pytest.mark.parametrize("student", list(MISTAKES))
def test_every_notebook_with_a_mistake_loses_points(graded, student):
    assert set(MISTAKES[student]) == set(NOTEBOOKS), "a mistake in every notebook"
    full = {nb: (score, most) for nb, (score, most) in graded[student].items() if score >= most}
    assert full == {}, f"{student} got full marks despite the mistake in {sorted(full)}"


def test_the_feedback_shows_the_student_the_checks_words(course, graded):
    feedback = course / "feedback" / "mistakes-b" / ASSIGNMENT / "04-accept-wrapper.html"
    html = feedback.read_text(encoding="utf-8")
    assert "Score: 0.0 / 1.0" in html
    assert "The connection is registered for EVENT_READ only." in html  # what check_accept_wrapper said
    solved = (course / "feedback" / "solutions" / ASSIGNMENT / "04-accept-wrapper.html").read_text(encoding="utf-8")
    assert "Score: 1.0 / 1.0" in solved and "accept_wrapper: passed." in solved
