"""An exercise's hints and its answer, shown in the notebook: ``hint()`` and ``solution()``.

Both read the exercises' table (:mod:`~echo_lab.checks.exercises`): a hint
goes from a nudge to nearly the code, and is translated when shown; the
solution is the code between the solution notebook's markers, read from
there by ``tools/make_exercises.py``, not written again.

In a graded course (``ECHO_LAB_GRADED=1`` in the learners' environment, or
the learners' copy that ``tools/teach.py students`` makes, which has no
answers in it; see TEACHING.md) the last hint, which is nearly the code, and
``solution()`` say that they are off, and show nothing of the answer.
"""

import os

from ..i18n import _
from .exercises import EXERCISES, answers_withheld
from .results import Hint, Solution

__all__ = ["GRADED", "graded", "hint", "last_hint", "solution"]

GRADED = "ECHO_LAB_GRADED"  # the environment variable that turns the last hint and the solutions off


def graded():
    """Whether the course is graded: ``ECHO_LAB_GRADED`` is set, to anything but 0, or this copy has no answers."""
    return os.environ.get(GRADED, "0").strip() not in ("", "0") or answers_withheld()


def _exercise(name):
    try:
        return EXERCISES[name]
    except KeyError:
        raise ValueError(_("no exercise {name!r}; the exercises are: {names}").format(
            name=name, names=", ".join(EXERCISES))) from None


def hint(name, level=1):
    """Hint number ``level`` (1 = a nudge ... last = nearly the code) for exercise ``name``."""
    hints = _exercise(name).hints
    level = min(max(int(level), 1), len(hints))
    if graded() and level == len(hints):
        return Hint(name, level, len(hints), _("The last hint is nearly the answer, and this course is "
                                               "graded: it is off. The hints before it are yours."), graded=True)
    return Hint(name, level, len(hints), _(hints[level - 1]), graded=graded())


def last_hint(name):
    """The last hint a learner may see, translated: for a check's wrong answer (the one before it if graded)."""
    hints = _exercise(name).hints
    return _(hints[-2] if graded() else hints[-1])


def solution(name):
    """The answer to exercise ``name``: the tutorial's code, or the lesson's beyond it."""
    exercise = _exercise(name)
    return Solution(name, None if graded() else exercise.solution)
