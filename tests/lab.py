"""Drive a real JupyterLab in Debian's chromium, for tests/test_browser.py.

JupyterLab is started as ``make lab`` starts it, but on 127.0.0.1 with
port 0, a token, and fresh settings, workspace and runtime folders, serving a
*copy* of the course (so autosave never touches the committed notebooks).
"""

import json
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


class Lab:
    """A JupyterLab server over a copy of ``folders`` of the course, in ``tmp``."""

    def __init__(self, root, tmp, folders=("notebooks",), trust=()):
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
        self.token = secrets.token_hex(16)
        self.runtime = tmp / "runtime"
        self.log = open(tmp / "lab.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
             "--port=0", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
             "--LabApp.expose_app_in_browser=True", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
             f"--LabApp.user_settings_dir={tmp / 'settings'}", "--ServerApp.open_browser=False"],
            stdout=self.log, stderr=subprocess.STDOUT, env=self._env(tmp))
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
                return f"http://127.0.0.1:{data['port']}"
            time.sleep(0.1)
        raise TimeoutError("JupyterLab did not start within 60 s")

    def notebook_url(self, path):
        return f"{self.url}/lab/tree/{path}?token={self.token}&reset"  # reset: no tabs restored

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()


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
    page.evaluate("() => window.jupyterapp.shell.activateById(window.__panel.id), window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
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
