"""A simulated learner on a hub: log in, start a server, run each lesson's cells over a kernel's websocket.

    Learner(hub, "learner01", [("02", load_cells(lesson_path("02"), sanitizer()))], pause=1,
            cell_timeout=60, halt=threading.Event(), pairs=sanitizer()).start()

Each lesson runs as JupyterLab runs it: a session (a kernel) per notebook on
the learner's own server, each code cell sent over the kernel's websocket, the
next cell ``pause`` seconds after the last one went idle.  What a cell prints
is compared with the stored notebook as nbval compares it
(tests/nbval_sanitize.cfg's patterns).  ``tools/classroom.py`` uses it.
"""

import contextlib
import json
import pathlib
import re
import socket
import threading
import time
import uuid

from hub import COURSE_DIR, SERVER_START, http

ROOT = pathlib.Path(__file__).resolve().parents[1]
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
KERNEL_START = 90  # seconds


# -- a notebook's cells, as nbval compares them ----------------------------------------------------

def sanitizer():
    """tests/nbval_sanitize.cfg's regex/replace pairs, as (compiled, replacement)."""
    lines = [line.rstrip("\n") for line in SANITIZE.read_text().splitlines() if line.strip()]
    pairs = []
    for a, b in zip(lines[::2], lines[1::2], strict=False):
        pairs.append((re.compile(a.split(":", 1)[1].strip()), b.split(":", 1)[1].strip()))
    return pairs


def visible_text(outputs, pairs):
    """What nbval compares of a cell's outputs, as text: streams merged, each text/plain; sanitized."""
    parts = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            text = out.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else text)
        elif kind in ("execute_result", "display_data"):
            plain = out.get("data", {}).get("text/plain", "")
            parts.append("".join(plain) if isinstance(plain, list) else plain)
    text = "".join(parts)
    for rx, repl in pairs:
        text = rx.sub(repl, text)
    return text


def _first_difference(old, new):
    a, b = old.splitlines(), new.splitlines()
    for x, y in zip(a + [""] * len(b), b + [""] * len(a), strict=False):
        if x != y:
            return x[:100], y[:100]
    return "", ""


def lesson_path(lesson):
    """A lesson's notebook: ``NN`` is notebooks/NN-*.ipynb; a path ending in .ipynb is that notebook."""
    if lesson.endswith(".ipynb"):
        path = pathlib.Path(lesson).resolve()
        if not path.is_file():
            raise SystemExit(f"classroom: no notebook {lesson}")
        return path
    found = sorted((ROOT / "notebooks").glob(f"{lesson}-*.ipynb"))
    if not found:
        raise SystemExit(f"classroom: no lesson notebooks/{lesson}-*.ipynb")
    return found[0]


def load_cells(path, pairs):
    """The code cells of a notebook: (index in the notebook, source, stored text or None, raises allowed)."""
    nb = json.loads(path.read_text())
    cells = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if not source.strip():
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        stored = None if "nbval-ignore-output" in tags else visible_text(cell.get("outputs", []), pairs)
        cells.append((index, source, stored, "raises-exception" in tags))
    return cells


# -- a learner -------------------------------------------------------------------------------------

def _decode(frame):
    """A kernel websocket message: JSON text, or the binary form (buffers first, JSON in part 0)."""
    if isinstance(frame, str):
        return json.loads(frame)
    n = int.from_bytes(frame[:4], "big")
    offsets = [int.from_bytes(frame[4 * (i + 1):4 * (i + 2)], "big") for i in range(n)]
    end = offsets[1] if n > 1 else len(frame)
    return json.loads(frame[offsets[0]:end])


class Learner(threading.Thread):
    """One learner: log in, start a server, run each lesson's cells at a learner's pace."""

    def __init__(self, hub, name, lessons, pause, cell_timeout, halt, pairs, keep_kernels=False):
        super().__init__(daemon=True, name=name)
        self.keep_kernels = keep_kernels
        self.open_sessions = []  # with keep_kernels: every lesson's kernel stays until the end
        self.hub, self.lessons, self.pause, self.cell_timeout = hub, lessons, pause, cell_timeout
        self.halt, self.pairs = halt, pairs
        self.token = None
        self.cells = []  # (lesson, index, seconds, error text or '', changed)
        self.errors = []  # (lesson, index, message)
        self.changes = []  # (lesson, index, stored line, new line)
        self.started_in = None
        self.done = False

    def run(self):
        try:
            self.login()
            for number, cells in self.lessons:
                if self.halt.is_set():
                    break
                self.lesson(number, cells)
            self.done = not self.halt.is_set()
        except Exception as e:  # reported, never silent
            self.errors.append(("-", "-", f"{type(e).__name__}: {e}"[:300]))
        finally:
            for url in self.open_sessions:
                with contextlib.suppress(OSError):
                    http("DELETE", url, self.token, timeout=30)

    def login(self):
        status, body = self.hub.api("POST", f"/hub/api/users/{self.name}")
        if status not in (201, 409):
            raise RuntimeError(f"creating the user: HTTP {status} {body}")
        status, body = self.hub.api("POST", f"/hub/api/users/{self.name}/tokens",
                                    {"note": "classroom", "expires_in": 3600})
        if status != 201:
            raise RuntimeError(f"creating the user's token: HTTP {status} {body}")
        self.token = body["token"]
        t0 = time.monotonic()
        status, body = self.hub.api("POST", f"/hub/api/users/{self.name}/server", token=self.token)
        if status not in (201, 202):
            raise RuntimeError(f"starting the server: HTTP {status} {body}")
        deadline = t0 + SERVER_START
        while time.monotonic() < deadline and not self.halt.is_set():
            status, body = self.hub.api("GET", f"/hub/api/users/{self.name}", token=self.token)
            server = (body or {}).get("servers", {}).get("", {}) if status == 200 else {}
            if server.get("ready"):
                self.started_in = time.monotonic() - t0
                return
            if status == 200 and not server and time.monotonic() - t0 > 5:
                raise RuntimeError(f"the server stopped while starting:\n{self.hub.log_tail(10)}")
            time.sleep(0.5)
        raise RuntimeError(f"the server was not ready within {SERVER_START} s")

    def lesson(self, number, cells):
        import websocket
        base = f"{self.hub.url}/user/{self.name}"
        rel = f"{COURSE_DIR}/notebooks/{lesson_path(number).name}"
        status, body = http("POST", f"{base}/api/sessions", self.token,
                            {"path": rel, "name": pathlib.Path(rel).name, "type": "notebook",
                             "kernel": {"name": "python3"}})
        if status != 201:
            raise RuntimeError(f"lesson {number}: starting a kernel: HTTP {status} {body}")
        session, kernel = body["id"], body["kernel"]["id"]
        ws = None
        try:
            ws = websocket.create_connection(
                f"ws://127.0.0.1:{self.hub.port}/user/{self.name}/api/kernels/{kernel}/channels"
                f"?session_id={uuid.uuid4().hex}",
                header=[f"Authorization: token {self.token}"], timeout=KERNEL_START)
            self._request(ws, "kernel_info_request", {}, KERNEL_START, reply_only=True)
            for index, source, stored, may_raise in cells:
                if self.halt.is_set():
                    return
                t0 = time.monotonic()
                outputs, error, timed_out = self._request(ws, "execute_request", {
                    "code": source, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": False}, self.cell_timeout)
                seconds = time.monotonic() - t0
                if self.halt.is_set():
                    return  # stopped from outside (time limit, Ctrl-C): not the cell's fault
                if timed_out:
                    error = f"no answer within {self.cell_timeout} s (interrupted)"
                    http("POST", f"{base}/api/kernels/{kernel}/interrupt", self.token, {})
                    self._drain(ws, 10)
                elif error and may_raise:
                    error = ""
                text = visible_text(outputs, self.pairs)
                changed = stored is not None and not error and text != stored
                if changed:
                    self.changes.append((number, index, *_first_difference(stored, text)))
                self.cells.append((number, index, seconds, error, changed))
                if error:
                    self.errors.append((number, index, error))
                if timed_out:
                    return  # the kernel is in an unknown state: on to the next lesson, as a learner would
                self.halt.wait(self.pause)
        finally:
            if ws is not None:
                with contextlib.suppress(Exception):
                    ws.close(timeout=2)
            if self.keep_kernels:
                self.open_sessions.append(f"{base}/api/sessions/{session}")
            else:
                with contextlib.suppress(OSError):
                    http("DELETE", f"{base}/api/sessions/{session}", self.token, timeout=30)

    def _request(self, ws, msg_type, content, timeout, reply_only=False):
        """Send one request; collect iopub outputs until its idle (or its reply): (outputs, error, timed out)."""
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.name, "session": self.name, "msg_type": msg_type,
                       "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "parent_header": {}, "metadata": {}, "content": content, "channel": "shell", "buffers": []}))
        outputs, error = [], ""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.halt.is_set():
                return outputs, error, True
            ws.settimeout(min(left, 1.0))
            try:
                msg = _decode(ws.recv())
            except websocket_timeout():
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg.get("msg_type") or msg["header"]["msg_type"]
            if reply_only and kind.endswith("_reply"):
                return outputs, error, False
            if msg.get("channel") == "iopub":
                if kind == "status" and msg["content"].get("execution_state") == "idle":
                    return outputs, error, False
                if kind in ("stream", "execute_result", "display_data", "error"):
                    outputs.append(dict(msg["content"], output_type=kind))
                    if kind == "error":
                        error = f"{msg['content'].get('ename')}: {msg['content'].get('evalue')}"[:300]

    def _drain(self, ws, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ws.settimeout(0.5)
            try:
                msg = _decode(ws.recv())
            except websocket_timeout():
                continue
            except Exception:
                return
            if msg.get("msg_type") == "status" and msg["content"].get("execution_state") == "idle":
                return


def websocket_timeout():
    import websocket
    return (websocket.WebSocketTimeoutException, TimeoutError, socket.timeout)
