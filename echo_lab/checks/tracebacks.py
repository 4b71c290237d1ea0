"""The learner's part of a traceback: which frames are the learner's code, and how they are shown.

An exception from the learner's function passes through this package's
frames (the worker thread, the check), Python's own (``socket.py`` raising
for the learner's ``sock.recv``) and maybe an installed library's.  A check
shows only the learner's frames (:func:`learner_frames`), naming a notebook
cell the way IPython does (``Cell In[6]``), so the traceback points at the
line to fix (:func:`learner_traceback`).
"""

import asyncio
import pathlib
import sysconfig
import traceback

__all__ = ["format_frames", "learner_frames", "learner_traceback"]

_HERE = str(pathlib.Path(__file__).resolve().parents[1]) + "/"  # echo_lab's frames: not the learner's
_ASYNCIO = str(pathlib.Path(asyncio.__file__).parent) + "/"  # nor asyncio's, calling a Protocol's methods
_STDLIB = str(pathlib.Path(sysconfig.get_paths()["stdlib"])) + "/"  # nor socket.py's, selectors.py's...
_PACKAGES = ("/site-packages/", "/dist-packages/")  # nor an installed library's


def _is_learners(filename):
    """Is this frame's file the learner's (a notebook cell, a module of their own)?"""
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
