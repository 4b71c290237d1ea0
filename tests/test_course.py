"""The course's generated parts are up to date, and the README's commands are the ones CI runs."""

import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_navigation_and_course_maps_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "course.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_lesson_has_minutes_a_question_and_navigation():
    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert lessons, "no lessons found"
    for path in lessons:
        nb = json.loads(path.read_text(encoding="utf-8"))
        meta = nb["metadata"].get("echo_lab", {})
        assert isinstance(meta.get("minutes"), int), f"{path.name}: metadata echo_lab.minutes"
        assert meta.get("question", "").endswith("?"), f"{path.name}: metadata echo_lab.question"
        nav = [c for c in nb["cells"] if "navigation" in c.get("metadata", {}).get("tags", [])]
        assert len(nav) == 2, f"{path.name}: navigation cells at the top and the bottom"


def test_no_lesson_is_longer_than_a_careful_reader_can_take_in_one_sitting():
    """Each lesson's measured minutes (tools/course.py: 100 words and 6.5 code lines a minute) within the limits."""
    import course

    minutes = {path.name: measured for path, _n, _t, measured, _q in course.lessons()}
    over = {name: m for name, m in minutes.items() if m > course.LESSON_LIMIT}
    assert not over, f"lessons over {course.LESSON_LIMIT} minutes: {over}"
    assert sum(minutes.values()) <= course.COURSE_LIMIT, f"{sum(minutes.values())} minutes in all: {minutes}"


def test_every_notebook_is_stored_executed():
    for folder in ("notebooks", "solutions"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
            assert all(c["execution_count"] is not None for c in code), f"{path} has cells never run"


def test_readme_leads_with_the_two_commands_and_ci_runs_the_test_one():
    first_screen = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:15])
    assert "make lab" in first_screen and "make test" in first_screen
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nmake test" in ci


def _map_links(text):
    return re.findall(r"\]\(([^)]+\.ipynb)\)", text)


def _map_cell(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return next("".join(c["source"]) for c in cells if "course-map" in c.get("metadata", {}).get("tags", []))


def test_the_chinese_course_maps_link_every_lesson_and_exercise_the_english_ones_do():
    english = _map_links(_map_cell(ROOT / "notebooks" / "00-index.ipynb"))
    assert "00-index.ipynb" in english and "../exercises/01-listening-socket.ipynb" in english, english
    assert _map_links(_map_cell(ROOT / "zh-CN" / "notebooks" / "00-index.ipynb")) == english
    readme = _map_links((ROOT / "README.md").read_text(encoding="utf-8"))
    chinese = _map_links((ROOT / "README.zh-CN.md").read_text(encoding="utf-8"))
    assert [link.removeprefix("zh-CN/") for link in chinese if link.startswith("zh-CN/")] == [
        link for link in readme if link.startswith(("notebooks/", "exercises/"))]
    for link in chinese:
        assert (ROOT / link).exists(), f"README.zh-CN.md links {link}, which is not there"


def test_every_lesson_says_at_its_top_what_to_do_after_a_kernel_restart():
    for folder, words in (("notebooks", "Run → Run All Above Selected Cell"),
                          ("zh-CN/notebooks", "运行 → 运行选中单元格上方的所有单元格")):
        for path in sorted((ROOT / folder).glob("[0-9][0-9]-*.ipynb")):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            top = "".join("".join(c["source"]) for c in cells[:4])
            assert words in top, f"{folder}/{path.name}: its top does not say what to do after a kernel restart"


FIGURE_LABEL = {"notebooks": r"\*\*Figure (\d+):\*\* \S", "zh-CN/notebooks": r"\*\*图 (\d+)\*\*：\S"}


def test_every_figure_has_a_caption_and_alt_text_in_its_language():
    figures = 0
    for folder, label in FIGURE_LABEL.items():
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            numbers = []
            for cell, after in zip(cells, cells[1:] + [None], strict=True):
                if not any("image/png" in out.get("data", {}) for out in cell.get("outputs", [])):
                    continue
                figures += 1
                caption = "".join(after["source"]) if after and after["cell_type"] == "markdown" else ""
                found = re.match(label, caption)
                assert found, f"{folder}/{path.name}: a figure without a caption after it ({label})"
                numbers.append(int(found[1]))
                alt = cell["metadata"].get("alt", "")
                assert len(alt) > 40 and alt in re.sub(r"[*`]", "", caption), (
                    f"{folder}/{path.name}: figure {found[1]}'s alt text is not its caption's "
                    "(tools/course.py writes it)")
            assert numbers == list(range(1, len(numbers) + 1)), f"{folder}/{path.name}: figures numbered {numbers}"
    assert figures >= 12, f"only {figures} figures found in the lessons"  # 14 in the two editions today


def test_nbconverts_html_writes_each_figures_alt_text():
    from nbconvert import HTMLExporter  # the classic template writes a cell's metadata alt on its image

    lesson = ROOT / "zh-CN" / "notebooks" / "03-register.ipynb"
    html, _ = HTMLExporter(template_name="classic").from_filename(str(lesson))
    assert re.search(r'<img [^>]*alt="用两个位表示的三种掩码', html), "the figure's alt text is not in nbconvert's HTML"


def unclosed_fence(text):
    """The line of a code fence that does not close as meant, or None: a fence inside a fence (a closing
    fence is ``` alone, so "``` text" or "```sh" there is code, and what follows stays code), or the last."""
    opened = None
    for n, line in enumerate(text.splitlines(), 1):
        if opened is None and line.lstrip().startswith("```"):
            opened = n
        elif opened is not None and line.strip() == "```":
            opened = None
        elif opened is not None and line.lstrip().startswith("```"):
            return n
    return opened


def test_every_code_fence_in_the_readmes_and_guides_closes():
    slip = "```sh\nmake lab\n``` Benchmarks print figures\n\n```sh\nmake bench\n```\n"
    assert unclosed_fence(slip) == 3  # the slip it is for: README's pace block ran into the next one
    for name in ("README.md", "README.zh-CN.md", "TEACHING.md", "CONTRIBUTING.md"):
        line = unclosed_fence((ROOT / name).read_text(encoding="utf-8"))
        assert line is None, f"{name}: the code fence opened at line {line} never closes"
