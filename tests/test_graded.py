"""A graded course (ECHO_LAB_GRADED=1, or the learners' copy): the last hint and solution() show no answer.

What a learner calls in a notebook, with the environment a teacher sets on the hub; and the same
calls without it, which show everything.  The learners' copy (`make students`: tools/teach.py
students) holds the lessons and exercises and no answer, and is graded by itself.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from echo_lab import i18n
from echo_lab.checks import EXERCISES, hint, solution
from echo_lab.checks.hints import GRADED, last_hint

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def graded(monkeypatch):
    monkeypatch.setenv(GRADED, "1")


@pytest.mark.parametrize("name", list(EXERCISES))
def test_a_graded_course_shows_no_solution_and_no_last_hint(graded, name):
    code, hints = EXERCISES[name].solution, EXERCISES[name].hints
    shown = repr(solution(name)) + solution(name)._repr_html_()
    assert "solution() is off" in shown and code.strip().splitlines()[0] not in shown
    last = hint(name, len(hints))
    assert "is off" in repr(last) and hints[-1] not in repr(last) + last._repr_html_()
    before = hint(name, len(hints) - 1)
    assert hints[-2] in repr(before) and "this course is graded" in repr(before)  # no pointer to solution()
    assert "solution(" not in repr(before)
    assert last_hint(name) == hints[-2]  # what a check shows with a wrong answer


@pytest.mark.parametrize("value", ["", "0"])
def test_an_ungraded_course_shows_everything(monkeypatch, value):
    monkeypatch.setenv(GRADED, value)
    name = "accept_wrapper"
    assert EXERCISES[name].solution.strip() in repr(solution(name))
    assert EXERCISES[name].hints[-1] in repr(hint(name, 3)) and 'solution("accept_wrapper")' in repr(hint(name, 3))
    assert last_hint(name) == EXERCISES[name].hints[-1]


def test_a_graded_course_says_so_in_chinese(graded):
    with i18n.speaking("zh_CN"):
        shown = repr(solution("event_loop")) + repr(hint("event_loop", 3))
    assert "solution() 已关闭" in shown and "最后一条提示" in shown, shown


# -- the learners' copy: `make students` (tools/teach.py students) ------------------------------------

@pytest.fixture(scope="module")
def students(tmp_path_factory):
    folder = tmp_path_factory.mktemp("copy") / "students"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "teach.py"), "students", str(folder)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return folder


def test_the_learners_copy_has_the_lessons_and_exercises_and_no_answer(students):
    for folder in ("notebooks", "exercises", "zh-CN/notebooks", "zh-CN/exercises"):
        assert sorted(p.name for p in (students / folder).glob("*.ipynb")) == \
            sorted(p.name for p in (ROOT / folder).glob("*.ipynb")), folder
    assert (students / "tools" / "workspace.py").exists() and (students / "Makefile").exists()  # make lab works
    assert not (students / "solutions").exists() and not (students / "zh-CN" / "solutions").exists()
    marked = [p for p in students.rglob("*") if p.is_file() and b"### BEGIN SOLUTION" in p.read_bytes()]
    assert marked == [], marked
    kept = {name: e["solution"] for name, e in json.loads(
        (students / "echo_lab" / "checks" / "solutions.json").read_text(encoding="utf-8"))["exercises"].items()
        if e["solution"] is not None}
    assert set(kept) == {"take_messages"}, set(kept)  # exercise 09's check reads messages with it ...
    lesson = "".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"]) for c in json.loads(
        (ROOT / "notebooks" / "10-byte-stream.ipynb").read_text(encoding="utf-8"))["cells"])
    for line in kept["take_messages"].splitlines():  # ... and lesson 10 shows it, line by line
        assert line.split("#")[0].strip() in lesson, line
    for name, exercise in EXERCISES.items():  # no other answer is anywhere in the copy
        if name != "take_messages":
            body = exercise.solution.split("\n", 1)[1]  # past the def line, which the exercise gives
            found = [p for p in students.rglob("*.py") if body in p.read_text(encoding="utf-8", errors="replace")]
            assert found == [] or name in SEED_ANSWERS, (name, found)


# The tutorial's own functions (accept_wrapper, service_connection...) are the answers of exercises 04-07, and the
# lessons show and run them from echo_lab/seed.py: the tutorial is public; the copy hides the course's own answers.
SEED_ANSWERS = {"accept_wrapper", "service_connection", "start_connections", "client_service_connection"}


def test_in_the_learners_copy_solution_and_the_last_hint_are_off_and_the_checks_work(students):
    probe = """
import json, echo_lab
from echo_lab.checks import EXERCISES, check_take_messages, hint, solution
print(json.dumps({"package": echo_lab.__file__, "solution": repr(solution("accept_wrapper")),
                  "last hint": repr(hint("accept_wrapper", 3)), "first hint": repr(hint("accept_wrapper")),
                  "check": repr(check_take_messages(SOLVED))}))
"""
    solved = EXERCISES["take_messages"].solution  # the learner who wrote it right
    code = f"import struct\nHEADER = struct.Struct('!I')\nMAX_MESSAGE = 1024 * 1024\n{solved}\nSOLVED = take_messages\n"
    env = {k: v for k, v in os.environ.items() if k != GRADED}  # no ECHO_LAB_GRADED: the copy itself says so
    run = subprocess.run([sys.executable, "-c", code + probe], cwd=students, capture_output=True, text=True,
                         timeout=120, env=dict(env, PYTHONPATH=str(students)))
    assert run.returncode == 0, run.stderr[-3000:]
    said = json.loads(run.stdout.splitlines()[-1])
    assert said["package"].startswith(str(students)), said["package"]
    assert "solution() is off" in said["solution"] and "def accept_wrapper" not in said["solution"], said
    assert "it is off" in said["last hint"] and said["first hint"].startswith("Hint 1 of 3"), said
    assert "take_messages: passed" in said["check"], said["check"]
