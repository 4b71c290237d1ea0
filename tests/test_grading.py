"""Grading as a teacher does it: the course folder `make course` makes, nbgrader's own commands, the exchange.

The test makes the course folder with ``tools/teach.py course`` (what ``make
course`` runs: ``nbgrader_config.py``, ``source/`` from the solutions, an
exchange inside the folder) and runs ``nbgrader generate_assignment`` and
``release_assignment`` as a teacher would.  Then four students fetch the
assignment from the exchange, answer it and submit it: two in their servers
on a JupyterHub (tools/hub.py), through nbgrader's Assignments API, what
JupyterLab's Assignments panel calls, with the teacher's tools switched off
as TEACHING.md does it; two in a terminal, with ``fetch_assignment`` and
``submit``, each naming itself with ``--student``:

* ``untouched``: as released (nothing written);
* ``solutions``: every answer cell filled in with the solution's code;
* ``mistakes-a``, ``mistakes-b``: every notebook with one plausible learner
  mistake in it, a different one for each student (``GRADED`` in
  ``tests/data/mistakes.py``, among the mistakes the checks are tried on).

The students work at the same time, as in a class (each answers by writing
the fetched notebooks' files).  The teacher collects, autogrades each
student's submission in a process of its own, all at once (TEACHING.md: most
of autograde's time is waiting), generates and releases the feedback, and
each student fetches it, in their server or terminal.  The gradebook must
say: 0 points for the untouched notebooks, full marks for the solutions, and
less than full marks for every notebook with a mistake.  ``pytest -s`` shows
the table of scores.  The feedback a student fetched must show the check's
words.

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
import threading
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


# Two students work in their servers on a JupyterHub, through nbgrader's Assignments API (what JupyterLab's
# Assignments panel calls: fetch, submit, fetch_feedback); two in a terminal, with nbgrader's commands.
ON_THE_HUB = ("solutions", "mistakes-a")
COURSE_ID = "echo-lab"
HUB_READY = 300  # seconds for the hub and the learners' servers to start (their own bounds: 60 s, 180 s)

# A learner's server in a graded class (TEACHING.md): nbgrader's assignment list on, the teacher's tools off.
GRADED_LEARNER_SERVER = {"ServerApp": {"jpserver_extensions": {
    "nbgrader.server_extensions.assignment_list": True, "nbgrader.server_extensions.validate_assignment": True,
    "nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False}},
    "KernelManager": {"transport": "ipc"}}
# Every learner's server here runs as this machine's one user: the config names the student by the hub's name
# (nbgrader does so itself for Z2JH's jovyan; on TLJH each learner is a user of the machine).
LEARNER_NBGRADER_CONFIG = """\
import os
c = get_config()  # noqa
c.Exchange.root = {exchange!r}
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
"""


@pytest.fixture(scope="module")
def the_hub(made):
    """JupyterHub on 127.0.0.1 (tools/hub.py) with a server running for each of ON_THE_HUB; stopped at the end."""
    import hub as jupyterhub  # tools/
    import learner

    missing = jupyterhub.jupyterhub_missing()
    if missing:
        cannot("a graded class on JupyterHub", missing)
    proxy, why = jupyterhub.install_proxy()
    if not proxy:
        cannot("a graded class on JupyterHub", f"configurable-http-proxy cannot be installed: {why}")
    course, _ = made
    tag = secrets.token_hex(4)
    (course.parent / "hub").mkdir()
    the_hub = jupyterhub.Hub(course.parent / "hub", proxy, tag, ipc=True)
    for student in ON_THE_HUB:
        config = the_hub.homes / student / ".jupyter"
        config.mkdir(parents=True)
        (config / "jupyter_server_config.json").write_text(json.dumps(GRADED_LEARNER_SERVER))
        (config / "nbgrader_config.py").write_text(LEARNER_NBGRADER_CONFIG.format(
            exchange=str(course / "exchange"), course_id=COURSE_ID))

    def login(student):  # the user, a token, the server started and ready
        someone = learner.Learner(the_hub, student, [], 0, 60, threading.Event(), None)
        someone.login()
        return someone.token

    def started():  # the hub, then the learners' servers at once; meanwhile the teacher releases
        the_hub.start()
        with concurrent.futures.ThreadPoolExecutor(len(ON_THE_HUB)) as logins:
            return dict(zip(ON_THE_HUB, logins.map(login, ON_THE_HUB), strict=True))

    background = concurrent.futures.ThreadPoolExecutor(1)
    ready = background.submit(started)
    try:
        yield the_hub, ready  # ready.result(): {student: their token}
    finally:
        background.shutdown(wait=True)  # (bounded: the hub's and the servers' own start timeouts)
        the_hub.stop()
        left = jupyterhub.run_processes(tag)
        jupyterhub.kill_all(left)
        assert not left, f"the hub left processes running: {left}"


def assignments(the_hub, tokens, student, action=None):
    """GET the Assignments list, or POST ``action`` (fetch, submit, fetch_feedback), in ``student``'s server."""
    url = f"/user/{student}/assignments" + (f"/{action}" if action else "")
    query = f"?course_id={COURSE_ID}" + (f"&assignment_id={ASSIGNMENT}" if action else "")
    status, body = the_hub.api("POST" if action else "GET", url + query, {} if action else None,
                               token=tokens[student])
    assert status == 200 and body["success"], (student, action, status, body)
    return {(a["assignment_id"], a["status"]) for a in body["value"]}  # released, fetched, submitted


@pytest.fixture(scope="module")
def course(made, the_hub):
    """The course folder, after a whole round: release, fetch, submit, collect, autograde, feedback."""
    course, _ = made
    the_hub, ready = the_hub
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    nbgrader(course, "release_assignment", ASSIGNMENT, "--force")
    tokens = ready.result(timeout=HUB_READY)
    exchange = f"--Exchange.root={course / 'exchange'}"  # what the students' own nbgrader_config.py says

    def work(student):  # fetch, answer, submit: the students at the same time, as in a class
        home = HOMES[student]
        if student in ON_THE_HUB:
            assert assignments(the_hub, tokens, student) == {(ASSIGNMENT, "released")}
            assert assignments(the_hub, tokens, student, "fetch") == {(ASSIGNMENT, "fetched")}
        else:
            home.mkdir(parents=True)
            nbgrader(home, "fetch_assignment", ASSIGNMENT, f"--course={COURSE_ID}", exchange, student=True)
        for notebook in NOTEBOOKS:
            answer(home / ASSIGNMENT, student, notebook, nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4))
        if student in ON_THE_HUB:
            assert (ASSIGNMENT, "submitted") in assignments(the_hub, tokens, student, "submit")
        else:
            nbgrader(home, "submit", ASSIGNMENT, f"--course={COURSE_ID}", f"--student={student}", exchange,
                     student=True)

    def autograde(student):  # one process per student, at the same time: the gradebook (SQLite) is shared
        nbgrader(course, "autograde", ASSIGNMENT, f"--student={student}", "--force")

    def fetch_feedback(student):
        if student in ON_THE_HUB:
            assignments(the_hub, tokens, student, "fetch_feedback")
        else:
            nbgrader(HOMES[student], "fetch_feedback", ASSIGNMENT, f"--course={COURSE_ID}", f"--student={student}",
                     exchange, student=True)

    HOMES.update({student: (the_hub.homes if student in ON_THE_HUB else course.parent / "students") / student
                  for student in STUDENTS})
    with concurrent.futures.ThreadPoolExecutor(len(STUDENTS)) as students:
        list(students.map(work, STUDENTS))  # (list: raises the first student's failure)
        nbgrader(course, "collect", ASSIGNMENT)
        list(students.map(autograde, STUDENTS))
        nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
        nbgrader(course, "release_feedback", ASSIGNMENT)
        list(students.map(fetch_feedback, STUDENTS))
    return course


HOMES = {}  # student -> their home: the server's root on the hub, or the folder their terminal works in


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
    found = sorted((HOMES[student] / ASSIGNMENT / "feedback").glob(f"*/{notebook}.html"))
    assert len(found) == 1, found
    return found[0].read_text(encoding="utf-8")


def test_the_feedback_a_student_fetched_shows_the_checks_words(course, graded):
    html = fetched_feedback(course, "mistakes-b", "04-accept-wrapper")
    assert "Score: 0.0 / 1.0" in html
    assert "The connection is registered for EVENT_READ only." in html  # what check_accept_wrapper said
    solved = fetched_feedback(course, "solutions", "04-accept-wrapper")
    assert "Score: 1.0 / 1.0" in solved and "accept_wrapper: passed." in solved


def test_a_learners_server_on_the_hub_lists_assignments_but_has_no_teachers_tools(the_hub, course):
    the_hub, ready = the_hub
    tokens = ready.result(timeout=HUB_READY)
    for student in ON_THE_HUB:
        assert (ASSIGNMENT, "submitted") in assignments(the_hub, tokens, student)
        for teachers in ("/formgrader/api/assignments", "/formgraders"):  # the Formgrader, the course list: off
            status, _ = the_hub.api("GET", f"/user/{student}{teachers}", token=tokens[student])
            assert status == 404, (student, teachers, status)


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
    """`make teach` (tools/teach.py lab, here with the developer's python, which has nbgrader) starts
    JupyterLab in the course folder: there nbgrader's Formgrader finds the course."""
    token, port = secrets.token_hex(16), free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(course.parent / "jupyter-config"),  # no user's settings,
               JUPYTER_DATA_DIR=str(course.parent / "jupyter-data"))  # and the notebooks it trusts signed here
    args = [sys.executable, str(ROOT / "tools" / "teach.py"), "lab", str(course), "--", f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False"]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
