"""An error of the learner's code, as it is shown: the learner's frames of its traceback, and what it means.

An exception from the learner's function passes through this package's
frames (the worker thread, the check), Python's own (``socket.py`` raising
for the learner's ``sock.recv``) and maybe an installed library's.  A check
shows only the learner's frames (:func:`learner_frames`), naming a notebook
cell the way IPython does (``Cell In[6]``), so the traceback points at the
line to fix (:func:`learner_traceback`).  A run cell shows an error the same
way, with one line on what it means (:func:`show_error`, :func:`error_meaning`);
:func:`error_name` is how every message names an exception's type.
"""

import asyncio
import errno
import os
import pathlib
import sysconfig
import traceback

from ..i18n import _

_WSAENOTSOCK = 10038  # Windows' error for a closed socket used: "not a socket" (Linux and macOS: EBADF)

__all__ = ["error_line", "error_meaning", "error_name", "format_frames", "learner_frames", "learner_traceback",
           "show_error"]

# Paths compared as the system spells them (os.sep; Windows' any case): a frame's file against these folders.
_HERE = os.path.normcase(str(pathlib.Path(__file__).resolve().parents[1]) + os.sep)  # echo_lab's: not the learner's
_ASYNCIO = os.path.normcase(str(pathlib.Path(asyncio.__file__).parent) + os.sep)  # nor asyncio's (a Protocol's caller)
_STDLIB = os.path.normcase(str(pathlib.Path(sysconfig.get_paths()["stdlib"])) + os.sep)  # nor socket.py's...
_PACKAGES = tuple(os.path.normcase(f"{os.sep}{name}{os.sep}") for name in ("site-packages", "dist-packages"))


def _is_learners(filename):
    """Is this frame's file the learner's (a notebook cell, a module of their own)?"""
    filename = os.path.normcase(filename)
    return (not filename.startswith((_HERE, _ASYNCIO, _STDLIB)) and not filename.endswith("threading.py")
            and not any(folder in filename for folder in _PACKAGES))


def learner_frames(exc):
    """The frames of ``exc``'s traceback in the learner's code: not this package's, not Python's own
    (``socket.py`` raising for the learner's ``sock.recv``), not an installed library's."""
    return [f for f in traceback.extract_tb(exc.__traceback__) if _is_learners(f.filename)]


def _cell_name(filename):
    """'Cell In[6]' for code run in a notebook cell (as IPython names it in its tracebacks), else None."""
    try:
        from IPython import get_ipython
        shell = get_ipython()
        named = shell.compile.format_code_name(filename) if shell is not None else None
    except Exception:  # not in IPython, or an IPython that names cells otherwise
        named = None
    return " ".join(named) if named else None


def format_frames(frames):
    """Traceback lines for ``frames``: where (a notebook cell by its number), then the line itself."""
    lines = []
    for frame in frames:
        where = _cell_name(frame.filename) or f'File "{frame.filename}"'
        lines.append(f"  {where}, line {frame.lineno}, in {frame.name}\n")
        if frame.line:
            lines.append(f"    {frame.line.strip()}\n")
    return lines


def learner_traceback(exc):
    """The traceback of ``exc`` with the learner's frames only (see :func:`learner_frames`)."""
    lines = format_frames(learner_frames(exc)) + traceback.format_exception_only(type(exc), exc)
    return "Traceback (most recent call last):\n" + "".join(lines)


# -- an error, as a check or a run cell shows it ------------------------------

def error_name(exc):
    """'ValueError', 'struct.error': an exception's type as the learner would write it."""
    kind = type(exc)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def error_meaning(error, gave_up=False):
    """One line on what ``error`` means, for a learner."""
    text = str(error)
    if isinstance(error, ConnectionResetError):
        if gave_up:
            return _("the other end closed the connection abruptly (a reset). Here the clients had given up "
                     "waiting, and closed their connections.")
        return _("the other end closed the connection abruptly (a reset).")
    if isinstance(error, ConnectionRefusedError):
        return _("nothing accepted the connection: the address has no listening socket.")
    if isinstance(error, BrokenPipeError):
        return _("a socket sent on a connection that the other end had already closed.")
    if isinstance(error, BlockingIOError):
        return _("a non-blocking socket was not ready: `recv` with nothing to read, `send` or `sendall` with "
                 "a full buffer, `accept` with no client waiting, or `connect` (use `connect_ex`).")
    if isinstance(error, KeyError) and "is already registered" in text:
        return _("that socket is already registered in `sel`: register each socket once.")
    if isinstance(error, KeyError) and "is not registered" in text:
        return _("that socket is not registered in `sel` (unregistered twice?).")
    if isinstance(error, ValueError) and "Invalid file object" in text:
        return _("`sel` was given something that is not an open socket: `None` (a missing `return`?), or a closed one.")
    if isinstance(error, ValueError) and "no listening socket" in text:
        return _("the server's loop finds its listening socket by `data=None`: none was registered that way.")
    if isinstance(error, OSError) and (error.errno == errno.EBADF or getattr(error, "winerror", None) == _WSAENOTSOCK):
        return _("a socket was used after it was closed.")
    if isinstance(error, OSError) and error.errno == errno.EINVAL and "accept" in _last_line(error):
        return _("the loop calls accept_wrapper for every key whose data is None, and `accept()` works on the "
                 "listening socket only: was a connection registered (or modified) without `data=data`?")
    if isinstance(error, TypeError) and "str" in text and "bytes" in text:
        return _("text (str) and bytes were mixed: sockets send and receive bytes, such as b''.")
    stuck_loop = any(f.name == "on_loop" for f in traceback.extract_tb(error.__traceback__))  # ProtocolServer's
    if isinstance(error, TimeoutError) and stuck_loop:
        return _("the server's asyncio loop did not answer in time: one of your methods blocks, or loops forever.")
    if isinstance(error, TimeoutError):
        return _("a wait gave up: what it waited for did not come in time.")
    if isinstance(error, (AttributeError, TypeError)) and "'NoneType'" in text:
        return _("something was None where a value was expected: did a function forget to `return`?")
    if isinstance(error, RuntimeError) and "did not stop" in text:
        return _("a handler blocked, or looped, and held up the whole server.")
    if learner_frames(error):
        return _("the last line of yours above is where it failed; the check cell below says more.")
    return _("the check cell below says what in your code led to it.")


def _last_line(error):
    frames = learner_frames(error)
    return (frames[-1].line or "") if frames else ""


def error_line(error):
    """'ValueError: too long', 'struct.error: ...': as the last line of a traceback."""
    name = error_name(error)
    return f"{name}: {error}" if str(error) else name


def show_error(error, gave_up=False):
    """Print ``error`` as a check shows it: the learner's own lines, the error, what it means.

    ``NotImplementedError`` (the exercise as handed out) prints which function is
    not written yet.  ``gave_up``: the clients had given up waiting (a reset follows).
    """
    frames = learner_frames(error)
    if isinstance(error, NotImplementedError):
        name = frames[-1].name if frames else _("your function")
        print(_("{name} is not written yet: write it above, run that cell, then this one again.").format(name=name))
        return
    lines = [_("Your code raised an error:") if frames else _("An error stopped the run:")]
    lines += [line.rstrip("\n") for line in format_frames(frames)]
    lines.append(error_line(error))
    lines.append(_("What it means: {meaning}").format(meaning=error_meaning(error, gave_up)))
    print("\n".join(lines))
