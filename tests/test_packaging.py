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


def _make_n(target, *variables):
    """What `make TARGET [NAME=VALUE...]` would run in a fresh checkout (-B: as if nothing were installed)."""
    require("make", "sudo apt-get install make", what="the Makefile's checks")
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}  # a user's, not `make test PYTEST_ARGS=`'s
    return subprocess.run(["make", "-n", "-B", "--no-print-directory", "-C", str(ROOT), target, *variables], env=env,
                          capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.mark.parametrize("target, runs", [("lab", "python3 tools/workspace.py lab --"),
                                          ("lab-zh", "python3 tools/workspace.py lab --zh --"),
                                          ("teach", "python3 tools/teach.py lab course --"),
                                          ("test", "python3 tools/develop.py test"),
                                          ("check", "python3 tools/develop.py check"),
                                          ("install", "python3 tools/develop.py install")])
def test_each_make_target_is_the_command_without_make(target, runs):
    """Each make target runs what README gives where there is no make (Windows): a script that needs only
    Python makes its environment and runs there."""
    assert [" ".join(line.split()) for line in _make_n(target).splitlines()] == [runs]


def test_make_test_passes_its_workers_and_pytest_args_on():
    ran = _make_n("test", "WORKERS=2", "PYTEST_ARGS=-k net")
    assert ran.strip() == "python3 tools/develop.py test -n 2 -k net", ran


def test_each_command_makes_its_own_users_environment(monkeypatch, tmp_path):
    """The learner's (tools/test_learner_lab.py builds it and looks inside), the teacher's and the
    developer's: each its own folder, with its own extra, made by the one function that makes them.
    Run by a python without what it needs, each script runs again in its environment."""
    import develop
    import teach
    import workspace

    made = []
    monkeypatch.setattr(develop, "environment", lambda folder, extra="": made.append((folder, extra)) or folder)
    for module in (teach, workspace):
        monkeypatch.setattr(module, "run_in", lambda folder, extra, argv: made.append((folder, extra)) or 0)
        monkeypatch.setattr(module, "has", lambda *modules: False)  # as a python without them
    assert develop.main(["install"]) == 0
    assert teach.main(["lab", str(tmp_path / "course")]) == 0
    with pytest.raises(SystemExit) as done:
        workspace.main(["sync"])
    assert done.value.code == 0
    assert made == [(ROOT / ".venv", "[dev]"), (ROOT / ".venv-teach", "[teacher]"), (ROOT / ".venv-lab", "")], made
    assert not (tmp_path / "course").exists()  # the course folder is made in the teacher's environment


def test_a_wrong_argument_is_told_before_an_environment_is_made(monkeypatch, capsys):
    """Run by a python without the course (a fresh clone's), a mistyped command says so at once: nothing is
    installed first."""
    import develop
    import teach
    import workspace

    def installs(*args, **kwargs):
        raise AssertionError("an environment was made before the arguments were read")

    monkeypatch.setattr(develop, "environment", installs)
    for module in (teach, workspace):
        monkeypatch.setattr(module, "run_in", installs)
        monkeypatch.setattr(module, "has", lambda *modules: False)
    for main, wrong in [(workspace.main, ["open"]), (develop.main, ["tset"]), (teach.main, ["lba"])]:
        with pytest.raises(SystemExit) as done:
            main(wrong)
        assert done.value.code == 2 and "invalid choice" in capsys.readouterr().err, wrong


def test_an_environment_that_lacks_the_course_is_not_run_again_without_end(monkeypatch, tmp_path):
    """A script run again inside its environment that still lacks what it needs (a moved clone, a package
    removed) stops with a message, and the next run fills the environment afresh."""
    import workspace

    folder = tmp_path / ".venv-lab"
    folder.mkdir()
    (folder / ".installed").touch()
    monkeypatch.setenv(workspace.INSIDE, str(folder))
    monkeypatch.setattr(workspace, "environment", lambda *args: pytest.fail("it went on to run itself again"))
    with pytest.raises(SystemExit) as done:
        workspace.run_in(folder, "", ["tools/workspace.py"])
    assert "lacks part of the course" in str(done.value.code) and not (folder / ".installed").exists()


def test_readme_gives_each_make_targets_command_for_windows_and_the_others():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("tools/workspace.py lab", "tools/workspace.py lab --zh", "tools/teach.py lab",
                    "tools/develop.py test", "tools/develop.py check"):
        assert f"`py {command}`" in readme and f"`python3 {command}`" in readme, command


def test_the_workflow_for_macos_and_windows_runs_only_what_runs_on_linux():
    """.github/workflows/platforms.yml: Linux runs .ci/run (which runs make test: tools/develop.py test, above);
    macOS and Windows run that same command, without make."""
    workflow = yaml.safe_load((ROOT / ".github/workflows/platforms.yml").read_text(encoding="utf-8"))
    runs = {name: [step["run"] for step in job["steps"] if "run" in step] for name, job in workflow["jobs"].items()}
    assert runs["linux"][-1] == "bash .ci/run", runs
    assert runs["macos-windows"] == ["python tools/develop.py test"], runs
    assert workflow["jobs"]["macos-windows"]["strategy"]["matrix"]["os"] == ["macos-latest", "windows-latest"]
    assert "make test" in (ROOT / ".ci/run").read_text().splitlines()[-1]
