"""Run a learner's function without touching the learner's state, and never for long.

Why a copy
----------
A check must not register its test sockets in *your* ``sel``, nor close it:
:meth:`Trial.rebind` makes a *copy* of your function in which your selector
is a fresh one of the check's own, and ``print`` writes into the check's
transcript (module ``rebind`` tells how).

Why a worker thread
-------------------
Each call of your function runs on a worker thread and gets
:data:`CALL_TIMEOUT` seconds (:meth:`Trial.call`, through
:func:`~echo_lab.run.bounded.call_bounded`).  If it has not returned by then
(a ``recv`` on a blocking socket, a loop that never ends), the check shuts
its sockets down, which ends a blocked ``recv``/``accept``; if the thread
still runs, an exception is raised inside it (``PyThreadState_SetAsyncExc``),
which ends a Python loop.  A call stuck where neither reaches
(``time.sleep(1000)``) is left on its daemon thread: the check returns anyway.

What a check's body raises
--------------------------
A check is a function ``body(trial, *learner_functions)`` that returns what
it saw when all was right, or raises :class:`Wrong` (what the code did,
and a hint) or :class:`NotAttempted`; :func:`run_check` turns that into a
:class:`Result` and always closes the trial's sockets and selectors.
"""

import contextlib
import functools
import selectors
import socket
import types

from ..i18n import _
from ..run.bounded import CallTimedOut, call_bounded
from ..run.runner import Stuck
from ..watch.recorder import Recorder
from .exception_hints import exception_hint
from .rebind import rebind, uses_selector
from .results import Result
from .tracebacks import learner_frames, learner_traceback

__all__ = ["CALL_TIMEOUT", "HOST", "NET_TIMEOUT", "READ", "WRITE",  # the checks' constants
           "CallTimeout", "NotAttempted", "StopLoop", "Trial", "Wrong", "run_check"]  # what a check's body uses

CALL_TIMEOUT = 2.0  # seconds one call of the learner's function may take
NET_TIMEOUT = 2.0  # seconds for any network wait of the check
HOST = "127.0.0.1"
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class Wrong(Exception):
    """The learner's code did something wrong: ``message`` says what, ``hint`` what to try, ``traceback`` where."""

    def __init__(self, message, hint=None, traceback=None):
        super().__init__(message)
        self.message, self.hint, self.traceback = message, hint, traceback


class NotAttempted(Exception):
    """The learner's code raised NotImplementedError; ``args[0]`` names the function, if known."""


CallTimeout = Stuck  # raised inside a learner's thread that would not stop (the runner's own)


class StopLoop(BaseException):
    """Raised by the event-loop check's handlers to end the learner's ``while True`` loop."""


def _quiet_close(sock):
    with contextlib.suppress(OSError):
        sock.close()


class Trial:
    """One run of a check: its selectors and sockets, the learner's prints, cleanup."""

    def __init__(self, learner_sel):
        self.learner_sel = learner_sel
        self.printed = []  # lines the learner's copy printed
        self.sockets = []  # every socket to shut down / close at the end
        self.selectors = []

    # -- making things ------------------------------------------------------
    def selector(self):
        rec = Recorder(selectors.DefaultSelector())
        self.selectors.append(rec)
        return rec

    def own(self, sock):
        self.sockets.append(sock)
        return sock

    def listener(self, sel=None):
        """A listening socket on 127.0.0.1, any free port, non-blocking; registered in ``sel``."""
        lsock = self.own(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        lsock.bind((HOST, 0))
        lsock.listen()
        lsock.setblocking(False)
        if sel is not None:
            sel.register(lsock, READ, data=None)
        return lsock

    def connect(self, address, rcvbuf=None):
        client = self.own(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        if rcvbuf:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: a small window
        client.settimeout(NET_TIMEOUT)
        client.connect(address)
        return client

    def pair(self):
        """A connected TCP pair ``(server_side, client_side)``, both blocking with a timeout."""
        lsock = self.own(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        lsock.bind((HOST, 0))
        lsock.listen()
        lsock.settimeout(NET_TIMEOUT)
        client = self.connect(lsock.getsockname())
        conn = lsock.accept()[0]
        conn.settimeout(NET_TIMEOUT)
        return self.own(conn), client

    def print(self, *args, sep=" ", end="\n", file=None, flush=False):
        self.printed.append((sep if sep is not None else " ").join(map(str, args)))

    def printed_line(self, start):
        return any(line.startswith(start) for line in self.printed)

    # -- the learner's function, with our selector ----------------------------
    def rebind(self, fn, sel, **replace):
        """A copy of ``fn`` where the learner's selector is ``sel`` and ``print`` is ours.

        ``replace`` puts other globals in the copy (the event loop's handlers).
        """
        return rebind(fn, self.learner_sel, sel, self.print, replace)

    def uses_learner_sel(self, fn):
        return uses_selector(fn, self.learner_sel)

    def call(self, fn, *args, name=None, on_error=None, timeout=CALL_TIMEOUT):
        """Call ``fn(*args)`` on a worker thread, bounded; return its value.

        ``NotImplementedError`` -> not attempted; another exception -> wrong,
        with its traceback and the hint ``on_error`` gives for its type (a text, or a function of
        the exception that returns one), else the hint of :mod:`exception_hints` for it.
        """
        name = name or (fn.__name__ if hasattr(fn, "__name__") else _("your function"))
        error = None
        try:
            return call_bounded(fn, *args, timeout=timeout, name=f"echo_lab check: {name}",
                                sockets=self.open_sockets)
        except CallTimedOut:
            pass  # said below, outside the except: the learner's error stays unchained
        except KeyboardInterrupt:  # the learner interrupted the kernel: not their function's error
            raise
        except BaseException as exc:  # the learner's error, reported by the check
            error = exc
        if error is not None:
            self.learner_error(error, name, on_error)
        raise Wrong(
            _("{name} did not return within {timeout:g} s: it is blocked (waiting on a socket "
              "that is still blocking?) or loops forever.").format(name=name, timeout=timeout),
            hint=_("Every socket the loop serves must be non-blocking, and a handler must "
                   "return after one recv or send."))

    def learner_error(self, error, name, on_error=None):
        if isinstance(error, NotImplementedError):
            frames = learner_frames(error)
            raise NotAttempted(frames[-1].name if frames else None)
        if isinstance(error, Wrong):
            raise error
        hint = None
        for exc_type, text in (on_error or {}).items():
            if isinstance(error, exc_type):
                hint = text(error) if callable(text) else text  # a function: the hint depends on the line
                break
        hint = hint or exception_hint(error)  # the table of common exceptions, or the generic line
        raise Wrong(_("{name} raised {error_type}: {error}").format(name=name, error_type=type(error).__name__,
                                                                      error=error), hint=hint,
                     traceback=learner_traceback(error))

    def open_sockets(self):
        """Every socket of this trial, its own and those registered in its selectors: what to shut
        down should a learner's call not return."""
        sockets = list(self.sockets)
        for sel in self.selectors:
            sel_map = sel.get_map()
            with contextlib.suppress(RuntimeError, KeyError):  # the learner's thread may be registering as we copy
                sockets += [key.fileobj for key in list(sel_map.values())] if sel_map is not None else []
        return sockets

    def close(self):
        for sel in self.selectors:
            sel_map = sel.get_map()
            for key in list(sel_map.values()) if sel_map is not None else []:
                with contextlib.suppress(KeyError, ValueError, OSError):
                    sel.unregister(key.fileobj)
                _quiet_close(key.fileobj)
            sel.close()
        for sock in self.sockets:
            _quiet_close(sock)


def run_check(exercise, body, functions, sel, needs_sel=True):
    """Run one check: validate the arguments, call ``body(trial, ...)``, turn it into a Result."""
    for label, fn in functions:
        if fn is None:
            return Result(exercise, "wrong",
                          _("Pass your function: the argument for `{label}` is None.").format(label=label))
        if not isinstance(fn, types.FunctionType):
            return Result(exercise, "wrong",
                          _("Pass the function `{label}` itself (defined with def), not a "
                            "{kind}.").format(label=label, kind=type(fn).__name__))
    if needs_sel and not isinstance(sel, selectors.BaseSelector):
        return Result(exercise, "wrong",
                      _("The last argument should be your selector `sel`, not {kind}: "
                        "check_{exercise}(..., sel).").format(kind=type(sel).__name__, exercise=exercise))
    trial = Trial(sel)
    if needs_sel:
        for label, fn in functions:
            if not trial.uses_learner_sel(fn):
                return Result(exercise, "wrong",
                              _("The selector you passed is not one `{label}` can use: it is not a global "
                                "variable of the notebook (or module) where the function was defined. Pass "
                                "the `sel` your function registers in: check_{exercise}(..., sel).").format(
                                    label=label, exercise=exercise))
    try:
        message = body(trial, *(fn for _label, fn in functions))
    except NotAttempted as unfinished:
        labels = [label for label, _fn in functions]
        if unfinished.args and unfinished.args[0] in labels:
            labels = [unfinished.args[0]]  # of two functions, the one that is not written yet
        if len(labels) == 1:
            text = _("{names} still raises NotImplementedError. Write it in the cell marked "
                     "`# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run that "
                     "cell, then run this one again.")
        else:
            text = _("{names} still raise NotImplementedError. Write them in the cell marked "
                     "`# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run that "
                     "cell, then run this one again.")
        names = functools.reduce(lambda first, second: _("{first} and {second}").format(first=first, second=second),
                                 labels)
        return Result(exercise, "not attempted", text.format(names=names))
    except Wrong as wrong:
        return Result(exercise, "wrong", wrong.message, wrong.hint, wrong.traceback)
    except OSError as exc:  # the check's own socket: the learner's code closed or reset the other end
        return Result(exercise, "wrong",
                      _("A connection the check was using failed ({error_type}: {error}): your code "
                        "closed or reset it while the check still needed it.").format(
                            error_type=type(exc).__name__, error=exc),
                      _("Close a connection only when `recv` returns b'' (the other side closed)."))
    finally:
        trial.close()
    return Result(exercise, "passed", message)
