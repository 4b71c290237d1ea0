"""The Chinese edition: complete catalogs, notebooks in step with the English, the same code, the seed's words.

The seed (the tutorial's Chinese text) is not part of the project.  What the glossary test needs of it
is kept in ``tests/data/tutorial_glossary.json``: for each of the glossary's terms, how often the text
uses it and on which lines.  When ``ECHO_LAB_TUTORIAL`` names the text, the glossary is also checked
against the text itself (ids with ``text``) and the facts against what the text gives;
``ECHO_LAB_WRITE_FACTS=1`` as well rewrites them, and so does
``python tests/test_translation.py --write-facts PATH``.
"""

import csv
import difflib
import functools
import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tokenize

import nbformat
import polib
import pytest

import helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]
FACTS = ROOT / "tests" / "data" / "tutorial_glossary.json"  # what the tests know of the seed's words
TUTORIAL = helpers.TUTORIAL  # names the seed: check the glossary against it too
WRITE_FACTS = "ECHO_LAB_WRITE_FACTS"  # "1" (with TUTORIAL): rewrite FACTS from the seed
MODES = ["facts", "text"] if os.environ.get(TUTORIAL) else ["facts"]
AGAIN = f"make them again: {TUTORIAL}=/path/to/the/tutorial.txt {WRITE_FACTS}=1 pytest tests/test_translation.py"


def load_translate():
    import translate  # tools/, on pytest's pythonpath

    return translate


translate = load_translate()
EDITION = translate.edition()


def test_the_edition_is_complete_and_in_step_with_the_english(capsys):
    assert EDITION, "no catalogs in i18n/zh_CN/"
    assert translate.main(["check"]) == 0, capsys.readouterr().out


def test_a_changed_english_paragraph_goes_fuzzy_and_the_check_says_which(tmp_path, monkeypatch):
    english = next(p for p in EDITION if p.parent.name == "notebooks")
    for folder in ("notebooks", "i18n/zh_CN/notebooks"):
        (tmp_path / folder).mkdir(parents=True)
    shutil.copy(english, tmp_path / "notebooks" / english.name)
    shutil.copy(translate.catalog_path(english), tmp_path / "i18n/zh_CN/notebooks" / f"{english.stem}.po")
    monkeypatch.setattr(translate, "ROOT", tmp_path)
    monkeypatch.setattr(translate, "CATALOGS", tmp_path / "i18n" / "zh_CN")
    copy = tmp_path / "notebooks" / english.name
    assert translate.problems(copy) == []
    nb = nbformat.read(copy, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and "navigation" not in c.metadata.get("tags", [])
                and len(c.source.split()) > 20)
    old = cell.source.split("\n\n")[-1]
    cell.source = cell.source.replace(old, old.replace(" ", "  ", 1) + " One sentence more.")
    nbformat.write(nb, copy)
    found = translate.problems(copy)
    assert len(found) == 1 and "changed or new in English" in found[0], found
    translate.update(copy)
    found = translate.problems(copy)
    assert len(found) == 1 and "fuzzy (the English changed)" in found[0], found
    entry = next(e for e in polib.pofile(str(translate.catalog_path(copy))) if "fuzzy" in e.flags)
    assert entry.previous_msgid == old and entry.msgstr  # the old English and its translation, for the translator


def code_tokens(source):
    """The code without its comments and string literals: what must not differ between the editions."""
    kept = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            continue
        kept.append("STRING" if tok.type == tokenize.STRING else tok.string)
    return kept


@pytest.mark.parametrize("english", EDITION, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_chinese_notebook_has_the_same_code_but_one_line(english):
    chinese = nbformat.read(translate.TARGET / english.parent.name / english.name, as_version=4)
    ours = nbformat.read(english, as_version=4)
    assert len(chinese.cells) == len(ours.cells)
    extra = 0
    for en, zh in zip(ours.cells, chinese.cells, strict=True):
        assert en.cell_type == zh.cell_type
        if en.cell_type != "code":
            continue
        zh_source = zh.source
        if translate.LANGUAGE_LINE in zh_source:
            extra += 1
            zh_source = zh_source.replace("\n" + translate.LANGUAGE_LINE, "")
        try:
            assert code_tokens(zh_source) == code_tokens(en.source), en.source[:200]
        except (tokenize.TokenError, IndentationError, SyntaxError):
            assert zh_source == en.source
    assert extra == 1, "the line that chooses the language, once"


def glossary(source=None):
    """(english, chinese, rule) of every glossary entry, or only the seed's (``source="seed"``)."""
    with open(ROOT / "i18n" / "zh_CN" / "glossary.tsv", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f, delimiter="\t") if row and not row[0].startswith("#")]
    return [tuple(row[:3]) for row in rows if source is None or (row[3] if len(row) > 3 else "seed") == source]


def seed_text():
    """The tutorial's text, from the file ECHO_LAB_TUTORIAL names."""
    return helpers.tutorial_text(FACTS.relative_to(ROOT))


@functools.cache
def facts():
    if not FACTS.exists():
        pytest.fail(f"{FACTS.relative_to(ROOT)} is missing: {AGAIN}", pytrace=False)
    return json.loads(FACTS.read_text(encoding="utf-8"))


def glossary_facts(seed):
    """What the tests keep of the seed: for each of the glossary's terms, how often it is used, and where."""
    lines = seed.splitlines()
    return {
        "about": "Facts of the tutorial's text (000_eb5d85daca0bf7f1.txt, a Chinese translation of Real Python's "
                 "multi-connection socket tutorial), made by tests/test_translation.py; not the text. For each "
                 "of the glossary's terms: how many times the text has it, and the numbers of its lines that do.",
        "tutorial": {"sha256": hashlib.sha256(seed.encode("utf-8")).hexdigest(), "lines": len(lines)},
        "terms": {chinese: {"count": seed.count(chinese),
                            "lines": [n for n, line in enumerate(lines, 1) if chinese in line]}
                  for _, chinese, _ in glossary("seed")},
    }


def write_facts(made):
    FACTS.parent.mkdir(exist_ok=True)
    FACTS.write_text(json.dumps(made, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    facts.cache_clear()


@pytest.mark.parametrize("mode", MODES)
def test_the_glossary_facts_are_the_seeds(mode):
    """The facts know the glossary's terms; with the seed, they are what the seed gives (or are rewritten)."""
    where = FACTS.relative_to(ROOT)
    if mode == "text":
        made = glossary_facts(seed_text())
        if os.environ.get(WRITE_FACTS) == "1":
            write_facts(made)
        if facts() != made:
            diff = difflib.unified_diff(json.dumps(facts(), ensure_ascii=False, indent=1).splitlines(),
                                        json.dumps(made, ensure_ascii=False, indent=1).splitlines(),
                                        str(where), f"from {os.environ[TUTORIAL]}", lineterm="", n=1)
            pytest.fail(f"{where} is not what the seed gives; {AGAIN}\n" + "\n".join(list(diff)[:40]))
        return
    terms = [chinese for _, chinese, _ in glossary("seed")]
    assert sorted(facts()["terms"]) == sorted(terms), f"{where} knows other terms than the glossary's; {AGAIN}"


@pytest.mark.parametrize("mode", MODES)
def test_the_glossary_comes_from_the_seed(mode):
    if mode == "text":
        seed = seed_text()
        for english, chinese, rule in glossary("seed"):
            if rule == "avoid":
                assert chinese not in seed, f"{chinese} is in the seed: it cannot be avoided"
            else:
                assert chinese in seed, f"{chinese} ({english}) is not a word of the seed"
        return
    known = facts()["terms"]
    for english, chinese, rule in glossary("seed"):
        assert chinese in known, f"{chinese} ({english}) is not in {FACTS.relative_to(ROOT)}; {AGAIN}"
        count, lines = known[chinese]["count"], known[chinese]["lines"]
        if rule == "avoid":
            assert count == 0, f"{chinese} is in the seed ({count} times, lines {lines}): it cannot be avoided"
        else:
            assert count > 0, f"{chinese} ({english}) is not a word of the seed"


def prose(text):
    """``text`` without code, links, format fields and calls (``{mask}``, ``accept_wrapper(key.fileobj)``)."""
    return re.sub(r"`[^`]*`|\([^)]*\.ipynb\)|{[^{}]*}|\w+\([^()]*\)", "", text)


def catalog_of(english):
    return translate.PACKAGE_CATALOG if english == translate.PACKAGE else translate.catalog_path(english)


CATALOGS = [*EDITION, translate.PACKAGE]  # the notebooks' catalogs and the package's messages


@pytest.mark.parametrize("english", CATALOGS, ids=lambda p: "echo_lab" if p == translate.PACKAGE
                         else f"{p.parent.name}/{p.stem}")
def test_the_translation_uses_the_glossarys_words(english):
    wrong = []
    for entry in polib.pofile(str(catalog_of(english))):
        if not entry.msgstr or entry.msgctxt == "string" and entry.msgid == entry.msgstr:
            continue
        for term, chinese, rule in glossary():
            if rule == "avoid" and chinese in prose(entry.msgstr):
                wrong.append(f"{chinese} in {entry.msgstr[:60]!r}")
            elif rule == "use" and re.search(rf"\b{re.escape(term)}\b", prose(entry.msgid), re.I) \
                    and chinese not in entry.msgstr:
                wrong.append(f"{term!r} is not {chinese} in {entry.msgstr[:60]!r}")
            elif rule == "keep" and re.search(rf"\b{re.escape(term)}s?\b", prose(entry.msgid), re.I) \
                    and term not in entry.msgstr.lower():
                wrong.append(f"{term!r} is not kept in English in {entry.msgstr[:60]!r}")
        if re.search(r"\d s\b", prose(entry.msgstr)):  # "5 s" is English: 5 秒
            wrong.append(f"seconds are not 秒 in {entry.msgstr[:60]!r}")
    assert not wrong, "\n".join(wrong)


def test_one_english_text_has_one_translation_in_every_catalog():
    """A sentence the exercises share (``## Check it``, ``# Stuck? ...``) reads the same everywhere."""
    found = {}
    for english in CATALOGS:
        for entry in polib.pofile(str(catalog_of(english))):
            if entry.msgstr and not entry.obsolete:
                found.setdefault((entry.msgctxt, entry.msgid), {}).setdefault(entry.msgstr, []).append(english.stem)
    differ = {msgid: ways for (_, msgid), ways in found.items() if len(ways) > 1}
    assert not differ, "\n".join(f"{msgid[:60]!r}: {ways}" for msgid, ways in differ.items())


# Chinese puts no space after a full-width mark, nor before one: "A 收到： b'...'" is a print that joined
# a Chinese label and a value with its space (a label that ends the print's first argument takes ":").
SPACED = re.compile(r"[：，。（] | [，。）：]")


def test_no_output_of_the_chinese_edition_puts_a_space_beside_a_full_width_mark():
    spaced = []
    for path in sorted(translate.TARGET.rglob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            for out in cell.get("outputs", []):
                for line in out.get("text", "").splitlines():
                    if SPACED.search(line):
                        spaced.append(f"{path.parent.name}/{path.name} cell {index}: {line[:80]}")
    assert not spaced, "\n".join(spaced)


def test_no_picture_in_the_chinese_edition_misses_a_glyph():
    """Plots keep English labels (or a CJK font): matplotlib's missing-glyph warning would show in the output."""
    notebooks = sorted(translate.TARGET.rglob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
                assert "missing from" not in text and "Glyph" not in text, f"{path.name}: {text[:200]}"


def test_a_missing_glyph_is_what_this_looks_for(recwarn):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        ax.set_title("事件循环")  # DejaVu Sans has no CJK glyphs
        fig.canvas.draw()
    plt.close(fig)
    assert any("missing from" in str(w.message) and "Glyph" in str(w.message) for w in recwarn.list)


def test_the_chinese_exercises_are_generated_from_the_chinese_solutions():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "make_exercises.py"), "--check",
                           "--solutions", str(translate.TARGET / "solutions"),
                           "--exercises", str(translate.TARGET / "exercises")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("exercise", sorted((translate.TARGET / "exercises").glob("*.ipynb")), ids=lambda p: p.stem)
def test_an_unfinished_chinese_exercise_runs_to_the_end_and_answers_in_chinese(exercise):
    from nbclient import NotebookClient

    nb = nbformat.read(exercise, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(exercise.parent)}}).execute()  # raises on any error
    shown = "".join(str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
                    for cell in nb.cells for out in cell.get("outputs", []))
    assert "尚未作答" in shown, shown[-500:]


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--write-facts":
        sys.exit(f"usage: python {sys.argv[0]} --write-facts PATH/TO/THE/TUTORIAL.txt  (rewrites {FACTS})")
    write_facts(glossary_facts(pathlib.Path(sys.argv[2]).read_text(encoding="utf-8")))
    print(f"wrote {FACTS}")


CJK = "[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
# A line break in a paragraph, between Chinese and anything but a list item, heading, table row or quote.
BROKEN_LINE = re.compile(rf"(?:{CJK}\n *(?![-*+] |\d+\. |[|>#\n])\S|\S\n *(?![-*+] |\d+\. |[|>#\n]){CJK})")


# Chinese puts no space between two Chinese characters: "0.5 秒 内" is an English "0.5 s within" half translated.
BETWEEN_HANZI = re.compile(r"[\u4e00-\u9fff] [\u4e00-\u9fff]")


def test_no_chinese_text_puts_a_space_between_two_chinese_characters():
    spaced = [f"{path.name}: {entry.msgstr[max(0, m.start() - 12):m.end() + 12]!r}"
              for path in [*map(translate.catalog_path, EDITION), translate.PACKAGE_CATALOG]
              for entry in polib.pofile(str(path)) if not entry.obsolete
              for m in BETWEEN_HANZI.finditer(entry.msgstr)]
    assert not spaced, "\n".join(spaced)


@pytest.mark.parametrize("english", EDITION, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_chinese_paragraphs_have_no_english_line_breaks(english):
    # A browser shows a line break inside a paragraph as a space: between Chinese characters, a stray one.
    found = [entry.msgstr[:60] for entry in polib.pofile(str(translate.catalog_path(english)))
             if not entry.msgctxt and "```" not in entry.msgstr and BROKEN_LINE.search(entry.msgstr)]
    assert not found, found
