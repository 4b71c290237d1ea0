"""Pictures of an event loop, drawn from a :class:`~echo_lab.watch.recorder.Recorder`'s events.

A selectors server is hard to watch: one thread, one ``select()`` call after
another, each returning a few sockets and a bit mask per socket.  These
pictures make that visible:

* :func:`mask_bits`: the two event bits and their OR, as a small table.
* :func:`timeline`: one row per socket, one column per ``select()`` call (or
  time): what each socket was ready for, what it was registered for, and
  what the handler did.  :func:`timeline_layout` is the same as plain data.
* :func:`wakeups`: ``select()`` calls per second for several recordings side
  by side, on a log scale: the always-WRITE busy loop against the fixed one.

The timeline and the wake-ups have modules of their own
(:mod:`~echo_lab.watch.timeline` with :mod:`~echo_lab.watch.timeline_layout`,
:mod:`~echo_lab.watch.wakeups`); this one draws the mask table and gathers
the rest, so that a lesson needs one import: ``from echo_lab import draw``.

Each function returns a matplotlib ``Figure`` (or draws into the ``ax`` it is
given).  Artists carry a ``gid`` naming what they show (``"ready READ"``,
``"registered WRITE"``, ``"recv"``...) so tests can check content, not pixels.
Their words are in the language in use when they are drawn (:mod:`echo_lab.i18n`).
"""

import matplotlib.pyplot as plt

from ..i18n import _
from .recorder import READ, WRITE, mask_name
from .style import MASK_COLORS, figure, text_color, use_fonts
from .timeline import MARKERS, timeline
from .timeline_layout import byte_labels, timeline_layout
from .wakeups import wakeups

__all__ = ["MASK_COLORS", "MARKERS", "byte_labels", "mask_bits", "timeline", "timeline_layout",
           "wakeups"]


def mask_bits(ax=None):
    """A table of EVENT_READ (1), EVENT_WRITE (2) and their OR (3), bit by bit."""
    fig, ax = figure(ax, (6, 2.2))
    columns = [_("mask"), _("bit 1 (WRITE)"), _("bit 0 (READ)"), "mask_name()"]
    constants = {READ: "EVENT_READ = 1", WRITE: "EVENT_WRITE = 2", READ | WRITE: "READ | WRITE = 3"}
    for col, title in enumerate(columns):
        ax.text(col, -1, title, ha="center", va="center", weight="bold")
    for row, mask in enumerate((READ, WRITE, READ | WRITE)):
        ax.text(0, row, constants[mask], ha="center", va="center", family="monospace", fontsize=9)
        for col, bit in ((1, WRITE), (2, READ)):
            on = bool(mask & bit)
            ax.add_patch(plt.Rectangle((col - 0.4, row - 0.4), 0.8, 0.8, gid=f"bit {mask} {bit}",
                                       facecolor=MASK_COLORS[bit] if on else "white",
                                       edgecolor="0.3"))
            ax.text(col, row, "1" if on else "0", ha="center", va="center",
                    color=text_color(MASK_COLORS[bit]) if on else "0.3", weight="bold")  # 4.5:1 or more
        ax.text(3, row, mask_name(mask), ha="center", va="center", family="monospace",
                color="black", weight="bold")  # coloured text on white would fall short of 4.5:1
    ax.set(xlim=(-1.0, 3.7), ylim=(2.6, -1.6), title=_("selectors event masks: one bit each, OR-ed"))
    ax.axis("off")
    return use_fonts(fig)
