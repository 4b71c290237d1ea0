"""The course in a real JupyterLab, driven in Debian's chromium with playwright.

Screenshots go to ``screenshots/`` at the top of the course (override with
ECHO_LAB_SCREENSHOTS) so a person can look at them.

Without chromium these tests are skipped with a reason that says how to get
it (``apt-get install chromium``); in CI (``CI`` set) they fail instead, since
.ci/run installs it.

They run JupyterLab from the test run's environment (``.venv/``, which has
nbgrader: the dev extra). The learner's path as README gives it (``make lab``
in a fresh copy of the course) is tests/test_learner_lab.py.  Lessons 04, 08
and 09, whose pictures and stepper are the course's, run in
tests/test_accessibility.py, in both editions, checked there for all this
file checks of a lesson and for WCAG AA.
"""

import json
import os
import pathlib
import re
import shutil

import pytest

from helpers import cannot
from lab import (
    CHROMIUM,
    NBGRADER_TRACES,
    PICTURE_LESSONS,
    SHOTS,
    open_notebook,
    run_all,
    run_cells,
    screenshot,
    wait_for_ui,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]

if not (shutil.which("chromium") or os.path.exists(CHROMIUM)):
    cannot("the browser tests", "Debian's chromium is not installed: sudo apt-get install chromium", module=True)


STACK_TEXT = """() => Array.from(document.querySelectorAll('.widget-vbox'))
  .filter(b => b.querySelector(':scope > .widget-hbox > .widget-play'))
  .map(b => b.lastElementChild.textContent)"""


def _uses(path, *names):
    source = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    return any(name in source for name in names)


# The index and the lessons with a stepper or a live view, but those tests/test_accessibility.py runs in both editions.
WIDGET_LESSONS = [p.name for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
                  if (p.name.startswith("00-") or _uses(p, "stepper(", "LiveView(")) and p.name not in PICTURE_LESSONS]


def _step(page, before):
    """Press the first stepper's Play button; return the frame text once it has changed."""
    play = page.locator(".widget-play button").first
    play.evaluate("e => e.scrollIntoView({block: 'center'})")
    play.click(force=True)  # the notebook may still be settling; the button is there
    page.wait_for_function(f"() => ({STACK_TEXT})()[0] !== {json.dumps(before)}", timeout=5000)
    return page.evaluate(STACK_TEXT)[0]


@pytest.mark.parametrize("name", WIDGET_LESSONS)
def test_lesson_runs_in_lab_and_its_pictures_and_widgets_work(lab, page, name):
    open_notebook(page, lab, f"notebooks/{name}")
    errors = run_all(page)
    assert errors == [], f"{name}: cells raised in JupyterLab: {errors}"
    if "timeline(" in (ROOT / "notebooks" / name).read_text():
        assert page.locator(".jp-RenderedImage img").count() >= 1, "the event-mask timeline is not drawn"
    if _uses(ROOT / "notebooks" / name, "stepper("):
        frames = page.evaluate(STACK_TEXT)
        assert frames and "select() call" in frames[0], "the stepper did not render"
        assert _step(page, frames[0]) != frames[0]
    screenshot(page, SHOTS, name.removesuffix(".ipynb"))


LIVE_CELLS = [
    "from echo_lab import BackgroundServer\nfrom echo_lab.watch.widgets import LiveView\nimport socket\n"
    "server = BackgroundServer('fixed').start()\nview = LiveView(server, interval=0.1)\nview",
    "client = socket.create_connection(server.address, timeout=2)\n"
    "client_name = 'client %s:%d' % client.getsockname()",
    "server.stop()\nclient.close()",
]


def test_live_view_updates_while_the_server_runs_and_stops_with_it(lab, page):
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": source} for source in LIVE_CELLS],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (lab.root / "notebooks" / "live-view-check.ipynb").write_text(json.dumps(nb))
    open_notebook(page, lab, "notebooks/live-view-check.ipynb")
    panel = page.locator("#" + page.evaluate("() => window.__panel.id"))
    view = panel.locator(".widget-html-content").filter(has_text="server on")
    run_cells(page, [0])
    view.wait_for(timeout=10_000)
    assert "running" in view.inner_text()
    assert "client 127.0.0.1" not in view.inner_text()
    run_cells(page, [1])
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.widget-html-content'))
        .some(e => e.innerText.includes('client 127.0.0.1'))""", timeout=5000)
    screenshot(page, SHOTS, "live-view-running")
    run_cells(page, [2])
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.widget-html-content'))
        .some(e => e.innerText.includes('stopped'))""", timeout=5000)
    stopped = view.inner_text()
    page.wait_for_timeout(600)  # several refresh intervals: nothing changes any more
    assert view.inner_text() == stopped
    screenshot(page, SHOTS, "live-view-stopped")


def test_saved_trusted_stepper_works_without_running_anything(lab, page):
    with_stepper = [n for n in sorted((lab.root / "notebooks").glob("*.ipynb")) if _uses(n, "stepper(")]
    assert with_stepper, "no lesson shows the stepper"
    name = with_stepper[0].name
    open_notebook(page, lab, f"notebooks/{name}")
    page.locator(".widget-slider").first.wait_for(timeout=15_000)
    counts = page.evaluate("""() => window.__panel.content.widgets
        .filter(c => c.model.type === 'code').map(c => c.model.executionCount)""")
    frames = page.evaluate(STACK_TEXT)
    assert frames and "select() call" in frames[0], "the saved stepper did not render"
    assert _step(page, frames[0]) != frames[0], "the saved stepper does not advance"
    after = page.evaluate("""() => window.__panel.content.widgets
        .filter(c => c.model.type === 'code').map(c => c.model.executionCount)""")
    assert after == counts, "a cell ran: this test must use only the saved state"
    screenshot(page, SHOTS, f"saved-{name.removesuffix('.ipynb')}")


def test_the_nbgrader_probe_finds_nbgraders_menu_panel_and_button_where_nbgrader_is(lab, page):
    open_notebook(page, lab, "notebooks/00-index.ipynb")
    wait_for_ui(page)
    traces = "\n".join(page.evaluate(NBGRADER_TRACES))
    assert "menu: Nbgrader" in traces and "Create Assignment" in traces and "toolbar button: Validate" in traces, (
        f"the probe no longer sees nbgrader in the developer's JupyterLab (.venv has nbgrader):\n{traces}")


def test_the_chinese_index_runs_in_jupyterlabs_chinese_interface(zh_lab, page):
    open_notebook(page, zh_lab, "zh-CN/notebooks/00-index.ipynb")
    errors = run_all(page)
    assert errors == [], f"cells raised in JupyterLab: {errors}"
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    assert "文件" in menus and "File" not in menus, f"JupyterLab's menus are not in Chinese: {menus}"
    heading = page.locator(".jp-RenderedMarkdown h1").first.inner_text()
    assert heading.startswith("00") and any("\u4e00" <= ch <= "\u9fff" for ch in heading), heading
    shown = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert "客户端收到的回显" in shown and "accepted connection from" in shown, shown[-500:]  # day one ran, in Chinese
    screenshot(page, SHOTS, "zh-CN-00-index")


# Menu paths a lesson tells a learner to follow: "*Kernel → Interrupt Kernel*", "(File → New → Terminal)",
# "（文件 → 新建 → 终端）".
MENU_PATH = re.compile(r"[*(（]([^*()（）`\n]+?(?: → [^*()（）`\n]+?)+)[*)）]")


def _menu_paths(folders):
    found = {}
    for folder in folders:
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                if cell["cell_type"] == "markdown":
                    for match in MENU_PATH.finditer("".join(cell["source"])):
                        found.setdefault(match[1].strip(), f"{folder}/{path.name}")
    return found


def _menu_has(page, path):
    """Open JupyterLab's menus along ``path`` (["Kernel", "Interrupt Kernel"]); return what is missing, or None."""
    bar = page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(f"^{re.escape(path[0])}$"))
    if bar.count() != 1:
        return f"no menu {path[0]!r} in {page.locator('.lm-MenuBar-itemLabel').all_inner_texts()}"
    bar.click()
    try:
        for depth, label in enumerate(path[1:], start=1):
            menu = page.locator(".lm-Menu").nth(depth - 1)
            items = menu.locator(".lm-Menu-itemLabel").all_inner_texts()
            if label not in items:
                return f"no {label!r} under {' → '.join(path[:depth])}: {items}"
            if depth < len(path) - 1:  # a submenu: open it
                menu.locator(".lm-Menu-item").filter(has_text=re.compile(f"^{re.escape(label)}")).first.hover()
                page.locator(".lm-Menu").nth(depth).wait_for(timeout=5000)
        return None
    finally:
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")


@pytest.mark.parametrize("edition", ["en", "zh-CN"])
def test_every_menu_a_lesson_names_is_in_jupyterlabs_menus_in_its_language(edition, request, page):
    lab = request.getfixturevalue("lab" if edition == "en" else "zh_lab")
    folders = ("notebooks", "exercises") if edition == "en" else ("zh-CN/notebooks", "zh-CN/exercises")
    paths = _menu_paths(folders)
    assert paths, "no menu paths found: the pattern no longer matches how lessons write them"
    open_notebook(page, lab, "notebooks/00-index.ipynb" if edition == "en" else "zh-CN/notebooks/00-index.ipynb")
    wait_for_ui(page, help_label="Help" if edition == "en" else "帮助")
    missing = {text: (where, why) for text, where in paths.items()
               if (why := _menu_has(page, [part.strip() for part in text.split("→")])) is not None}
    assert not missing, "\n".join(f"{where}: *{text}*: {why}" for text, (where, why) in missing.items())
