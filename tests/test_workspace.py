"""The learner's copy of the course, work/ (tools/workspace.py, which `make lab` runs): made, updated, never lost.

The update is taken as README says, with real git: a learner clones the course,
works through two lessons and an exercise in work/, the course changes
upstream, and the learner runs `git pull` and the workspace again.
"""

import json
import os
import pathlib
import subprocess
import sys

import nbformat
import pytest
from nbformat.sign import NotebookNotary

from lab import fresh_clone

ROOT = pathlib.Path(__file__).resolve().parents[1]
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
          "GIT_COMMITTER_EMAIL": "t@example.org"}


def run(args, cwd, env):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def env(tmp_path):
    """A learner's own Jupyter data folder (the trust database) and a git identity."""
    return dict(os.environ, JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"), **GIT_ID)


def worked(path, what):
    """Change a notebook as a learner does: run a cell (new output) or write an answer."""
    nb = nbformat.read(path, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.source += f"\n# {what}"
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{what}\n")]
    nbformat.write(nb, path)
    return path.read_bytes()


def changed_upstream(path, what):
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += f"\n\n{what}"
    nbformat.write(nb, path)
    return path.read_bytes()


def test_a_course_update_after_two_lessons_and_an_exercise_keeps_the_learners_work(tmp_path, env):
    upstream = fresh_clone(tmp_path / "upstream")
    run(["git", "init", "-q", "-b", "main"], upstream, env)
    run(["git", "add", "-A"], upstream, env)
    run(["git", "commit", "-q", "-m", "the course"], upstream, env)
    learner = tmp_path / "learner"
    run(["git", "clone", "-q", str(upstream), str(learner)], tmp_path, env)
    workspace = [sys.executable, "tools/workspace.py"]

    first = run(workspace, learner, env)
    course = sum(1 for folder in ("exercises", "notebooks", "zh-CN/exercises", "zh-CN/notebooks")
                 for _ in (learner / folder).glob("*.ipynb"))
    assert course > 40, course  # 13 lessons and 10 exercises, in two languages
    assert f"copied    {course} notebooks: exercises, notebooks, zh-CN/exercises, zh-CN/notebooks" in first, first
    work = learner / "work"
    notary = NotebookNotary(data_dir=env["JUPYTER_DATA_DIR"])
    assert notary.check_signature(nbformat.read(work / "notebooks/04-event-loop.ipynb", as_version=4)), \
        "the copies are not trusted: their saved widgets would not show"

    # The learner works through lessons 01 and 02 and exercise 01.
    mine = {name: worked(work / name, f"the learner's work in {name}")
            for name in ("notebooks/01-blocking-server.ipynb", "notebooks/02-listening-socket.ipynb",
                         "exercises/01-listening-socket.ipynb")}
    # The course changes lesson 01 and exercise 01 (both worked on), lesson 03 (not), and adds a lesson.
    new_01 = changed_upstream(upstream / "notebooks/01-blocking-server.ipynb", "A clearer sentence.")
    changed_upstream(upstream / "exercises/01-listening-socket.ipynb", "A better hint.")
    new_03 = changed_upstream(upstream / "notebooks/03-register.ipynb", "Another sentence.")
    (upstream / "notebooks/13-new.ipynb").write_bytes((upstream / "notebooks/12-scale.ipynb").read_bytes())
    run(["git", "add", "-A"], upstream, env)
    run(["git", "commit", "-q", "-m", "an update"], upstream, env)

    # README's two commands (make lab runs tools/workspace.py lab; here the same script without JupyterLab).
    pulled = subprocess.run(["git", "pull", "-q"], cwd=learner, env=env, capture_output=True, text=True, timeout=60)
    assert pulled.returncode == 0, f"git pull failed:\n{pulled.stdout}\n{pulled.stderr}"
    update = run(workspace, learner, env)
    print(update)

    for name, content in mine.items():
        assert (work / name).read_bytes() == content, f"{name}: the learner's work was changed"
    assert (work / "notebooks/01-blocking-server.updated.ipynb").read_bytes() == new_01
    assert (work / "exercises/01-listening-socket.updated.ipynb").exists()
    assert not (work / "notebooks/02-listening-socket.updated.ipynb").exists(), "no update there to offer"
    assert (work / "notebooks/03-register.ipynb").read_bytes() == new_03, "an untouched lesson was not updated"
    assert (work / "notebooks/13-new.ipynb").exists(), "a new lesson was not copied"
    assert "kept      notebooks/01-blocking-server.ipynb: yours, changed by you; the course's new version is " \
           "notebooks/01-blocking-server.updated.ipynb" in update, update
    assert "updated   notebooks/03-register.ipynb (you had not changed it)" in update, update
    assert "copied    1 notebooks: notebooks" in update, update
    assert run(["git", "status", "--porcelain"], learner, env) == "", "work/ shows in git"

    # A notebook the learner deletes comes back as the course has it; a second run changes nothing.
    (work / "notebooks/02-listening-socket.ipynb").unlink()
    again = run(workspace, learner, env)
    assert "restored  notebooks/02-listening-socket.ipynb" in again, again
    assert "up to date with the course" in run(workspace, learner, env)
    manifest = json.loads((work / ".course.json").read_text())
    assert len(manifest) == course + 1, sorted(manifest)  # and the lesson the update added


def test_bad_arguments_get_a_usage_line_and_status_2(tmp_path, env):
    done = subprocess.run([sys.executable, str(ROOT / "tools/workspace.py"), "open"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 2 and "invalid choice: 'open'" in done.stderr, done.stderr
