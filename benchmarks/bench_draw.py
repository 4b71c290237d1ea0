"""How fast the pictures draw and how big the stepper saves (a script, not a test).

    .venv/bin/python benchmarks/bench_draw.py

Prints, beside its target:

* the time to build and render (Agg) a timeline of 100,000 events on 1,000
  sockets (target: under 2 s);
* the saved size of a 1,000-frame stepper: the widget state JSON that
  ``ipywidgets.embed.embed_data`` produces, with and without default values
  (a notebook executed headless saves the full state; target: under 2 MB),
  for a synthetic 1,000-socket trace and for a recorded busy loop.

The synthetic trace is built from Event tuples, shaped like a busy server:
every socket registered, a few ready per select() call, each ready socket
read and written.  Exits with 1 if a target is missed.
"""

import json
import os
import random
import socket
import sys
import time

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402
from ipywidgets.embed import dependency_state, embed_data  # noqa: E402

from echo_lab import BackgroundServer, draw, widgets  # noqa: E402
from echo_lab.watch.recorder import Event  # noqa: E402

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


def recorded_busy_loop(seconds=0.1):
    """The tutorial's server with one silent client: thousands of select() calls, 3 sockets."""
    with BackgroundServer("seed") as server, socket.create_connection(server.address, timeout=2):
        time.sleep(seconds)
    return server.recorder.events()


def stepper_size(events, n_frames=1000):
    """Frames kept, build time and saved size (full state, and without defaults) of a stepper."""
    calls = sum(1 for e in events if e.kind == "select")
    t0 = time.perf_counter()
    step = widgets.stepper(events, max_frames=n_frames)
    built = time.perf_counter() - t0
    sizes = []
    for drop in (False, True):  # only the stepper's widgets, not every widget alive
        state = dependency_state([step], drop_defaults=drop)
        saved = embed_data([step], state=state, drop_defaults=drop)["manager_state"]
        sizes.append(len(json.dumps(saved)))
    full, lean = sizes
    step.close_all()
    return calls, len(step.frames), built, full, lean


def report_stepper(name, events):
    calls, frames, built, full, lean = stepper_size(events)
    print(f"stepper of {name}: {calls:,} select() calls, {frames:,} frames, built in {built:.2f} s:")
    ok = True
    for what, size in (("full state (as nbconvert saves it)", full), ("without defaults", lean)):
        ok &= size < SIZE_TARGET_MB * 1e6
        verdict = "ok" if size < SIZE_TARGET_MB * 1e6 else "TOO BIG"
        print(f"  {what}: {size / 1e6:.2f} MB  (target < {SIZE_TARGET_MB:g} MB)  [{verdict}]")
    return ok


def main():
    ok = True
    events = synthetic_trace(100_000)
    sockets = len({e.fd for e in events if e.fd >= 0})
    print(f"timeline of {len(events):,} events on {sockets:,} sockets (target < {DRAW_TARGET_S:g} s):")
    for by in ("call", "time"):
        elapsed = time_timeline(events, by)
        ok &= elapsed < DRAW_TARGET_S
        verdict = "ok" if elapsed < DRAW_TARGET_S else "TOO SLOW"
        print(f"  by={by!r}: {elapsed:.2f} s  [{verdict}]")
    # 3 times more select() calls than frames (16 events per call), so the stepper thins them
    ok &= report_stepper("a synthetic 1,000-socket trace",
                         synthetic_trace(3 * 1000 * 16 + 1000, n_sockets=1000, ready_per_call=5))
    ok &= report_stepper("the seed server's busy loop (recorded)", recorded_busy_loop())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
