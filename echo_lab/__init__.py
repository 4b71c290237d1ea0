"""echo_lab: run, record, draw and check selectors echo servers in a notebook.

The package's folders are its parts:

* :mod:`echo_lab.seed`: the tutorial's server and client, as written;
  :mod:`echo_lab.fixed`: the same with the tutorial's pitfalls mended.
* :mod:`echo_lab.run`: running them (or a learner's functions) in the kernel:
  a server on a thread, a client bounded in the calling cell.
* :mod:`echo_lab.watch`: recording what a loop does, and drawing it.
* :mod:`echo_lab.checks`: checking a learner's functions, with hints.
* :mod:`echo_lab.bench`: measuring the servers against each other.
* ``python -m echo_lab`` (:mod:`echo_lab.__main__`): the tutorial's two scripts.
* :mod:`echo_lab.net`: socket helpers they share; :mod:`echo_lab.i18n`: English or Chinese messages.

What lessons type is here: ``from echo_lab import BackgroundServer, Recorder,
run_client, seed``.  ``draw``, ``widgets`` and ``charts`` are
:mod:`echo_lab.watch`'s modules, imported on first use (``from echo_lab import
draw``), so that ``import echo_lab`` does not load matplotlib or ipywidgets.
"""

import importlib

from .run.background import BackgroundServer
from .run.blocking import BlockingServer
from .run.client import ClientResult, run_client
from .run.runner import stop_all
from .watch.recorder import Event, Recorder, mask_name

__all__ = ["BackgroundServer", "BlockingServer", "ClientResult", "Event", "Recorder", "mask_name", "run_client",
           "stop_all"]
__version__ = "0.1.0"

_WATCH = ("charts", "draw", "widgets")


def __getattr__(name):
    if name in _WATCH:
        return importlib.import_module(f".watch.{name}", __name__)
    raise AttributeError(f"module 'echo_lab' has no attribute {name!r}")
