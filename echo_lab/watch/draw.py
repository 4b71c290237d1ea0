"""Pictures of an event loop, drawn from a :class:`~echo_lab.watch.recorder.Recorder`'s events.

A selectors server is hard to watch: one thread, one ``select()`` call after
another, each returning a few sockets and a bit mask per socket.  These
pictures make that visible:

* :func:`mask_bits`: the two event bits and their OR, as a small table.
* :func:`timeline`: one row per socket, one column per ``select()`` call (or
  time).  A tall cell says what ``select()`` reported the socket ready for;
  a thin bar under it says what it was registered for; markers show what the
  handler then did (accept, recv, send, close).  The tutorial's server,
  registered for WRITE all the time, shows as an unbroken WRITE stripe.
* :func:`wakeups`: ``select()`` calls per second for several recordings side
  by side, on a log scale: the always-WRITE busy loop against the fixed one.

Each function returns a matplotlib ``Figure`` (or draws into the ``ax`` it is
given).  Artists carry a ``gid`` naming what they show (``"ready READ"``,
``"registered WRITE"``, ``"recv"``...) so tests can check content, not pixels.
A trace of 1,000 sockets and 100,000 events draws with one artist per kind.
"""

import math
from collections import defaultdict

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .recorder import READ, WRITE, mask_name

__all__ = ["MASK_COLORS", "MARKERS", "byte_labels", "mask_bits", "timeline", "timeline_layout",
           "wakeups"]

# Okabe-Ito, a palette that colour-blind readers can tell apart.
MASK_COLORS = {READ: "#0072B2", WRITE: "#E69F00", READ | WRITE: "#CC79A7"}
PANEL_COLORS = ["#D55E00", "#009E73", "#56B4E9", "#F0E442", "#000000"]  # the rest of Okabe-Ito
MARKERS = {"accept": "P", "recv": "v", "send": "^", "close": "X", "change": "|"}
ACTIONS = ("accept", "recv", "send", "close")
CHANGES = ("register", "modify", "unregister")
# Where, inside its select() call's column, a handler's action is drawn:
# first what was read, then what was written; a registration change takes
# effect for the *next* call, so it sits at the column's right edge.
OFFSET = {"accept": 0.0, "recv": -0.15, "send": 0.15, "close": 0.3,
          "register": 0.45, "modify": 0.45, "unregister": 0.45}
CELL, BAR = (-0.3, 0.3), (0.34, 0.46)  # y extent around a row's centre (rows grow downwards)
FEW_ROWS, FEW_NOTES = 8, 300  # annotate byte counts only below these
MAX_TICKS = 40  # label every row up to this many rows
TITLE_SIZE = 12  # wake-up panel titles: a three-panel figure is shrunk to the page's width
LABELS_PER_ROW = 40  # byte-count labels that fit side by side across the axes


# -- mask bits -------------------------------------------------------------
def mask_bits(ax=None):
    """A table of EVENT_READ (1), EVENT_WRITE (2) and their OR (3), bit by bit."""
    fig, ax = _figure(ax, (6, 2.2))
    columns = ["mask", "bit 1 (WRITE)", "bit 0 (READ)", "mask_name()"]
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
                    color="white" if on else "0.3", weight="bold")
        ax.text(3, row, mask_name(mask), ha="center", va="center", family="monospace",
                color=MASK_COLORS[mask], weight="bold")
    ax.set(xlim=(-1.0, 3.7), ylim=(2.6, -1.6), title="selectors event masks: one bit each, OR-ed")
    ax.axis("off")
    return fig


# -- timeline ----------------------------------------------------------------
def timeline_layout(events, by="call"):
    """What :func:`timeline` draws, as plain data (no matplotlib).

    Returns a dict: ``rows`` (labels, top to bottom), ``cells`` (``x0, x1,
    row, ready mask`` per ready socket), ``bars`` (``x0, x1, row, registered
    mask`` per registration span), ``marks`` (kind -> list of ``x, row,
    nbytes``; ``"change"`` collects register/modify/unregister).  Rows are keyed
    by fd *and* label: an fd reused after a close gets a new row.
    Raises ``ValueError`` for an unknown ``by``.
    """
    if by not in ("call", "time"):
        raise ValueError(f'by must be "call" or "time", not {by!r}')
    rows, spans, cells, marks = _Rows(), _Spans(), [], defaultdict(list)
    xof = _x_function(events, by)
    for e in events:
        if e.fd < 0:  # the 'select' event itself: its sockets follow as 'ready' events
            continue
        x, row = xof(e), rows.of(e)
        if e.kind == "ready":
            cells.append((e.call, row, e.ready))
            spans.seen(row, x, e.events)
        elif e.kind in CHANGES:
            rows.registered(e.fd, row)
            spans.change(row, x, e.events)
            marks["change"].append((x, row + sum(BAR) / 2, 0))  # drawn on the bar it changes
        elif e.kind in ACTIONS:
            marks[e.kind].append((x, row, e.nbytes))
    end = max((xof(e) for e in events[-1:]), default=0) + (0.5 if by == "call" else 0)
    return {"rows": rows.labels, "by": by, "cells": _cell_extents(cells, events, by),
            "bars": spans.close(end), "marks": dict(marks)}


class _Rows:
    """Rows in order of appearance, keyed by (fd, label): fds are reused after a close."""

    def __init__(self):
        self.labels, self.index, self.current = [], {}, {}  # current: fd -> row registered there

    def of(self, e):
        # accept is recorded on the listening socket but labelled with the new client
        if e.kind == "accept" and e.fd in self.current:
            return self.current[e.fd]
        key = (e.fd, e.label if e.label and e.kind != "accept" else f"fd {e.fd}")
        if key not in self.index:
            self.index[key] = len(self.labels)
            self.labels.append(key[1])
        return self.index[key]

    def registered(self, fd, row):
        self.current[fd] = row


def _x_function(events, by):
    if by == "call":
        return lambda e: e.call + OFFSET.get(e.kind, 0.0)
    t0, scale = _time_scale(events)
    return lambda e: (e.t - t0) * scale


def _time_scale(events):
    """The first event's time, and 1000 (milliseconds) for a recording under a second."""
    if not events:
        return 0.0, 1.0
    return events[0].t, 1000.0 if events[-1].t - events[0].t < 1 else 1.0


class _Spans:
    """Registration spans per row: opened by register, cut by modify, closed by unregister."""

    def __init__(self):
        self.open, self.done = {}, []  # row -> (x0, mask); finished (x0, x1, row, mask)

    def change(self, row, x, mask):
        if row in self.open:
            x0, old = self.open.pop(row)
            self.done.append((x0, x, row, old))
        if mask:
            self.open[row] = (x, mask)

    def seen(self, row, x, mask):
        """A ready socket whose register event was dropped from the ring: open its span here."""
        if row not in self.open and mask:
            self.open[row] = (x, mask)

    def close(self, end):
        for row, (x0, mask) in self.open.items():
            self.done.append((x0, end, row, mask))
        self.open = {}
        return self.done


def _cell_extents(cells, events, by):
    """Give each ready cell its x extent: a fixed width by call, the handler's pass by time."""
    if by == "call":
        return [(call + CELL[0], call + CELL[1], row, mask) for call, row, mask in cells]
    t0, scale = _time_scale(events)
    start, stop = {}, {}  # call -> time select() returned; -> time of its last event
    for e in events:
        if e.kind == "select":
            start[e.call] = (e.t - t0) * scale
        stop[e.call] = (e.t - t0) * scale
    width = max((events[-1].t - t0) * scale, 1e-6) / 2000  # narrowest cell that stays visible
    extent = {c: (s, max(stop[c], s + width)) for c, s in start.items()}
    return [(*extent.get(call, (0.0, width)), row, mask) for call, row, mask in cells]


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
    fig, ax = _figure(ax, (10, min(2.2 + 0.4 * len(rows), 12)))
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
    return fig


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
    xs = [x for points in marks.values() for x, _, _ in points]
    return max(max(xs) - min(xs), 1.0) if xs else 1.0


def byte_labels(points, gap, eof=True):
    """``(x, row, text)`` per label: marks on one row closer than ``gap`` share one label.

    ``points`` are ``(x, row, nbytes)``.  The label sits on the group's first
    mark and says its bytes; with ``eof``, 0 bytes is ``"EOF"`` (a ``recv``
    of 0 bytes: the peer closed).
    """
    labels, groups = [], {}  # row -> [x of the group's first mark, bytes, eof seen]
    for x, row, n in sorted(points, key=lambda p: (p[1], p[0])):
        group = groups.get(row)
        if group is None or x - group[0] >= gap:
            group = groups[row] = [x, 0, False]
            labels.append((row, group))
        group[1] += n
        group[2] = group[2] or (eof and n == 0)
    return [(g[0], row, "+".join(filter(None, (str(g[1]) if g[1] or not g[2] else "",
                                                "EOF" if g[2] else ""))))
            for row, g in labels]


def _label_axes(ax, events, rows, by):
    if by == "call":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("select() call number")
    else:
        ax.set_xlabel(f"time since the first event ({'ms' if _time_scale(events)[1] > 1 else 's'})")
    ax.set_title(f"What select() returned, socket by socket ({len(rows)} sockets)")
    if not events:
        ax.text(0.5, 0.5, "no events recorded", transform=ax.transAxes, ha="center")
    step = max(1, math.ceil(len(rows) / MAX_TICKS))  # with many rows, label one in `step`
    ticks = list(range(0, len(rows), step))
    ax.set_yticks(ticks, [rows[i] for i in ticks], fontsize=8 if len(rows) <= MAX_TICKS else 6)
    ax.set_ylim(len(rows) - 0.4, -0.6)  # first row at the top
    ax.set_ylabel("socket" if step == 1 else f"socket (one in {step} labelled)")


def _timeline_legend(ax, layout, markers):
    masks = {int(r[3]) for r in layout["cells"]} | {int(r[3]) for r in layout["bars"]}
    handles = [Patch(color=MASK_COLORS[m], label=mask_name(m)) for m in MASK_COLORS if m in masks]
    handles += [Patch(color="0.6", label="tall cell: ready for"),
                Patch(color="0.6", label="thin bar: registered for" if markers
                      else "pale band: registered for", alpha=0.5)]
    names = {"change": "register / modify / unregister"}
    handles += [Line2D([], [], ls="", marker=MARKERS[k], color="black", label=names.get(k, k))
                for k in MARKERS if markers and k in layout["marks"]]
    if markers and any(k in layout["marks"] for k in ("recv", "send")):
        handles.append(Line2D([], [], ls="",
                              label="numbers: bytes (marks close\ntogether share one total)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
              frameon=False)


# -- wake-ups --------------------------------------------------------------------
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
    axes[0][0].set_ylabel("select() calls per second")
    return fig


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
    counts, _ = np.histogram(t, edges)
    rate = np.where(counts > 0, counts / bin, np.nan)  # an empty bin has no place on a log scale
    ax.stairs(rate, edges, fill=True, color=color, gid=f"wakeups {name}")
    ax.set_yscale("log")
    first, last = calls
    title = f"{name}\n{len(t):,} select() calls in {t[-1] if len(t) else 0:.3g} s"
    title += f", CPU {cpu:.0%} of a core" if cpu is not None else ""
    if first > 1:  # the recorder's ring dropped the oldest events: say the panel shows the end only
        title += f"\nonly the last {len(t):,} of {last:,} kept (recorder full)"
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel("time since the first select() shown (s)" if first > 1
                  else "time since the first select() (s)")


def _figure(ax, size):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax
