"""An exercise's hints and its answer, shown in the notebook: ``hint()`` and ``solution()``.

Both read the exercises' table (:mod:`~echo_lab.checks.exercises`): a hint
goes from a nudge to nearly the code, and is translated when shown; the
solution is the code between the solution notebook's markers, read from
there by ``tools/make_exercises.py``, not written again.
"""

from ..i18n import _
from .exercises import EXERCISES
from .results import Hint, Solution

__all__ = ["hint", "solution"]


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
    return Hint(name, level, len(hints), _(hints[level - 1]))


def solution(name):
    """The answer to exercise ``name``: the tutorial's code, or the lesson's beyond it."""
    return Solution(name, _exercise(name).solution)
