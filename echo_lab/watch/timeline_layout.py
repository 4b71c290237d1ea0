"""What :func:`~echo_lab.watch.timeline.timeline` draws, as plain data (no matplotlib).

:func:`timeline_layout` places a recording on the timeline's grid: one row
per socket, and for each ``select()`` call the cells of the sockets it
reported ready, the bars of what each socket was registered for, and the
marks of what the handler did.  :func:`byte_labels` groups the byte counts
written beside the marks, so that labels close together become one.
"""

from collections import defaultdict

__all__ = ["ACTIONS", "BAR", "CELL", "CHANGES", "OFFSET", "byte_labels", "time_scale", "timeline_layout"]

ACTIONS = ("accept", "recv", "send", "close")
CHANGES = ("register", "modify", "unregister")
# Where, inside its select() call's column, a handler's action is drawn:
# first what was read, then what was written; a registration change takes
# effect for the *next* call, so it sits at the column's right edge.
OFFSET = {"accept": 0.0, "recv": -0.15, "send": 0.15, "close": 0.3,
          "register": 0.45, "modify": 0.45, "unregister": 0.45}
CELL, BAR = (-0.3, 0.3), (0.34, 0.46)  # y extent around a row's centre (rows grow downwards)


def timeline_layout(events, by="call"):
    """What :func:`~echo_lab.watch.timeline.timeline` draws, as plain data (no matplotlib).

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
    t0, scale = time_scale(events)
    return lambda e: (e.t - t0) * scale


def time_scale(events):
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
    """Give each ready cell its x extent (a fixed width by call, the handler's pass by time), then join
    a socket's cells in consecutive calls with the same mask into one span: a socket ready for WRITE
    call after call is one unbroken stripe, not a comb whose gaps would read as "not writable then"."""
    if by == "call":
        extent = {call: (call + CELL[0], call + CELL[1]) for call, _row, _mask in cells}
        width = CELL[1] - CELL[0]
    else:
        t0, scale = time_scale(events)
        start, stop = {}, {}  # call -> time select() returned; -> time of its last event
        for e in events:
            if e.kind == "select":
                start[e.call] = (e.t - t0) * scale
            stop[e.call] = (e.t - t0) * scale
        width = max((events[-1].t - t0) * scale, 1e-6) / 2000  # narrowest cell that stays visible
        extent = {c: (s, max(stop[c], s + width)) for c, s in start.items()}
    joined = []  # [x0, x1, row, mask, last call]
    for call, row, mask in sorted(cells, key=lambda c: (c[1], c[2], c[0])):
        x0, x1 = extent.get(call, (0.0, width))
        last = joined[-1] if joined else None
        if last and last[2:4] == [row, mask] and call == last[4] + 1:
            last[1], last[4] = max(last[1], x1), call
        else:
            joined.append([x0, x1, row, mask, call])
    return sorted((x0, x1, row, mask) for x0, x1, row, mask, _call in joined)


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

