"""The pictures of echo_lab.watch.draw: content is checked through artists' gids and labels, not pixels.

Real runs (the tutorial's server and the fixed one, 2 clients each, on
127.0.0.1) for what a lesson shows; synthetic Event tuples for the sizes a
lesson cannot record quickly (1,000 sockets, reused fds).
"""

import itertools
import socket
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from echo_lab import BackgroundServer, draw, run_client, stop_all  # noqa: E402
from echo_lab.watch.recorder import READ, WRITE, Event, mask_name  # noqa: E402
from echo_lab.watch.timeline import LABELS_PER_ROW, MAX_TICKS  # noqa: E402
from echo_lab.watch.timeline_layout import ACTIONS, CHANGES  # noqa: E402

MESSAGE_BYTES = len(b"Message 1 from client.Message 2 from client.")


@pytest.fixture(autouse=True)
def tidy():
    yield
    plt.close("all")
    stop_all()


def record(kind, clients=2, idle=0.0):
    """Run ``kind`` with ``clients`` tutorial clients (and one idle connection for ``idle`` s)."""
    with BackgroundServer(kind, capacity=1_000_000) as server:  # the seed's busy loop: ~10^5 events per 0.2 s
        if idle:
            with socket.create_connection(server.address, timeout=2):
                time.sleep(idle)
        result = run_client(server.address, clients, timeout=5) if clients else None
        server.wait_idle(5)
    assert result is None or result.finished
    assert server.recorder.dropped == 0
    return server.recorder.events()


@pytest.fixture(scope="module")
def runs():
    return {kind: record(kind) for kind in ("seed", "fixed")}


def gid(fig, name):
    """The artists of ``fig`` whose gid is ``name``."""
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == name]


def one(fig, name):
    found = gid(fig, name)
    assert len(found) == 1, f"expected one artist {name!r}, found {len(found)}"
    return found[0]


def of_kind(events, kind, **match):
    return [e for e in events if e.kind == kind and all(getattr(e, k) == v for k, v in match.items())]


# -- mask bits -------------------------------------------------------------------
def test_mask_bits_names_the_three_masks_and_colours_the_set_bits():
    fig = draw.mask_bits()
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"READ", "WRITE", "READ|WRITE", "EVENT_READ = 1", "EVENT_WRITE = 2"} <= texts
    for mask in (READ, WRITE, READ | WRITE):
        for bit in (READ, WRITE):
            face = to_hex(one(fig, f"bit {mask} {bit}").get_facecolor())
            assert face == (draw.MASK_COLORS[bit].lower() if mask & bit else "#ffffff")


# -- timeline: real runs ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["seed", "fixed"])
def test_timeline_has_one_labelled_row_per_socket(runs, kind):
    events = runs[kind]
    ax = draw.timeline(events).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    listening = of_kind(events, "register")[0].label
    clients = [e.label for e in of_kind(events, "accept")]
    assert listening.startswith("listening 127.0.0.1:")
    assert labels == [listening, "wake-up", *clients]
    assert len(clients) == 2 and all(c.startswith("client 127.0.0.1:") for c in clients)
    assert "select() call" in ax.get_xlabel() and ax.get_title()


def spans(ready):
    """How many stripes ``ready`` events draw as: a socket's runs of consecutive calls with one mask."""
    keys = sorted((e.fd, e.label, e.ready, e.call) for e in ready)
    return sum(1 for i, k in enumerate(keys) if i == 0 or k[:3] != keys[i - 1][:3] or k[3] != keys[i - 1][3] + 1)


def test_timeline_colours_cells_by_ready_mask(runs):
    seed, fixed = draw.timeline(runs["seed"]), draw.timeline(runs["fixed"])
    for events, fig in ((runs["seed"], seed), (runs["fixed"], fixed)):
        for mask, color in draw.MASK_COLORS.items():
            cells = gid(fig, f"ready {mask_name(mask)}")
            ready = of_kind(events, "ready", ready=mask)
            assert len(cells) == (1 if ready else 0)
            if ready:
                assert len(cells[0].get_paths()) == spans(ready)
                assert to_hex(cells[0].get_facecolor()[0]) == color.lower()
    # A connected socket is always writable: the tutorial's clients, registered for WRITE,
    # are ready for it every time; the fixed server never registers WRITE here.
    writable = gid(seed, "ready WRITE") + gid(seed, "ready READ|WRITE")
    client_cells = sum(len(cells.get_paths()) for cells in writable)
    client_ready = [e for e in runs["seed"] if e.kind == "ready" and e.label.startswith("client")]
    assert client_cells == spans(client_ready)
    assert client_cells >= 2
    assert not gid(fixed, "ready WRITE") and not gid(fixed, "ready READ|WRITE")


def test_timeline_shows_what_each_socket_was_registered_for(runs):
    seed, fixed = draw.timeline(runs["seed"]), draw.timeline(runs["fixed"])
    # seed: clients registered READ|WRITE for their whole life; fixed: READ only
    assert len(one(seed, "registered READ|WRITE").get_paths()) == 2
    assert not gid(fixed, "registered READ|WRITE")
    assert len(one(fixed, "registered READ").get_paths()) == 4  # listening, wake-up, 2 clients
    changes = one(fixed, "change").get_offsets()
    assert len(changes) == len([e for e in runs["fixed"] if e.kind in CHANGES])


def test_timeline_marks_each_action_with_its_own_marker(runs):
    events = runs["seed"]
    fig = draw.timeline(events)
    shapes = {}
    for kind in ACTIONS:
        marks = one(fig, kind)
        assert len(marks.get_offsets()) == len(of_kind(events, kind)), kind
        shapes[kind] = marks.get_paths()[0].vertices.tobytes()
    assert len(set(shapes.values())) == len(ACTIONS)  # four distinct marker shapes
    legend = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    # READ|WRITE is what the seed registers; a WRITE-only cell appears only when a select() found
    # nothing to read on a client, which a fast run may never catch
    assert set(ACTIONS) <= legend and "READ|WRITE" in legend


def test_accept_is_drawn_on_the_listening_row(runs):
    ax = draw.timeline(runs["fixed"]).axes[0]
    accepts = one(ax.figure, "accept").get_offsets()
    assert len(accepts) == 2 and set(accepts[:, 1]) == {0.0}  # row 0: the listening socket


def test_timeline_writes_byte_counts_for_a_few_sockets(runs):
    fig = draw.timeline(runs["seed"])
    received = [p for t in gid(fig, "bytes recv") for p in t.get_text().split("+")]
    sent = [p for t in gid(fig, "bytes send") for p in t.get_text().split("+")]
    # chunking may vary (44 bytes at once, or 22 + 22), and close marks share a label: compare totals
    assert sum(int(n) for n in received if n != "EOF") == 2 * MESSAGE_BYTES
    assert received.count("EOF") == 2
    assert sum(int(n) for n in sent) == 2 * MESSAGE_BYTES


def crowded(n_calls=300, busy=20):
    """One client whose work is all in its first ``busy`` calls, then ``n_calls`` idle ones."""
    label = "client 10.0.0.1:40000"
    events = [Event(0.0, 0, "register", 10, label, events=READ | WRITE)]
    for call in range(1, n_calls + 1):
        events += [Event(call, call, "select", -1, "", ready=1),
                   Event(call, call, "ready", 10, label, events=READ | WRITE, ready=READ | WRITE)]
        if call <= busy:
            events += [Event(call, call, "recv", 10, label, nbytes=10),
                       Event(call, call, "send", 10, label, nbytes=10)]
    return events + [Event(n_calls, n_calls, "recv", 10, label, nbytes=0)]


def test_byte_counts_close_together_share_one_label_and_keep_the_total():
    fig = draw.timeline(crowded())
    for kind in ("recv", "send"):
        labels = gid(fig, f"bytes {kind}")
        assert len(labels) < 20 / 2, f"{kind}: {len(labels)} labels overprint each other"
        xs = sorted(t.xy[0] for t in labels)
        assert all(b - a >= 300 / LABELS_PER_ROW - 1 for a, b in itertools.pairwise(xs))
        parts = [p for t in labels for p in t.get_text().split("+")]
        assert sum(int(p) for p in parts if p != "EOF") == 200
        assert parts.count("EOF") == (kind == "recv")
    assert draw.byte_labels([(1, 0, 22), (1.5, 0, 22), (2, 0, 0), (9, 0, 44), (3, 1, 0)], gap=2) == [
        (1, 0, "44+EOF"), (9, 0, "44"), (3, 1, "EOF")]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("share one total" in t for t in legend)


def test_timeline_by_time_puts_cells_in_time_order(runs):
    events = runs["fixed"]
    by_call, by_time = draw.timeline_layout(events), draw.timeline_layout(events, by="time")
    assert by_time["rows"] == by_call["rows"]
    assert len(by_time["cells"]) == len(by_call["cells"])
    starts = [x0 for x0, x1, row, mask in by_time["cells"]]
    assert starts == sorted(starts) and all(x1 > x0 for x0, x1, _, _ in by_time["cells"])
    ax = draw.timeline(events, by="time").axes[0]
    assert "time since the first event" in ax.get_xlabel()


def test_timeline_draws_into_the_axes_it_is_given(runs):
    fig, (left, right) = plt.subplots(1, 2)
    assert draw.timeline(runs["seed"], ax=right) is fig
    assert right.get_yticklabels() and not left.collections


def test_timeline_rejects_an_unknown_axis(runs):
    with pytest.raises(ValueError, match="by must be"):
        draw.timeline(runs["seed"], by="socket")


def test_timeline_of_no_events_says_so():
    ax = draw.timeline([]).axes[0]
    assert "no events recorded" in {t.get_text() for t in ax.texts}


# -- timeline: synthetic traces -----------------------------------------------------
def test_a_reused_fd_with_a_new_label_is_a_new_row():
    a, b = "client 127.0.0.1:1000", "client 127.0.0.1:2000"
    events = [
        Event(0.0, 0, "register", 7, a, events=READ),
        Event(0.1, 1, "select", -1, "", ready=1),
        Event(0.1, 1, "ready", 7, a, events=READ, ready=READ),
        Event(0.1, 1, "recv", 7, a),
        Event(0.1, 1, "unregister", 7, a),
        Event(0.1, 1, "close", 7, a),
        Event(0.2, 1, "register", 7, b, events=READ | WRITE),
        Event(0.3, 2, "select", -1, "", ready=1),
        Event(0.3, 2, "ready", 7, b, events=READ | WRITE, ready=WRITE),
    ]
    layout = draw.timeline_layout(events)
    assert layout["rows"] == [a, b]
    assert [(row, mask) for _, _, row, mask in layout["cells"]] == [(0, READ), (1, WRITE)]
    assert sorted((row, mask) for _, _, row, mask in layout["bars"]) == [(0, READ), (1, READ | WRITE)]


def synthetic(n_sockets, n_calls, ready_per_call=3):
    """A busy server's trace: all sockets registered, a few ready per call, each read and written."""
    rng = np.random.default_rng(1)
    labels = [f"client 10.0.{i // 250}.{i % 250}:{40000 + i}" for i in range(n_sockets)]
    events = [Event(0.0, 0, "register", 10 + i, labels[i], events=READ) for i in range(n_sockets)]
    for call in range(1, n_calls + 1):
        t = call * 1e-4
        events.append(Event(t, call, "select", -1, "", ready=ready_per_call))
        for i in rng.choice(n_sockets, ready_per_call, replace=False):
            fd, label = 10 + int(i), labels[i]
            events += [Event(t, call, "ready", fd, label, events=READ, ready=READ),
                       Event(t, call, "recv", fd, label, nbytes=100),
                       Event(t, call, "send", fd, label, nbytes=100)]
    return events


@pytest.mark.parametrize("by", ["call", "time"])
def test_a_thousand_sockets_draw_without_per_event_annotations(by):
    events = synthetic(1000, 500)
    fig = draw.timeline(events, by=by)
    fig.canvas.draw()
    ax = fig.axes[0]
    assert len(draw.timeline_layout(events)["rows"]) == 1000
    assert not ax.texts  # no byte counts
    assert len(ax.get_yticklabels()) <= MAX_TICKS
    assert len(one(fig, "ready READ").get_paths()) == spans([e for e in events if e.kind == "ready"])


def test_a_socket_ready_call_after_call_is_one_unbroken_stripe():
    # The tutorial's server's clients are ready for WRITE at every select(): drawn cell by cell with gaps,
    # the stripe read as "not writable between calls" (a comb); it is one span from the first to the last.
    events = [Event(0.0, 0, "register", 5, "client", events=3)]
    events += [Event(0.001 * c, c, "ready", 5, "client", events=3, ready=2) for c in range(1, 301)]
    events += [Event(0.5, 301, "ready", 5, "client", events=3, ready=3), Event(0.6, 303, "ready", 5, "client",
                                                                             events=3, ready=2)]
    layout = draw.timeline_layout(events)
    assert layout["cells"] == [(0.7, 300.3, 0, 2), (300.7, 301.3, 0, 3), (302.7, 303.3, 0, 2)]


def test_artists_stay_one_per_kind_for_100000_events():
    events = synthetic(1000, 10_000)
    assert len(events) > 40_000
    ax = draw.timeline(events).axes[0]
    assert len(ax.collections) <= 2 * len(draw.MASK_COLORS) + len(draw.MARKERS)
    small = draw.timeline(synthetic(5, 20)).axes[0]
    assert len(small.collections) <= 2 * len(draw.MASK_COLORS) + len(draw.MARKERS)


# -- wake-ups ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def idle_runs():
    """One client connected and idle for 0.2 s: the seed server spins, the fixed one sleeps."""
    return {"seed (always WRITE)": record("seed", clients=0, idle=0.2),
            "fixed": record("fixed", clients=0, idle=0.2)}


def test_wakeups_draws_one_log_panel_per_recording(idle_runs):
    fig = draw.wakeups(idle_runs, cpu={"seed (always WRITE)": 0.97})
    assert len(fig.axes) == 2
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    assert "CPU 97% of a core" in fig.axes[0].get_title()
    assert "fixed" in fig.axes[1].get_title()
    for name, events in idle_runs.items():
        rate, edges, _ = one(fig, f"wakeups {name}").get_data()
        counted = np.nansum(rate * np.diff(edges))
        assert round(counted) == len(of_kind(events, "select"))


def test_wakeups_titles_are_readable_and_say_when_the_recorder_was_full(idle_runs):
    fig = draw.wakeups(idle_runs)
    assert all(ax.title.get_fontsize() >= 12 for ax in fig.axes)
    assert not any("only the last" in ax.get_title() for ax in fig.axes)  # nothing was dropped
    seed = idle_runs["seed (always WRITE)"]
    first_dropped = next(i for i, e in enumerate(seed) if e.kind == "select" and e.call > 100)
    tail = seed[first_dropped:]  # as a full ring keeps them: the oldest events gone
    calls = len(of_kind(tail, "select"))
    last = max(e.call for e in seed if e.kind == "select")
    title = draw.wakeups({"seed": tail}).axes[0].get_title()
    assert f"only the last {calls:,} of {last:,} kept" in title


def test_wakeups_make_the_busy_loop_obvious(idle_runs):
    fig = draw.wakeups(idle_runs)
    peak = {name: np.nanmax(one(fig, f"wakeups {name}").get_data()[0]) for name in idle_runs}
    assert peak["seed (always WRITE)"] > 100 * peak["fixed"]


def test_wakeups_needs_a_recording():
    with pytest.raises(ValueError):
        draw.wakeups({})


def test_mask_bits_writes_its_text_at_wcag_aa_contrast():
    from echo_lab.watch.style import AA_TEXT, contrast

    ax = draw.mask_bits().axes[0]
    cells = {(round(p.get_x() + 0.4), round(p.get_y() + 0.4)): to_hex(p.get_facecolor()) for p in ax.patches}
    checked = 0
    for text in ax.texts:
        x, y = text.get_position()
        background = cells.get((round(x), round(y)), "#ffffff")
        ratio = contrast(to_hex(text.get_color()), background)
        assert ratio >= AA_TEXT, f"{text.get_text()!r} at {ratio:.2f}:1 on {background}"
        checked += 1
    assert checked >= 12  # the title row, the constants, six bits, three names
