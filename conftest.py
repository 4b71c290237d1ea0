"""Root pytest configuration: nbval's sanitizer, found from any working directory; the slow kinds of test; the
tests that need Linux, or a POSIX system (Linux, macOS), skipped elsewhere with their reason.

``make check`` runs every test that is none of the kinds below (``-m "not kernel and
not browser and not hub and not venv"``); ``make test`` runs them all.  A test is of
a kind when it starts what the kind names; the table says which tests those are.
"""

import os
import pathlib
import sys

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


LINUX = "Linux only"
POSIX = "not on Windows"
# test file (or file::test name prefix) -> what it needs, and why. On a system without it, a whole file is not
# collected (it may not even import there; pytest's header lists it), a test is skipped with the reason.
# The lessons' stored outputs, compared by nbval, are Linux's: errno texts, epoll's one READ|WRITE entry.
# tests/test_pace_course.py runs them as macOS's kqueue and Windows' select() answer, here on Linux.
SYSTEMS = {
    "tests/test_reliability.py": (LINUX, "counts fds, CPU and TCP sockets in /proc; fcntl, resource, termios"),
    "tests/test_learner_lab.py": (LINUX, "make lab in a fresh clone, in Debian's chromium"),
    "tests/test_browser.py": (LINUX, "JupyterLab in Debian's chromium"),
    "tests/test_accessibility.py": (LINUX, "JupyterLab in Debian's chromium"),
    "tests/test_grading.py::test_": (LINUX, "nbgrader's exchange and a JupyterHub whose kernels talk over ipc, "
                                            "spawned with killpg (and setsid, which macOS lacks)"),
    "tests/test_grading.py::test_the_course_folder": None,  # pure: runs everywhere (a None entry lifts the one above)
    "tests/test_grading.py::test_each_exercise": (POSIX, "the exchange's mode, 1777"),
    "tests/test_classroom.py::test_two_learners": (LINUX, "a JupyterHub, ipc kernels (macOS: paths over 104 bytes)"),
    "tests/test_classroom.py::test_the_simulation": (LINUX, "a JupyterHub with ipc kernels; setsid"),
    "tests/test_classroom.py::test_ctrl_c": (POSIX, "SIGINT to a child"),
    "tests/test_classroom.py::test_the_tool_says": (POSIX, ".venv/bin/python"),
    "tests/test_pace.py": (LINUX, "simulates macOS's and Windows' selectors on Linux's epoll; ipc kernels"),
    "tests/test_pace_course.py": (LINUX, "simulates macOS's and Windows' selectors on Linux's epoll; ipc kernels"),
    "notebooks/": (LINUX, "stored outputs are Linux's (errno texts, epoll's READ|WRITE)"),
    "solutions/": (LINUX, "stored outputs are Linux's (errno texts, epoll's READ|WRITE)"),
    "zh-CN/": (LINUX, "stored outputs are Linux's (errno texts, epoll's READ|WRITE)"),
    "tests/test_workspace.py::test_a_course_update": (POSIX, "a fresh clone made with make"),
    "tests/test_blocking.py::test_stop_wakes": (LINUX, "counts fds in /proc/self/fd"),
    "tests/test_background.py::test_start_stop_200_times": (LINUX, "counts fds in /proc/self/fd"),
    "tests/test_background.py::test_run_client_reports_a_refused": (POSIX, "Windows refuses a connect in about 2 s"),
    "tests/test_pitfalls.py::test_two_sends_arrive_as_one_recv": (LINUX, "Linux's SIOCOUTQ ioctl"),
    "tests/test_pitfalls.py::test_restart_at_once": (POSIX, "Windows binds over TIME_WAIT by other rules"),
    "tests/test_pitfalls.py::test_seed_client_dies_on_refused": (POSIX, "Windows refuses a connect in about 2 s"),
    "tests/test_pitfalls.py::test_fixed_client_records_refused": (POSIX, "Windows refuses a connect in about 2 s"),
    "tests/test_pitfalls.py::test_seed_server_outb_grows": (POSIX, "Windows' send() may take megabytes at once"),
    "tests/test_pitfalls.py::test_fixed_server_outb_stays": (POSIX, "Windows' send() may take megabytes at once"),
    "tests/test_checks.py::test_a_mistake_with_the_unsent_rest": (LINUX, "SO_SNDBUFFORCE"),
    "tests/test_cli.py::test_server_and_client_reproduce": (POSIX, "SIGINT to a child, preexec_fn"),
    "tests/test_cli.py::test_ctrl_c": (POSIX, "SIGINT to a child, preexec_fn"),
    "tests/test_cli.py::test_non_loopback": (POSIX, "SIGINT to a child, preexec_fn"),
    "tests/test_cli.py::test_loopback_address": (POSIX, "SIGINT to a child, preexec_fn"),
    "tests/test_cli.py::test_other_spellings": (POSIX, "SIGINT to a child, preexec_fn"),
    "tests/test_cli.py::test_fixed_server_reports_a_reset": (POSIX, "preexec_fn"),
    "tests/test_cli.py::test_client_out_of_file_descriptors": (POSIX, "resource.setrlimit, preexec_fn"),
    "tests/test_cli.py::test_port_in_use": (POSIX, "Winsock says WinError 10048, not 'in use'"),
    "tests/test_idle.py::test_the_command_lines_idle_timeout": (POSIX, "SIGINT to a child, preexec_fn"),
    "tests/test_bench.py::test_bench_": (LINUX, "echo_lab bench runs on Linux only (/proc, CPU affinity, epoll)"),
    "tests/test_bench.py::test_without_a_compiler": (LINUX, "runs the idle-cost test, which needs loadgen.c's epoll"),
    "tests/test_bench.py::test_idle_cost": (LINUX, "loadgen.c uses epoll"),
    "tests/test_bench.py::test_loadgen": (LINUX, "loadgen.c uses epoll"),
    "tests/test_bench.py::test_the_cached_load_client": (LINUX, "loadgen.c uses epoll"),
    "tests/test_bench.py::test_the_counted_seconds": (LINUX, "loadgen.c uses epoll; /proc"),
    "tests/test_bench.py::test_a_run_that_counted_no_message": (LINUX, "/proc/PID/stat"),
    "tests/test_bench.py::test_a_compiler_that_fails": (POSIX, "a C compiler, cc"),
    "tests/test_bench.py::test_an_infinite_hard_limit": (POSIX, "resource"),
    "tests/test_zh_pictures.py::test_the_fallback_fonts": ("not on macOS", "matplotlib finds no CJK font there"),
}


def _lacks(need):
    return {LINUX: sys.platform != "linux", POSIX: os.name != "posix", "not on macOS": sys.platform == "darwin"}[need]


def _needs(nodeid):
    """What the test (or file) ``nodeid`` needs of the system, and why: (need, reason), or None."""
    found = [(prefix, need) for prefix, need in SYSTEMS.items() if nodeid.startswith(prefix)]
    return max(found, key=lambda pair: len(pair[0]))[1] if found else None  # the longest prefix decides


def _not_here():
    return {path: need for path, need in SYSTEMS.items() if need and "::" not in path and _lacks(need[0])}


def pytest_ignore_collect(collection_path, config):
    root, not_here = pathlib.Path(__file__).parent, _not_here()
    if not not_here or not collection_path.is_relative_to(root):
        return None
    relative = collection_path.relative_to(root).as_posix()
    return True if any(relative == path or relative.startswith(path.rstrip("/") + "/") for path in not_here) else None


def pytest_report_header(config):
    return [f"not collected on {sys.platform}: {path} ({need}: {why})" for path, (need, why) in _not_here().items()]


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
    for item in items:
        need = _needs(item.nodeid)
        if need and _lacks(need[0]):
            item.add_marker(pytest.mark.skip(reason=f"{need[0]}: {need[1]}"))
