"""A teacher's folders: nbgrader's course folder (and JupyterLab on it), and the learners' copy without answers.

    python tools/teach.py course [FOLDER]            # make course: course/, one assignment of all ten exercises
    python tools/teach.py course --each              # one assignment per exercise instead
    python tools/teach.py course --exchange /srv/nbgrader/exchange   # a shared exchange (a hub's learners)
    python tools/teach.py students [FOLDER]          # the learners' copy, students/: no solutions in it
    python tools/teach.py lab [FOLDER] [-- ARGS]     # make teach: JupyterLab in the course folder (made if
                                                     #   missing), with nbgrader's Formgrader; ARGS go to it

``course`` makes what nbgrader's commands and the Formgrader expect to find
where they run: ``nbgrader_config.py`` (the folder's absolute path as
``CourseDirectory.root``, the course id ``echo-lab``, the exchange: inside the
folder unless ``--exchange`` names a shared one) and ``source/``, the solution
notebooks as nbgrader's source, in English and in Chinese.  Assignment names
start with a digit or end in ``-zh``, so that none can be imported as a Python
package: a fetched assignment's folder named like a package (``echo_lab``)
would hide the package from the code run beside it.  An existing course folder
keeps its gradebook, submissions and config; ``source/`` is brought up to date.

``lab`` needs only Python: run by one without nbgrader, it makes the teacher's
environment, ``.venv-teach/`` (the course and its ``teacher`` extra, once; as
the learner's is made, tools/workspace.py), and runs itself there.

``students`` writes the course as learners get it: the lessons, the exercises
(English and Chinese), the package and what ``make lab`` needs, without
``solutions/``, ``zh-CN/solutions/`` or the answers the package carries
(``echo_lab/checks/solutions.json`` keeps only what a check needs and a lesson
shows), and marked graded, so that ``solution()`` and the last hint say that
they are off.  TEACHING.md says how to publish it for the git-pull link.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys

from workspace import has, jupyterlab, needs_python, run_in, split_at_dashes, trust

ROOT = pathlib.Path(__file__).resolve().parents[1]
COURSE_ID = "echo-lab"
EDITIONS = {"": ROOT / "solutions", "-zh": ROOT / "zh-CN" / "solutions"}  # assignment name suffix: source notebooks
TEACH_VENV = ROOT / ".venv-teach"
ALL = "selectors-exercises"  # the one assignment of all ten, without --each
# The learners' copy: what git tracks, but these.
NOT_FOR_LEARNERS = ("solutions/", "zh-CN/solutions/", "i18n/", "tests/", "tools/", "benchmarks/", "deploy/", ".ci/",
                    "conftest.py", "TEACHING.md", "CONTRIBUTING.md")
LEARNERS_TOOLS = ("tools/workspace.py",)  # `make lab` runs it
# Answers a check needs to run, kept in the learners' copy: each is code a lesson shows.
CHECKS_NEED = {"take_messages": "notebooks/10-byte-stream.ipynb"}  # exercise 09's check reads messages with it

CONFIG = """\
# nbgrader's configuration for this course folder, written by tools/teach.py course.
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {course_id!r}
# Where release_assignment puts assignments and submit puts submissions: every learner must be able to
# write there (on a hub, a folder all learners' servers share, with the same setting in their config).
c.Exchange.root = {exchange!r}
"""


def assignments(each):
    """{assignment name: [source notebook paths]}, English and Chinese."""
    found = {}
    for suffix, folder in EDITIONS.items():
        notebooks = sorted(folder.glob("[0-9][0-9]-*.ipynb"))
        if each:
            for path in notebooks:
                found[path.stem + suffix] = [path]
        else:
            found[ALL + suffix] = notebooks
    return found


def make_course(folder, each=False, exchange=None):
    """Make (or bring up to date) the course folder ``folder``; return its assignments' names."""
    folder = folder.resolve()
    exchange = pathlib.Path(exchange).resolve() if exchange else folder / "exchange"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG.format(root=str(folder), course_id=COURSE_ID, exchange=str(exchange)))
    if not exchange.exists():
        exchange.mkdir(parents=True)
        exchange.chmod(0o1777)  # anyone may add, only the owner removes (as /tmp): learners submit here
    made = assignments(each)
    for name, notebooks in made.items():
        source = folder / "source" / name
        source.mkdir(parents=True, exist_ok=True)
        for path in notebooks:
            shutil.copy2(path, source / path.name)
    return list(made)


def tracked_files():
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    return [name for name in listed if name and (ROOT / name).is_file()]


def for_learners(name):
    return name in LEARNERS_TOOLS or not name.startswith(NOT_FOR_LEARNERS)


def learners_solutions(text):
    """solutions.json as the learners' copy has it: no answer, but those a check needs; marked graded."""
    written = json.loads(text)
    for name, exercise in written["exercises"].items():
        if name not in CHECKS_NEED:
            exercise["solution"] = None
    written["graded"] = True
    return json.dumps(written, indent=1, ensure_ascii=False) + "\n"


def make_students(folder):
    """Write the learners' copy of the course into ``folder`` (emptied first, but for its ``.git``); return how
    many files."""
    folder = folder.resolve()
    if folder == ROOT or ROOT.is_relative_to(folder):
        raise SystemExit(f"teach students: {folder} holds the course itself; name a folder of its own")
    for old in folder.iterdir() if folder.exists() else ():  # all but its git history: learners pull on top of it
        if old.name == ".git":
            continue
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    names = [name for name in tracked_files() if for_learners(name)]
    for name in names:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == "echo_lab/checks/solutions.json":
            target.write_text(learners_solutions((ROOT / name).read_text(encoding="utf-8")), encoding="utf-8")
        else:
            shutil.copy2(ROOT / name, target)
    return len(names)


def teach_lab(args, argv, jupyter_args):
    """The teacher's JupyterLab, from .venv-teach (made first if need be), serving the course folder: nbgrader's
    Formgrader finds the course in the folder JupyterLab runs in."""
    if not has("jupyterlab", "nbgrader", "echo_lab"):
        return run_in(TEACH_VENV, "[teacher]", [__file__, *argv])
    folder = args.folder.resolve()
    if not (folder / "nbgrader_config.py").exists():
        names = make_course(folder, args.each, args.exchange)
        print(f"Course folder: {folder} (made: {len(names)} assignments in source/)")
    trust(sorted(folder.glob("source/*/*.ipynb")))
    print(f"Opening {folder} in JupyterLab, with nbgrader's Formgrader (menu Nbgrader); Ctrl-C here stops it.",
          flush=True)
    os.chdir(folder)
    jupyterlab(folder, "/lab", jupyter_args)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python tools/teach.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    course = commands.add_parser("course", help="nbgrader's course folder (default: course/)")
    course.add_argument("folder", nargs="?", type=pathlib.Path, default=ROOT / "course")
    course.add_argument("--each", action="store_true", help="one assignment per exercise, not one of all ten")
    course.add_argument("--exchange", help="nbgrader's exchange: a folder every learner can write to "
                                           "(default: exchange/ in the course folder)")
    lab = commands.add_parser("lab", help="JupyterLab in the course folder (made if missing), with the Formgrader")
    lab.add_argument("folder", nargs="?", type=pathlib.Path, default=ROOT / "course")
    lab.add_argument("--each", action="store_true", help="if the folder is made: one assignment per exercise")
    lab.add_argument("--exchange", help="if the folder is made: nbgrader's exchange, as for course")
    lab.epilog = "Options after -- go to `jupyter lab`."
    students = commands.add_parser("students", help="the learners' copy, without solutions (default: students/)")
    students.add_argument("folder", nargs="?", type=pathlib.Path, default=ROOT / "students")
    argv = sys.argv[1:] if argv is None else argv
    ours, jupyter_args = split_at_dashes(argv)
    args = parser.parse_args(ours)
    if args.command == "lab":
        needs_python()
        return teach_lab(args, argv, jupyter_args)
    if args.command == "course":
        names = make_course(args.folder, args.each, args.exchange)
        print(f"Course folder: {args.folder.resolve()} (nbgrader_config.py, source/: {len(names)} assignments: "
              f"{', '.join(names)})")
        print("Next: nbgrader generate_assignment NAME, then release_assignment NAME (TEACHING.md); "
              "make teach opens JupyterLab there, with the Formgrader.")
    else:
        count = make_students(args.folder)
        print(f"The learners' copy: {args.folder.resolve()} ({count} files; no solutions, solution() off)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
