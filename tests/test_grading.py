"""Grading as a teacher does it: the course folder `make course` makes, nbgrader's own commands, the exchange.

The test makes the course folder with ``tools/teach.py course`` (what ``make
course`` runs: ``nbgrader_config.py``, ``source/`` from the solutions, an
exchange inside the folder) and runs ``nbgrader generate_assignment`` and
``release_assignment`` as a teacher would.  Then four students fetch the
assignment from the exchange, answer it and submit it
(``fetch_assignment``, ``submit``; each names itself with ``--student``, as
on a hub each learner's own login does):

* ``untouched``: as released (nothing written);
* ``solutions``: every answer cell filled in with the solution's code;
* ``mistakes-a``, ``mistakes-b``: every notebook with one plausible learner
  mistake in it, a different one for each student (``GRADED`` in
  ``tests/data/mistakes.py``, among the mistakes the checks are tried on).

The students work at the same time, as in a class.  The teacher collects,
autogrades each student's submission in a process of its own, all at once
(TEACHING.md: most of autograde's time is waiting), generates and releases
the feedback, and each student fetches it.  The gradebook must say: 0 points for the untouched
notebooks, full marks for the solutions, and less than full marks for every
notebook with a mistake.  ``pytest -s`` shows the table of
scores.  The feedback a student fetched must show the check's words.

nbgrader runs ``alembic`` as a program: the commands run with this
environment's ``bin/`` first on ``PATH``, as in an activated virtualenv.
Every command is bounded (:data:`COMMAND_TIMEOUT`).
"""

import concurrent.futures
import json
import os
import pathlib
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request

import nbformat
import pytest
from data.mistakes import GRADED, mistaken

from echo_lab.checks import EXERCISES
from helpers import cannot, free_port

try:
    from nbgrader.api import Gradebook
except ImportError:
    cannot("nbgrader's grading loop", "nbgrader is not installed: pip install -e '.[dev]' (make install)",
           module=True)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = sorted(path.stem for path in SOLUTIONS.glob("[0-9][0-9]-*.ipynb"))
ASSIGNMENT = "selectors-exercises"  # what tools/teach.py course names the assignment of all ten
TEACH = ROOT / "tools" / "teach.py"
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


def nbgrader(where, *args, student=False):
    """Run ``nbgrader ARGS`` in ``where`` (the course folder, or a ``student``'s home, which is then HOME: each
    learner's own nbgrader cache), this environment's bin/ first on PATH."""
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               JUPYTER_CONFIG_DIR=str(where.parent / "jupyter-config"))  # no teacher's own settings
    if student:
        env.update(HOME=str(where), JUPYTER_DATA_DIR=str(where / ".local" / "share" / "jupyter"))
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=where, env=env, capture_output=True,
                         text=True, timeout=COMMAND_TIMEOUT)
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run


def without_markers(source):
    return "\n".join(line for line in source.split("\n") if BEGIN not in line and END not in line)


def answer_cells(nb):
    return {cell.metadata["nbgrader"]["grade_id"]: cell for cell in nb.cells
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution")}


def answer(folder, student, notebook, solution):
    """Answer ``notebook`` of the fetched assignment in ``folder`` as ``student`` does."""
    path = folder / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    solved = answer_cells(solution)
    for grade_id, cell in answer_cells(nb).items():
        if student == "solutions":
            cell.source = without_markers(solved[grade_id].source)
        elif student in MISTAKES:
            source, case = solved[grade_id].source, MISTAKES[student][notebook].get(grade_id)
            if case is not None:  # an answer cell of this notebook with a mistake in it (grade_id: the exercise)
                source = mistaken(grade_id, case, source)
            cell.source = without_markers(source)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """What `python tools/teach.py course FOLDER` made, and what it printed."""
    course = tmp_path_factory.mktemp("grading") / "course"
    run = subprocess.run([sys.executable, str(TEACH), "course", str(course)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    return course, run.stdout


@pytest.fixture(scope="module")
def course(made):
    """The course folder, after a whole round: release, fetch, submit, collect, autograde, feedback."""
    course, _ = made
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    nbgrader(course, "release_assignment", ASSIGNMENT, "--force")
    exchange = f"--Exchange.root={course / 'exchange'}"  # what the students' own nbgrader_config.py says

    def work(student):  # fetch, answer, submit: the students at the same time, as in a class
        home = course.parent / "students" / student
        home.mkdir(parents=True)
        nbgrader(home, "fetch_assignment", ASSIGNMENT, "--course=echo-lab", exchange, student=True)
        for notebook in NOTEBOOKS:
            answer(home / ASSIGNMENT, student, notebook, nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4))
        nbgrader(home, "submit", ASSIGNMENT, "--course=echo-lab", f"--student={student}", exchange, student=True)

    def autograde(student):  # one process per student, at the same time: the gradebook (SQLite) is shared
        nbgrader(course, "autograde", ASSIGNMENT, f"--student={student}", "--force")

    def fetch_feedback(student):
        nbgrader(course.parent / "students" / student, "fetch_feedback", ASSIGNMENT, "--course=echo-lab",
                 f"--student={student}", exchange, student=True)

    with concurrent.futures.ThreadPoolExecutor(len(STUDENTS)) as students:
        list(students.map(work, STUDENTS))  # (list: raises the first student's failure)
        nbgrader(course, "collect", ASSIGNMENT)
        list(students.map(autograde, STUDENTS))
        nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
        nbgrader(course, "release_feedback", ASSIGNMENT)
        list(students.map(fetch_feedback, STUDENTS))
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


def fetched_feedback(course, student, notebook):
    """The feedback ``student`` fetched for ``notebook``: nbgrader puts it in ASSIGNMENT/feedback/TIMESTAMP/."""
    found = sorted((course.parent / "students" / student / ASSIGNMENT / "feedback").glob(f"*/{notebook}.html"))
    assert len(found) == 1, found
    return found[0].read_text(encoding="utf-8")


def test_the_feedback_a_student_fetched_shows_the_checks_words(course, graded):
    html = fetched_feedback(course, "mistakes-b", "04-accept-wrapper")
    assert "Score: 0.0 / 1.0" in html
    assert "The connection is registered for EVENT_READ only." in html  # what check_accept_wrapper said
    solved = fetched_feedback(course, "solutions", "04-accept-wrapper")
    assert "Score: 1.0 / 1.0" in solved and "accept_wrapper: passed." in solved


# -- the course folder itself ----------------------------------------------------------------------

def test_the_course_folder_is_nbgraders_with_an_exchange_inside_and_no_assignment_named_like_a_package(made):
    course, printed = made
    config = (course / "nbgrader_config.py").read_text()
    assert f"c.CourseDirectory.root = {str(course)!r}" in config and course.is_absolute()
    assert f"c.Exchange.root = {str(course / 'exchange')!r}" in config and (course / "exchange").is_dir()
    names = sorted(p.name for p in (course / "source").iterdir())
    assert names == [ASSIGNMENT, f"{ASSIGNMENT}-zh"], names
    for name in names:  # a fetched assignment's folder named like a package would hide it from the code beside it
        assert not name.isidentifier(), name
        notebooks = sorted(p.stem for p in (course / "source" / name).glob("*.ipynb"))
        assert notebooks == NOTEBOOKS, (name, notebooks)
    assert str(course) in printed and ASSIGNMENT in printed


def test_each_exercise_its_own_assignment_and_a_shared_exchange(tmp_path):
    exchange = tmp_path / "srv" / "exchange"
    run = subprocess.run([sys.executable, str(TEACH), "course", str(tmp_path / "course"), "--each",
                          "--exchange", str(exchange)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in (tmp_path / "course" / "source").iterdir())
    assert names == sorted(NOTEBOOKS + [f"{n}-zh" for n in NOTEBOOKS]), names
    assert all(not name.isidentifier() for name in names)
    assert f"c.Exchange.root = {str(exchange)!r}" in (tmp_path / "course" / "nbgrader_config.py").read_text()
    assert exchange.stat().st_mode & 0o1777 == 0o1777  # every learner may submit; only the owner removes


def test_the_formgrader_of_jupyter_started_in_the_course_folder_lists_its_assignments(course):
    """`make teach` starts JupyterLab in the course folder: there nbgrader's Formgrader finds the course."""
    token, port = secrets.token_hex(16), free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(course.parent / "jupyter-config"),
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    args = [sys.executable, "-m", "jupyter_server", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    server = subprocess.Popen(args, cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/formgrader/api/assignments"
        request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
        listed = None
        deadline = time.monotonic() + 60
        while listed is None:
            assert server.poll() is None and time.monotonic() < deadline, "jupyter server did not answer"
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    listed = json.loads(response.read())
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=20)
    assignments = {a["name"]: a for a in listed}
    assert {ASSIGNMENT, f"{ASSIGNMENT}-zh"} <= set(assignments), listed
    assert assignments[ASSIGNMENT]["num_submissions"] == len(STUDENTS), assignments[ASSIGNMENT]
