"""The code passes ruff, as configured in pyproject.toml's [tool.ruff]."""

import pathlib
import shutil
import subprocess
import sys

from helpers import cannot

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _ruff():
    """ruff next to this Python (the project's venv), else on PATH."""
    here = pathlib.Path(sys.executable).parent / "ruff"
    return str(here) if here.exists() else shutil.which("ruff")


def test_ruff_check_is_clean():
    ruff = _ruff()
    if ruff is None:
        cannot("the linter", "ruff is not installed: pip install -e '.[dev]' (or pip install ruff)")
    done = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"ruff check . found problems:\n{done.stdout}{done.stderr}"
