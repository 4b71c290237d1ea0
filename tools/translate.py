"""The Simplified Chinese edition: built from the English notebooks and gettext catalogs.

    python tools/translate.py update [NOTEBOOK...]  # bring catalogs in step with the English (adds new ones)
    python tools/translate.py build                 # write zh-CN/ notebooks whose sources changed
    python tools/translate.py execute               # run the Chinese notebooks that build left unrun
    python tools/translate.py check                 # exit 1: untranslated or fuzzy entries, stale notebooks

Each English notebook of the edition (``notebooks/NN-x.ipynb`` or
``solutions/NN-x.ipynb``) has a catalog ``i18n/zh_CN/<folder>/NN-x.po``,
the format translators' tools (Poedit, Weblate) open.  Its entries are the
notebook's units, in order:

* each paragraph of a markdown cell (fenced code stays as it is);
* each comment of a code cell, and each string literal a learner sees: passed
  to ``print`` or a figure's title, an ``assert``'s or a ``raise``'s message,
  and the labels a lesson names things by (:func:`labels_of`) (message context
  ``comment`` and ``string``); comments and strings that the tutorial itself
  has (``# Should be ready to read``, ``accepted connection from`` ...) stay
  English, as in the tutorial;
* the lesson's question (notebook metadata, context ``question``).

``update`` keeps every translation whose English is unchanged.  An English
unit that changed gets the old translation marked *fuzzy* (with the old
English as ``#| msgid``), a new one an empty entry; a translator fixes both.
``build`` writes ``zh-CN/<folder>/NN-x.ipynb`` with the same code (one line
more: ``echo_lab.i18n.use('zh_CN')``, so checks and hints answer in Chinese),
the navigation and length cells in Chinese, and outputs cleared where a
cell's source changed; ``execute`` runs those notebooks in place (``make zh``
does all three, and writes ``zh-CN/exercises/`` from ``zh-CN/solutions/``).
``check`` fails on anything untranslated, fuzzy or stale, and says which.
"""

import ast
import difflib
import io
import pathlib
import re
import sys
import tokenize

import nbformat
import polib

import course  # beside this file: measure(), the same minutes as the English

ROOT = pathlib.Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "i18n" / "zh_CN"
TARGET = ROOT / "zh-CN"
README = ROOT / "README.zh-CN.md"
FOLDERS = ("notebooks", "solutions")
PACKAGE = ROOT / "echo_lab"
PACKAGE_CATALOG = PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "echo_lab.po"
LANGUAGE_LINE = "import echo_lab.i18n; echo_lab.i18n.use('zh_CN')  # 检查和提示用中文"
# The tutorial's printed lines stay English, as they are in the tutorial (and in its Chinese translation).
TRANSCRIPT = ("listening on", "accepted connection from", "echoing", "closing connection", "starting connection",
              "sending", "received", "Connected by", "usage:")
KEEP_COMMENTS = ("Should be ready to read", "Should be ready to write", "...", "noqa", "YOUR CODE HERE",
                 "BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
GENERATED = ("navigation", "length", "course-map")
# course.AFTER_A_RESTART in Chinese, with the menu as JupyterLab's Chinese interface names it.
AFTER_A_RESTART = "*重启内核后*：点一下你所在的单元格，用 *运行 → 运行选中单元格上方的所有单元格*，再接着往下。"


# -- units: what a translator translates -----------------------------------------------------------

def paragraphs(text):
    """Markdown split at blank lines, fenced code kept whole: [(is_code, block)]."""
    blocks, current, fenced = [], [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            if not fenced and current:
                blocks.append((False, "\n".join(current)))
                current = []
            current.append(line)
            fenced = not fenced
            if not fenced:
                blocks.append((True, "\n".join(current)))
                current = []
        elif not line.strip() and not fenced:
            if current:
                blocks.append((False, "\n".join(current)))
                current = []
        else:
            current.append(line)
    if current:
        blocks.append((fenced, "\n".join(current)))
    return blocks


def code_spans(source, labels=frozenset()):
    """[(context, start, end)]: offsets in ``source`` of comments and learner-facing strings.

    ``labels`` are the values of the notebook's labels (:func:`labels_of`): every literal with one
    of them is translated, wherever it is, so that the code that compares them still matches.
    """
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    spans = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                text = tok.string.lstrip("#").strip()
                if re.search("[A-Za-z]", text) and not any(keep in text for keep in KEEP_COMMENTS):
                    start = starts[tok.start[0] - 1] + tok.start[1]
                    spans.append(("comment", start, start + len(tok.string)))
        tree = ast.parse(source)
    except (SyntaxError, tokenize.TokenError):
        return spans  # IPython magics and the like: comments only
    shown = {id(text) for node in ast.walk(tree) for text in _shown_strings(node) if _learner_text(text)}
    for node in ast.walk(tree):
        if id(node) in shown or isinstance(node, ast.Constant) and node.value in labels and isinstance(node.value, str):
            spans.append(("string", _offset(lines, starts, node.lineno, node.col_offset),
                          _offset(lines, starts, node.end_lineno, node.end_col_offset)))
    return sorted(spans, key=lambda span: span[1])


def labels_of(nb):
    """The values of a notebook's labels: string literals with a space that name things a learner
    sees in a table, a legend or a print (a dict's keys, a subscript's key, the items a ``for``
    goes through), as ``outb["tutorial's server"] = ...`` or ``for how in ('plain close', ...)``."""
    found = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            keys = (node.keys if isinstance(node, ast.Dict) else [node.slice] if isinstance(node, ast.Subscript)
                    else node.iter.elts if isinstance(node, ast.For) and isinstance(node.iter, (ast.Tuple, ast.List))
                    else [])
            for key in keys:
                for item in key.elts if isinstance(key, ast.Tuple) else [key]:
                    if (isinstance(item, ast.Constant) and isinstance(item.value, str) and " " in item.value
                            and _learner_text(item)):
                        found.add(item.value)
    return frozenset(found)


# Calls whose string arguments a learner reads: printing, and the words of a figure.
SHOWN_BY = ("print", "set_title", "set_xlabel", "set_ylabel", "suptitle")


def _shown_strings(node):
    """The string literals of ``node`` that a learner sees: the arguments of ``print`` (also inside
    ``a or b``, ``a if c else b`` and ``a + b``) and of a figure's titles and labels, the message of
    an ``assert`` and of a ``raise``, and a name given ``'...' if ... else '...'`` to print later."""
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name in SHOWN_BY:
            return [s for arg in node.args for s in _literals(arg)]
    if isinstance(node, ast.Assert) and node.msg is not None:
        return _literals(node.msg)
    if isinstance(node, ast.Assign) and isinstance(node.value, (ast.IfExp, ast.BoolOp)):
        # role = 'listening socket' if ... else 'connection', printed later; not a parser's ' to '
        found = _literals(node.value)
        return found if any(" " in getattr(s, "value", "").strip() for s in found) else []
    if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
        return [s for arg in node.exc.args for s in _literals(arg)]
    return []


def _literals(node):
    """``node`` if it is a string literal; the literals of ``a or b``, ``a if c else b``, ``a + b``."""
    if isinstance(node, (ast.Constant, ast.JoinedStr)):
        return [node]
    if isinstance(node, ast.BoolOp):
        return [s for value in node.values for s in _literals(value)]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literals(node.left) + _literals(node.right)
    return []


def _learner_text(node):
    text = node.value if isinstance(node, ast.Constant) else "".join(
        v.value for v in node.values if isinstance(v, ast.Constant))
    return isinstance(text, str) and re.search("[A-Za-z]{2}", text) and not text.strip().startswith(TRANSCRIPT)


def _offset(lines, starts, lineno, col):
    """ast's (line, UTF-8 byte column) as an offset in characters."""
    return starts[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())


def units(nb):
    """[(context, msgid, occurrence)] of a notebook, in order, each once."""
    found, seen = [], set()

    def add(context, msgid, where):
        if msgid.strip() and (context, msgid) not in seen:
            seen.add((context, msgid))
            found.append((context, msgid, where))

    question = nb.metadata.get("echo_lab", {}).get("question")
    if question:
        add("question", question, "metadata")
    labels = labels_of(nb)
    for index, cell in enumerate(nb.cells):
        if any(tag in GENERATED for tag in cell.get("metadata", {}).get("tags", [])):
            continue
        if cell.cell_type == "markdown":
            for is_code, block in paragraphs(cell.source):
                if not is_code:
                    add("", block, f"cell {index}")
        elif cell.cell_type == "code":
            for context, start, end in code_spans(cell.source, labels):
                add(context, cell.source[start:end], f"cell {index}")
    return found


def package_units():
    """[(context, msgid, occurrence)]: the package's messages, each written as ``_("...")``."""
    found, seen = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_" \
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                msgid = node.args[0].value
                if msgid not in seen:
                    seen.add(msgid)
                    found.append(("", msgid, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


# -- catalogs -------------------------------------------------------------------------------------

def catalog_path(english):
    return CATALOGS / english.parent.name / f"{english.stem}.po"


def edition():
    """The English notebooks that have a catalog, in order."""
    return [ROOT / folder / f"{po.stem}.ipynb" for folder in FOLDERS
            for po in sorted((CATALOGS / folder).glob("*.po"))]


def update(english):
    """Bring ``english``'s catalog (a notebook's, or the package's) in step; return (new, fuzzy) counts."""
    if english == PACKAGE:
        path, current = PACKAGE_CATALOG, package_units()
    else:
        path, current = catalog_path(english), units(nbformat.read(english, as_version=4))
    old = polib.pofile(str(path)) if path.exists() else None
    known = {(e.msgctxt or "", e.msgid): e for e in (old or []) if not e.obsolete}
    catalog = polib.POFile(wrapwidth=0)
    catalog.metadata = {"Project-Id-Version": "echo-lab", "Language": "zh_CN", "MIME-Version": "1.0",
                        "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit"}
    unused = [e for key, e in known.items() if key not in {(c, m) for c, m, _ in current}]
    new = fuzzy = 0
    for context, msgid, where in current:
        source = "echo_lab" if english == PACKAGE else f"{english.parent.name}/{english.name}"
        entry = polib.POEntry(msgctxt=context or None, msgid=msgid, msgstr="", occurrences=[(source, where)])
        if (context, msgid) in known:
            kept = known[(context, msgid)]
            entry.msgstr, entry.flags, entry.previous_msgid = kept.msgstr, list(kept.flags), kept.previous_msgid
        else:
            match = max(((difflib.SequenceMatcher(None, e.msgid, msgid).ratio(), e) for e in unused
                         if (e.msgctxt or "") == context and e.msgstr), key=lambda pair: pair[0], default=None)
            if match and match[0] >= 0.6:
                entry.msgstr, entry.flags, entry.previous_msgid = match[1].msgstr, ["fuzzy"], match[1].msgid
                unused.remove(match[1])
                fuzzy += 1
            else:
                new += 1
        catalog.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.save(str(path))
    if english == PACKAGE:
        catalog.save_as_mofile(str(path.with_suffix(".mo")))
    return new, fuzzy


def problems(english):
    """What keeps ``english``'s catalog from building: untranslated, fuzzy, changed in English."""
    if english == PACKAGE:
        path, name, current = PACKAGE_CATALOG, "echo_lab.po", package_units()
    else:
        path, name = catalog_path(english), f"{english.parent.name}/{english.stem}.po"
        current = units(nbformat.read(english, as_version=4))
    catalog = polib.pofile(str(path))
    entries = {(e.msgctxt or "", e.msgid): e for e in catalog if not e.obsolete}
    found = []
    if english == PACKAGE:
        mo = path.with_suffix(".mo")
        pairs = lambda cat: {(e.msgctxt, e.msgid, e.msgstr) for e in cat if e.msgstr and "fuzzy" not in e.flags}  # noqa: E731
        if not mo.exists() or pairs(polib.mofile(str(mo))) != pairs(catalog):
            found.append(f"{name}: its .mo is not compiled from it (run tools/translate.py build)")
    for context, msgid, where in current:
        entry = entries.get((context, msgid))
        first = msgid.splitlines()[0][:70]
        if entry is None:
            found.append(f"{name}: changed or new in English (run tools/translate.py update), {where}: {first!r}")
        elif not entry.msgstr:
            found.append(f"{name}: untranslated, {where}: {first!r}")
        elif "fuzzy" in entry.flags:
            found.append(f"{name}: fuzzy (the English changed), {where}: {first!r}")
        elif english == PACKAGE and _fields(msgid) != _fields(entry.msgstr):
            found.append(f"{name}: not the same {{fields}} as the English, {where}: {entry.msgstr!r}")
        elif context == "string" and not _same_literal(msgid, entry.msgstr):
            found.append(f"{name}: not a string literal of the same kind and fields, {where}: {entry.msgstr!r}")
    return found


def _fields(text):
    return sorted(re.findall(r"{[^{}]*}", text))


def _same_literal(english, chinese):
    try:
        a, b = ast.parse(english, mode="eval").body, ast.parse(chinese, mode="eval").body
    except SyntaxError:
        return False
    fields = lambda node: sorted(ast.dump(v.value) for v in getattr(node, "values", []) if isinstance(v, ast.FormattedValue))  # noqa: E731
    return type(a) is type(b) and fields(a) == fields(b)


# -- building -------------------------------------------------------------------------------------

def lookup_for(english):
    catalog = polib.pofile(str(catalog_path(english)))
    return {(e.msgctxt or "", e.msgid): e.msgstr for e in catalog if e.msgstr and "fuzzy" not in e.flags}


def translate(english):
    """The Chinese notebook for ``english`` (sources only; outputs as in the English)."""
    table = lookup_for(english)
    tr = lambda context, text: table.get((context, text), text)  # noqa: E731
    nb = nbformat.read(english, as_version=4)
    meta = nb.metadata.setdefault("echo_lab", {})
    if "question" in meta:
        meta["question"] = tr("question", meta["question"])
    first_code = True
    labels = labels_of(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = "\n\n".join(block if is_code else tr("", block) for is_code, block in paragraphs(cell.source))
        elif cell.cell_type == "code":
            source = cell.source
            for context, start, end in reversed(code_spans(source, labels)):
                text = source[start:end]
                if context == "comment":
                    hashes = re.match(r"#+\s*", text)[0]
                    body = tr("comment", text)
                    source = source[:start] + (body if body.startswith("#") else hashes + body) + source[end:]
                else:
                    source = source[:start] + tr("string", text) + source[end:]
            if first_code and source.strip():
                source = source.rstrip("\n") + "\n" + LANGUAGE_LINE
                first_code = False
            cell.source = source
    return nb


def title(nb):
    heading = next(c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# "))
    return heading.splitlines()[0][2:].strip()


def chinese_generated_cells(nb, english, built):
    """Navigation, length and course-map cells of a Chinese notebook, in Chinese."""
    folder = english.parent.name
    if folder != "notebooks":
        return
    order = [path for path in edition() if path.parent.name == "notebooks"]
    i = order.index(english)
    link = lambda path: title(built[path])  # noqa: E731
    parts = []
    if i > 0:
        parts += [f"[← {link(order[i - 1])}]({order[i - 1].name})", "[目录](00-index.ipynb)"]
    if i + 1 < len(order):
        parts.append(f"[{link(order[i + 1])} →]({order[i + 1].name})")
    nav = "<!-- written by tools/translate.py -->\n" + " | ".join(parts)
    words, lines, cells, minutes = course.measure(nbformat.read(english, as_version=4))
    exercises = nb.metadata.get("echo_lab", {}).get("exercises", [])
    length = f"<!-- written by tools/translate.py -->\n**约 {minutes} 分钟**：阅读并运行本课（{cells} 个代码单元）。"
    practise = ""
    for name in exercises:
        solution = ROOT / "solutions" / f"{name}.ipynb"
        ex_title = title(built[solution]) if solution in built else name
        ex_minutes = nbformat.read(solution, as_version=4).metadata.get("echo_lab", {}).get("minutes", "?")
        length += f" **练习：**[{ex_title}](../exercises/{name}.ipynb)，约 {ex_minutes} 分钟。"
        practise += f"\n\n**动手练习：**[{ex_title}](../exercises/{name}.ipynb)，约 {ex_minutes} 分钟。"
    length += "\n\n" + AFTER_A_RESTART
    navs = [c for c in nb.cells if "navigation" in c.metadata.get("tags", [])]
    for k, cell in enumerate(navs):
        cell.source = nav + (practise if k == len(navs) - 1 else "")
    course.figure_alts(nb)  # from the Chinese captions
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "length" in tags:
            cell.source = length
        if "course-map" in tags:
            cell.source = "## 课程\n\n" + chinese_map(built, "")


def chinese_map(built, prefix):
    """The Chinese course map, as the English one (tools/course.py): lesson, minutes, exercises, question.

    Links are relative to ``prefix`` (lessons) and its exercises/ sibling."""
    order = [path for path in edition() if path.parent.name == "notebooks"]
    rows = ["| # | 课 | 分钟 | 练习（分钟） | 它回答的问题 |", "|---|---|---|---|---|"]
    to_exercises = "../exercises/" if prefix == "" else prefix.replace("notebooks/", "exercises/")
    total = practice = 0
    for path in order:
        meta = built[path].metadata.get("echo_lab", {})
        minutes = course.measure(nbformat.read(path, as_version=4))[3]
        found = [(name, course.exercise(name)[1]) for name in meta.get("exercises", [])]
        cell = "、".join(f"[{name[:2]}]({to_exercises}{name}.ipynb)（{m}）" for name, m in found)
        total += minutes
        practice += sum(m for _name, m in found if isinstance(m, int))
        rows.append(f"| {path.name[:2]} | [{title(built[path]).split(' · ', 1)[-1]}]({prefix}{path.name}) | {minutes} "
                    f"| {cell} | {meta.get('question', '')} |")
    rows.append(f"| | **合计** | **{total}** | **{practice}** | 约 {round((total + practice) / 60, 1):g} 小时 |")
    return "\n".join(rows)


def readme(built):
    """README.zh-CN.md with its course map brought up to date (the text as it should be)."""
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(course.MAP_START, 1)
    return f"{head}{course.MAP_START}\n{chinese_map(built, 'zh-CN/notebooks/')}\n{course.MAP_END}{rest.split(course.MAP_END, 1)[1]}"


def stale_or_write(write):
    """Chinese notebooks whose sources differ from what the catalogs give; written when ``write``."""
    built = {english: translate(english) for english in edition()}
    stale = []
    for english, nb in built.items():
        chinese_generated_cells(nb, english, built)
        target = TARGET / english.parent.name / english.name
        old = nbformat.read(target, as_version=4) if target.exists() else None
        if old is not None and [c.source for c in old.cells] == [c.source for c in nb.cells] \
                and old.metadata.get("echo_lab") == nb.metadata.get("echo_lab"):
            continue
        stale.append(str(target.relative_to(ROOT)))
        if write:
            for k, cell in enumerate(nb.cells):  # keep outputs of cells whose source did not change
                same = old is not None and k < len(old.cells) and old.cells[k].source == cell.source
                if cell.cell_type == "code":
                    cell.outputs = old.cells[k].outputs if same else []
                    cell.execution_count = old.cells[k].execution_count if same else None
            # the widgets' saved state goes with the outputs kept: the Chinese run's, not the English one's
            nb.metadata.pop("widgets", None)
            if old is not None and "widgets" in old.metadata:
                nb.metadata["widgets"] = old.metadata["widgets"]
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
    text = readme(built)
    if text != README.read_text(encoding="utf-8"):
        stale.append(README.name)
        if write:
            README.write_text(text, encoding="utf-8")
    return stale


def unrun():
    """Chinese notebooks with a code cell that has not been run."""
    return [path for folder in FOLDERS for path in sorted((TARGET / folder).glob("*.ipynb"))
            if any(c.cell_type == "code" and c.source.strip() and c.execution_count is None
                   for c in nbformat.read(path, as_version=4).cells)]


def execute(paths):
    from nbclient import NotebookClient

    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                       allow_errors=False).execute()
        nbformat.write(nb, path)
        print("executed:", path.relative_to(ROOT))


def main(argv):
    command, *paths = argv or ["check"]
    if command == "update":
        for english in [pathlib.Path(p).resolve() for p in paths] or [*edition(), PACKAGE]:
            new, fuzzy = update(english)
            where = PACKAGE_CATALOG if english == PACKAGE else catalog_path(english)
            print(f"{where.relative_to(ROOT)}: {new} new, {fuzzy} fuzzy")
        return 0
    found = [line for english in [*edition(), PACKAGE] for line in problems(english)]
    if command == "build":
        catalog = polib.pofile(str(PACKAGE_CATALOG))
        catalog.save_as_mofile(str(PACKAGE_CATALOG.with_suffix(".mo")))
        found = [line for line in found if "its .mo" not in line]
        stale = stale_or_write(write=True)
        print("written:", ", ".join(stale) if stale else "nothing (up to date)")
        for line in found:
            print("incomplete:", line)
        return 0
    if command == "execute":
        execute([pathlib.Path(p).resolve() for p in paths] or unrun())
        return 0
    if command == "check":
        stale = stale_or_write(write=False)
        for line in found:
            print(line)
        for path in stale:
            print(f"{path}: out of date (run tools/translate.py build, then execute it)")
        print(f"translate check: {len(edition())} notebooks, {len(found)} catalog problems, {len(stale)} stale")
        return 1 if found or stale else 0
    raise SystemExit(f"usage: {__doc__.splitlines()[2].strip()}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
