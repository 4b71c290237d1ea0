"""Generate ``exercises/`` from ``solutions/``: one source, two folders.

Each ``solutions/NN-name.ipynb`` is a complete notebook, stored executed.
Its solution regions carry nbgrader's markers::

    def accept_wrapper(sock):
        ### BEGIN SOLUTION
        conn, addr = sock.accept()  # Should be ready to read
        ...
        ### END SOLUTION

and a check cell may hold hidden tests between ``### BEGIN HIDDEN TESTS``
and ``### END HIDDEN TESTS``.  This script writes ``exercises/NN-name.ipynb``
from it, as nbgrader's ``ClearSolutions``, ``ClearHiddenTests`` and
``ClearOutput`` do (``tests/test_make_exercises.py`` compares the two):

* a solution region becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``, indented like its BEGIN line (in a
  markdown cell: ``YOUR ANSWER HERE``); a cell marked as an nbgrader
  solution cell with no region is replaced whole;
* hidden tests are removed, markers included;
* outputs and execution counts are cleared (with the cell metadata that
  only describes output: ``collapsed``, ``scrolled``, ``execution``) and
  the saved widget state is dropped.

Everything else is kept: cell ids, metadata and tags (nbgrader's too, so a
handed-out exercise still says which cells are answers and which are
checks), and the notebook's metadata.  So ``solutions/`` also serve as
nbgrader source notebooks.

    python tools/make_exercises.py           # rewrite what is out of date in exercises/
    python tools/make_exercises.py --check   # exit 1, listing stale files, if exercises/ is out of date
    python tools/make_exercises.py --solutions DIR --exercises DIR [--check]
"""

import argparse
import copy
import json
import pathlib
import re
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
PACKAGE_SOLUTIONS = ROOT / "echo_lab" / "checks" / "solutions.json"
ABOUT = ("Written by tools/make_exercises.py from solutions/*.ipynb; do not edit. For each answer cell, by its "
         "nbgrader grade_id (the exercise's name): its notebook, the notebook's minutes, and the cell's code "
         "without the solution markers' lines, as solution(name) shows it.")

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
OUTPUT_METADATA = ("collapsed", "scrolled", "execution")


def clear_solutions(source, stub):
    """Replace each solution region of ``source`` by ``stub``; return (new source, replaced?).

    Like nbgrader, a line *containing* the delimiter opens or closes a region.
    Raises ValueError for a nested or unclosed region.
    """
    lines, inside, replaced = [], False, False
    for line in source.split("\n"):
        if BEGIN_SOLUTION in line:
            if inside:
                raise ValueError(f"nested {BEGIN_SOLUTION!r} in:\n{source}")
            inside = replaced = True
            indent = re.match(r"\s*", line).group(0)
            lines.extend(indent + stub_line for stub_line in stub.split("\n"))
        elif END_SOLUTION in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ValueError(f"no {END_SOLUTION!r} in:\n{source}")
    return "\n".join(lines), replaced


def remove_hidden_tests(source):
    """Remove each hidden-tests region of ``source``, markers included. Raises ValueError if malformed."""
    lines, inside = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            if inside:
                raise ValueError(f"nested {BEGIN_HIDDEN!r} in:\n{source}")
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ValueError(f"no {END_HIDDEN!r} in:\n{source}")
    return "\n".join(lines)


def student_version(nb):
    """A copy of the solution notebook ``nb`` as it is handed out."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        cell.source, replaced = clear_solutions(cell.source, stub)
        if not replaced and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = stub  # an nbgrader solution cell without a region: all of it is the answer
        cell.source = remove_hidden_tests(cell.source)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            for key in OUTPUT_METADATA:
                cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("celltoolbar", None)
    return nb


def answer_code(source):
    """An answer cell's code as ``solution()`` shows it: the cell without the lines of its solution markers."""
    return "\n".join(line for line in source.split("\n") if BEGIN_SOLUTION not in line and END_SOLUTION not in line)


def solutions_json(solutions=SOLUTIONS):
    """The text of the package's ``solutions.json``: every answer cell of ``solutions``, by its grade_id."""
    found = {}
    for path in sorted(pathlib.Path(solutions).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            nbgrader = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type != "code" or not nbgrader.get("solution"):
                continue
            name = nbgrader["grade_id"]
            if name in found:
                raise ValueError(f"{path.name}: the answer cell {name!r} is also in {found[name]['notebook']}")
            found[name] = {"notebook": path.stem, "minutes": nb.metadata.get("echo_lab", {}).get("minutes"),
                           "solution": answer_code(cell.source)}
    return json.dumps({"about": ABOUT, "exercises": found}, indent=1, ensure_ascii=False) + "\n"


def package_stale(solutions=SOLUTIONS, path=PACKAGE_SOLUTIONS):
    """``[path]`` if the package's solutions.json is missing or not what ``solutions`` make, else ``[]``."""
    path = pathlib.Path(path)
    return [] if path.exists() and path.read_text(encoding="utf-8") == solutions_json(solutions) else [path]


def write_package(solutions=SOLUTIONS, path=PACKAGE_SOLUTIONS):
    """Bring the package's solutions.json up to date; return ``[path]`` if it was written."""
    changed = package_stale(solutions, path)
    if changed:
        pathlib.Path(path).write_text(solutions_json(solutions), encoding="utf-8")
    return changed


def render(nb):
    """The notebook as ``nbformat.write`` would store it."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def expected(solutions=SOLUTIONS):
    """{file name: text} of every exercise notebook, generated from ``solutions``."""
    return {path.name: render(student_version(nbformat.read(path, as_version=4)))
            for path in sorted(pathlib.Path(solutions).glob("*.ipynb"))}


def stale(solutions=SOLUTIONS, exercises=EXERCISES):
    """Names of exercise notebooks that are missing, different, or have no solution any more."""
    wanted, exercises = expected(solutions), pathlib.Path(exercises)
    found = {path.name for path in exercises.glob("*.ipynb")}
    names = [name for name, text in wanted.items()
             if name not in found or (exercises / name).read_text(encoding="utf-8") != text]
    return names + sorted(found - set(wanted))


def write(solutions=SOLUTIONS, exercises=EXERCISES):
    """Bring ``exercises`` up to date; return the names written or removed."""
    exercises = pathlib.Path(exercises)
    exercises.mkdir(exist_ok=True)
    wanted, changed = expected(solutions), stale(solutions, exercises)
    for name in changed:
        if name in wanted:
            (exercises / name).write_text(wanted[name], encoding="utf-8")
        else:
            (exercises / name).unlink()
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate exercises/ from solutions/.")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if anything is stale")
    parser.add_argument("--solutions", default=SOLUTIONS, type=pathlib.Path)
    parser.add_argument("--exercises", default=EXERCISES, type=pathlib.Path)
    args = parser.parse_args(argv)
    english = args.solutions.resolve() == SOLUTIONS  # the package's solutions are the English edition's
    if args.check:
        names = stale(args.solutions, args.exercises)
        package = package_stale(args.solutions) if english else []
        if names or package:
            print(f"out of date in {args.exercises} (run python tools/make_exercises.py):")
            for name in names + [path.relative_to(ROOT) for path in package]:
                print(f"  {name}")
            return 1
        print("exercises are up to date")
        return 0
    names = write(args.solutions, args.exercises)
    names += [str(path.relative_to(ROOT)) for path in write_package(args.solutions)] if english else []
    print("written: " + ", ".join(names) if names else "exercises are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
