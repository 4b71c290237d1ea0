"""JupyterHub on this machine, for a simulated class: the hub, its proxy and what they leave behind.

    hub = Hub(tmp, find_proxy(), tag); hub.start(); hub.api("GET", "/hub/api/"); hub.stop()

JupyterHub (from PyPI) with configurable-http-proxy (from npm: on PATH, or
installed once into ``.cache/chp/`` by :func:`install_proxy`), the dummy
authenticator and the SimpleLocalProcessSpawner, on 127.0.0.1 only, with its
database, cookie secret and pid files in a temporary folder.  Every process
it starts carries ``MARK`` in its environment, so that :func:`run_processes`
finds what is left after :meth:`Hub.stop`, and :func:`kill_all` ends it.
``tools/classroom.py`` uses it.
"""

import contextlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
LOCAL_PROXY = ROOT / ".cache" / "chp"  # `npm install --prefix .cache/chp configurable-http-proxy`
PROXY_PACKAGE = "configurable-http-proxy@5"
COURSE_DIR = "echo-lab"  # the folder nbgitpuller makes from the repository's name
MARK = "ECHO_LAB_CLASSROOM"  # set in every process of a run: found again when cleaning up

# Bounds, in seconds.
HUB_START = 60
SERVER_START = 180  # N servers starting at once on 2 cores
HUB_STOP = 45
HTTP = 60

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


# -- REST ----------------------------------------------------------------------------------------

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
