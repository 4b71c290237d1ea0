"""The tests that need Linux, or a POSIX system, are named in conftest.py's SYSTEMS: each entry names a test or
a file that exists, nothing is left out on Linux, and on macOS or Windows each is skipped with its reason."""

import ast
import importlib.util
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
conftest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conftest)


def _tests_in(path):
    return [node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


@pytest.mark.parametrize("entry", sorted(conftest.SYSTEMS))
def test_each_entry_names_a_test_or_a_file_that_exists(entry):
    path, _, prefix = entry.partition("::")
    assert (ROOT / path).exists(), entry
    if prefix:
        assert any(name.startswith(prefix) for name in _tests_in(ROOT / path)), entry


def test_on_linux_nothing_is_left_out():
    if sys.platform != "linux":
        pytest.skip("this is not Linux")
    assert conftest._not_here() == {}
    assert not any(need and conftest._lacks(need[0]) for need in conftest.SYSTEMS.values())


def test_on_macos_the_linux_only_tests_skip_with_their_reason_and_the_rest_run(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert set(conftest._not_here()) == {"tests/test_reliability.py", "tests/test_learner_lab.py",
                                         "tests/test_browser.py", "tests/test_accessibility.py", "tests/test_pace.py",
                                         "tests/test_pace_course.py", "notebooks/", "solutions/", "zh-CN/"}
    need = conftest._needs("tests/test_checks.py::test_a_mistake_with_the_unsent_rest_is_caught[x]")
    assert need == (conftest.LINUX, "SO_SNDBUFFORCE") and conftest._lacks(need[0])
    assert conftest._needs("tests/test_grading.py::test_the_course_folder_is_nbgraders") is None  # lifted
    assert conftest._lacks(conftest._needs("tests/test_grading.py::test_the_hub_x")[0])
    assert not conftest._lacks(conftest._needs("tests/test_cli.py::test_ctrl_c_stops_the_server_cleanly")[0])
    assert conftest._needs("tests/test_recorder.py::test_anything") is None
