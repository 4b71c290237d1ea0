"""What a check shows: a :class:`Result`, a :class:`Hint`, a :class:`Solution`.

Kept apart from the checks because it is the one part a learner sees.  Each
object displays itself in a notebook as a coloured box (``_repr_html_``) and
has a plain-text form (``repr``) that is the same on every run, so stored
notebook outputs and tests can compare it.
"""

import html
import re

__all__ = ["Hint", "Result", "Solution"]


_STYLE = {  # outcome: (icon, headline, border colour, background)
    "passed": ("✔", "passed", "#2e7d32", "#edf7ed"),
    "wrong": ("✘", "not right yet", "#c62828", "#fdecea"),
    "not attempted": ("…", "not attempted yet", "#757575", "#f5f5f5"),
}


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
        return f'More help: hint("{self.exercise}"), then hint("{self.exercise}", 2)...'

    def __repr__(self):
        icon, headline, _, _ = _STYLE[self.outcome]
        lines = [f"{icon} {self.exercise}: {headline}. {self.message}"]
        if self.traceback:
            lines.append(self.traceback.rstrip())
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        if self.outcome == "wrong":
            lines.append(self._more())
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self):
        icon, headline, colour, background = _STYLE[self.outcome]
        parts = [f"<b>{icon} {html.escape(self.exercise)}: {headline}.</b> {_html_text(self.message)}"]
        if self.traceback:
            parts.append(f"<details open><summary>Traceback</summary><pre>{html.escape(self.traceback)}</pre>"
                         "</details>")
        if self.hint:
            parts.append(f"<div><b>Hint:</b> {_html_text(self.hint)}</div>")
        if self.outcome == "wrong":
            parts.append(f'<div style="color: #555">{_html_text(self._more())}</div>')
        return _box(colour, background, "".join(parts))


class Hint:
    """One graded hint for an exercise, shown in the notebook."""

    def __init__(self, exercise, level, total, text):
        self.exercise, self.level, self.total, self.text = exercise, level, total, text

    def _next(self):
        if self.level < self.total:
            return f'Next: hint("{self.exercise}", {self.level + 1})'
        return f'That was the last hint. solution("{self.exercise}") shows the answer.'

    def __repr__(self):
        return f"Hint {self.level} of {self.total} for {self.exercise}: {self.text}\n{self._next()}"

    def _repr_html_(self):
        inner = (f"<b>Hint {self.level} of {self.total}</b> for <code>{html.escape(self.exercise)}</code>: "
                 f"{_html_text(self.text)}<div style='color: #555'>{_html_text(self._next())}</div>")
        return _box("#1565c0", "#e8f0fe", inner)


class Solution:
    """The tutorial's code for an exercise, shown in the notebook."""

    def __init__(self, exercise, code):
        self.exercise, self.code = exercise, code

    def __repr__(self):
        return f"Solution for {self.exercise}:\n{self.code}"

    def _repr_html_(self):
        inner = (f"<b>Solution</b> for <code>{html.escape(self.exercise)}</code>:"
                 f"<pre>{html.escape(self.code)}</pre>")
        return _box("#6a1b9a", "#f3e5f5", inner)
