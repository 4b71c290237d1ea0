"""Write the course's navigation and maps from the lessons themselves.

Each lesson ``notebooks/NN-name.ipynb`` starts with a ``# NN · Title`` cell
and carries ``{"echo_lab": {"minutes": M, "question": "..."}}`` in its
notebook metadata.  From those this script writes, so nobody edits them by
hand:

* the navigation cells (tagged ``navigation``) at the top and bottom of
  every lesson: previous, contents, next;
* the course map in ``notebooks/00-index.ipynb`` (the cell tagged
  ``course-map``) and in ``README.md`` (between ``<!-- course-map -->``
  markers);
* each lesson's length, measured from the lesson itself (:func:`measure`):
  its metadata ``minutes``, and the cell tagged ``length`` under the top
  navigation, which also names the lesson's exercises (metadata
  ``echo_lab.exercises``: names of notebooks in ``exercises/``, whose own
  metadata says how long they take).

    python tools/course.py          # rewrite what is out of date
    python tools/course.py --check  # exit 1 if anything is out of date
"""

import math
import pathlib
import re
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
INDEX = NOTEBOOKS / "00-index.ipynb"
README = ROOT / "README.md"
EXERCISES = ROOT / "exercises"
MAP_START, MAP_END = "<!-- course-map -->", "<!-- /course-map -->"
# A careful reader of this course, timed lesson by lesson (predicting before each cell, running it,
# reading what it printed): about 100 words and 6-7 lines of code a minute, running included.
WORDS_PER_MINUTE = 100  # reading prose (and what the cells print)
LINES_PER_MINUTE = 6.5  # reading code, and running it
LESSON_LIMIT, COURSE_LIMIT = 25, 270  # minutes: no lesson longer, all of them together no longer


# Every lesson's top says it: a restarted kernel has forgotten every name the cells above defined.
AFTER_A_RESTART = ("*After a kernel restart:* click the cell you were at and use *Run → Run All Above Selected "
                   "Cell*, then go on.")


def measure(nb):
    """(words, code lines, code cells, minutes) of a notebook, as a reader meets it.

    Words: prose outside code fences, plus half the words printed by cells
    (output is skimmed).  Code lines: non-blank lines of code cells and of
    fenced code in the prose.  Minutes: at WORDS_PER_MINUTE and
    LINES_PER_MINUTE, rounded up to a whole minute: a stated length is never
    shorter than a careful reader needs.
    """
    words = lines = cells = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "navigation" in tags or "length" in tags or "course-map" in tags:  # generated: the map is skimmed
            continue
        if cell.cell_type == "markdown":
            for fence in re.findall(r"```.*?```", cell.source, re.S):
                lines += sum(1 for line in fence.splitlines()[1:-1] if line.strip())
            words += len(re.sub(r"```.*?```", "", cell.source, flags=re.S).split())
        elif cell.cell_type == "code" and cell.source.strip():
            cells += 1
            lines += sum(1 for line in cell.source.splitlines() if line.strip())
            words += sum(len(out.get("text", "").split()) for out in cell.get("outputs", [])) // 2
    minutes = words / WORDS_PER_MINUTE + lines / LINES_PER_MINUTE
    return words, lines, cells, math.ceil(minutes)


def exercise(name):
    """(title, minutes) of exercises/NAME.ipynb."""
    nb = nbformat.read(EXERCISES / f"{name}.ipynb", as_version=4)
    heading = next(c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# "))
    return heading.splitlines()[0][2:].strip(), nb.metadata.get("echo_lab", {}).get("minutes", "?")


def length_line(nb):
    words, lines, cells, minutes = measure(nb)
    text = (f"**About {minutes} minutes** to read and run ({words:,} words, {lines} lines of code, "
            f"{cells} cells).")
    for name in nb.metadata.get("echo_lab", {}).get("exercises", []):
        title, ex_minutes = exercise(name)
        text += f" **Exercise:** [{title}](../exercises/{name}.ipynb), about {ex_minutes} minutes."
    return "<!-- written by tools/course.py -->\n" + text + "\n\n" + AFTER_A_RESTART


def lessons():
    """[(path, number, title, measured minutes, question)] for every lesson, in order."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        heading = next(c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# "))
        match = re.match(r"# (\d\d) · (.+)", heading.splitlines()[0])
        if not match:
            raise SystemExit(f"{path.name}: the first heading must read '# NN · Title'")
        meta = nb.metadata.get("echo_lab", {})
        found.append((path, match[1], match[2].strip(), measure(nb)[3], meta.get("question", "")))
    return found


def course_map(link_prefix):
    rows = ["| # | lesson | minutes | exercise (minutes) | the question it answers |", "|---|---|---|---|---|"]
    total = practice = 0
    for path, number, title, minutes, question in lessons():
        nb = nbformat.read(path, as_version=4)
        names = nb.metadata.get("echo_lab", {}).get("exercises", [])
        found = [(name, *exercise(name)) for name in names]
        to_exercises = "../exercises/" if link_prefix == "" else "exercises/"
        cell = ", ".join(f"[{name[:2]}]({to_exercises}{name}.ipynb) ({m})" for name, _title, m in found)
        total += minutes if isinstance(minutes, int) else 0
        practice += sum(m for _name, _title, m in found if isinstance(m, int))
        rows.append(f"| {number} | [{title}]({link_prefix}{path.name}) | {minutes} | {cell} | {question} |")
    rows.append(f"| | **in all** | **{total}** | **{practice}** | about {round((total + practice) / 60, 1):g} hours |")
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


def figure_alts(nb):
    """Each figure's alt text (its cell's metadata ``alt``, which nbconvert's HTML writes on the image),
    from the caption cell after it (tagged ``caption``: "**Figure N:** what it shows", in Chinese "**图 N**：",
    the colon outside the bold, where CommonMark can close it): one home for both."""
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        if "caption" in cell.metadata.get("tags", []) and before.cell_type == "code":
            text = re.sub(r"^\*\*[^*]+?(?:[:：]\*\*|\*\*：)\s*", "", cell.source.strip())
            before.metadata["alt"] = re.sub(r"[*`]", "", text)


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
        cells[0].source = nav
        cells[-1].source = nav + "".join(
            f"\n\n**Now practise:** [{exercise(name)[0]}](../exercises/{name}.ipynb), "
            f"about {exercise(name)[1]} minutes."
            for name in nb.metadata.get("echo_lab", {}).get("exercises", []))
        nb.metadata.setdefault("echo_lab", {})["minutes"] = measure(nb)[3]
        length = _tagged(nb, "length")
        if not length:
            top = nb.cells.index(cells[0])
            nb.cells.insert(top + 1, nbformat.v4.new_markdown_cell("", metadata={"tags": ["length"]}))
            length = _tagged(nb, "length")
        length[0].source = length_line(nb)
        figure_alts(nb)
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
