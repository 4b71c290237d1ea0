"""How fast the pictures draw and how big the stepper saves (a script, not a test).

    .venv/bin/python benchmarks/bench_draw.py

Prints, beside its target:

* the time to build and render (Agg) a timeline of 100,000 events on 1,000
  sockets (target: under 2 s);
* the saved size of a 1,000-frame stepper: the widget state JSON that
  ``ipywidgets.embed.embed_data`` produces, with and without default values
  (a notebook executed headless saves the full state; target: under 2 MB).

The trace is synthetic (Event tuples built directly), shaped like a busy
server: every socket registered, a few ready per select() call, each ready
socket read and written.
"""

import json
import os
import random
import sys
import time

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402
from ipywidgets.embed import embed_data  # noqa: E402

from echo_lab import draw, widgets  # noqa: E402
from echo_lab.recorder import Event  # noqa: E402

DRAW_TARGET_S, SIZE_TARGET_MB = 2.0, 2.0


def synthetic_trace(n_events, n_sockets=1000, ready_per_call=5, seed=1):
    """About ``n_events`` events: registrations, then select() calls with reads and writes."""
    rng = random.Random(seed)
    labels = [f"client 10.0.{i // 250}.{i % 250}:{40000 + i}" for i in range(n_sockets)]
    events = [Event(0.0, 0, "register", 10 + i, labels[i], events=1) for i in range(n_sockets)]
    call, t = 0, 0.0
    while len(events) < n_events:
        call += 1
        t += 1e-4
        events.append(Event(t, call, "select", -1, "", ready=ready_per_call))
        for i in rng.sample(range(n_sockets), ready_per_call):
            events.append(Event(t, call, "ready", 10 + i, labels[i], events=1, ready=1))
            events.append(Event(t, call, "recv", 10 + i, labels[i], nbytes=rng.randint(1, 1024)))
            events.append(Event(t, call, "send", 10 + i, labels[i], nbytes=rng.randint(1, 1024)))
    return events[:n_events]


def time_timeline(events, by):
    t0 = time.perf_counter()
    fig = draw.timeline(events, by=by)
    fig.canvas.draw()
    elapsed = time.perf_counter() - t0
    plt.close(fig)
    return elapsed


def stepper_size(n_frames):
    events = synthetic_trace(n_frames * 16 + 1000, n_sockets=1000, ready_per_call=5)
    calls = sum(1 for e in events if e.kind == "select")
    t0 = time.perf_counter()
    step = widgets.stepper(events, max_frames=n_frames)
    built = time.perf_counter() - t0
    full = len(json.dumps(embed_data(views=[step], drop_defaults=False)["manager_state"]))
    lean = len(json.dumps(embed_data(views=[step], drop_defaults=True)["manager_state"]))
    step.close_all()
    return calls, len(step.frames), built, full, lean


def main():
    events = synthetic_trace(100_000)
    sockets = len({e.fd for e in events if e.fd >= 0})
    print(f"timeline of {len(events):,} events on {sockets:,} sockets (target < {DRAW_TARGET_S:g} s):")
    for by in ("call", "time"):
        elapsed = time_timeline(events, by)
        verdict = "ok" if elapsed < DRAW_TARGET_S else "TOO SLOW"
        print(f"  by={by!r}: {elapsed:.2f} s  [{verdict}]")
    calls, frames, built, full, lean = stepper_size(1000)
    print(f"stepper of {calls:,} select() calls thinned to {frames:,} frames, built in {built:.2f} s:")
    for name, size in (("full state (as nbconvert saves it)", full), ("without defaults", lean)):
        verdict = "ok" if size < SIZE_TARGET_MB * 1e6 else "TOO BIG"
        print(f"  {name}: {size / 1e6:.2f} MB  (target < {SIZE_TARGET_MB:g} MB)  [{verdict}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
