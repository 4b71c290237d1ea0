"""What a check shows: a :class:`Result`, a :class:`Hint`, a :class:`Solution`.

Kept apart from the checks because it is the one part a learner sees.  Each
object displays itself in a notebook as a coloured box (``_repr_html_``) and
has a plain-text form (``repr``) that is the same on every run, so stored
notebook outputs and tests can compare it.
"""

import html
import re

from ..i18n import _

__all__ = ["Hint", "Result", "Solution", "join_text"]


_STYLE = {  # outcome: (icon, headline, border colour, background)
    "passed": ("✔", "passed", "#2e7d32", "#edf7ed"),
    "wrong": ("✘", "not right yet", "#c62828", "#fdecea"),
    "not attempted": ("…", "not attempted yet", "#757575", "#f5f5f5"),
}


def _headline(outcome):
    """The outcome's headline, in the language in use."""
    return {"passed": _("passed"), "wrong": _("not right yet"), "not attempted": _("not attempted yet")}[outcome]


_FULL_WIDTH = ("。", "：", "；", "，", "！", "？", "）")  # Chinese punctuation: no space after it


def _gap(first):
    """What goes between ``first`` and the text after it: a space, or nothing after full-width punctuation."""
    return "" if first.endswith(_FULL_WIDTH) else " "


def join_text(first, second):
    """``first second``, or ``first`` and ``second`` run together after Chinese punctuation."""
    return first + _gap(first) + second


def _html_text(text):
    """Escape text for HTML; `code` spans become <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _box(colour, background, inner):
    return (f'<div style="border-left: 6px solid {colour}; background: {background}; color: #212121; '
            f'padding: 6px 12px; margin: 4px 0; line-height: 1.5">{inner}</div>')


class Result:
    """What a check found: ``outcome`` is ``"passed"``, ``"wrong"`` or ``"not attempted"``.

    ``message`` says what was observed, ``hint`` what to try, ``traceback``
    the learner's error (if one was raised).  ``passed`` is True for a pass.
    """

    def __init__(self, exercise, outcome, message, hint=None, traceback=None):
        if outcome not in _STYLE:
            raise ValueError(f"outcome must be one of {sorted(_STYLE)}, not {outcome!r}")
        self.exercise, self.outcome, self.message = exercise, outcome, message
        self.hint, self.traceback = hint, traceback

    @property
    def passed(self):
        return self.outcome == "passed"

    def _more(self):
        return _('More help: hint("{exercise}"), then hint("{exercise}", 2)...').format(exercise=self.exercise)

    def _title(self, exercise):
        return _("{exercise}: {headline}.").format(exercise=exercise, headline=_headline(self.outcome))

    def __repr__(self):
        icon = _STYLE[self.outcome][0]
        lines = [join_text(f"{icon} {self._title(self.exercise)}", self.message)]
        if self.traceback:
            lines.append(self.traceback.rstrip())
        if self.hint:
            lines.append(join_text(_("Hint:"), self.hint))
        if self.outcome == "wrong":
            lines.append(self._more())
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self):
        icon, colour, background = (_STYLE[self.outcome][i] for i in (0, 2, 3))
        title = self._title(self.exercise)
        parts = [f"<b>{icon} {html.escape(title)}</b>{_gap(title)}{_html_text(self.message)}"]
        if self.traceback:
            parts.append(f"<details open><summary>{html.escape(_('Traceback'))}</summary>"
                         f"<pre>{html.escape(self.traceback)}</pre></details>")
        if self.hint:
            label = _("Hint:")
            parts.append(f"<div><b>{html.escape(label)}</b>{_gap(label)}{_html_text(self.hint)}</div>")
        if self.outcome == "wrong":
            parts.append(f'<div style="color: #555">{_html_text(self._more())}</div>')
        return _box(colour, background, "".join(parts))


class Hint:
    """One graded hint for an exercise, shown in the notebook."""

    def __init__(self, exercise, level, total, text, graded=False):
        self.exercise, self.level, self.total, self.text = exercise, level, total, text
        self.graded = graded  # a graded course: no last hint, no solution

    def _next(self):
        if self.level < self.total - self.graded:
            return _('Next: hint("{exercise}", {level})').format(exercise=self.exercise, level=self.level + 1)
        if self.graded:
            return _("That is the last hint here: this course is graded.")
        return _('That was the last hint. solution("{exercise}") shows the answer.').format(exercise=self.exercise)

    def __repr__(self):
        heading = _("Hint {level} of {total} for {exercise}:").format(
            level=self.level, total=self.total, exercise=self.exercise)
        return f"{join_text(heading, self.text)}\n{self._next()}"

    def _repr_html_(self):
        heading = _("<b>Hint {level} of {total}</b> for <code>{exercise}</code>:").format(
            level=self.level, total=self.total, exercise=html.escape(self.exercise))
        inner = (f"{join_text(heading, _html_text(self.text))}"
                 f"<div style='color: #555'>{_html_text(self._next())}</div>")
        return _box("#1565c0", "#e8f0fe", inner)


class Solution:
    """The tutorial's code for an exercise, shown in the notebook (``code`` None: solutions are off)."""

    def __init__(self, exercise, code):
        self.exercise, self.code = exercise, code

    def _off(self):
        return _("solution() is off: this course is graded, and your teacher has the answers.")

    def __repr__(self):
        if self.code is None:
            return self._off()
        return _("Solution for {exercise}:").format(exercise=self.exercise) + f"\n{self.code}"

    def _repr_html_(self):
        if self.code is None:
            return _box("#6a1b9a", "#f3e5f5", html.escape(self._off()))
        heading = _("<b>Solution</b> for <code>{exercise}</code>:").format(exercise=html.escape(self.exercise))
        inner = f"{heading}<pre>{html.escape(self.code)}</pre>"
        return _box("#6a1b9a", "#f3e5f5", inner)
