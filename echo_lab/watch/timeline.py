"""The timeline: which socket ``select()`` reported ready for what, call by call.

One row per socket, one column per ``select()`` call (or time).  A tall cell
says what ``select()`` reported the socket ready for; a thin bar under it
says what it was registered for; markers show what the handler then did
(accept, recv, send, close).  The tutorial's server, registered for WRITE
all the time, shows as an unbroken WRITE stripe.  Where everything goes is
worked out by :mod:`~echo_lab.watch.timeline_layout`; this module draws it,
with one artist per kind, so that 1,000 sockets and 100,000 events draw fast.
Its words are in the language in use when it is drawn (:mod:`echo_lab.i18n`);
the masks, the handler's actions and the sockets' names stay as they are.
"""

import math

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ..i18n import _
from .recorder import mask_name
from .style import MASK_COLORS, figure, use_fonts
from .timeline_layout import BAR, CELL, byte_labels, time_scale, timeline_layout

__all__ = ["FEW_NOTES", "FEW_ROWS", "LABELS_PER_ROW", "MARKERS", "MAX_TICKS", "timeline"]

MARKERS = {"accept": "P", "recv": "v", "send": "^", "close": "X", "change": "|"}
FEW_ROWS, FEW_NOTES = 8, 300  # annotate byte counts only below these
MAX_TICKS = 40  # label every row up to this many rows
LABELS_PER_ROW = 40  # byte-count labels that fit side by side across the axes


def timeline(events, by="call", ax=None):
    """Draw which socket ``select()`` reported ready for what, call by call.

    ``events`` come from :meth:`Recorder.events`; ``by`` is ``"call"`` (x: the
    select() call number) or ``"time"`` (x: time since the first event, in
    milliseconds for a recording shorter than a second, else seconds).
    Returns the Figure.  Raises ``ValueError`` for an unknown ``by``.
    """
    events = list(events)
    layout = timeline_layout(events, by)
    rows = layout["rows"]
    fig, ax = figure(ax, (10, min(2.2 + 0.4 * len(rows), 12)))
    dense = len(rows) > MAX_TICKS
    if dense:  # registration as a pale background that tiles the rows; cells on top
        _draw_rects(ax, layout["bars"], (-0.5, 0.5), "registered", edges=False, alpha=0.2)
    else:
        _draw_rects(ax, layout["bars"], BAR, "registered", edges=False)
    _draw_rects(ax, layout["cells"], CELL, "ready", edges=dense)
    if not dense:  # with hundreds of rows, markers would only hide the cells
        _draw_marks(ax, layout["marks"], few=len(rows) <= FEW_ROWS)
    _label_axes(ax, events, rows, by)
    _timeline_legend(ax, layout, markers=not dense)
    return use_fonts(fig)


def _draw_rects(ax, rects, extent, name, edges, alpha=1.0):
    """One PolyCollection per mask: fast for 100,000 rectangles.

    With many rows a rectangle is thinner than a pixel and would vanish: an
    edge line in the same colour keeps each one at least a pixel wide.
    """
    if not rects:
        return
    data = np.array(rects, dtype=float)
    for mask, color in MASK_COLORS.items():
        chosen = data[data[:, 3] == mask]
        if not len(chosen):
            continue
        x0, x1, y = chosen[:, 0], chosen[:, 1], chosen[:, 2]
        y0, y1 = y + extent[0], y + extent[1]
        verts = np.stack([np.column_stack(p) for p in ((x0, y0), (x0, y1), (x1, y1), (x1, y0))],
                         axis=1)
        ax.add_collection(PolyCollection(verts, facecolors=color, alpha=alpha,
                                         edgecolors=color if edges else "none", linewidths=0.5,
                                         gid=f"{name} {mask_name(mask)}"))
    ax.autoscale_view()


def _draw_marks(ax, marks, few):
    """One scatter per kind of action; byte counts written beside them when there are few.

    Byte counts closer together than a label's width would overprint each
    other (a busy run does all its work in a few calls at one end): such a
    run of marks on one row gets one label, their total (``44+EOF`` when the
    peer's end of file is among them).
    """
    notes = sum(len(marks.get(kind, ())) for kind in ("recv", "send"))
    span = _span(marks)
    for kind, marker in MARKERS.items():
        points = marks.get(kind)
        if not points:
            continue
        xy = np.asarray(points, dtype=float)[:, :2]  # an array: scatter is slow on 100,000 tuples
        ax.scatter(xy[:, 0], xy[:, 1], marker=marker, s=40, c="black",
                   linewidths=0.8 if kind == "change" else 0.4,
                   edgecolors="white" if kind != "change" else None, zorder=3, gid=kind)
        if few and notes <= FEW_NOTES and kind in ("recv", "send"):
            for xi, yi, text in byte_labels(points, span / LABELS_PER_ROW, eof=kind == "recv"):
                ax.annotate(text, (xi, yi), xytext=(0, 7 if kind == "send" else -9),
                            textcoords="offset points", ha="center", fontsize=7,
                            gid=f"bytes {kind}")


def _span(marks):
    xs = [x for points in marks.values() for x, _row, _n in points]
    return max(max(xs) - min(xs), 1.0) if xs else 1.0


def _label_axes(ax, events, rows, by):
    if by == "call":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(_("select() call number"))
    else:
        unit = "ms" if time_scale(events)[1] > 1 else "s"
        ax.set_xlabel(_("time since the first event ({unit})").format(unit=unit))
    ax.set_title(_("What select() returned, socket by socket ({count} sockets)").format(count=len(rows)))
    if not events:
        ax.text(0.5, 0.5, _("no events recorded"), transform=ax.transAxes, ha="center")
    step = max(1, math.ceil(len(rows) / MAX_TICKS))  # with many rows, label one in `step`
    ticks = list(range(0, len(rows), step))
    ax.set_yticks(ticks, [rows[i] for i in ticks], fontsize=8 if len(rows) <= MAX_TICKS else 6)
    ax.set_ylim(len(rows) - 0.4, -0.6)  # first row at the top
    ax.set_ylabel(_("socket") if step == 1 else _("socket (one in {step} labelled)").format(step=step))


def _timeline_legend(ax, layout, markers):
    masks = {int(r[3]) for r in layout["cells"]} | {int(r[3]) for r in layout["bars"]}
    handles = [Patch(color=MASK_COLORS[m], label=mask_name(m)) for m in MASK_COLORS if m in masks]
    handles += [Patch(color="0.6", label=_("tall cell: ready for")),
                Patch(color="0.6", label=_("thin bar: registered for") if markers
                      else _("pale band: registered for"), alpha=0.5)]
    names = {"change": _("register / modify / unregister")}
    handles += [Line2D([], [], ls="", marker=MARKERS[k], color="black", label=names.get(k, k))
                for k in MARKERS if markers and k in layout["marks"]]
    if markers and any(k in layout["marks"] for k in ("recv", "send")):
        handles.append(Line2D([], [], ls="",
                              label=_("numbers: bytes (marks close\ntogether share one total)")))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
              frameon=False)
