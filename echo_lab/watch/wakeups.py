"""Wake-ups: ``select()`` calls per second over time, for several recordings side by side.

One panel per recording, on a log scale: the tutorial's always-WRITE busy
loop against the fixed one.  The words are in the language in use when it is
drawn (:mod:`echo_lab.i18n`); the recordings' names are the caller's.
"""

import matplotlib.pyplot as plt
import numpy as np

from ..i18n import _
from .style import PANEL_COLORS, use_fonts

__all__ = ["TITLE_SIZE", "wakeups"]

TITLE_SIZE = 12  # panel titles: a three-panel figure is shrunk to the page's width


def wakeups(recordings, bin=None, cpu=None):
    """``select()`` calls per second over time, one panel per recording, log scale.

    ``recordings`` maps a name to a list of events, e.g. ``{"seed (always
    WRITE)": events1, "fixed": events2}``.  ``bin`` is the width of a time bin
    in seconds (default: a fortieth of the longest recording).  ``cpu`` may map
    a name to the CPU it used, as a fraction of one core (``0.98``), shown in
    its panel's title.  A bin with no ``select()`` call is left blank (a log
    scale has no 0).  If the recorder dropped the oldest events (its ring was
    full), the title says the panel shows only the last calls.  Returns the Figure.
    """
    if not recordings:
        raise ValueError("give at least one recording: {name: events}")
    times = {name: _select_times(events) for name, events in recordings.items()}
    longest = max((t[-1] for t in times.values() if len(t)), default=0.0)
    bin = bin or max(longest / 40, 1e-3)
    fig, axes = plt.subplots(1, len(times), figsize=(4.5 * len(times), 3.6), sharey=True,
                             squeeze=False, layout="constrained")
    for i, (ax, (name, t)) in enumerate(zip(axes[0], times.items(), strict=True)):
        color = PANEL_COLORS[i % len(PANEL_COLORS)]
        _wakeup_panel(ax, name, t, bin, (cpu or {}).get(name), color, _calls_made(recordings[name]))
    axes[0][0].set_ylabel(_("select() calls per second"))
    return use_fonts(fig)


def _select_times(events):
    t = np.array([e.t for e in events if e.kind == "select"], dtype=float)
    return t - t[0] if len(t) else t


def _calls_made(events):
    """``(first, last)``: the numbers of the first and last select() call recorded.

    ``first`` is 1 unless the recorder's ring dropped the oldest events.
    """
    calls = [e.call for e in events if e.kind == "select"]
    return (calls[0], calls[-1]) if calls else (1, 0)


def _wakeup_panel(ax, name, t, bin, cpu, color, calls=(1, 0)):
    edges = np.arange(0.0, (t[-1] if len(t) else 0.0) + bin * 1.001, bin)
    edges = edges if len(edges) > 1 else np.array([0.0, bin])
    counts = np.histogram(t, edges)[0]
    rate = np.where(counts > 0, counts / bin, np.nan)  # an empty bin has no place on a log scale
    ax.stairs(rate, edges, fill=True, color=color, gid=f"wakeups {name}")
    ax.set_yscale("log")
    first, last = calls
    title = f"{name}\n" + _("{calls:,} select() calls in {seconds:.3g} s").format(
        calls=len(t), seconds=t[-1] if len(t) else 0)
    title += _(", CPU {cpu:.0%} of a core").format(cpu=cpu) if cpu is not None else ""
    if first > 1:  # the recorder's ring dropped the oldest events: say the panel shows the end only
        title += "\n" + _("only the last {kept:,} of {calls:,} kept (recorder full)").format(kept=len(t), calls=last)
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel(_("time since the first select() shown (s)") if first > 1
                  else _("time since the first select() (s)"))

