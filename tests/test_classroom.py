"""A class on JupyterHub: the simulation, nbgitpuller's pull, the Zero to JupyterHub config.

- ``tools/classroom.py`` runs a real JupyterHub (configurable-http-proxy from
  npm, installed once into ``.cache/chp/`` if it is not on PATH) on 127.0.0.1
  with two learners, each running lesson 02 and a small notebook made here that
  fails on purpose (an error, an answer that differs from the stored one, a
  process left behind): the lesson must give no error and the made-up notebook
  every one of its faults. The whole benchmark (``--learners 2 5 10``) is not
  run here. Without JupyterHub or configurable-http-proxy these tests skip,
  saying why; with CI set they fail.
- nbgitpuller's own ``GitPuller`` pulls a git repository made here from a few
  course files into a fresh folder, then again after changes upstream: what a
  learner changed stays theirs, what they left alone is updated.
- ``deploy/z2jh/config.yaml`` uses only keys of the chart's configuration
  schema (the part of ``values.schema.yaml`` it uses is embedded below).
"""

import contextlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.parse

import hub
import learner
import pytest
import yaml

import classroom  # tools/, on pytest's pythonpath
from helpers import cannot

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "classroom.py"

pytestmark = pytest.mark.timeout(400)  # the first run may install configurable-http-proxy (npm)


def _cannot(reason):
    cannot("JupyterHub classroom", reason)


@pytest.fixture(scope="module")
def hub_ready():
    missing = hub.jupyterhub_missing()
    if missing:
        _cannot(missing)
    proxy, why = hub.install_proxy()
    if not proxy:
        _cannot(f"configurable-http-proxy cannot be installed: {why}")
    return proxy


# -- the simulation -----------------------------------------------------------------------------

FAULTY = {  # a notebook whose every fault the simulation must report
    "cells": [
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "print('the stored answer')",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "a different answer\n"}]},
        {"cell_type": "code", "execution_count": 2, "metadata": {}, "source": "1 / 0", "outputs": []},
        {"cell_type": "code", "execution_count": 3, "metadata": {},
         "source": "import subprocess\n"
                   "done = subprocess.run(['sh', '-c', 'setsid sleep 97 >/dev/null 2>&1 &'], check=True)",
         "outputs": []},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def small_class(hub_ready, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("classroom")
    faulty = tmp / "99-faulty.ipynb"
    faulty.write_text(json.dumps(FAULTY))
    out = tmp / "class.json"
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, str(TOOL), "--learners", "2", "--lessons", "02", str(faulty),
                           "--busy-share", "0", "--pause", "0.2", "--cell-timeout", "60", "--time-limit", "150",
                           # kernels over files, as TEACHING advises for a class on one machine: a kernel's five
                           # TCP ports (this class's or another test's) can take the one the hub just chose for a
                           # learner's server, which then cannot start (HTTP 500)
                           "--kernel-transport", "ipc", "--json", str(out)],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    seconds = time.monotonic() - t0
    assert out.exists(), done.stdout + done.stderr
    return done, json.loads(out.read_text())[0], seconds


def test_two_learners_run_lesson_02_on_a_real_hub_without_an_error(small_class):
    done, r, seconds = small_class
    lesson = r["per lesson"]["02"]
    cells = len(learner.load_cells(ROOT / "notebooks" / "02-listening-socket.ipynb", learner.sanitizer()))
    assert (lesson["learners"], lesson["cells"]) == (2, 2 * cells), done.stdout
    assert (lesson["errors"], lesson["changed"]) == (0, 0), done.stdout
    # real servers and kernels were measured: a Jupyter server alone takes tens of MiB
    assert r["learner MiB median"] > 50 and r["kernel MiB median"] > 20, r
    assert 0.1 < r["peak memory GiB"] < 8, r
    assert 0 < lesson["p50 s"] <= lesson["p95 s"] <= lesson["max s"] < 60, lesson
    assert r["server start max s"] and r["server start max s"] < hub.SERVER_START, r
    print(f"\n{done.stdout}\n(small class: {seconds:.0f} s)")


def test_the_simulation_reports_every_fault_and_what_was_left_running(small_class):
    done, r, _ = small_class
    faulty = r["per lesson"]["99-faulty.ipynb"]
    assert faulty["errors"] == 2 and faulty["changed"] == 2, done.stdout  # one each, per learner
    assert [e for e in r["errors"] if "ZeroDivisionError" in e[3]] and r["error count"] == 2, r["errors"]
    # each learner's kernel left a `sleep` behind: found after the hub stopped, then killed
    left = [p for p in r["left running"] if "sleep 97" in p]
    assert len(left) == 2, r["left running"]
    assert not [p for p in r["left running"] if "jupyterhub" in p or "configurable-http-proxy" in p], r
    assert r["left listening"] == [], r
    assert done.returncode == 1, done.stdout + done.stderr  # faults found: not a clean run
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"2 learners: p95 cell latency [\d.]+ s, peak memory [\d.]+ GiB, 2 errors", last), last
    for pid in (int(p.split()[0]) for p in left):
        assert not _alive(pid), f"pid {pid} was reported and should have been killed"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = pathlib.Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


def test_ctrl_c_stops_the_hub_the_proxy_and_every_server(hub_ready, tmp_path):
    import psutil
    proc = subprocess.Popen([sys.executable, str(TOOL), "--learners", "1", "--lessons", "02",
                             "--busy-share", "0", "--pause", "5"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        tool = psutil.Process(proc.pid)
        deadline, family = time.monotonic() + 120, {}
        while time.monotonic() < deadline and proc.poll() is None:
            for p in tool.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    family[p.pid] = (p.create_time(), " ".join(p.cmdline()))
            names = " ".join(cmd for _, cmd in family.values())
            if "jupyterhub-singleuser" in names and "ipykernel" in names:
                break
            time.sleep(0.5)
        assert "jupyterhub-singleuser" in names and "ipykernel" in names, names
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err, err
    alive = []
    for pid, (created, cmd) in family.items():
        try:
            if psutil.Process(pid).create_time() == created and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(cmd)
        except psutil.Error:
            pass
    assert alive == [], f"still running after Ctrl-C: {alive}"
    assert "configurable-http-proxy" in " ".join(cmd for _, cmd in family.values())  # the proxy was one of them


def test_the_tool_says_what_is_missing_and_exits_2(tmp_path):
    # A Python without JupyterHub next to it: a venv of its own (no packages).
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    done = subprocess.run([str(venv / "bin" / "python"), str(TOOL), "--learners", "1"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "jupyterhub is not installed" in done.stderr, done.stdout + done.stderr


def test_percentiles_and_sanitized_comparison():
    assert classroom.percentile([3, 1, 2, 4], 50) == 2
    assert classroom.percentile(list(range(1, 101)), 95) == 95
    assert classroom.percentile([], 95) is None
    pairs = learner.sanitizer()
    a = learner.visible_text([{"output_type": "stream", "text": "listening on ('127.0.0.1', 40123)\n"}], pairs)
    b = learner.visible_text([{"output_type": "stream", "text": "listening on ('127.0.0.1', 51515)\n"}], pairs)
    c = learner.visible_text([{"output_type": "stream", "text": "listening on ('127.0.0.2', 51515)\n"}], pairs)
    assert a == b != c


# -- nbgitpuller --------------------------------------------------------------------------------

def _git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=Teacher", "-c", "user.email=teacher@example.org",
                           "-c", "init.defaultBranch=main", *args],
                          cwd=cwd, check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.fixture
def puller():
    try:
        from nbgitpuller.pull import GitPuller
    except ImportError:
        _cannot("nbgitpuller is not installed (pip install -e '.[dev]' or '.[hub]')")
    if not shutil.which("git"):
        _cannot("git is not installed")
    return GitPuller


def test_nbgitpuller_brings_the_course_and_keeps_a_learners_edits(puller, tmp_path):
    upstream = tmp_path / "echo-lab"
    (upstream / "notebooks").mkdir(parents=True)
    for rel in ("README.md", "notebooks/00-index.ipynb", "notebooks/02-listening-socket.ipynb"):
        shutil.copy(ROOT / rel, upstream / rel)
    _git(upstream, "init", "-q", "-b", "main")
    _git(upstream, "add", "-A")
    _git(upstream, "commit", "-q", "-m", "the course")

    home = tmp_path / "home"
    home.mkdir()
    mine = home / "echo-lab"

    def pull():
        lines = list(puller(str(upstream), str(mine), branch="main", depth=1).pull())
        return "\n".join(lines)

    pull()  # first time: a clone
    for rel in ("README.md", "notebooks/00-index.ipynb", "notebooks/02-listening-socket.ipynb"):
        assert (mine / rel).read_bytes() == (upstream / rel).read_bytes(), rel

    # The learner edits lesson 02 (a cell, as JupyterLab saves it) and deletes the index by mistake.
    lesson = mine / "notebooks" / "02-listening-socket.ipynb"
    nb = json.loads(lesson.read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["source"] = "# my notes: the port is chosen by the system\n" + "".join(code["source"])
    lesson.write_text(json.dumps(nb, indent=1) + "\n")
    learners_lesson = lesson.read_text()
    (mine / "notebooks" / "00-index.ipynb").unlink()

    # Upstream: the README changes (the learner never touched it), the index changes, a lesson is added,
    # and lesson 02 changes in the very line the learner edited.
    (upstream / "README.md").write_text((ROOT / "README.md").read_text() + "\nA new line from the teacher.\n")
    index = json.loads((upstream / "notebooks" / "00-index.ipynb").read_text())
    index["cells"][0]["source"] = "# The teacher's new title\n" + "".join(index["cells"][0]["source"])
    (upstream / "notebooks" / "00-index.ipynb").write_text(json.dumps(index, indent=1) + "\n")
    shutil.copy(ROOT / "notebooks" / "03-register.ipynb", upstream / "notebooks")
    up = json.loads((upstream / "notebooks" / "02-listening-socket.ipynb").read_text())
    up_code = next(c for c in up["cells"] if c["cell_type"] == "code")
    up_code["source"] = "# the teacher's comment\n" + "".join(up_code["source"])
    (upstream / "notebooks" / "02-listening-socket.ipynb").write_text(json.dumps(up, indent=1) + "\n")
    _git(upstream, "add", "-A")
    _git(upstream, "commit", "-q", "-m", "an update")

    pull()  # the second time: a merge that keeps the learner's side
    assert lesson.read_text() == learners_lesson, "the learner's edit of lesson 02 was lost"
    assert (mine / "README.md").read_text().endswith("A new line from the teacher.\n")
    assert (mine / "notebooks" / "03-register.ipynb").exists()
    restored = json.loads((mine / "notebooks" / "00-index.ipynb").read_text())
    assert "".join(restored["cells"][0]["source"]).startswith("# The teacher's new title"), \
        "a deleted file comes back, as it is upstream"


# -- the git-pull link and the deployment ----------------------------------------------------------

def _teaching_section():
    text = (ROOT / "TEACHING.md").read_text()
    assert "\n## A class on JupyterHub\n" in text, "TEACHING.md has no section 'A class on JupyterHub'"
    return text.split("\n## A class on JupyterHub\n", 1)[1]


def test_teaching_gives_a_git_pull_link_that_opens_the_index():
    links = re.findall(r"https://HUB/hub/user-redirect/git-pull\?[^\s`)>\"]+", _teaching_section())
    assert links, "no nbgitpuller link in TEACHING.md's section"
    for link in links:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
        repo, urlpath, branch = query["repo"][0], query["urlpath"][0], query["branch"][0]
        assert branch == "main"
        # nbgitpuller names the folder after the repository's last path segment
        folder = repo.rstrip("/").split("/")[-1]
        assert urlpath == f"lab/tree/{folder}/notebooks/00-index.ipynb", urlpath
        assert folder == hub.COURSE_DIR
        assert (ROOT / urlpath.split(f"lab/tree/{folder}/", 1)[1]).exists()


def test_the_hub_extra_brings_nbgitpuller_and_the_dev_extra_jupyterhub():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=!~; \[]", d, maxsplit=1)[0].lower() for d in extras["hub"]}
    assert {"nbgitpuller", "jupyterhub"} <= names, extras["hub"]
    assert "echo_lab[hub]" in extras["dev"] or any(d.startswith("jupyterhub") for d in extras["dev"])


# What deploy/z2jh/config.yaml may use: the part of the jupyterhub chart's values.schema.yaml
# (repository jupyterhub/zero-to-jupyterhub-k8s, jupyterhub/values.schema.yaml at commit
# 02dd73df01bdbb6d602fed21b0be12565ab38080) under the keys the config sets. Each object keeps the
# chart's `additionalProperties` (false: any other key is an error); `required` is left out, since
# the chart checks it after merging its own defaults.
NULL = "null"
SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "singleuser": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "image": {"type": "object", "additionalProperties": False, "properties": {
                    "name": {"type": "string"}, "tag": {"type": "string"},
                    "pullPolicy": {"enum": [None, "", "IfNotPresent", "Always", "Never"]},
                    "pullSecrets": {"type": "array"}}},
                "cpu": {"type": "object", "additionalProperties": False, "properties": {
                    "limit": {"type": ["number", NULL]}, "guarantee": {"type": ["number", NULL]}}},
                "memory": {"type": "object", "additionalProperties": False, "properties": {
                    "limit": {"type": ["number", "string", NULL]},
                    "guarantee": {"type": ["number", "string", NULL]}}},
                "defaultUrl": {"type": ["string", NULL]},
                "lifecycleHooks": {"type": "object", "additionalProperties": False, "properties": {
                    "postStart": {"type": "object", "additionalProperties": True},
                    "preStop": {"type": "object", "additionalProperties": True}}},
                "startTimeout": {"type": ["integer", NULL]},
                "extraEnv": {"type": ["object", "array"], "additionalProperties": True},
                "storage": {"type": "object", "additionalProperties": False, "properties": {
                    "type": {"enum": ["dynamic", "static", "none"]}, "capacity": {"type": ["string", NULL]},
                    "homeMountPath": {"type": "string"}, "extraLabels": {"type": "object"},
                    "extraVolumes": {"type": ["object", "array"]}, "extraVolumeMounts": {"type": ["object", "array"]},
                    "static": {"type": "object"}, "dynamic": {"type": "object"}}},
                "extraFiles": {"type": "object", "additionalProperties": False, "patternProperties": {".*": {
                    "type": "object", "additionalProperties": False, "required": ["mountPath"], "properties": {
                        "mountPath": {"type": "string"}, "data": {"type": "object"},
                        "stringData": {"type": "string"}, "binaryData": {"type": "string"},
                        "mode": {"type": "number"}}}}},
            },
        },
        "hub": {
            "type": "object", "additionalProperties": False,
            "properties": {"config": {"type": "object", "additionalProperties": True}},
        },
        "cull": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "users": {"type": ["boolean", NULL]},
                "adminUsers": {"type": ["boolean", NULL]},
                "removeNamedServers": {"type": ["boolean", NULL]},
                "timeout": {"type": ["integer", NULL]},
                "every": {"type": ["integer", NULL]},
                "concurrency": {"type": ["integer", NULL]},
                "maxAge": {"type": ["integer", NULL]},
            },
        },
    },
}

CONFIG = ROOT / "deploy" / "z2jh" / "config.yaml"


def _validate(values):
    import jsonschema
    return sorted(".".join(map(str, e.absolute_path)) + ": " + e.message
                  for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(values))


def test_z2jh_config_uses_only_the_charts_keys():
    values = yaml.safe_load(CONFIG.read_text())
    assert _validate(values) == []
    # the check can fail: a misspelt key, a wrong type, a key the chart does not have
    bad = json.loads(json.dumps(values))
    bad["cull"]["timout"] = 3600
    bad["singleuser"]["cpu"]["limit"] = "one"
    bad["singleuser"]["notebookDir"] = "/home/jovyan"
    bad["singleuser"]["extraFiles"]["kernel-culling"]["mountpath"] = "/etc/jupyter"
    errors = _validate(bad)
    assert len(errors) == 4 and any("timout" in e for e in errors) and any("notebookDir" in e for e in errors), errors
    assert any("mountpath" in e for e in errors), errors


def test_z2jh_config_keeps_what_teaching_measured_and_warns_about_the_default_login():
    values = yaml.safe_load(CONFIG.read_text())
    text = CONFIG.read_text()
    assert values["singleuser"]["memory"] == {"guarantee": "1G", "limit": "1536M"}  # 840 MiB kept-kernels peak
    assert values["singleuser"]["storage"]["capacity"] == "1Gi"
    culling = values["singleuser"]["extraFiles"]["kernel-culling"]
    assert culling["mountPath"].startswith("/etc/jupyter/jupyter_server_config.d/") and culling["mountPath"].endswith(
        ".json") and culling["data"]["MappingKernelManager"]["cull_idle_timeout"] == 1200
    assert values["hub"]["config"]["Authenticator"]["admin_users"] == ["TEACHER"]
    assert "lets anyone in" in text and "letsencrypt" in text and "rebuild" in text


def _bytes(quantity):
    units = {"K": 1e3, "M": 1e6, "G": 1e9, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30}
    number, unit = re.fullmatch(r"([\d.]+)([KMG]i?)?", str(quantity)).groups()
    return float(number) * units.get(unit, 1)


def test_z2jh_config_opens_the_course_within_measured_limits():
    values = yaml.safe_load(CONFIG.read_text())
    user = values["singleuser"]
    assert user["defaultUrl"] == f"/lab/tree/{hub.COURSE_DIR}/notebooks/00-index.ipynb"
    hook = " ".join(user["lifecycleHooks"]["postStart"]["exec"]["command"])
    assert re.search(rf"gitpuller \S+/{hub.COURSE_DIR} main \"\$HOME/{hub.COURSE_DIR}\"", hook), hook
    assert values["hub"]["config"]["KubeSpawner"]["working_dir"] == "/home/jovyan"
    memory, cpu = user["memory"], user["cpu"]
    assert 256 * 2 ** 20 <= _bytes(memory["guarantee"]) <= _bytes(memory["limit"]) <= 4 * 2 ** 30, memory
    assert 0 < cpu["guarantee"] <= cpu["limit"] <= 2, cpu
    assert values["cull"]["enabled"] is True and 1800 <= values["cull"]["timeout"] <= 4 * 3600
    assert "jupyter-repo2docker" in CONFIG.read_text() and "jupyter-repo2docker" in _teaching_section()
