"""Who gets what: pyproject.toml, environment.yml and the Makefile in step.

* the learner's environment (``make lab``, ``pip install -e .``, conda and
  Binder through environment.yml) is the base dependencies: the course and
  what its lessons run;
* the teacher's (``make teach``) adds the ``teacher`` extra: nbgrader;
* the developer's (``make test``) adds the ``dev`` extra, which includes the
  teacher's.
"""

import os
import pathlib
import re
import subprocess
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement

from helpers import require

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
NAME = PROJECT["name"]
TOOLS = {"nbgrader", "pytest", "playwright", "hypothesis", "nbval"}  # a teacher's or a developer's


def _norm(spec):
    return re.sub(r"\s+", "", spec).lower()


def _name(spec):
    return Requirement(spec).name.lower().replace("_", "-")


def _extra(name, seen=()):
    """The requirements of extra ``name``, with the package's own extras it names expanded."""
    out = []
    for spec in PROJECT["optional-dependencies"][name]:
        req = Requirement(spec)
        if _name(spec) == _name(NAME):
            for extra in sorted(req.extras - set(seen)):
                out += _extra(extra, (*seen, name))
        else:
            out.append(spec)
    return out


def test_environment_yml_is_the_learners_environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python" + PROJECT["requires-python"] in conda
    assert "pip" in conda
    assert pip == ["-e ."], "pip installs the package itself, with no extra: the learner's requirements"
    # conda-forge brings the base dependencies that hold everywhere; those with a
    # platform marker (uvloop: not on Windows) and JupyterLab's language packs
    # (published on PyPI) come from pip through `-e .`.
    runtime = sorted(_norm(d) for d in conda if not d.startswith(("python", "pip")))
    assert runtime == sorted(_norm(d) for d in PROJECT["dependencies"]
                             if not Requirement(d).marker and not _name(d).startswith("jupyterlab-language-pack"))


def test_learners_requirements_hold_the_course_and_no_teacher_or_developer_tool():
    learner = {_name(d) for d in PROJECT["dependencies"]}
    assert {"jupyterlab", "ipywidgets", "matplotlib", "ipykernel", "uvloop"} <= learner
    others = {_name(d) for d in _extra("teacher") + _extra("dev")}
    assert learner & (TOOLS | others) == set()


def test_uvloop_is_the_learners_where_it_installs():
    uvloop = next(Requirement(d) for d in PROJECT["dependencies"] if _name(d) == "uvloop")
    assert uvloop.marker is not None
    assert not uvloop.marker.evaluate({"sys_platform": "win32"})
    assert uvloop.marker.evaluate({"sys_platform": "linux"}) and uvloop.marker.evaluate({"sys_platform": "darwin"})


def test_teacher_extra_is_nbgrader_and_dev_extra_includes_it():
    teacher = _extra("teacher")
    assert [_name(d) for d in teacher] == ["nbgrader"]
    dev = _extra("dev")
    assert set(teacher) <= set(dev)
    assert {"pytest", "playwright", "nbval"} <= {_name(d) for d in dev}


def _make_n(target):
    """What `make TARGET` would run in a fresh checkout (-B: as if nothing were installed)."""
    require("make", "sudo apt-get install make", what="the Makefile's checks")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(["make", "-n", "-B", "--no-print-directory", "-C", str(ROOT), target], env=env,
                          capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.mark.parametrize("target, venv, extra", [("teach", ".venv-teach", "[teacher]"), ("test", ".venv", "[dev]")])
def test_each_make_target_installs_its_own_environment(target, venv, extra):
    commands = _make_n(target)
    installs = re.findall(r"^(\S+)/bin/python -m pip install .* -e '\.(.*)'$", commands, re.M)
    assert installs == [(venv, extra)], commands


@pytest.mark.parametrize("target, runs", [("lab", "python3 tools/workspace.py lab --"),
                                          ("lab-zh", "python3 tools/workspace.py lab --zh --")])
def test_make_lab_is_the_command_without_make(target, runs):
    """`make lab` runs what README gives where there is no make: the script makes .venv-lab/ (the course,
    no extra: tests/test_learner_lab.py looks inside it) and runs itself there."""
    assert [line.rstrip() for line in _make_n(target).splitlines()] == [runs]


def test_make_teach_runs_jupyterlab_as_an_activated_environment():
    start = _make_n("teach").splitlines()[-1]
    here = str(ROOT / ".venv-teach")
    assert f'PATH="{here}/bin:$PATH"' in start and f'VIRTUAL_ENV="{here}"' in start, start
    assert f"{here}/bin/jupyter lab" in start and "terminal.bashrc" in start, start
