"""Widgets to watch an event loop: step through a recording, or watch it live.

* :func:`stepper` (:mod:`~echo_lab.watch.stepper`) turns a recording into
  one frame per ``select()`` call, stepped through in the browser alone.
* :class:`LiveView` (:mod:`~echo_lab.watch.live`) shows a running
  :class:`~echo_lab.BackgroundServer`'s registered sockets and latest
  events, refreshed from a daemon thread.
* :func:`describe` (:mod:`~echo_lab.watch.describe`) says what one recorded
  event means, in words, as both widgets do.

This module gathers them, so that a lesson needs one import: ``from echo_lab
import widgets``.
"""

from .describe import describe
from .live import LiveView
from .stepper import Stepper, stepper

__all__ = ["LiveView", "Stepper", "describe", "stepper"]
