"""Call a function on a worker thread with a deadline: its value, its exception, or :class:`CallTimedOut`.

The checks call a learner's function this way (:meth:`~echo_lab.checks.trial.Trial.call`,
and the event-loop check for the learner's ``while True`` loop): a call that
blocks (a ``recv`` on a blocking socket) or loops forever must not hold the
cell.  The worker is a :class:`~echo_lab.run.runner.Runner`, so a call still
running at the deadline is ended as any stuck thread is: its sockets shut
down, then an exception raised inside it.
"""

import functools

from .runner import Runner

__all__ = ["CallTimedOut", "call_bounded"]


class CallTimedOut(TimeoutError):
    """The call did not return within its deadline (its thread was then ended, if it could be)."""


def call_bounded(fn, *args, timeout, name, sockets=None, meanwhile=None):
    """``fn(*args)`` on a worker thread, waited for at most ``timeout`` s: its value, or its exception.

    ``meanwhile(runner)``, if given, runs in the calling thread while ``fn``
    runs (the check's clients; ``runner.running`` says whether ``fn`` still
    runs), and the deadline counts from its end.  ``sockets()`` gives the
    sockets to shut down should the call have to be ended.  A call still
    running at the deadline is ended and :class:`CallTimedOut` raised; if
    ``meanwhile`` raises, the call is ended and that exception goes on.  What
    the thread prints is not routed: it goes to the cell that waits for it.
    """
    runner = Runner(functools.partial(fn, *args), name=name, sockets=sockets, route=False,
                    stuck_message=f"{name} did not return within {{timeout:g}} s").start()
    finished = False
    try:
        if meanwhile is not None:
            meanwhile(runner)
        finished = runner.join(timeout)
    finally:
        if not finished:  # the deadline passed, or meanwhile failed: end the call
            runner.stop(timeout=0, raise_error=False)
    if not finished:
        raise CallTimedOut(f"{name} did not return within {timeout:g} s")
    runner.stop()  # leaves the registry; raises fn's exception, with its traceback
    return runner.value
