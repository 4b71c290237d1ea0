"""The learner's path as README gives it: `make lab` in a fresh copy of the course, and what it opens.

``make lab`` runs ``python3 tools/workspace.py lab``, the command README gives
where there is no make (Windows): it builds the learner's environment,
``.venv-lab/`` (the course with no extra), the first time, makes ``work/``
(the learner's copy of the course) and starts JupyterLab on it with that
environment's scripts first on PATH, so that the lessons' terminal commands
(``python -m echo_lab server ...``, lessons 00 and 08) run in it.

One fresh copy of the course serves these tests: its first ``make lab`` builds
the environment from nothing but the machine's own Python (which has no
JupyterLab); then the script itself, in Chinese (``python3 tools/workspace.py
lab --zh``, what ``make lab-zh`` runs: tests/test_packaging.py), starts at once
in it, as a learner's next day does.  In chromium (as the browser tests), the page
``make lab`` printed is opened, an exercise reached by its link in the index,
and its check run unfinished, wrong and right; a terminal is opened as
JupyterLab's own terminal does (REST API and websocket) and typed into.
"""

import json
import re
import subprocess
import sys
import time
import urllib.error

import pytest
import websocket

from lab import (
    KERNEL_IDLE,
    NBGRADER_TRACES,
    SHOTS,
    TERMINAL_TEXT,
    MadeLab,
    cell_text,
    fresh_clone,
    open_notebook,
    run_cells,
    screenshot,
    set_cell_source,
    wait_for_ui,
)

pytestmark = pytest.mark.timeout(600)  # the first `make lab` builds .venv-lab/

LEARNER_HAS = ["echo_lab", "jupyterlab", "ipywidgets", "matplotlib", "ipykernel"]
if sys.platform != "win32":
    LEARNER_HAS.append("uvloop")  # `python -m echo_lab bench` measures the uvloop server where it installs
LEARNER_LACKS = ["nbgrader", "pytest", "playwright", "hypothesis", "nbval", "notebook"]


# The Python a learner starts with: this test run's own base interpreter, outside any venv.
BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return fresh_clone(tmp_path_factory.mktemp("learner") / "echo-lab")


@pytest.fixture(scope="module")
def learner_lab(clone, tmp_path_factory):
    """The clone's first `make lab`: it builds .venv-lab/, then starts JupyterLab."""
    lab = MadeLab(clone, "lab", tmp_path_factory.mktemp("make-lab"))
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def lab(clone, learner_lab, tmp_path_factory):
    """JupyterLab as the command without make starts it, in Chinese (what `make lab-zh` runs), after `make lab`
    built the environment."""
    lab = MadeLab(clone, [BASE_PYTHON, "tools/workspace.py", "lab", "--zh"], tmp_path_factory.mktemp("no-make"))
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def venv(lab):
    return lab.venv


def test_the_first_make_lab_builds_the_environment_says_so_and_serves_the_course_at_its_index(learner_lab):
    printed = learner_lab.output()
    assert "tools/workspace.py lab" in printed, printed[:500]  # make lab runs the command without make
    assert "Your copy of the course:" in printed and "Opening notebooks/00-index.ipynb in JupyterLab" in printed
    # Built from nothing, it said so, and what it installed.
    assert "Setting up .venv-lab/" in printed and "The first time this takes about a minute" in printed, printed
    assert "Successfully installed" in printed and (learner_lab.venv / "bin" / "jupyter").exists()
    assert re.search(r"http://127\.0\.0\.1:\d+/lab/tree/notebooks/00-index\.ipynb\?token=", printed), printed[-800:]


def test_the_workspace_script_serves_the_course_at_its_index_where_there_is_no_make(lab):
    printed = lab.output()
    assert lab.start_path == "/lab/tree/zh-CN/notebooks/00-index.ipynb", lab.printed_url
    assert "Your copy of the course:" in printed and "Setting up" not in printed, printed  # built already
    listed = {item["name"] for item in lab.api("GET", "/api/contents")["content"]}
    assert {"notebooks", "exercises", "zh-CN"} <= listed, listed
    exercise = lab.api("GET", "/api/contents/exercises/01-listening-socket.ipynb?content=0")
    assert exercise["type"] == "notebook", exercise


def test_learners_environment_has_the_course_and_no_teacher_or_test_tools(venv):
    probe = ("import importlib.util, json, sys; "
             "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))")
    found = json.loads(subprocess.run([venv / "bin" / "python", "-c", probe, *LEARNER_HAS, *LEARNER_LACKS],
                                      capture_output=True, text=True, check=True, timeout=60).stdout)
    assert [m for m in LEARNER_HAS if not found[m]] == [], "the learner's environment misses these"
    assert [m for m in LEARNER_LACKS if found[m]] == [], "the learner's environment carries these"


def test_learners_jupyterlab_loads_no_nbgrader_extension(lab):
    page = lab.api("GET", "/lab", raw=True)
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    extensions = [e["name"] for e in config["federated_extensions"]]
    assert "@jupyter-widgets/jupyterlab-manager" in extensions, extensions  # the list is real
    assert [e for e in extensions if "nbgrader" in e] == [], "JupyterLab loads nbgrader's panels"
    with pytest.raises(urllib.error.HTTPError) as missing:
        lab.api("GET", "/formgrader", raw=True)  # nbgrader's server extension serves this
    assert missing.value.code == 404


class Terminal:
    """A terminal of ``lab``, spoken to as JupyterLab's terminal panel speaks to it."""

    def __init__(self, lab):
        self.lab = lab
        self.name = lab.api("POST", "/api/terminals")["name"]
        ws_url = lab.url.replace("http://", "ws://") + f"/terminals/websocket/{self.name}?token={lab.token}"
        self.ws = websocket.create_connection(ws_url, timeout=10)
        self.ws.send(json.dumps(["set_size", 50, 250, 900, 2000]))
        self.screen = ""

    def type(self, line):
        self.ws.send(json.dumps(["stdin", line + "\r"]))

    def wait_for(self, pattern, timeout=30):
        """Read the terminal until ``pattern`` matches what it printed; return the match."""
        deadline = time.monotonic() + timeout
        while (match := re.search(pattern, self.screen)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the terminal never printed {pattern!r}; it showed:\n{self.screen}")
            self.ws.settimeout(left)
            try:
                kind, *data = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if kind == "stdout":
                self.screen += data[0]
            elif kind == "disconnect":
                raise AssertionError(f"the terminal closed; it showed:\n{self.screen}")
        return match

    def close(self):
        self.ws.close()
        self.lab.api("DELETE", f"/api/terminals/{self.name}")


def test_a_terminal_in_make_labs_jupyterlab_runs_the_lessons_commands_in_the_course_environment(lab, venv):
    terminal = Terminal(lab)
    try:
        # The output lines are told from the typed command's echo by what follows "=".
        terminal.type('echo "PYTHON=$(command -v python)"')
        found = terminal.wait_for(r"PYTHON=(/\S*)?\s")
        terminal.type("python -c \"import echo_lab, sys; print('PREFIX=' + sys.prefix)\"")
        prefix = terminal.wait_for(r"PREFIX=(/\S+)").group(1)
        terminal.type('python -m echo_lab client 127.0.0.1 1 1; echo "STATUS=$?"')  # lessons 00 and 08
        status = terminal.wait_for(r"STATUS=(\d+)").group(1)
    finally:
        terminal.close()
    print(terminal.screen)
    assert found.group(1) == str(venv / "bin" / "python"), terminal.screen
    assert prefix == str(venv), terminal.screen
    assert "starting connection 1 to ('127.0.0.1', 1)" in terminal.screen, terminal.screen
    assert "Connection refused" in terminal.screen and status == "1", terminal.screen


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


# The learner's path, as README gives it: `make lab` (or, in Chinese, its command without make), the page it
# prints, an exercise by its link, its check.
MISTAKE = "bind(host, port)"  # the commonest slip: two arguments where bind takes one (host, port) tuple
OUTCOMES = {"lab": ("not attempted yet", "not right yet", "passed"), "lab-zh": ("尚未作答", "还不对", "通过")}
INDEX = {"lab": "notebooks/00-index.ipynb", "lab-zh": "zh-CN/notebooks/00-index.ipynb"}
COMMAND = {"lab": "make lab", "lab-zh": "python3 tools/workspace.py lab --zh"}  # the fixtures `learner_lab`, `lab`


def _solution(clone):
    """Exercise 01's solution, as a learner would type it: the solution notebook's cell without nbgrader's markers."""
    cells = json.loads((clone / "solutions" / "01-listening-socket.ipynb").read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "### BEGIN SOLUTION" in "".join(c["source"]))
    return "\n".join(line for line in source.splitlines() if "### " not in line)


@pytest.mark.parametrize("target", ["lab", "lab-zh"])
def test_readme_path_make_lab_opens_the_index_and_its_link_leads_to_an_exercise_whose_check_answers(
        target, request, clone, page):
    lab = request.getfixturevalue("learner_lab" if target == "lab" else "lab")
    assert lab.start_path == f"/lab/tree/{INDEX[target]}", f"`{COMMAND[target]}` printed {lab.printed_url}"
    page.goto(lab.printed_url)  # the address the command printed, as a learner opens it
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
    solution = _solution(clone)
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
