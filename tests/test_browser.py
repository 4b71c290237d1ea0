"""The course in a real JupyterLab, driven in Debian's chromium with playwright.

Screenshots go to ``screenshots/`` at the top of the course (override with
ECHO_LAB_SCREENSHOTS) so a person can look at them.

Without chromium these tests are skipped with a reason that says how to get
it (``apt-get install chromium``); in CI (``CI`` set) they fail instead, since
.ci/run installs it.

Most run JupyterLab from the test run's environment (``.venv/``, which has
nbgrader: the dev extra). The learner's path is followed as README gives it:
``make lab`` (and ``make lab-zh``) typed in a fresh copy of the course, the
page it prints opened, an exercise reached by its link in the index, and its
check run unfinished, wrong and right.
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
    KERNEL_IDLE,
    NBGRADER_TRACES,
    TERMINAL_TEXT,
    MadeLab,
    cell_text,
    open_notebook,
    run_all,
    run_cells,
    screenshot,
    set_cell_source,
    wait_for_ui,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHOTS = pathlib.Path(os.environ.get("ECHO_LAB_SCREENSHOTS", ROOT / "screenshots"))

if not (shutil.which("chromium") or os.path.exists(CHROMIUM)):
    cannot("the browser tests", "Debian's chromium is not installed: sudo apt-get install chromium", module=True)


STACK_TEXT = """() => Array.from(document.querySelectorAll('.widget-vbox'))
  .filter(b => b.querySelector(':scope > .widget-hbox > .widget-play'))
  .map(b => b.lastElementChild.textContent)"""


CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _uses(path, *names):
    source = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    return any(name in source for name in names)


WIDGET_LESSONS = [p.name for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
                  if p.name.startswith("00-") or _uses(p, "stepper(", "LiveView(")]


@pytest.fixture(scope="module")
def learner_lab(learner_clone, tmp_path_factory):
    lab = MadeLab(learner_clone, "lab", tmp_path_factory.mktemp("make-lab"))
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def learner_lab_zh(learner_clone, tmp_path_factory):
    lab = MadeLab(learner_clone, "lab-zh", tmp_path_factory.mktemp("make-lab-zh"))
    yield lab
    lab.close()


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


@pytest.mark.timeout(600)  # the first run builds .venv-lab/
def test_learners_lab_from_make_lab_shows_the_course_and_no_nbgrader(learner_lab, page):
    open_notebook(page, learner_lab, "notebooks/00-index.ipynb")
    wait_for_ui(page)
    menus = page.evaluate("() => Array.from(document.querySelectorAll('.lm-MenuBar-itemLabel'))"
                          ".map(e => e.textContent)")
    assert "Kernel" in menus, menus
    assert page.evaluate(NBGRADER_TRACES) == [], "the learner's JupyterLab shows nbgrader"
    screenshot(page, SHOTS, "learner-lab")

    # A terminal, as lesson 00 says (File > New > Terminal), and the lesson's command in it.
    page.evaluate("() => window.jupyterapp.commands.execute('terminal:create-new')")
    page.wait_for_function(f"() => ({TERMINAL_TEXT})()?.includes('$') || ({TERMINAL_TEXT})()?.includes('#')",
                           timeout=15_000)
    page.locator(".jp-Terminal .xterm").first.click()
    page.keyboard.type("python -c 'import sys; print(sys.prefix)'")
    page.keyboard.press("Enter")
    prefix_printed = f"() => ({TERMINAL_TEXT})()?.split('\\n').length > 2"  # the command, its output, a prompt
    page.wait_for_function(prefix_printed, timeout=15_000)
    page.keyboard.type("python -m echo_lab client 127.0.0.1 1 1")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => ({TERMINAL_TEXT})()?.includes('Connection refused')", timeout=15_000)
    text = page.evaluate(TERMINAL_TEXT)
    screenshot(page, SHOTS, "learner-terminal")
    assert str(learner_lab.venv) in text.splitlines()[1], f"the terminal's python is not the course's:\n{text}"
    assert "starting connection 1 to ('127.0.0.1', 1)" in text, text


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


# The Chinese edition's pictures and widgets in JupyterLab's Chinese interface: the timeline (04), the
# stepper (08), and the live view and wake-ups (09), each run in the browser and shown in Chinese.
ZH_PICTURES = {"04-event-loop.ipynb": "timeline", "08-together.ipynb": "stepper", "09-busy-loop.ipynb": "wake-ups"}


@pytest.mark.parametrize("name", ZH_PICTURES)
def test_the_chinese_lessons_pictures_and_stepper_speak_chinese_in_lab(zh_lab, page, name):
    open_notebook(page, zh_lab, f"zh-CN/notebooks/{name}")
    errors = run_all(page)
    assert errors == [], f"{name}: cells raised in JupyterLab: {errors}"
    if ZH_PICTURES[name] in ("timeline", "wake-ups"):
        pictures = page.locator(".jp-RenderedImage img")
        assert pictures.count() >= 1, f"{name}: no picture is drawn"
        pictures.last.evaluate("e => e.scrollIntoView({block: 'center'})")  # the screenshot shows it
        if ZH_PICTURES[name] == "wake-ups":  # and, above the picture, the live view of the server it measured
            shown = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
            assert "最近的事件" in shown and "latest events" not in shown, shown[-500:]
    else:
        frames = page.evaluate(STACK_TEXT)
        assert frames and "select()" in frames[0], "the stepper did not render"
        assert CHINESE.search(frames[0]) and "ready for" not in frames[0], frames[0]
        later = _step(page, frames[0])
        assert CHINESE.search(later), later
    screenshot(page, SHOTS, f"zh-CN-{name.removesuffix('.ipynb')}")


# The learner's path, as README gives it: `make lab`, the page it prints, an exercise by its link, its check.
MISTAKE = "bind(host, port)"  # the commonest slip: two arguments where bind takes one (host, port) tuple
OUTCOMES = {"lab": ("not attempted yet", "not right yet", "passed"), "lab-zh": ("尚未作答", "还不对", "通过")}
INDEX = {"lab": "notebooks/00-index.ipynb", "lab-zh": "zh-CN/notebooks/00-index.ipynb"}


def _solution(clone):
    """Exercise 01's solution, as a learner would type it: the solution notebook's cell without nbgrader's markers."""
    cells = json.loads((clone / "solutions" / "01-listening-socket.ipynb").read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "### BEGIN SOLUTION" in "".join(c["source"]))
    return "\n".join(line for line in source.splitlines() if "### " not in line)


@pytest.mark.timeout(900)  # the first `make lab` of a fresh clone builds .venv-lab/
@pytest.mark.parametrize("target", ["lab", "lab-zh"])
def test_readme_path_make_lab_opens_the_index_and_its_link_leads_to_an_exercise_whose_check_answers(
        target, request, learner_clone, page):
    lab = request.getfixturevalue("learner_lab" if target == "lab" else "learner_lab_zh")
    assert lab.start_path == f"/lab/tree/{INDEX[target]}", f"`make {target}` printed {lab.printed_url}"
    page.goto(lab.printed_url)  # the address `make lab` printed, as a learner opens it
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    assert page.evaluate("() => window.__panel.context.path") == INDEX[target]
    shots = SHOTS / f"make-{target}"
    screenshot(page, shots, "1-index-as-opened")

    link = page.locator('.jp-RenderedMarkdown a[href*="/files/exercises/01-listening-socket.ipynb"], '
                        '.jp-RenderedMarkdown a[href*="/files/zh-CN/exercises/01-listening-socket.ipynb"]').first
    link.scroll_into_view_if_needed()
    link.click()
    exercise = INDEX[target].replace("notebooks/00-index", "exercises/01-listening-socket")
    page.wait_for_function(f"() => window.jupyterapp.shell.currentWidget?.context?.path === {json.dumps(exercise)}",
                           timeout=30_000)
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    screenshot(page, shots, "2-exercise-from-its-link")

    sources = page.evaluate("() => window.__panel.content.widgets.map(c => c.model.type === 'code' ? "
                            "c.model.sharedModel.getSource() : null)")
    code = [i for i, source in enumerate(sources) if source is not None]
    answer = next(i for i in code if "# YOUR CODE HERE" in sources[i])
    check = code[-1]
    assert "check_listening_socket" in sources[check], sources[check]
    solution = _solution(learner_clone)
    attempts = [("3-check-unfinished", None, OUTCOMES[target][0]),
                ("4-check-with-a-mistake", solution.replace("bind((host, port))", MISTAKE), OUTCOMES[target][1]),
                ("5-check-solved", solution, OUTCOMES[target][2])]
    for name, source, outcome in attempts:
        if source is not None:
            set_cell_source(page, answer, source)
        run_cells(page, [i for i in code if i >= (answer if source is not None else code[0])])
        shown = cell_text(page, check)
        page.evaluate(f"() => window.__panel.content.widgets[{check}].node.scrollIntoView({{block: 'center'}})")
        screenshot(page, shots, name)
        assert outcome in shown, f"`make {target}`, exercise 01, {name}: the check showed\n{shown}"
        others = [o for o in OUTCOMES[target] if o != outcome and o not in outcome]
        assert not [o for o in others if o in shown], f"{name}: the check showed\n{shown}"


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
