"""A check's named steps, run in order, so that a failure says which step it happened in.

A check that plays a whole scene (the event loop's, the bug hunt's) is a list
of ``(title, step)`` pairs: each step is a function of about 25 lines that
does one thing and returns whether to go on.  :class:`Steps` runs them; a
:class:`~echo_lab.checks.trial.Wrong` raised in one goes on with the step
named after its message: ``... (the check's step 3 of 5: an echo)``.
"""

from ..i18n import _
from .trial import Wrong

__all__ = ["Steps"]


class Steps:
    """``(title, step)`` pairs, run in order by :meth:`run`; ``title`` is translated when made."""

    def __init__(self, *steps):
        self.steps = steps
        self.number, self.title = 0, None  # the step running, or the last one run

    def run(self, *args):
        """``step(*args)`` for each step in turn; False as soon as one returns False (what it needs has
        stopped), else True.  A :class:`Wrong` from a step is raised again with the step named."""
        for number, (title, step) in enumerate(self.steps, 1):
            self.number, self.title = number, title
            try:
                if not step(*args):
                    return False
            except Wrong as wrong:
                raise Wrong(self.name(wrong.message), wrong.hint, wrong.traceback) from None
        return True

    def name(self, message):
        """``message``, saying the step it happened in (the one running, or the last one run)."""
        if not self.title:
            return message
        return _("{message} (the check's step {number} of {steps}: {title})").format(
            message=message, number=self.number, steps=len(self.steps), title=self.title)
