"""A graded course (ECHO_LAB_GRADED=1): the last hint and solution() show nothing of the answer.

What a learner calls in a notebook, with the environment a teacher sets on the hub; and the same
calls without it, which show everything.
"""

import pytest

from echo_lab import i18n
from echo_lab.checks import EXERCISES, hint, solution
from echo_lab.checks.hints import GRADED, last_hint


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
