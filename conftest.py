"""Root pytest configuration: nbval's sanitizer, found from any working directory; the slow kinds of test.

``make check`` runs every test that is none of the kinds below (``-m "not kernel and
not browser and not hub and not venv"``); ``make test`` runs them all.  A test is of
a kind when it starts what the kind names; the table says which tests those are.
"""

import pathlib

import pytest

SANITIZE = pathlib.Path(__file__).parent / "tests" / "nbval_sanitize.cfg"

# test file (or file::test name prefix) -> the kinds of what it starts
KINDS = {
    "tests/test_pace.py": ("kernel",),
    "tests/test_pace_course.py": ("kernel",),
    "tests/test_grading.py": ("hub", "kernel"),
    "tests/test_classroom.py": ("hub", "kernel"),
    "tests/test_browser.py": ("browser", "kernel"),
    "tests/test_accessibility.py": ("browser", "kernel"),
    "tests/test_learner_lab.py": ("venv", "browser", "kernel"),
    "tests/test_nbval_repeat.py::test_a_": ("kernel",),  # it runs nbval on a small notebook
    "tests/test_make_exercises.py::test_unfinished_exercise": ("kernel",),
    "tests/test_make_exercises.py::test_a_blocking_accepted_socket": ("kernel",),
    "tests/test_make_exercises.py::test_sent_bytes_never_sliced_off": ("kernel",),
    "tests/test_make_exercises.py::test_a_fix_that_never_drops_write": ("kernel",),
    "tests/test_translation.py::test_an_unfinished_chinese_exercise": ("kernel",),
}


def pytest_configure(config):
    if hasattr(config.option, "nbval_sanitize_with") and not config.option.nbval_sanitize_with:
        config.option.nbval_sanitize_with = str(SANITIZE)


# The longest test files go first, so that under pytest-xdist no worker is left running one of them alone at the
# end (make test keeps this order: --no-loadscope-reorder). Each of the N workers starts with two files, the
# first N here each with the one N places later (the longest with the fifth, at four workers). The rest keep
# their order; a file's tests stay in theirs.
LONGEST = ["tests/test_grading.py", "tests/test_learner_lab.py", "tests/test_pace_course.py",
           "tests/test_pace.py", "tests/test_browser.py", "tests/test_accessibility.py", "tests/test_classroom.py"]


def _longest_first(item):
    path = item.nodeid.split("::")[0]
    return LONGEST.index(path) if path in LONGEST else len(LONGEST)


def pytest_collection_modifyitems(items):
    items.sort(key=_longest_first)  # stable
    for item in items:
        if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:  # a notebook's cell, under nbval
            item.add_marker(pytest.mark.kernel)
            continue
        for prefix, kinds in KINDS.items():
            if item.nodeid.startswith(prefix):
                for kind in kinds:
                    item.add_marker(getattr(pytest.mark, kind))
