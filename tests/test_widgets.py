"""The stepper and the live view of echo_lab.watch.widgets, on real servers on 127.0.0.1.

No kernel is needed: widgets are created and inspected in Python (their
comms go nowhere), so these tests check structure and text, not rendering.
"""

import itertools
import json
import re
import socket
import time

import ipywidgets
import pytest
from ipywidgets.embed import dependency_state, embed_data
from ipywidgets.widgets.widget_link import Link

from echo_lab import BackgroundServer, Event, i18n, run_client, stop_all, widgets
from echo_lab.watch.recorder import READ, WRITE
from echo_lab.watch.style import (
    AA_TEXT,
    BLACK,
    BLUE,
    MASK_COLORS,
    ORANGE,
    REDDISH_PURPLE,
    WHITE,
    contrast,
    luminance,
    text_color,
)
from helpers import wait_until

MESSAGE_BYTES = len(b"Message 1 from client.Message 2 from client.")


@pytest.fixture(autouse=True)
def tidy():
    yield
    stop_all()
    ipywidgets.Widget.close_all()


@pytest.fixture(scope="module")
def seed_run():
    with BackgroundServer("seed") as server:
        result = run_client(server.address, 2, timeout=5)
        server.wait_idle(5)
    assert result.finished and server.recorder.dropped == 0
    return server.recorder


def every_call(recorder):
    """A stepper with a frame for every call (the seed's busy loop can pass 1,000 calls)."""
    return widgets.stepper(recorder.events(), max_frames=max(2, recorder.calls))


def frame_of(step, call):
    return step.frames[step.calls.index(call)].value


# -- stepper -------------------------------------------------------------------------
def test_stepper_has_one_frame_per_select_call(seed_run):
    step = every_call(seed_run)
    assert len(step.frames) == seed_run.calls == len(step.calls)
    assert step.calls == list(range(1, seed_run.calls + 1))
    # the slider counts frames from 1, as the frames' headings do; the links carry its index
    assert step.slider.options == tuple(str(i) for i in range(1, seed_run.calls + 1))
    assert step.slider.label == "1" and step.slider.index == 0
    assert step.play.min == 0 and step.play.max == seed_run.calls - 1
    assert "(frame 1 of" in step.frames[0].value
    assert f"{seed_run.calls} select() calls, one frame each" in step.note.value
    for call, frame in zip(step.calls, step.frames, strict=True):
        assert f"select() call {call}</b>" in frame.value


def test_stepper_links_play_slider_and_stack_in_the_browser(seed_run):
    step = widgets.stepper(seed_run.events())
    play_to_slider, slider_to_stack = step.links
    assert all(isinstance(link, Link) for link in step.links)
    assert play_to_slider.source == (step.play, "value")
    assert play_to_slider.target == (step.slider, "index")
    assert slider_to_stack.source == (step.slider, "index")
    assert slider_to_stack.target == (step.stack, "selected_index")
    assert isinstance(step.stack, ipywidgets.Stack) and step.stack.children == tuple(step.frames)
    assert step.stack in step.children and step.note in step.children


def test_stepper_plays_slowly_enough_to_read_and_says_what_its_controls_do(seed_run):
    step = widgets.stepper(seed_run.events())
    assert step.play.interval == 1500  # ms a frame: a table takes a moment to read
    assert widgets.stepper(seed_run.events(), interval=2).play.interval == 2000
    assert "1.5 s" in step.play.tooltip and "Stop" in step.play.tooltip
    assert not step.play.description  # JupyterLab shows the tooltip only without a description
    assert not step.play.show_repeat
    assert "Drag" in step.slider.tooltip
    with pytest.raises(ValueError):
        widgets.stepper(seed_run.events(), interval=0)


def test_text_on_every_mask_colour_in_the_frames_meets_wcag_aa(seed_run):
    # WCAG 2's measure, against the figures the accessibility check gave: white on Okabe-Ito's orange is 2.25:1
    assert luminance(BLACK) == 0 and luminance(WHITE) == 1 and contrast(BLACK, WHITE) == 21
    assert round(contrast(WHITE, ORANGE), 2) == 2.25 and round(contrast(WHITE, REDDISH_PURPLE), 2) == 3.06
    assert round(contrast(WHITE, BLUE), 1) == 5.2 and contrast(BLUE, WHITE) == contrast(WHITE, BLUE)
    cells = re.findall(r'<td style="background:(#[0-9A-F]{6});color:(#[0-9A-F]{6})">([A-Z|]+)</td>',
                       "".join(f.value for f in every_call(seed_run).frames))
    # a real run's frames show READ and READ|WRITE; WRITE alone too, but not always on a busy machine
    assert {"READ", "READ|WRITE"} <= {mask for _, _, mask in cells}, cells
    for mask, background in MASK_COLORS.items():  # so every mask's colour is also checked as the frames draw it
        assert contrast(text_color(background), background) >= AA_TEXT, (mask, background)
    for background, text, mask in cells:
        assert background == MASK_COLORS[{"READ": READ, "WRITE": WRITE, "READ|WRITE": READ | WRITE}[mask]]
        assert contrast(text, background) >= AA_TEXT, (mask, text, background)


def test_stepper_names_its_controls_for_screen_readers_in_the_language_in_use(seed_run):
    # ipywidgets draws Play's buttons as bare icons; the note's <style onload> names them, and the slider's handle
    step = widgets.stepper(seed_run.events())
    onload = re.search(r'<style onload="([^"]*)"></style>', step.note.value).group(1)
    for name in ('"play": "Play"', '"pause": "Pause"', '"stop": "Stop: back to frame 1"', '"slider": "frame"'):
        assert name.replace('"', "&quot;") in onload
    assert "aria-label" in onload and "aria-valuetext" in onload and "MutationObserver" in onload
    assert step.slider.description == "frame"  # what the handle is called: its visible label
    with i18n.speaking("zh_CN"):
        step = widgets.stepper(seed_run.events())
    assert step.slider.description == "帧" and "每 1.5 s 换下一帧" in step.play.tooltip
    for name in ("播放", "暂停", "停止：回到第 1 帧", "第 {frame} 帧，共 {frames} 帧"):
        assert name in step.note.value


def test_saved_stepper_hides_jupyterlabs_disconnected_mark(seed_run):
    # Restored from a saved notebook, widgets carry jupyter-widgets-disconnected, which
    # JupyterLab marks with a red broken-link icon; the stepper works without a kernel.
    step = widgets.stepper(seed_run.events())
    assert "echo-lab-stepper" in step._dom_classes
    style = re.search(r"<style>(.*?)</style>", step.note.value).group(1)
    assert ".echo-lab-stepper .jupyter-widgets-disconnected::before" in style
    assert ".echo-lab-stepper.jupyter-widgets-disconnected::before" in style
    assert "display:none" in style


def test_frames_say_what_was_registered_ready_and_done(seed_run):
    events, step = seed_run.events(), every_call(seed_run)
    first = frame_of(step, 1)
    listening = events[0].label
    assert f"<td>{listening}</td><td>READ</td>" in first  # registered before the first call
    for accept in (e for e in events if e.kind == "accept"):
        assert f"accepted {accept.label}" in frame_of(step, accept.call)
        assert "registered READ|WRITE" in frame_of(step, accept.call)  # the tutorial's mask
    moved = {"recv": 0, "send": 0}
    for e in events:
        if e.kind in moved and e.nbytes:
            verb = "received" if e.kind == "recv" else "sent"
            assert f"{verb} {e.nbytes} bytes" in frame_of(step, e.call)
            moved[e.kind] += e.nbytes
    assert moved == {"recv": 2 * MESSAGE_BYTES, "send": 2 * MESSAGE_BYTES}
    # a connected socket is always writable: the tutorial's clients are always ready for WRITE
    assert any(re.search(r'<td style="background:[^"]*">(READ\|)?WRITE</td>', f.value) for f in step.frames)
    closes = [e.call for e in events if e.kind == "close"]
    assert all("unregistered, closed" in frame_of(step, call) for call in closes)


def synthetic(n_calls, n_sockets=3):
    labels = [f"client 10.0.0.{i}:{40000 + i}" for i in range(n_sockets)]
    events = [Event(0.0, 0, "register", 10 + i, labels[i], events=READ) for i in range(n_sockets)]
    for call in range(1, n_calls + 1):
        fd = 10 + call % n_sockets
        events += [Event(call, call, "select", -1, "", ready=1),
                   Event(call, call, "ready", fd, labels[fd - 10], events=READ, ready=READ),
                   Event(call, call, "recv", fd, labels[fd - 10], nbytes=call)]
    return events


def test_stepper_thins_evenly_keeping_first_and_last_and_says_so():
    step = widgets.stepper(synthetic(5000), max_frames=1000)
    assert len(step.frames) == 1000
    assert step.calls[0] == 1 and step.calls[-1] == 5000
    gaps = {b - a for a, b in itertools.pairwise(step.calls)}
    assert gaps <= {4, 5, 6}
    assert "showing 1000 of 5000 select() calls" in step.note.value
    assert f"received {step.calls[10]} bytes" in step.frames[10].value  # frames match their calls


def test_frames_of_many_sockets_list_the_busy_ones_and_count_the_rest():
    step = widgets.stepper(synthetic(10, n_sockets=1000))
    frame = step.frames[0].value
    assert frame.count("<tr>") == 1 + 1 + 1  # header, the ready socket, "and 999 more"
    assert "and 999 more registered (999 READ)" in frame


def test_a_thousand_frames_save_in_under_2_mb():
    step = widgets.stepper(synthetic(3000, n_sockets=1000), max_frames=1000)
    # the state of the stepper and what it refers to, defaults included (as nbconvert saves it)
    state = dependency_state([step], drop_defaults=False)
    assert len(state) < 1000 + 30  # the frames share one layout and one style model
    saved = embed_data(views=[step], state=state, drop_defaults=False)["manager_state"]
    assert len(json.dumps(saved)) < 2_000_000
    assert len({f.layout.model_id for f in step.frames}) == 1
    step.close_all()


def test_stepper_of_nothing_and_bad_arguments():
    step = widgets.stepper([])
    assert len(step.frames) == 1 and "No select() call" in step.note.value
    with pytest.raises(ValueError):
        widgets.stepper([], max_frames=1)


def test_stepper_text_repr_is_stable(seed_run):
    text = widgets.stepper(seed_run.events())._repr_mimebundle_()["text/plain"]
    assert text == repr(widgets.stepper(synthetic(3)))
    assert not re.search(r"\d", text)


def test_describe_names_every_kind():
    said = [widgets.describe(Event(0, 1, kind, 5, "client x", events=READ | WRITE, ready=WRITE,
                                   nbytes=n))
            for kind, n in [("accept", 0), ("recv", 7), ("recv", 0), ("send", 7), ("register", 0),
                            ("modify", 0), ("unregister", 0), ("close", 0), ("ready", 0)]]
    assert said == ["accepted client x", "received 7 bytes", "received 0 bytes (the peer closed)",
                    "sent 7 bytes", "registered READ|WRITE", "modified to READ|WRITE",
                    "unregistered", "closed", "ready for WRITE"]


# -- live view -----------------------------------------------------------------------
def client_label(sock):
    host, port = sock.getsockname()[:2]
    return f"client {host}:{port}"


def test_live_view_updates_while_the_server_runs_and_stops_after_it():
    server = BackgroundServer("fixed").start()
    view = widgets.LiveView(server, interval=0.05)
    try:
        assert view.thread.is_alive() and "running" in view.value
        before = view.value
        clients = [socket.create_connection(server.address, timeout=2) for _ in range(2)]
        clients[0].sendall(b"hello")
        assert wait_until(lambda: all(client_label(c) in view.value for c in clients)), view.value
        assert view.value != before and "received 5 bytes" in view.value
        for c in clients:
            c.close()
        server.stop()
        stopped = time.monotonic()
        view.thread.join(1.0)
        assert not view.thread.is_alive() and time.monotonic() - stopped < 1.0
        assert "stopped" in view.value and "live view stopped" not in view.value
    finally:
        view.close()
        server.stop(raise_error=False)


def test_live_view_close_joins_its_thread_under_a_busy_loop():
    with BackgroundServer("seed") as server:
        idle = socket.create_connection(server.address, timeout=2)  # the seed server now spins
        view = widgets.LiveView(server, interval=0.02)
        assert wait_until(lambda: "per second now" in view.value and client_label(idle) in view.value)
        t0 = time.monotonic()
        view.close()
        assert not view.thread.is_alive() and time.monotonic() - t0 < 1.0
        idle.close()


def test_live_view_tolerates_sockets_coming_and_going():
    with BackgroundServer("fixed") as server:
        view = widgets.LiveView(server, interval=0.001)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            socket.create_connection(server.address, timeout=2).close()
        assert view.thread.is_alive() and "live view stopped" not in view.value
    view.thread.join(1.0)
    assert not view.thread.is_alive()


def test_live_view_of_a_server_not_running_shows_it_once():
    server = BackgroundServer("fixed")  # not started
    view = widgets.LiveView(server)
    assert not view.thread.is_alive() and "fixed server" in view.value
    assert repr(view) == "<LiveView of a fixed server: run the cell to watch it>"
    view.close()
    server.stop()
