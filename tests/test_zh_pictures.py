"""The pictures and widgets in Chinese: ``echo_lab.i18n.use('zh_CN')``, the Chinese notebooks' extra line.

Pictures, charts and widgets of real recordings, made with the Chinese catalog in force: their words are
Chinese, what the glossary keeps English stays so (READ, WRITE, select(), socket, sockets' names...), and
no glyph is missing (:func:`echo_lab.watch.style.use_fonts`).  After ``use('en')`` the same calls say it
in English, pixel for pixel as before: the language is the one in use when drawing.
"""

import html
import io
import json
import logging
import pathlib
import re
import socket
import warnings

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from echo_lab import BackgroundServer, charts, draw, i18n, run_client, stop_all, widgets  # noqa: E402
from echo_lab.watch import style, timeline, wakeups  # noqa: E402
from echo_lab.watch.recorder import READ, WRITE, Event  # noqa: E402
from helpers import wait_until  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# What stays English in the Chinese edition: the glossary's "keep" words, code, units, and names
# the recording or the lesson gives (sockets' labels, servers' kinds, the widgets' class names).
KEPT = {"READ", "WRITE", "select", "accept", "recv", "send", "close", "EOF", "socket", "selector", "selectors",
        "listening", "wake", "up", "client", "fd", "CPU", "MiB", "outb", "MAX_OUTB", "EVENT_READ", "EVENT_WRITE",
        "mask_name", "ms", "s", "µs", "p50", "p99", "seed", "fixed", "threads", "LiveView", "Stepper", "notebook"}
MARKS = {"READ", "WRITE", "READ|WRITE", "accept", "recv", "send", "close"}  # legend entries that are names
MESSAGE_BYTES = len(b"Message 1 from client.Message 2 from client.")


@pytest.fixture(autouse=True)
def english_afterwards():
    """Every test starts in English and leaves English behind, however it ends."""
    i18n.use("en")
    yield
    i18n.use("en")
    plt.close("all")
    stop_all()
    ipywidgets.Widget.close_all()


@pytest.fixture
def chinese():
    i18n.use("zh_CN")  # english_afterwards switches back


@pytest.fixture(scope="module")
def runs():
    """The tutorial's server and the fixed one, two tutorial clients each, as lesson 04 records them."""
    recorded = {}
    for kind in ("seed", "fixed"):
        with BackgroundServer(kind, capacity=1_000_000) as server:
            result = run_client(server.address, 2, timeout=5)
            server.wait_idle(5)
        assert result.finished and server.recorder.dropped == 0
        recorded[kind] = server.recorder.events()
    return recorded


def english_words(text):
    """The English words of ``text`` that the Chinese edition does not keep."""
    return sorted(set(re.findall(r"[A-Za-z_µ][A-Za-z_0-9]*", text)) - KEPT)


def shown(value):
    """What an HTML widget's value shows: no <style> (its script is code), no tags, entities read."""
    value = re.sub(r"<style[^>]*>.*?</style>", "", value, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", value))


def assert_chinese(texts, names=()):
    """Each of ``texts`` (but ``names``) has Chinese in it; none has an English word the edition translates."""
    for text in texts:
        assert text in names or CHINESE.search(text), f"no Chinese in {text!r}"
        assert not english_words(text), f"English left in {text!r}: {english_words(text)}"


def texts_of(fig):
    """Every text of ``fig`` that is not empty: titles, labels, legends, table cells, tick labels."""
    return [t.get_text() for t in fig.findobj(Text) if t.get_text().strip()]


def glyphs_missing(fig):
    """Draw ``fig`` as a notebook shows it (a PNG); the messages of matplotlib's missing-glyph warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    return [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# -- the timeline ----------------------------------------------------------------------
def test_the_timeline_is_drawn_in_chinese_with_every_glyph(runs, chinese):
    for kind, events in runs.items():
        for by in ("call", "time"):
            fig = draw.timeline(events, by=by)
            ax = fig.axes[0]
            assert_chinese([ax.get_title(), ax.get_xlabel(), ax.get_ylabel()])
            assert_chinese(legend_texts(ax), names=MARKS)
            assert {"高的格子：就绪的事件", "细条：注册的事件", "注册 / 修改 / 注销"} <= set(legend_texts(ax))
            assert f"（{len(ax.get_yticklabels())} 个 socket）" in ax.get_title()
            assert not [t for t in texts_of(fig) if english_words(t)]  # ticks, byte counts: names and numbers
            assert not glyphs_missing(fig), kind
    rows = [t.get_text() for t in ax.get_yticklabels()]  # the names of the sockets stay as they are
    assert rows[0].startswith("listening 127.0.0.1:") and "wake-up" in rows
    assert sum(r.startswith("client 127.0.0.1:") for r in rows) == 2
    ax = draw.timeline(runs["seed"]).axes[0]  # and so do the byte counts
    counts = [p for t in ax.texts if (t.get_gid() or "").startswith("bytes") for p in t.get_text().split("+")]
    assert "EOF" in counts and sum(int(p) for p in counts if p != "EOF") == 4 * MESSAGE_BYTES


def many_sockets(n=60):
    """``n`` sockets, each ready once: too many rows for every label and every marker."""
    names = [f"client 127.0.0.1:{5000 + i}" for i in range(n)]
    return [Event(0.0, 0, "register", 10 + i, names[i], events=READ) for i in range(n)] + [
        e for i in range(n) for e in (Event(0.01 * i, i + 1, "select", -1, "", ready=1),
                                      Event(0.01 * i, i + 1, "ready", 10 + i, names[i], events=READ, ready=READ))]


def test_a_timeline_of_many_sockets_and_an_empty_one_are_chinese_too(chinese):
    ax = draw.timeline(many_sockets()).axes[0]
    assert ax.get_ylabel() == "socket（每 2 个标注一个）"
    assert "浅色带：注册的事件" in legend_texts(ax)
    assert_chinese([ax.get_title(), ax.get_xlabel(), ax.get_ylabel()])
    assert not glyphs_missing(ax.figure)
    empty = draw.timeline([])
    assert "没有记录到事件" in [t.get_text() for t in empty.axes[0].texts] and not glyphs_missing(empty)


def test_a_timeline_drawn_into_the_lessons_own_axes_misses_no_glyph(runs, chinese):
    """Lesson 08 makes the axes itself (before the drawing), then draws two timelines into them."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), layout="constrained")
    draw.timeline(runs["seed"], ax=top)
    draw.timeline(runs["fixed"], ax=bottom)
    top.set_title("教程的服务端，两个客户端")  # what a lesson's own words may say
    assert_chinese([bottom.get_title(), bottom.get_ylabel(), *legend_texts(bottom)], names=MARKS)
    assert not glyphs_missing(fig)


# -- the wake-ups ----------------------------------------------------------------------
def test_the_wake_ups_are_drawn_in_chinese_with_every_glyph(runs, chinese):
    seed, fig = runs["seed"], draw.wakeups(runs, cpu={"seed": 0.97})
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("seed\n") and "，CPU 占单核的 97%" in titles[0]
    assert titles[1].startswith("fixed\n") and "次 select() 调用" in titles[1]
    assert_chinese([fig.axes[0].get_ylabel(), *[ax.get_xlabel() for ax in fig.axes]])
    assert_chinese(t.split("\n", 1)[1] for t in titles)
    assert not glyphs_missing(fig)
    tail = seed[next(i for i, e in enumerate(seed) if e.kind == "select" and e.call > 3):]  # a full ring's
    ax = draw.wakeups({"seed": tail}).axes[0]
    calls, last = sum(e.kind == "select" for e in tail), max(e.call for e in seed if e.kind == "select")
    assert f"{last:,} 次中只保留了最后 {calls:,} 次（记录器已满）" in ax.get_title()
    assert_chinese([ax.get_title().split("\n", 1)[1], ax.get_xlabel()])
    assert not glyphs_missing(ax.figure)


# -- the mask table, and the charts of lessons 11 and 12 ----------------------------
def test_the_mask_table_is_drawn_in_chinese_with_every_glyph(chinese):
    fig = draw.mask_bits()
    ax, texts = fig.axes[0], [t.get_text() for t in fig.axes[0].texts]
    assert texts[:4] == ["掩码", "第 1 位\n（WRITE）", "第 0 位\n（READ）", "mask_name()"]
    assert {"EVENT_READ = 1", "EVENT_WRITE = 2", "READ | WRITE = 3", "READ", "WRITE", "READ|WRITE"} <= set(texts)
    assert_chinese([ax.get_title(), *texts[:3]])
    assert not [t for t in texts_of(fig) if english_words(t)]
    assert not glyphs_missing(fig)


def test_the_charts_are_drawn_in_chinese_with_every_glyph(chinese):
    fig = charts.outb({"seed": [(0.0, 0), (0.5, 2**20)], "fixed": [(0.0, 0), (0.5, 2**18)]}, limit=2**18)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "outb 中的字节（MiB）"
    assert_chinese([ax.get_title(), ax.get_xlabel(), ax.get_ylabel()])
    assert set(legend_texts(ax)) == {"seed", "fixed", "MAX_OUTB"}
    assert not glyphs_missing(fig)
    assert charts.outb({"seed": [(0.0, 0)]}, title="一个客户端").axes[0].get_title() == "一个客户端"
    conns = [10, 100, 1000]
    results = {(kind, n): {"msgs_per_s": 8e4, "p50_us": 500.0, "p99_us": 2e3, "cpu_us_per_msg": 6.0}
               for kind in ("fixed", "threads") for n in conns}
    fig = charts.sweep(results, ["fixed", "threads"], conns)
    assert_chinese([t for ax in fig.axes for t in (ax.get_title(), ax.get_xlabel())])
    assert set(legend_texts(fig.axes[0])) == {"fixed", "threads"}
    assert not glyphs_missing(fig)


# -- the widgets -----------------------------------------------------------------------
def test_the_stepper_shows_chinese(runs, chinese):
    events = runs["seed"]
    busy = {e.call for e in events if e.kind in ("accept", "recv", "send", "close")}
    step = widgets.stepper([e for e in events if e.call in busy or e.call == 0])  # as lesson 08 does
    assert step.slider.description == "帧"
    assert re.search(r"\d+ 次 select\(\) 调用，每次一帧。", step.note.value)
    for frame in step.frames:
        text = shown(frame.value)
        assert CHINESE.search(text) and not english_words(text), text
    first = step.frames[0].value
    assert "次 select() 调用</b>：" in first and "（第 1 帧，共" in first
    assert all(f"<b>{head}</b>" in first for head in ("socket", "注册的事件", "就绪的事件", "随后处理函数"))
    pages = "".join(f.value for f in step.frames)
    assert re.search(r"收到 \d+ 字节", pages) and "收到 0 字节（对端已关闭）" in pages and "已注销，已关闭" in pages
    assert "接受了 client 127.0.0.1:" in pages
    thinned, empty = widgets.stepper(events, max_frames=2), widgets.stepper([])
    assert "<b>已精简：</b>" in thinned.note.value and not english_words(shown(thinned.note.value))
    assert empty.note.value.endswith("没有记录到任何 select() 调用。")
    assert empty.frames[0].value == "<i>没有记录到 select() 调用</i>"
    assert CHINESE.search(repr(step)) and not english_words(repr(step))


def test_every_event_is_described_in_chinese(chinese):
    said = [widgets.describe(Event(0, 1, kind, 5, "client x", events=READ | WRITE, ready=WRITE, nbytes=n))
            for kind, n in [("accept", 0), ("recv", 7), ("recv", 0), ("send", 7), ("register", 0),
                            ("modify", 0), ("unregister", 0), ("close", 0), ("ready", 0), ("select", 0)]]
    assert said == ["接受了 client x", "收到 7 字节", "收到 0 字节（对端已关闭）", "发送了 7 字节",
                    "注册了 READ|WRITE", "改为 READ|WRITE", "已注销", "已关闭", "对 WRITE 就绪",
                    "select() 返回了 2 个就绪的 socket"]


def test_the_live_view_shows_chinese(chinese):
    server = BackgroundServer("fixed").start()
    view = widgets.LiveView(server, interval=0.05)
    try:
        with socket.create_connection(server.address, timeout=2) as client:
            client.sendall(b"hello")
            assert wait_until(lambda: "收到 5 字节" in view.value), view.value
            text = shown(view.value)
            assert "fixed 服务端" in text and "运行中" in text and "最近的事件" in text and "已注册的 socket" in text
            assert re.search(r"第 \d+ 次调用：client 127\.0\.0\.1:\d+：收到 5 字节", text), text
            assert not english_words(text), english_words(text)
        server.stop()
        view.thread.join(1.0)
        text = shown(view.value)
        assert "已停止" in text and not english_words(text), text
    finally:
        view.close()
        server.stop(raise_error=False)
    waiting = widgets.LiveView(BackgroundServer("fixed"))  # not started: shown once
    assert repr(waiting).startswith("<LiveView：") and not english_words(repr(waiting))
    assert CHINESE.search(shown(waiting.value)) and not english_words(shown(waiting.value)), waiting.value
    waiting.close()


# -- English, and the fonts --------------------------------------------------------------
def test_the_same_calls_after_use_en_say_it_in_english_again(runs):
    i18n.use("zh_CN")
    assert CHINESE.search(draw.timeline(runs["fixed"]).axes[0].get_title())
    i18n.use("en")
    ax = draw.timeline(runs["fixed"]).axes[0]
    assert ax.get_title() == f"What select() returned, socket by socket ({len(ax.get_yticklabels())} sockets)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("select() call number", "socket")
    assert {"tall cell: ready for", "thin bar: registered for", "register / modify / unregister",
            "numbers: bytes (marks close\ntogether share one total)"} <= set(legend_texts(ax))
    assert not any(CHINESE.search(t) for t in texts_of(ax.figure))
    assert draw.mask_bits().axes[0].get_title() == "selectors event masks: one bit each, OR-ed"
    assert charts.outb({"seed": [(0.0, 0)]}).axes[0].get_title() == \
        "What the server holds for a client that never reads"
    step = widgets.stepper(runs["fixed"])
    assert step.slider.description == "frame" and not CHINESE.search("".join(f.value for f in step.frames))
    assert widgets.describe(runs["fixed"][-1]) in ("closed", "unregistered")


def test_the_fallback_fonts_are_installed_ones_and_change_no_pixel_of_english(runs, monkeypatch, caplog):
    families = style.font_families()
    assert families[:len(plt.rcParams["font.family"])] == list(plt.rcParams["font.family"])
    assert {"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC"} & set(families), families  # CI: fonts-noto-cjk

    def pixels(fig):
        assert not glyphs_missing(fig)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba()).copy()

    with caplog.at_level(logging.WARNING, logger="matplotlib.font_manager"):
        english = [pixels(draw.mask_bits()), pixels(draw.timeline(runs["fixed"])), pixels(draw.wakeups(runs))]
    assert not [r for r in caplog.records if "findfont" in r.getMessage()]  # no font asked for is missing
    for module in (draw, timeline, wakeups):
        monkeypatch.setattr(module, "use_fonts", lambda fig: fig)  # the texts as they were before
    without = [pixels(draw.mask_bits()), pixels(draw.timeline(runs["fixed"])), pixels(draw.wakeups(runs))]
    assert all(np.array_equal(a, b) for a, b in zip(english, without, strict=True))


def test_a_picture_made_in_chinese_keeps_its_words_when_english_comes_back(runs):
    """The words are chosen when drawing: switching language later changes the next picture only."""
    i18n.use("zh_CN")
    fig = draw.mask_bits()
    i18n.use("en")
    assert CHINESE.search(fig.axes[0].get_title())
    assert not glyphs_missing(fig)
    assert not CHINESE.search(draw.mask_bits().axes[0].get_title())


# -- what the Chinese edition saved -----------------------------------------------------------
def test_the_chinese_lessons_saved_widgets_speak_chinese():
    """The widget state a Chinese lesson keeps (what JupyterLab shows before anything runs) is the Chinese run's."""
    saved = []
    for path in sorted((ROOT / "zh-CN" / "notebooks").glob("*.ipynb")):
        state = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("widgets", {}).get(
            "application/vnd.jupyter.widget-state+json", {}).get("state", {})
        for model in state.values():
            for key in ("value", "description", "tooltip"):
                text = model.get("state", {}).get(key)
                if isinstance(text, str) and re.search("[A-Za-z]{3}", text) and not text.startswith("<style>"):
                    saved.append((path.name, text))
    assert {name for name, _ in saved} >= {"08-together.ipynb", "09-busy-loop.ipynb"}, saved  # stepper, live view
    english = [(name, text[:80]) for name, text in saved if not CHINESE.search(text)]
    assert not english, english
