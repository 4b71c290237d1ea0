"""Charts of measurements: what lessons 11 and 12 measure, as pictures.

:mod:`echo_lab.watch.draw` draws what a selector did; this module draws numbers a
lesson measured with plain sockets, so that the lesson's cells keep the
sockets and leave the plotting here:

* :func:`outb`: bytes a server holds for a client over time, one line per
  server, with an optional limit (lesson 11).
* :func:`sweep`: throughput, latency and server CPU per message against
  the number of connections, one line per server (lesson 12).

Each function returns a matplotlib ``Figure``; end the cell with
``plt.show()``.  Artists carry a ``gid`` naming what they show, so tests
check content, not pixels.  Colours are Okabe-Ito, from
:mod:`echo_lab.watch.style`.  The words are in the language in use when a
chart is drawn (:mod:`echo_lab.i18n`); servers' names are the caller's.
"""

import math

import matplotlib.pyplot as plt

from ..i18n import _
from .style import BLACK, BLUE, BLUISH_GREEN, ORANGE, REDDISH_PURPLE, SKY_BLUE, VERMILLION, use_fonts

__all__ = ["SERVER_COLORS", "outb", "sweep"]

SERVER_COLORS = {"fixed": BLUE, "seed": ORANGE, "threads": VERMILLION,
                 "asyncio-protocol": BLUISH_GREEN, "asyncio-streams": SKY_BLUE, "uvloop-protocol": REDDISH_PURPLE}
OTHER_COLORS = (VERMILLION, BLUISH_GREEN, SKY_BLUE, REDDISH_PURPLE, BLACK)


def outb(series, limit=None, title=None):
    """Bytes held over time, in MiB: ``series`` maps a server's name to ``[(seconds, bytes), ...]``.

    ``limit`` (bytes) draws a dotted line labelled ``MAX_OUTB``.  ``title`` defaults to
    "What the server holds for a client that never reads", in the language in use.
    """
    fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    for i, (name, samples) in enumerate(series.items()):
        ax.plot([t for t, _n in samples], [n / 2**20 for _t, n in samples], label=name,
                color=OTHER_COLORS[i % len(OTHER_COLORS)], gid=f"outb {name}")
    if limit is not None:
        ax.axhline(limit / 2**20, color="0.5", linestyle=":", label="MAX_OUTB", gid="limit")
    title = _("What the server holds for a client that never reads") if title is None else title
    ax.set(xlabel=_("seconds"), ylabel=_("outb (MiB)"), title=title, ylim=(0, None))
    ax.legend()
    return use_fonts(fig)


def sweep(results, kinds, conns):
    """Three panels against connections (log scale): thousand messages per second;
    round trip in ms (p50 solid, p99 dashed, log scale); server CPU per message in µs (log scale).

    ``results`` maps ``(kind, conns)`` to the figures of one run (``msgs_per_s``,
    ``p50_us``, ``p99_us``, ``cpu_us_per_msg``), as :func:`echo_lab.bench.measure`
    returns them.  A figure that is NaN (not measured) is left out of its panel.
    """
    fig, (tput, lat, cpu) = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
    for i, kind in enumerate(kinds):
        runs = [results[kind, n] for n in conns]
        color = SERVER_COLORS.get(kind, OTHER_COLORS[i % len(OTHER_COLORS)])
        tput.plot(conns, [f["msgs_per_s"] / 1000 for f in runs], "o-", color=color, label=kind,
                  gid=f"throughput {kind}")
        lat.plot(conns, [f["p50_us"] / 1000 for f in runs], "o-", color=color, gid=f"p50 {kind}")
        lat.plot(conns, [f["p99_us"] / 1000 for f in runs], "x--", color=color, gid=f"p99 {kind}")
        measured = [(n, f["cpu_us_per_msg"]) for n, f in zip(conns, runs, strict=True)
                    if not math.isnan(f["cpu_us_per_msg"])]
        cpu.plot([n for n, _c in measured], [c for _n, c in measured], "o-", color=color, gid=f"cpu {kind}")
    tput.set(title=_("thousand messages per second"), ylim=(0, None))
    lat.set(title=_("round trip, ms (p50 solid, p99 dashed)"), yscale="log")
    cpu.set(title=_("server CPU per message, µs"), yscale="log")
    for ax in (tput, lat, cpu):
        ax.set(xscale="log", xlabel=_("connections"), xticks=conns, xticklabels=conns)
    tput.legend(fontsize="small")
    return use_fonts(fig)
