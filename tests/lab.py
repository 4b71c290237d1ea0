"""Drive a real JupyterLab, for tests/test_browser.py, tests/test_accessibility.py and tests/test_learner_lab.py.

``Lab``: JupyterLab from the test run's own environment (``.venv/``, the dev
extra) on 127.0.0.1 with port 0, a token, and fresh settings, workspace and
runtime folders, serving a *copy* of the course (so autosave never touches the
committed notebooks).

``MadeLab``: JupyterLab exactly as README tells a learner to start it, ``make
lab`` or ``make lab-zh`` typed in a fresh copy of the course (``fresh_clone``),
which builds its own ``.venv-lab/``; its address is read from what it prints.
"""

import contextlib
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from helpers import cannot, require

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 420  # s; `make lab` builds .venv-lab/: 60-90 s from a local index, a few minutes from PyPI
# Screenshots, for a person to look at: screenshots/ at the top of the course, or ECHO_LAB_SCREENSHOTS.
SHOTS = pathlib.Path(os.environ.get("ECHO_LAB_SCREENSHOTS", ROOT / "screenshots"))
# The lessons whose pictures and stepper tests/test_accessibility.py checks in JupyterLab in both editions (run
# once for all its checks); tests/test_browser.py runs the other lessons with widgets.
PICTURE_LESSONS = ["04-event-loop.ipynb", "08-together.ipynb", "09-busy-loop.ipynb"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def answers(url, token):
    """Whether the JupyterLab at ``url`` answers.  jupyter_server writes its address (its runtime file, the
    URL it prints) before it listens: it binds its port in its event loop's first callback, so the address
    refuses connections for a moment (a loaded make test has found it so)."""
    try:
        with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=10):
            return True
    except OSError:
        return False


class Lab:
    """A JupyterLab server over a copy of ``folders`` of the course, in ``tmp``."""

    def __init__(self, root, tmp, folders=("notebooks",), trust=(), locale=None):
        self.root = tmp / "course"
        for folder in folders:
            shutil.copytree(root / folder, self.root / folder)
        for pattern in trust:  # saved widgets render only in trusted notebooks
            paths = [str(p) for p in self.root.glob(pattern)]
            subprocess.run([sys.executable, "-m", "jupyter", "trust", *paths], check=True,
                           capture_output=True, timeout=60, env=self._env(tmp))
        settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
        notebook = tmp / "settings" / "@jupyterlab" / "notebook-extension"
        notebook.mkdir(parents=True)  # draw every cell, not only those on screen
        (notebook / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        if locale:  # JupyterLab's interface language (its language pack must be installed)
            language = tmp / "settings" / "@jupyterlab" / "translation-extension"
            language.mkdir(parents=True)
            (language / "plugin.jupyterlab-settings").write_text(json.dumps({"locale": locale}))
        self.token = secrets.token_hex(16)
        self.runtime = tmp / "runtime"
        self.log = open(tmp / "lab.log", "w")  # noqa: SIM115 (open while JupyterLab runs; close() closes it)
        args = ["--no-browser", "--ip=127.0.0.1", "--port=0", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
                f"--LabApp.workspaces_dir={tmp / 'workspaces'}", f"--LabApp.user_settings_dir={tmp / 'settings'}",
                "--ServerApp.open_browser=False"]
        command = [sys.executable, "-m", "jupyterlab", "--allow-root", *args]
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=self._env(tmp),
                                     start_new_session=True)
        self.url = self._wait_for_url(timeout=60)

    def _env(self, tmp):
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_DATA_DIR=str(tmp / "data"))
        return env

    def _wait_for_url(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: see {self.log.name}")
            for info in self.runtime.glob("jpserver-*.json"):
                try:
                    data = json.loads(info.read_text())
                except (OSError, ValueError):
                    continue  # being written
                url = f"http://127.0.0.1:{data['port']}"
                if answers(url, self.token):
                    return url
                break  # not yet: look again
            time.sleep(0.1)
        raise TimeoutError("JupyterLab did not start within 60 s")

    def notebook_url(self, path):
        return f"{self.url}/lab/tree/{path}?token={self.token}&reset"  # reset: no tabs restored

    def api(self, method, path, raw=False, timeout=10):
        """Ask JupyterLab's server; return its decoded JSON answer (None if empty), or the text if ``raw``."""
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read().decode()
        return body if raw else json.loads(body) if body else None

    def close(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # JupyterLab, and `make` around it
        try:
            self.proc.wait(timeout=15)
            self._wait_group_gone(timeout=15)
        except (subprocess.TimeoutExpired, TimeoutError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.log.close()

    def _wait_group_gone(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        raise TimeoutError("JupyterLab did not stop")


def make_env(env):
    """``env`` for a `make` started from the tests: as in a fresh shell, no make or venv of ours."""
    env = {k: v for k, v in env.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV")}
    path = [p for p in env.get("PATH", "").split(os.pathsep)
            if p and not pathlib.Path(p).resolve().is_relative_to(ROOT)]
    env["PATH"] = os.pathsep.join(path)
    return env


def _cannot(reason):
    cannot("the learner's JupyterLab", reason)


def fresh_clone(folder):
    """The course as a learner's fresh clone has it, in ``folder``: the files git tracks here, nothing else.

    Copied from this checkout's working tree (its uncommitted changes too, so a
    change is tested before it is committed); ignored files (venvs, work/) are not.
    """
    require("make", "sudo apt-get install make", what="the learner's JupyterLab")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is gone from the clone too
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    return folder


PRINTED_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/lab\S*)\?token=(\w+)")


class MadeLab(Lab):
    """JupyterLab as ``command`` starts it in ``clone`` (``make lab``, or ``python tools/workspace.py lab``
    for a learner without make): the command README gives, no options added.

    HOME is a new folder, as a learner's own is (no Jupyter settings, runtime
    files or trusted notebooks of this machine's; pip's download cache stays the
    machine's), with one setting a learner does not have, for the test to read
    JupyterLab's state: ``LabApp.expose_app_in_browser`` (``window.jupyterapp``
    in the page; it changes nothing JupyterLab shows).
    """

    def __init__(self, clone, command, tmp):
        command = ["make", command] if isinstance(command, str) else command
        home = tmp / "home"
        (home / ".jupyter").mkdir(parents=True)
        (home / ".jupyter" / "jupyter_server_config.json").write_text(
            json.dumps({"LabApp": {"expose_app_in_browser": True}}))
        env = make_env(dict(os.environ, HOME=str(home),
                            XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))))
        self.venv = clone / ".venv-lab"
        self.root = clone / "work"
        self.log = open(tmp / "lab.log", "w")  # noqa: SIM115 (open while JupyterLab runs)
        # Its own process group: make runs JupyterLab as a child, and close() stops both.
        self.proc = subprocess.Popen(command, cwd=clone, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        port, self.start_path, self.token = self._wait_for_printed_url(BUILD_TIMEOUT + 60)
        self.url = f"http://127.0.0.1:{port}"
        self.printed_url = f"{self.url}{self.start_path}?token={self.token}"

    def output(self):
        """What `make` has printed so far (JupyterLab's log included)."""
        return pathlib.Path(self.log.name).read_text(errors="replace")

    def _wait_for_printed_url(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = PRINTED_URL.search(self.output())
            if found is not None and answers(f"http://127.0.0.1:{found[1]}", found[3]):
                return found.groups()
            if self.proc.poll() is not None:
                self.log.close()
                tail = "\n".join(line for line in self.output().splitlines() if "is ignored" not in line)[-3000:]
                _cannot(f"`make` ended (exit {self.proc.returncode}) before JupyterLab printed its address:\n{tail}")
            time.sleep(0.2)
        self.close()
        _cannot(f"`make` printed no JupyterLab address that answers within {timeout} s "
                "(is the package index reachable?)")


# JavaScript run in the page; `app` is window.jupyterapp (expose_app_in_browser).
KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w?.sessionContext?.session?.kernel;
  if (k && k.status === 'idle' && w.content) { window.__panel = w; return true; }
  return false;
}"""

ALL_CELLS_RUN = """() => {
  const w = window.__panel;
  const k = w.sessionContext?.session?.kernel;
  if (!k) return false;
  const cells = w.content.widgets.filter(c => c.model.type === 'code' && c.model.sharedModel.getSource().trim());
  const failed = cells.some(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
  return k.status === 'idle' && cells.length > 0 && (failed ||
         cells.every(c => c.model.executionCount !== null && !c.hasClass('jp-mod-running') &&
                          !(c.promptNode && c.promptNode.textContent.includes('*'))));
}"""

CELL_ERRORS = """() => {
  const w = window.__panel;
  const errors = [];
  w.content.widgets.forEach((c, i) => {
    if (c.model.type !== 'code') return;
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
  });
  return errors;
}"""


def open_notebook(page, lab, path, timeout=60_000):
    page.goto(lab.notebook_url(path))
    page.wait_for_function(KERNEL_IDLE, timeout=timeout)


def run_all(page, timeout=90_000):
    """Clear the stored outputs, run every cell, wait; return the error outputs."""
    page.evaluate("() => window.jupyterapp.shell.activateById(window.__panel.id), "
                  "window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    # Not awaited: the command's promise ends only when every cell has run.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_timeout(500)
    page.wait_for_function(ALL_CELLS_RUN, timeout=timeout, polling=250)
    return page.evaluate(CELL_ERRORS)


def screenshot(page, folder, name):
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


# What nbgrader adds to JupyterLab: its menu, its "Create Assignment" panel,
# the "Validate" button of a notebook's toolbar, its elements and commands.
NBGRADER_TRACES = """() => {
  const text = e => (e.textContent || '').trim();
  const traces = [];
  document.querySelectorAll('.lm-MenuBar-itemLabel').forEach(e => {
    if (/nbgrader/i.test(text(e))) traces.push('menu: ' + text(e));
  });
  document.querySelectorAll('.lm-TabBar-tab').forEach(e => {
    const t = ((e.title || '') + ' ' + text(e)).trim();
    if (/nbgrader|assignment/i.test(t)) traces.push('panel: ' + t);
  });
  document.querySelectorAll('.jp-NotebookPanel-toolbar .jp-Toolbar-item').forEach(e => {
    if (/validate/i.test(text(e))) traces.push('toolbar button: ' + text(e));
  });
  document.querySelectorAll('[id*=nbgrader], [class*=nbgrader]').forEach(e => {
    traces.push('element: ' + (e.id || e.className));
  });
  window.jupyterapp.commands.listCommands().filter(c => c.startsWith('nbgrader:'))
    .forEach(c => traces.push('command: ' + c));
  return traces;
}"""

# The text of the first terminal in JupyterLab's main area (xterm.js draws it
# on a canvas, so it is read from the terminal's buffer).
TERMINAL_TEXT = """() => {
  const w = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.content && w.content._term);
  if (!w) return null;
  const buffer = w.content._term.buffer.active, lines = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
  return lines.join('\\n').trim();
}"""


def wait_for_ui(page, timeout=30_000, help_label="Help"):
    """Wait until JupyterLab has restored its layout and drawn the menu bar (its last menu is ``help_label``:
    Help, or 帮助 in the Chinese interface) and the notebook's toolbar."""
    page.evaluate("() => window.jupyterapp.restored")
    page.wait_for_function(f"""() => Array.from(document.querySelectorAll('.lm-MenuBar-itemLabel'))
        .some(e => e.textContent === {json.dumps(help_label)}) &&
      document.querySelector('.jp-NotebookPanel-toolbar [data-jp-item-name=kernelName]') !== null""",
                           timeout=timeout)


def run_cells(page, indices, timeout=90_000):
    """Run the current notebook's cells ``indices`` one by one, as Shift-Enter does; wait for each to finish
    (at most ``timeout`` ms each: at the start of make test, three workers' kernels, JupyterLabs and
    nbgrader share 2 cores, and one cell of exercise 01 once took more than 30 s to come back)."""
    for index in indices:
        before = page.evaluate(f"() => window.__panel.content.widgets[{index}].model.executionCount")
        page.evaluate(f"""() => {{
          const panel = window.__panel;
          panel.content.activeCellIndex = {index};
          window.jupyterapp.commands.execute('notebook:run-cell');  // not awaited: bounded below
        }}""")
        page.wait_for_function(f"""() => {{
          const cell = window.__panel.content.widgets[{index}];
          return cell.model.executionCount !== null && cell.model.executionCount !== {json.dumps(before)} &&
                 window.__panel.sessionContext.session.kernel.status === 'idle';
        }}""", timeout=timeout)


def cell_text(page, index):
    """What cell ``index`` of the current notebook shows as its output."""
    return page.evaluate(f"() => window.__panel.content.widgets[{index}].outputArea.node.innerText")


def set_cell_source(page, index, source):
    """Put ``source`` in cell ``index``, as a learner's typing would (the editor's text, saved on the next save)."""
    page.evaluate(f"() => window.__panel.content.widgets[{index}].model.sharedModel.setSource({json.dumps(source)})")
