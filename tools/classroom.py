"""A class on JupyterHub, simulated: N learners run the lessons at once on this machine.

    python tools/classroom.py --learners 10             # lessons 01-08; a third also run 09
    python tools/classroom.py --learners 2 5 10         # one class after another, one table
    python tools/classroom.py --learners 2 --lessons 02 --busy-share 0   # a quick look
    python tools/classroom.py --learners 30 --lessons 09 --busy-share 0  # one lesson, the whole class at once
    python tools/classroom.py --learners 10 --keep-kernels   # learners who never shut a kernel down
    python tools/classroom.py --learners 30 --kernel-transport ipc       # kernels over files, not ports

What runs is real: JupyterHub (from PyPI) with configurable-http-proxy (from
npm: on PATH, or installed once into ``.cache/chp/`` with ``--install-proxy``),
the dummy authenticator and the SimpleLocalProcessSpawner, on 127.0.0.1 only,
with its database, cookie secret and pid files in a temporary folder.  Each
learner is created through the hub's REST API (an admin service token made for
this run), gets a token of their own, starts their own single-user server
(JupyterLab's server) whose home is a temporary folder holding a copy of the
course in ``echo-lab/``, and runs each lesson as JupyterLab would: a session
(a kernel) per notebook on their own server, each code cell sent over the
kernel's websocket, the next cell ``--pause`` seconds after the last one went
idle.  All learners start together; ``--busy-share`` of them (a third by
default) also run lesson 09, whose demos keep a core busy on purpose.

Measured, as a teacher needs it:

- cell latency as a learner sees it: from sending the cell to the kernel
  going idle (p50, p95, max; overall and per lesson);
- errors: cells with error output, cells that did not finish in
  ``--cell-timeout`` (interrupted), learners who could not log in or start;
- changed: cells whose printed text differs from the stored notebook (ports
  and addresses hidden as tests/nbval_sanitize.cfg does; cells tagged
  ``nbval-ignore-output`` not compared): a lesson that says something else
  when the machine is busy;
- memory: the RSS of each learner's server plus its kernels (peak per
  learner), and the peak of hub + proxy + all servers and kernels together;
- CPU: cores used by all of it, on average and at the busiest second;
- left running: any process of the run, or listening socket of one, still
  there after the hub has stopped (then it is killed).

Prints a table per class size, per-lesson figures, and last a line per size
``N learners: p95 cell latency X s, peak memory Y GiB, Z errors``.  ``--json``
writes every figure.  Every wait is bounded; the hub, the proxy and every
server and kernel are stopped on exit, on an error and on Ctrl-C.  Exit status:
0 when the runs finished with no error and nothing left running, 1 otherwise,
2 when JupyterHub or configurable-http-proxy is missing.
"""

import argparse
import contextlib
import json
import math
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
LOCAL_PROXY = ROOT / ".cache" / "chp"  # `npm install --prefix .cache/chp configurable-http-proxy`
PROXY_PACKAGE = "configurable-http-proxy@5"
COURSE_DIR = "echo-lab"  # the folder nbgitpuller makes from the repository's name
MARK = "ECHO_LAB_CLASSROOM"  # set in every process of a run: found again when cleaning up
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
GiB = 1024 ** 3
MiB = 1024 ** 2

# Bounds, in seconds, besides the command line's.
HUB_START = 60
SERVER_START = 180  # N servers starting at once on 2 cores
KERNEL_START = 90
HUB_STOP = 45
HTTP = 60
SAMPLE_EVERY = 0.5

_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- finding and installing configurable-http-proxy ---------------------------------------------

def find_proxy():
    """configurable-http-proxy's command: on PATH, or in .cache/chp/; None when neither."""
    local = LOCAL_PROXY / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    return shutil.which("configurable-http-proxy")


def install_proxy(timeout=240):
    """``npm install --prefix .cache/chp configurable-http-proxy`` (once); its command, or None and why."""
    found = find_proxy()
    if found:
        return found, ""
    npm = shutil.which("npm")
    if not npm:
        return None, "npm is not installed (Debian: apt-get install npm)"
    LOCAL_PROXY.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([npm, "install", "--prefix", str(LOCAL_PROXY), "--no-audit", "--no-fund",
                               "--loglevel=error", PROXY_PACKAGE],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"npm install {PROXY_PACKAGE} took more than {timeout} s"
    if done.returncode != 0:
        return None, f"npm install {PROXY_PACKAGE} failed: {done.stderr.strip()[-500:]}"
    return find_proxy(), ""


def jupyterhub_missing():
    """Why JupyterHub cannot run from this Python, or '' when it can."""
    bindir = pathlib.Path(sys.executable).parent
    for name in ("jupyterhub", "jupyterhub-singleuser"):
        if not (bindir / name).exists():
            return f"{name} is not installed next to {sys.executable} (pip install -e '.[dev]')"
    return ""


# -- small helpers ---------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, token, body=None, timeout=HTTP):
    """One REST call; (status, decoded JSON or None).  HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"token {token}",
                                          "Content-Type": "application/json"})
    try:
        with _no_proxy.open(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")[:500]


def percentile(values, q):
    """The q-th percentile (0-100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


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


# -- the hub ---------------------------------------------------------------------------------------

HUB_CONFIG = """\
c = get_config()  # noqa
c.JupyterHub.ip = '127.0.0.1'
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{api_port}'
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {tmp!r} + '/proxy.pid'
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.pid_file = {tmp!r} + '/hub.pid'
c.JupyterHub.db_url = 'sqlite:///' + {tmp!r} + '/jupyterhub.sqlite'
c.JupyterHub.cookie_secret_file = {tmp!r} + '/cookie_secret'
c.JupyterHub.authenticator_class = 'dummy'
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = 'simple'
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + '/{{username}}'
c.Spawner.notebook_dir = {homes!r} + '/{{username}}'
c.Spawner.default_url = '/lab/tree/{course}/notebooks/00-index.ipynb'
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = {args!r}
c.Spawner.ip = '127.0.0.1'
c.Spawner.start_timeout = {server_start}
c.Spawner.http_timeout = {server_start}
c.Spawner.environment = {{{mark!r}: {tag!r}}}
if {ipc!r}:  # kernels' socket files: a short path (a Unix socket's path has at most 107 bytes)
    c.Spawner.environment['JUPYTER_RUNTIME_DIR'] = lambda spawner: {tmp!r} + '/rt/' + spawner.user.name
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.services = [{{'name': 'classroom', 'api_token': {token!r}}}]
c.JupyterHub.load_roles = [{{'name': 'admin', 'services': ['classroom']}}]
"""


class Hub:
    """JupyterHub and its proxy on 127.0.0.1, in the folder ``tmp``; ``stop()`` leaves nothing behind."""

    def __init__(self, tmp, proxy, tag, ipc=False):
        self.tmp = pathlib.Path(tmp)
        self.homes = self.tmp / "home"
        self.homes.mkdir()
        self.tag = tag
        self.port, self.hub_port, self.api_port = free_port(), free_port(), free_port()
        self.token = secrets.token_hex(32)
        singleuser = str(pathlib.Path(sys.executable).parent / "jupyterhub-singleuser")
        (self.tmp / "jupyterhub_config.py").write_text(HUB_CONFIG.format(
            port=self.port, hub_port=self.hub_port, api_port=self.api_port, proxy=proxy, tmp=str(self.tmp),
            homes=str(self.homes), course=COURSE_DIR, singleuser=singleuser, server_start=SERVER_START,
            mark=MARK, tag=tag, token=self.token, ipc=ipc, args=["--allow-root"] if os.geteuid() == 0 else []))
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = None
        self.seen = {}  # pid -> create time, of every process seen under the hub (the sampler adds to it)

    def start(self):
        env = dict(os.environ)
        env[MARK] = self.tag
        bindir = str(pathlib.Path(sys.executable).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")  # the servers' and kernels' python is ours
        self.log = open(self.tmp / "jupyterhub.log", "wb")  # noqa: SIM115 (open while the hub runs)
        self.proc = subprocess.Popen([str(pathlib.Path(bindir) / "jupyterhub"), "-f",
                                      str(self.tmp / "jupyterhub_config.py")],
                                     cwd=self.tmp, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + HUB_START
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _ = self.api("GET", "/hub/api/", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"JupyterHub did not answer within {HUB_START} s:\n{self.log_tail()}")

    def api(self, method, path, body=None, token=None, timeout=HTTP):
        return http(method, self.url + path, token or self.token, body, timeout)

    def log_tail(self, lines=30):
        try:
            return "\n".join((self.tmp / "jupyterhub.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """SIGTERM to the hub (it stops the servers and the proxy), bounded; then SIGKILL its group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(HUB_STOP)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.log:
            self.log.close()


def run_processes(tag, seen=None):
    """Processes of a run still alive: marked with ``tag`` in their environment, or seen (pid and start time)."""
    import psutil
    seen = seen or {}
    found = {}
    for proc in psutil.process_iter(["pid", "status", "create_time"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
            continue
        try:
            if seen.get(proc.pid) == proc.info["create_time"] or proc.environ().get(MARK) == tag:
                found[proc.pid] = " ".join(proc.cmdline())[:120]
        except (psutil.Error, OSError):
            continue
    return found


def listening(pids, ports):
    """Listening TCP sockets owned by ``pids`` or bound to ``ports``: [(port, pid)]."""
    import psutil
    out = []
    for conn in psutil.net_connections("inet"):
        if conn.status == psutil.CONN_LISTEN and (conn.pid in pids or conn.laddr.port in ports):
            out.append((conn.laddr.port, conn.pid))
    return out


def kill_all(pids, grace=5.0):
    import psutil
    procs = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            p.terminate()
            procs.append(p)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=grace)


def learner_config(home, transport="tcp"):
    """The learner's ~/.jupyter: the server of a learner's environment, which has no teacher's tools.

    The servers run from this Python, which may have the developer's extras: nbgrader's server
    extensions are switched off, as a learner's environment (no extra, or `hub`) does not have them.
    """
    extensions = ["formgrader", "validate_assignment", "assignment_list", "course_list"]
    config = {"ServerApp": {"jpserver_extensions": {f"nbgrader.server_extensions.{e}": False for e in extensions}}}
    if transport != "tcp":  # kernels talk to their server over files (ipc): no ports to collide
        config["KernelManager"] = {"transport": transport}
    (home / ".jupyter").mkdir(parents=True, exist_ok=True)
    (home / ".jupyter" / "jupyter_server_config.json").write_text(json.dumps(config))


# -- what the machine does: memory and CPU, sampled ------------------------------------------------

class Sampler(threading.Thread):
    """Every SAMPLE_EVERY s: RSS and CPU time of the hub's process tree, grouped by learner."""

    def __init__(self, hub):
        super().__init__(daemon=True, name="sampler")
        self.hub = hub
        self.halt = threading.Event()
        self.owner = {}  # server pid -> learner name ('' for the proxy and other helpers)
        self.peak_total = 0
        self.peak_learner = {}  # learner -> peak RSS of server + kernels
        self.peak_kernel = []  # per kernel process: its peak RSS
        self._kernel_peak = {}
        self.cpu_seen = {}  # pid -> latest user+system seconds
        self.busiest = 0.0  # cores, over one sample interval
        self.samples = 0
        self.errors = 0

    def run(self):
        import psutil
        try:
            hub = psutil.Process(self.hub.proc.pid)
        except psutil.Error:
            return
        window = []  # (seconds, cpu seconds) of the last two intervals: the busiest second
        last_t, last_wall = time.monotonic(), time.time()
        while not self.halt.wait(SAMPLE_EVERY):
            try:
                total, used = 0, 0.0
                per_learner = {}
                procs = [hub] + hub.children(recursive=True)
                for proc in procs:
                    try:
                        rss = proc.memory_info().rss
                        times = proc.cpu_times()
                        ppid = proc.ppid()
                    except psutil.Error:
                        continue
                    try:
                        created = self.hub.seen.setdefault(proc.pid, proc.create_time())
                    except psutil.Error:
                        created = 0.0
                    now_cpu = times.user + times.system
                    if proc.pid in self.cpu_seen:
                        used += max(0.0, now_cpu - self.cpu_seen[proc.pid])
                    elif created >= last_wall:  # born in this interval: all its CPU time is from it
                        used += now_cpu
                    self.cpu_seen[proc.pid] = now_cpu
                    total += rss
                    learner = self._learner(proc, ppid, hub.pid)
                    if learner:
                        per_learner[learner] = per_learner.get(learner, 0) + rss
                        if ppid != hub.pid:  # a kernel (or what a kernel started)
                            self._kernel_peak[proc.pid] = max(self._kernel_peak.get(proc.pid, 0), rss)
                self.peak_total = max(self.peak_total, total)
                for learner, rss in per_learner.items():
                    self.peak_learner[learner] = max(self.peak_learner.get(learner, 0), rss)
                now = time.monotonic()
                window = window[-1:] + [(now - last_t, used)]
                last_t, last_wall = now, time.time()
                if len(window) == 2:
                    self.busiest = max(self.busiest, sum(u for _, u in window) / sum(t for t, _ in window))
                self.samples += 1
            except Exception:  # a process that vanished mid-walk: the next sample is as good
                self.errors += 1
        self.peak_kernel = sorted(self._kernel_peak.values())

    def _learner(self, proc, ppid, hub_pid):
        import psutil
        # Walk up to the hub's direct child: a learner's server (JUPYTERHUB_USER set) or the proxy.
        chain, pid, p = [], proc.pid, proc
        for _ in range(20):
            if pid in self.owner:
                break
            if ppid == hub_pid:
                try:
                    self.owner[pid] = p.environ().get("JUPYTERHUB_USER", "")
                except psutil.Error:
                    self.owner[pid] = ""
                break
            if ppid <= 1:
                return ""
            chain.append(pid)
            try:
                p = psutil.Process(ppid)
                pid, ppid = p.pid, p.ppid()
            except psutil.Error:
                return ""
        name = self.owner.get(pid, "")
        for c in chain:
            self.owner[c] = name
        return name

    def cpu_seconds(self):
        return sum(self.cpu_seen.values())


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


# -- one class -------------------------------------------------------------------------------------

def run_class(n, lessons, busy_lesson, busy_share, pause, cell_timeout, time_limit, proxy, stop_all,
              keep_kernels=False, keep_log=None, kernel_transport="tcp"):
    """Run one class of ``n`` learners; return its figures."""
    pairs = sanitizer()
    plan = [(num, load_cells(lesson_path(num), pairs)) for num in lessons]
    busy = max(1, round(n * busy_share)) if busy_share > 0 and busy_lesson else 0
    busy_plan = plan + [(busy_lesson, load_cells(lesson_path(busy_lesson), pairs))] if busy else plan
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    tmp = tempfile.mkdtemp(prefix="classroom-")
    hub = Hub(tmp, proxy, tag, ipc=kernel_transport == "ipc")
    learners, sampler = [], None
    result = {"learners": n, "busy learners": busy, "kernels kept": keep_kernels, "kernel transport": kernel_transport,
              "lessons": lessons + ([busy_lesson] if busy else []),
              "errors": [], "left running": [], "left listening": []}
    t_start = time.monotonic()
    cpu_before = None
    try:
        hub.start()
        sampler = Sampler(hub)
        sampler.start()
        import psutil
        cpu_before = psutil.cpu_times()
        for i in range(n):
            name = f"learner{i + 1:02d}"
            home = hub.homes / name / COURSE_DIR
            for folder in ("notebooks", "exercises"):
                shutil.copytree(ROOT / folder, home / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            for lesson in result["lessons"]:  # a notebook given by its path joins the course's copy
                if lesson_path(lesson).parent != ROOT / "notebooks":
                    shutil.copy(lesson_path(lesson), home / "notebooks")
            learner_config(hub.homes / name, kernel_transport)
            learners.append(Learner(hub, name, busy_plan if i < busy else plan, pause, cell_timeout,
                                    stop_all, pairs, keep_kernels))
        for learner in learners:
            learner.start()
        deadline = t_start + time_limit
        for learner in learners:
            learner.join(max(0.0, deadline - time.monotonic()))
        if any(learner.is_alive() for learner in learners):
            result["errors"].append(("class", "-", "-", f"the class did not finish within {time_limit} s"))
            stop_all.set()
            for learner in learners:
                learner.join(cell_timeout + 30)
    finally:
        wall = time.monotonic() - t_start
        if sampler:
            sampler.halt.set()
            sampler.join(10)
        stop_all.set()
        hub.stop()
        time.sleep(1.0)  # what the hub stopped has had its moment to go
        left = run_processes(tag, hub.seen)
        ports = {hub.port, hub.hub_port, hub.api_port}
        result["left running"] = [f"{pid} {cmd}" for pid, cmd in left.items()]
        result["left listening"] = listening(set(left), ports)
        if left:
            kill_all(left)
        still = run_processes(tag, hub.seen)
        if still:
            result["errors"].append(("class", "-", "-", f"could not stop: {still}"))
        result["hub log"] = hub.log_tail(40)
        if keep_log:
            with contextlib.suppress(OSError):
                shutil.copy(hub.tmp / "jupyterhub.log", keep_log)
        shutil.rmtree(tmp, ignore_errors=True)
    import psutil
    cpu_after = psutil.cpu_times()
    if cpu_before is not None:
        busy_t = (sum(cpu_after) - cpu_after.idle - getattr(cpu_after, "iowait", 0)) - \
                 (sum(cpu_before) - cpu_before.idle - getattr(cpu_before, "iowait", 0))
        result["machine busy %"] = round(100 * busy_t / max(1e-9, sum(cpu_after) - sum(cpu_before)), 1)
    cells = [c for learner in learners for c in learner.cells]
    latencies = [c[2] for c in cells]
    for learner in learners:
        result["errors"] += [(learner.name, _label(str(e[0])), *e[1:]) for e in learner.errors]
        if not learner.done and not learner.errors:
            result["errors"].append((learner.name, "-", "-", "stopped before the end"))
    result.update({
        "wall s": round(wall, 1),
        "cells": len(cells),
        "p50 s": _r(percentile(latencies, 50)), "p95 s": _r(percentile(latencies, 95)),
        "max s": _r(max(latencies) if latencies else None),
        "error count": len(result["errors"]),
        "changed": sum(1 for c in cells if c[4]),
        "changed cells": sorted({f"{_label(c[0])}#{c[1]}" for c in cells if c[4]}),
        "changes": [(lr.name, _label(ch[0]), *ch[1:]) for lr in learners for ch in lr.changes],
        "server start s": _r(percentile([lr.started_in for lr in learners if lr.started_in], 50)),
        "server start max s": _r(max([lr.started_in for lr in learners if lr.started_in], default=None)),
        "peak memory GiB": round(sampler.peak_total / GiB, 2) if sampler else None,
        "learner MiB median": _r(statistics.median(sampler.peak_learner.values()) / MiB, 0)
        if sampler and sampler.peak_learner else None,
        "learner MiB max": (_r(max(sampler.peak_learner.values()) / MiB, 0)
                            if sampler and sampler.peak_learner else None),
        "kernel MiB median": (_r(statistics.median(sampler.peak_kernel) / MiB, 0)
                              if sampler and sampler.peak_kernel else None),
        "cores average": round(sampler.cpu_seconds() / wall, 2) if sampler and wall else None,
        "cores busiest": round(sampler.busiest, 2) if sampler else None,
    })
    per_lesson = {}
    for num in result["lessons"]:
        mine = [c for c in cells if c[0] == num]
        if not mine:
            continue
        totals = [sum(c[2] for c in learner.cells if c[0] == num) for learner in learners
                  if any(c[0] == num for c in learner.cells)]
        per_lesson[_label(num)] = {"learners": len(totals), "cells": len(mine),
                           "p50 s": _r(percentile([c[2] for c in mine], 50)),
                           "p95 s": _r(percentile([c[2] for c in mine], 95)),
                           "max s": _r(max(c[2] for c in mine)),
                           "minutes running cells (median learner)": _r(statistics.median(totals) / 60, 2),
                           "errors": sum(1 for c in mine if c[3]),
                           "changed": sum(1 for c in mine if c[4])}
    result["per lesson"] = per_lesson
    by_cell = {}
    for c in cells:
        by_cell.setdefault((c[0], c[1]), []).append(c[2])
    slowest = sorted(by_cell.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
    result["slowest cells"] = [{"cell": f"{_label(k[0])}#{k[1]}",
                                "median s": _r(statistics.median(v)), "max s": _r(max(v))} for k, v in slowest]
    return result


def _label(lesson):
    """A lesson as the tables show it: its number, or a notebook's file name."""
    return pathlib.Path(lesson).name if lesson.endswith(".ipynb") else lesson


def _r(x, digits=2):
    return None if x is None else round(x, digits)


# -- output ----------------------------------------------------------------------------------------

def table(rows, columns):
    cells = [[str(r.get(c, "")) if r.get(c) is not None else "-" for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line, sep] + ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |"
                                    for row in cells])


SUMMARY = ["learners", "busy learners", "cells", "p50 s", "p95 s", "max s", "error count", "changed",
           "server start max s", "learner MiB median", "learner MiB max", "kernel MiB median",
           "peak memory GiB", "cores average", "cores busiest", "machine busy %", "wall s"]


def summary_line(r):
    return (f"{r['learners']} learners: p95 cell latency {r['p95 s']} s, "
            f"peak memory {r['peak memory GiB']} GiB, {r['error count']} errors")


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written, and each option's default in its help."""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=_Help)
    parser.add_argument("--learners", type=int, nargs="+", default=[5], help="class sizes, run one after another")
    parser.add_argument("--lessons", nargs="+", default=[f"{i:02d}" for i in range(1, 9)],
                        help="lesson numbers (or paths of other notebooks) every learner runs, in order")
    parser.add_argument("--busy-lesson", default="09", help="the lesson a share of learners runs last")
    parser.add_argument("--busy-share", type=float, default=0.33, help="share of learners who run it (0: none)")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds a learner waits between cells")
    parser.add_argument("--cell-timeout", type=float, default=120.0, help="seconds before a cell is interrupted")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds for one class, at most")
    parser.add_argument("--keep-kernels", action="store_true",
                        help="keep each lesson's kernel running until the learner's last lesson "
                             "(as learners who never shut a kernel down)")
    parser.add_argument("--kernel-transport", choices=["tcp", "ipc"], default="tcp",
                        help="how kernels talk to their server: tcp (Jupyter's default: 5 ports on 127.0.0.1 "
                             "each) or ipc (files)")
    parser.add_argument("--keep-log", type=pathlib.Path,
                        help="copy the hub's log (with the servers' and kernels' output) to PATH-N.log "
                             "for a class of N")
    parser.add_argument("--install-proxy", action="store_true",
                        help=f"npm install {PROXY_PACKAGE} into .cache/chp/ if it is not found")
    parser.add_argument("--json", type=pathlib.Path, help="write every figure to this file")
    args = parser.parse_args(argv)
    if any(n < 1 or n > 60 for n in args.learners):
        parser.error("--learners: 1 to 60")
    missing = jupyterhub_missing()
    if missing:
        print(f"classroom: {missing}", file=sys.stderr)
        return 2
    proxy, why = install_proxy() if args.install_proxy else (find_proxy(), "")
    if not proxy:
        why = why or "run with --install-proxy, or: npm install -g configurable-http-proxy"
        print(f"classroom: configurable-http-proxy not found ({why})", file=sys.stderr)
        return 2

    stop_all = threading.Event()

    def interrupted(signum, frame):
        stop_all.set()
        raise KeyboardInterrupt

    old = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    results = []
    try:
        for n in args.learners:
            stop_all.clear()
            print(f"classroom: {n} learners, lessons {' '.join(args.lessons)}"
                  f"{f' (+ {args.busy_lesson} for a share of {args.busy_share:.2f})' if args.busy_share else ''},"
                  f" {args.pause} s between cells ...", flush=True)
            try:
                r = run_class(n, args.lessons, args.busy_lesson, args.busy_share, args.pause, args.cell_timeout,
                              args.time_limit, proxy, stop_all, args.keep_kernels,
                              args.keep_log and args.keep_log.with_name(f"{args.keep_log.name}-{n}.log"),
                              args.kernel_transport)
            except RuntimeError as e:  # the hub did not start: said, after everything is stopped
                print(f"classroom: {e}", file=sys.stderr)
                return 1
            results.append(r)
            for who, lesson, cell, message in r["errors"][:20]:
                print(f"  error: {who}, lesson {lesson}, cell {cell}: {message}")
            if len(r["errors"]) > 20:
                print(f"  ... and {len(r['errors']) - 20} more errors")
            if any(e[2] == "-" for e in r["errors"]):  # not a cell's error: the hub's last words may say why
                print("  the hub's log, last lines:\n    " + r["hub log"][-3000:].replace("\n", "\n    "))
            for item in r["left running"]:
                print(f"  left running after the hub stopped (killed): {item}")
            for port, pid in r["left listening"]:
                print(f"  left listening after the hub stopped: port {port} (pid {pid})")
    except KeyboardInterrupt:
        print("classroom: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    print()
    print(f"machine: {os.cpu_count()} cores, {_mem_gib()} GiB; JupyterHub {_version('jupyterhub')}, "
          f"{args.pause} s between cells{', kernels kept open' if args.keep_kernels else ''}, "
          f"kernels over {args.kernel_transport}")
    print(table(results, SUMMARY))
    for r in results:
        print(f"\n{r['learners']} learners, per lesson:")
        rows = [dict(lesson=k, **v) for k, v in r["per lesson"].items()]
        print(table(rows, ["lesson", "learners", "cells", "p50 s", "p95 s", "max s",
                           "minutes running cells (median learner)", "errors", "changed"]))
        print("slowest cells (lesson#cell, counted from 0 as in JupyterLab): " + ", ".join(
            f"{c['cell']} {c['median s']} s (max {c['max s']})" for c in r["slowest cells"]))
        if r["changed cells"]:
            print("changed (lesson#cell, cells counted from 0 as in JupyterLab):", " ".join(r["changed cells"]))
            shown = set()
            for who, lesson, cell, stored, new in r["changes"]:
                if (lesson, cell, stored, new) not in shown and len(shown) < 12:
                    shown.add((lesson, cell, stored, new))
                    print(f"  {lesson}#{cell} ({who}): stored {stored!r}, now {new!r}")
    print()
    for r in results:
        print(summary_line(r))
    bad = any(r["error count"] or r["left running"] or r["left listening"] for r in results)
    return 1 if bad else 0


def _mem_gib():
    import psutil
    return round(psutil.virtual_memory().total / GiB, 1)


def _version(dist):
    from importlib.metadata import version
    try:
        return version(dist)
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
