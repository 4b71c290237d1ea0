"""The learner's environment, as ``make lab`` builds and starts it.

``make lab``, or ``python tools/workspace.py lab`` where there is no make
(Windows), installs the course with no extra into ``.venv-lab/``, makes
``work/`` (the learner's copy of the course) and starts JupyterLab on it with
that environment's scripts first on PATH, so that the lessons' terminal
commands (``python -m echo_lab server ...``, lessons 00 and 08) run in it.
``make lab`` is followed in tests/test_browser.py; these tests take the route
without make, in a fresh copy of the course of their own, with the machine's
own Python (which has no JupyterLab): the environment is built from nothing.
They open a terminal through JupyterLab's REST API and terminal websocket, as
JupyterLab's own terminal does, and type into it.
"""

import json
import re
import subprocess
import sys
import time
import urllib.error

import pytest
import websocket

from lab import MadeLab, fresh_clone

pytestmark = pytest.mark.timeout(600)  # the first run builds .venv-lab/

LEARNER_HAS = ["echo_lab", "jupyterlab", "ipywidgets", "matplotlib", "ipykernel"]
if sys.platform != "win32":
    LEARNER_HAS.append("uvloop")  # `python -m echo_lab bench` measures the uvloop server where it installs
LEARNER_LACKS = ["nbgrader", "pytest", "playwright", "hypothesis", "nbval", "notebook"]


# The Python a learner starts with: this test run's own base interpreter, outside any venv.
BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    clone = fresh_clone(tmp_path_factory.mktemp("no-make") / "echo-lab")
    lab = MadeLab(clone, [BASE_PYTHON, "tools/workspace.py", "lab"], tmp_path_factory.mktemp("lab"))
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def venv(lab):
    return lab.venv


def test_the_workspace_script_builds_the_environment_says_so_and_serves_the_course_at_its_index(lab):
    printed = lab.output()
    assert lab.start_path == "/lab/tree/notebooks/00-index.ipynb", lab.printed_url
    assert "Your copy of the course:" in printed and "Opening notebooks/00-index.ipynb in JupyterLab" in printed
    # Built from nothing, it said so, and what it installed.
    assert "Setting up .venv-lab/" in printed and "The first time this takes about a minute" in printed, printed
    assert "Successfully installed" in printed and (lab.venv / "bin" / "jupyter").exists(), printed
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
