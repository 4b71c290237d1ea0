"""Write the course's navigation and maps from the lessons themselves.

Each lesson ``notebooks/NN-name.ipynb`` starts with a ``# NN · Title`` cell
and carries ``{"echo_lab": {"minutes": M, "question": "..."}}`` in its
notebook metadata.  From those this script writes, so nobody edits them by
hand:

* the navigation cells (tagged ``navigation``) at the top and bottom of
  every lesson: previous, contents, next;
* the course map in ``notebooks/00-index.ipynb`` (the cell tagged
  ``course-map``) and in ``README.md`` (between ``<!-- course-map -->``
  markers).

    python tools/course.py          # rewrite what is out of date
    python tools/course.py --check  # exit 1 if anything is out of date
"""

import pathlib
import re
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
INDEX = NOTEBOOKS / "00-index.ipynb"
README = ROOT / "README.md"
MAP_START, MAP_END = "<!-- course-map -->", "<!-- /course-map -->"


def lessons():
    """[(path, number, title, minutes, question)] for every lesson, in order."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        heading = next(c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# "))
        match = re.match(r"# (\d\d) · (.+)", heading.splitlines()[0])
        if not match:
            raise SystemExit(f"{path.name}: the first heading must read '# NN · Title'")
        meta = nb.metadata.get("echo_lab", {})
        found.append((path, match[1], match[2].strip(), meta.get("minutes", "?"), meta.get("question", "")))
    return found


def course_map(link_prefix):
    rows = ["| # | lesson | minutes | the question it answers |", "|---|---|---|---|"]
    for path, number, title, minutes, question in lessons():
        if path != INDEX:
            rows.append(f"| {number} | [{title}]({link_prefix}{path.name}) | {minutes} | {question} |")
    return "\n".join(rows)


def navigation(i, all_lessons):
    link = lambda k: f"{all_lessons[k][1]} · {all_lessons[k][2]}"  # noqa: E731
    parts = []
    if i > 0:
        parts.append(f"[← {link(i - 1)}]({all_lessons[i - 1][0].name})")
    if all_lessons[i][0] != INDEX:
        parts.append(f"[Contents]({INDEX.name})")
    if i + 1 < len(all_lessons):
        parts.append(f"[{link(i + 1)} →]({all_lessons[i + 1][0].name})")
    return "<!-- written by tools/course.py -->\n" + " | ".join(parts)


def _tagged(nb, tag):
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]


def update(check=False):
    """Bring every generated part up to date; return the names of files that were (or would be) changed."""
    changed = []
    all_lessons = lessons()
    for i, (path, *_ignored) in enumerate(all_lessons):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        nav = navigation(i, all_lessons)
        cells = _tagged(nb, "navigation")
        if not cells:
            for where in (1, len(nb.cells) + 1):
                cell = nbformat.v4.new_markdown_cell(nav, metadata={"tags": ["navigation"]})
                nb.cells.insert(where, cell)
            cells = _tagged(nb, "navigation")
        for cell in cells:
            cell.source = nav
        if path == INDEX:
            for cell in _tagged(nb, "course-map"):
                cell.source = "## The course\n\n" + course_map("")
        if nbformat.writes(nb) != before:
            changed.append(path.name)
            if not check:
                nbformat.write(nb, path)
    readme = README.read_text(encoding="utf-8")
    if MAP_START in readme:
        head, rest = readme.split(MAP_START, 1)
        tail = rest.split(MAP_END, 1)[1]
        new = f"{head}{MAP_START}\n{course_map('notebooks/')}\n{MAP_END}{tail}"
        if new != readme:
            changed.append(README.name)
            if not check:
                README.write_text(new, encoding="utf-8")
    return changed


def main(argv):
    check = "--check" in argv
    changed = update(check=check)
    if check and changed:
        print("out of date (run python tools/course.py):", ", ".join(changed))
        return 1
    print("updated: " + ", ".join(changed) if changed else "navigation and course maps are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
