"""pyproject.toml and environment.yml must describe the same environment."""

import pathlib
import re
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _norm(spec):
    return re.sub(r"\s+", "", spec).lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python" + project["requires-python"] in conda
    assert "pip" in conda
    runtime = sorted(_norm(d) for d in conda if not d.startswith(("python", "pip")))
    assert runtime == sorted(_norm(d) for d in project["dependencies"])
    assert pip == ["-e .[dev]"], "the pip section installs the package with its dev extra"
    assert "dev" in project["optional-dependencies"]
