"""Lessons 04, 08 and 09 in a real JupyterLab, in both editions: they run, their pictures and widgets work
in the edition's language, and what they show meets WCAG 2 AA, checked by axe-core.

Each lesson is opened in JupyterLab (chromium, driven by playwright), in
English and in the Chinese edition in JupyterLab's Chinese interface, and
every cell is run, once for all the checks below.  Its pictures are drawn
(the timeline, the wake-ups), its live view and stepper speak the edition's
language, the stepper's Play button plays.  axe-core checks the notebook's
output areas (``.jp-OutputArea-output``: what the course's code puts on the
page, not JupyterLab's own menus and toolbars) against the rules tagged
``wcag2a`` and ``wcag2aa``: text contrast, controls without a name a screen
reader can read out (the stepper's Play, Stop and frame slider), images
without a text alternative...  Then every frame of every stepper is shown in
turn, stepped with the slider's arrow key as a keyboard user would, and axe
checks the frame shown.  No violation of impact "serious" or "critical" may
remain; each is printed with its rule, its help and the first element it was
found on.  (tests/test_browser.py runs the other lessons with pictures or
widgets, in English.)

One rule is left to this test rather than to axe: ``image-alt``. JupyterLab 4
writes no ``alt`` on an output's image (its image renderer takes none from the
output or the cell), so every figure's text alternative is the caption cell
right after it ("Figure N: what it shows"; nbconvert's HTML also writes the
cell's ``alt``, which tests/test_course.py checks); the test requires that
caption, in the edition's language, after every image in the output areas.

A screenshot of each lesson goes to ``screenshots/`` and axe's full answers to
``screenshots/axe/`` (override with ECHO_LAB_SCREENSHOTS) as JSON, for a person
to read.  axe-core comes from npm, installed on first use into
``.cache/npm-axe/``; without npm (or chromium) the tests are skipped, loudly,
and fail under CI.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from helpers import cannot, exclusive
from lab import CHROMIUM, PICTURE_LESSONS, SHOTS, open_notebook, run_all, screenshot

ROOT = pathlib.Path(__file__).resolve().parents[1]
AXE_RESULTS = SHOTS / "axe"
AXE_PREFIX = ROOT / ".cache" / "npm-axe"
AXE_SCRIPT = AXE_PREFIX / "node_modules" / "axe-core" / "axe.min.js"
NPM_TIMEOUT = 180  # s: axe-core is one package, no dependencies
FOLDERS = {"en": "notebooks", "zh-CN": "zh-CN/notebooks"}
BLOCKING = ("serious", "critical")

if not (shutil.which("chromium") or os.path.exists(CHROMIUM)):
    cannot("the accessibility tests", "Debian's chromium is not installed: sudo apt-get install chromium", module=True)


# axe on each of the current notebook's output areas (or on `root` only), WCAG 2 A and AA rules only; the answers
# merged.  Each is scrolled into view first: axe checks the contrast only of text on screen.  And JupyterLab's <body>
# is 0 px tall, with overflow hidden (its shell is positioned absolutely), which to axe clips all text off the
# screen: given the window's height (which changes nothing shown), it lets axe check the contrast at all.
RUN_AXE = """async (root) => {
  document.body.style.height = '100vh';
  const areas = root ? [root] : Array.from(window.__panel.node.querySelectorAll('.jp-OutputArea-output'));
  const severity = ['minor', 'moderate', 'serious', 'critical'];
  const merged = {violations: {}, incomplete: {}}, passes = new Set();
  let engine = null;
  for (const area of areas) {
    area.scrollIntoView({block: root ? 'center' : 'start'});
    await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
    const results = await axe.run(area, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']},
                                         rules: {'image-alt': {enabled: false}},  // the caption after it: below
                                         resultTypes: ['violations', 'incomplete']});
    engine = results.testEngine.version;
    results.passes.forEach(r => passes.add(r.id));
    for (const kind of ['violations', 'incomplete']) {
      for (const r of results[kind]) {
        const m = merged[kind][r.id] ||= {id: r.id, impact: r.impact, help: r.help, helpUrl: r.helpUrl, tags: r.tags,
                                          nodes: []};
        if (severity.indexOf(r.impact) > severity.indexOf(m.impact)) m.impact = r.impact;
        m.nodes.push(...r.nodes.map(n => ({html: n.html, target: n.target, impact: n.impact,
                                           summary: n.failureSummary})));
      }
    }
  }
  return {violations: Object.values(merged.violations), incomplete: Object.values(merged.incomplete),
          passes: Array.from(passes), testEngine: engine, areas: areas.length};
}"""

# For each code cell whose output has an image: the start of the next cell's text (its caption).
FIGURE_CAPTIONS = """() => window.__panel.content.widgets
  .map((cell, i, cells) => [cell.node.querySelectorAll('.jp-OutputArea-output img').length,
                            (cells[i + 1]?.node.querySelector('.jp-RenderedMarkdown')?.innerText || '').trim()])
  .filter(([images]) => images > 0).map(([images, caption]) => caption.slice(0, 60))"""
CAPTION_START = {"en": "Figure ", "zh-CN": "图 "}

# The steppers on the page: each is a VBox whose first row holds a Play and the frame slider, whose last child is
# the Stack of frames (which draws only the frame shown).  Returns how many frames each has, from its slider.
STEPPERS = """() => Array.from(window.__panel.node.querySelectorAll('.widget-vbox'))
  .filter(b => b.querySelector(':scope > .widget-hbox > .widget-play'))
  .map(b => Math.round(Number(b.querySelector('.widget-slider .noUi-handle').getAttribute('aria-valuemax'))) + 1)"""


# What a screen reader calls each stepper's controls shown: the buttons and the slider's handle.
CONTROL_NAMES = """() => Array.from(window.__panel.node.querySelectorAll('.widget-vbox'))
  .filter(b => b.querySelector(':scope > .widget-hbox > .widget-play'))
  .map(b => Array.from(b.querySelectorAll('.widget-play button, .widget-slider .noUi-handle'))
    .filter(e => e.offsetParent !== null).map(e => e.getAttribute('aria-label') || e.title || e.textContent.trim()))"""


def _stepper(n):
    return (f"Array.from(window.__panel.node.querySelectorAll('.widget-vbox'))"
            f".filter(b => b.querySelector(':scope > .widget-hbox > .widget-play'))[{n}]")


def _install_axe():
    """The path of axe.min.js, installed with npm into .cache/npm-axe/ on first use."""
    if AXE_SCRIPT.exists():
        return AXE_SCRIPT
    npm = shutil.which("npm")
    if npm is None:
        cannot("the accessibility tests", "npm is not installed (sudo apt-get install npm), so axe-core cannot be had")
    AXE_PREFIX.mkdir(parents=True, exist_ok=True)
    with exclusive(AXE_PREFIX.parent / "npm-axe.lock"):  # pytest-xdist workers: one install
        if not AXE_SCRIPT.exists():
            try:
                done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(AXE_PREFIX),
                                       "axe-core@4"], capture_output=True, text=True, timeout=NPM_TIMEOUT)
            except subprocess.TimeoutExpired:
                cannot("the accessibility tests", f"`npm install axe-core@4` took more than {NPM_TIMEOUT} s")
            if done.returncode != 0 or not AXE_SCRIPT.exists():
                cannot("the accessibility tests", f"`npm install axe-core@4` failed:\n{done.stderr[-2000:]}")
    return AXE_SCRIPT


@pytest.fixture(scope="module")
def axe_script():
    return _install_axe()


def _axe(page, root=None):
    """axe's answer for the output areas, or for the element the JavaScript expression ``root`` gives."""
    if root is None:
        return page.evaluate(RUN_AXE)
    return page.evaluate(f"() => ({RUN_AXE})({root})")


def _blocking(results):
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


def _report(where, violations):
    lines = []
    for v in violations:
        first = v["nodes"][0] if v["nodes"] else {"html": "", "target": []}
        lines.append(f"{where}: {v['id']} ({v['impact']}, {len(v['nodes'])} elements): {v['help']}\n"
                     f"    first: {first['html'][:300]}\n    at: {first['target']}")
    return "\n".join(lines)


def _slider(page, n):
    """Stepper ``n``'s slider handle (what a keyboard user focuses), and the JavaScript for its Stack of frames."""
    handle = page.evaluate_handle(f"() => {_stepper(n)}.querySelector('.widget-slider .noUi-handle')").as_element()
    return handle, f"{_stepper(n)}.lastElementChild"


def _step_frames(page, n, frames, runs):
    """Show every frame of stepper ``n`` with the slider's arrow key; axe each frame shown; return their text."""
    handle, stack = _slider(page, n)
    texts = [page.evaluate(f"() => {stack}.textContent")]  # the first is shown already
    for frame in range(frames):
        if frame:
            handle.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(f"() => {stack}.textContent !== {json.dumps(texts[-1])}", timeout=5000)
            texts.append(page.evaluate(f"() => {stack}.textContent"))
        runs[f"stepper {n + 1}, frame {frame + 1} of {frames}"] = _axe(page, stack)
    return texts


def _play_from_the_start(page, n, first):
    """Back to stepper ``n``'s first frame (the slider's Home key), then its Play button: the frame moves on."""
    handle, stack = _slider(page, n)
    handle.focus()
    page.keyboard.press("Home")
    page.wait_for_function(f"() => {stack}.textContent === {json.dumps(first)}", timeout=5000)
    page.evaluate_handle(f"() => {_stepper(n)}.querySelector('.widget-play button')").as_element().click()
    page.wait_for_function(f"() => {stack}.textContent !== {json.dumps(first)}", timeout=5000)


CHINESE = re.compile(r"[\u4e00-\u9fff]")
LIVE_VIEW_HEADING = {"en": "latest events", "zh-CN": "最近的事件"}  # the live view's list of select() results


def _speaks(edition, text):
    """Whether ``text`` is in the edition's language: Chinese in the Chinese edition, none in the English."""
    return bool(CHINESE.search(text)) == (edition == "zh-CN")


@pytest.mark.parametrize("edition", ["en", "zh-CN"])
@pytest.mark.parametrize("name", PICTURE_LESSONS)
def test_lesson_runs_in_lab_its_pictures_speak_its_language_and_it_meets_wcag_aa(edition, name, request,
                                                                               axe_script, page):
    lab = request.getfixturevalue("lab" if edition == "en" else "zh_lab")
    path = f"{FOLDERS[edition]}/{name}"
    source = (ROOT / path).read_text(encoding="utf-8")
    open_notebook(page, lab, path)
    errors = run_all(page)
    assert errors == [], f"{path}: cells raised in JupyterLab: {errors}"
    if "timeline(" in source or "wakeups(" in source:
        assert page.locator(".jp-RenderedImage img").count() >= 1, f"{path}: no picture is drawn"
    if "LiveView(" in source:  # the live view of the server the lesson measures, in the edition's language
        shown = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
        other = LIVE_VIEW_HEADING["en" if edition == "zh-CN" else "zh-CN"]
        assert LIVE_VIEW_HEADING[edition] in shown and other not in shown, shown[-500:]
    page.add_script_tag(path=str(axe_script))
    runs = {"output areas": _axe(page)}
    assert runs["output areas"]["areas"] > 0, f"{path}: no output area to check"
    steppers = page.evaluate(STEPPERS)
    if "stepper(" in source:
        assert steppers, f"{path}: the lesson's stepper is not on the page"
    names = page.evaluate(CONTROL_NAMES)
    for n, frames in enumerate(steppers):
        texts = _step_frames(page, n, frames, runs)
        assert "select()" in texts[0], f"{path}: stepper {n + 1} did not render: {texts[0][:200]}"
        wrong = [text for text in texts if not _speaks(edition, text) or (edition == "zh-CN" and "ready for" in text)]
        assert not wrong, f"{path}: stepper {n + 1} has frames not in the edition's language: {wrong[0][:200]}"
        _play_from_the_start(page, n, texts[0])
    stem = f"{edition}-{name.removesuffix('.ipynb')}"
    pictures = page.locator(".jp-RenderedImage img")
    if pictures.count():
        pictures.last.evaluate("e => e.scrollIntoView({block: 'center'})")  # the screenshot shows one
    screenshot(page, SHOTS, name.removesuffix(".ipynb") if edition == "en" else stem)
    AXE_RESULTS.mkdir(parents=True, exist_ok=True)
    (AXE_RESULTS / f"{stem}.json").write_text(json.dumps({"notebook": path, "control names": names, "runs": runs},
                                                         indent=1, ensure_ascii=False))
    captions = page.evaluate(FIGURE_CAPTIONS)
    assert all(c.startswith(CAPTION_START[edition]) for c in captions), (
        f"{path}: a figure without a caption after it (its text alternative in JupyterLab): {captions}")
    for controls in names:  # Play, Stop and the slider, named in the edition's language
        assert len(controls) == 3 and all(controls), f"{path}: a stepper's controls are not all named: {controls}"
        if edition == "zh-CN":
            assert all(CHINESE.search(name) for name in controls), controls
    found = "\n".join(_report(where, _blocking(results)) for where, results in runs.items() if _blocking(results))
    if found:
        engine = runs["output areas"]["testEngine"]
        pytest.fail(f"{path}: serious or critical WCAG 2 A/AA violations found by axe-core {engine} "
                    f"(all of its answers: {AXE_RESULTS / (stem + '.json')}):\n{found}", pytrace=False)
