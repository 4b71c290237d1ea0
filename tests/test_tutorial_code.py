"""The tutorial's code, line by line: echo_lab/seed.py and the exercises' solutions against the tutorial's text.

The tutorial's text (the seed) lost its code's indentation, so lines are
compared with their whitespace stripped and every run of spaces made one:
``sock.accept()  # Should`` is the tutorial's ``sock.accept() # Should``,
but double quotes for its single ones, or its ``SimpleNamespace(connid=connid,``
laid out another way, are not.  Each of the tutorial's pieces of code must
appear, line after line and in order, in the function that holds it.  Only
what seed.py documents as changed is allowed, each written in a target's
``rewrites`` below: ``sel`` comes from the caller, not from a global, and the event loop
is ``while keep_going()`` with the caller's ``timeout``.  The four functions
the factories return are the tutorial's whole: no line more, no line less.

The tutorial's text is not part of the project.  What these tests need of it
is kept in ``tests/data/tutorial_code.json``: for each piece, where it starts
in the text, how many lines it has, the SHA-256 of its normalised lines
(joined with newlines) and the first 16 hex digits of each line's.  With
nothing else, the tests compare the code with those digests (the tests whose
id says ``facts``).  When ``ECHO_LAB_TUTORIAL`` names the text, they also
compare it line by line with the text (ids with ``text``) and check the facts
are the text's; ``ECHO_LAB_WRITE_FACTS=1`` as well rewrites the facts from it,
and so does ``python tests/test_tutorial_code.py --write-facts PATH``.
"""

import ast
import difflib
import functools
import hashlib
import inspect
import json
import os
import pathlib
import re
import sys
from dataclasses import dataclass, field
from typing import NamedTuple

import pytest

import helpers
from echo_lab import seed
from echo_lab.checks import solution

ROOT = pathlib.Path(__file__).resolve().parents[1]
FACTS = ROOT / "tests" / "data" / "tutorial_code.json"  # what the tests know of the tutorial's text
TUTORIAL = helpers.TUTORIAL  # names the tutorial's text: compare with it line by line too
WRITE_FACTS = "ECHO_LAB_WRITE_FACTS"  # "1" (with TUTORIAL): rewrite FACTS from the text
MODES = ["facts", "text"] if os.environ.get(TUTORIAL) else ["facts"]
SEED_PY = pathlib.Path(inspect.getsourcefile(seed))

CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")  # the tutorial's prose is Chinese; its code is not

AT_TOP = "at the top level"  # a rewrite: the line is in the source, outside any function

# the lines every piece of the server's script starts with: where `sel` comes from
SETUP = {
    "import selectors": AT_TOP,
    "sel = selectors.DefaultSelector()": None,  # the factories and functions take `sel` as an argument
    "# ...": None,  # the tutorial's mark for lines left out
}


@dataclass
class Piece:
    """One of the tutorial's pieces of code: from its line ``first`` (the ``occurrence``-th) to ``last``."""

    name: str
    first: str
    last: str
    occurrence: int = 1


@dataclass
class Target:
    """Where a piece is: ``function`` ("outer.inner", or "" for the top level) of some source, and how."""

    piece: str
    function: str
    rewrites: dict = field(default_factory=dict)  # tutorial line -> its line here, AT_TOP, or None (not here)
    whole: bool = False  # no line but the tutorial's


class Line(NamedTuple):
    """A line of one of the tutorial's pieces: its number in the text, the line (None: known by its digest only)."""

    number: int
    text: str | None
    digest: str


PIECES = [
    Piece("listening socket", "import selectors", "sel.register(lsock, selectors.EVENT_READ, data=None)"),
    Piece("register", "sel.register(lsock, selectors.EVENT_READ, data=None)",
          "sel.register(lsock, selectors.EVENT_READ, data=None)"),
    Piece("event loop", "import selectors", "service_connection(key, mask)", occurrence=2),
    Piece("accept_wrapper", "def accept_wrapper(sock):", "sel.register(conn, events, data=data)"),
    Piece("server service_connection", "def service_connection(key, mask):", "data.outb = data.outb[sent:]"),
    Piece("messages", "messages = [b'Message 1 from client.', b'Message 2 from client.']",
          "messages = [b'Message 1 from client.', b'Message 2 from client.']"),
    Piece("start_connections", "def start_connections(host, port, num_conns):",
          "sel.register(sock, events, data=data)"),
    Piece("client service_connection", "def service_connection(key, mask):", "data.outb = data.outb[sent:]",
          occurrence=2),
]

EVENT_LOOP = {
    **SETUP,
    "while True:": "while keep_going():",  # seed.event_loop's docstring: stops when asked to
    "events = sel.select(timeout=None)": "events = sel.select(timeout=timeout)",  # None by default
}

# seed.py, piece by piece
SEED_TARGETS = [
    Target("listening socket", "listening_socket", SETUP),
    Target("event loop", "event_loop", EVENT_LOOP),
    Target("accept_wrapper", "server_functions.accept_wrapper", whole=True),
    Target("server service_connection", "server_functions.service_connection", whole=True),
    Target("messages", "", {"messages = [b'Message 1 from client.', b'Message 2 from client.']": AT_TOP}),
    Target("start_connections", "client_functions.start_connections", whole=True),
    Target("client service_connection", "client_functions.service_connection", whole=True),
]

# the exercises' solutions, where the exercise is one of the tutorial's pieces
EXERCISE_TARGETS = {
    "listening_socket": Target("listening socket", "listening_socket", {
        **SETUP,
        "import selectors": None,  # the notebook imports it in an earlier cell
        "sel.register(lsock, selectors.EVENT_READ, data=None)": None,  # exercise register_listening's line
    }),
    "register_listening": Target("register", "register_listening", {
        "sel.register(lsock, selectors.EVENT_READ, data=None)":
            "return sel.register(lsock, selectors.EVENT_READ, data=None)",  # the exercise checks the key
    }),
    "event_loop": Target("event loop", "event_loop", {**SETUP, "import selectors": None}),
    "accept_wrapper": Target("accept_wrapper", "accept_wrapper", whole=True),
    "service_connection": Target("server service_connection", "service_connection", whole=True),
    "start_connections": Target("start_connections", "start_connections", whole=True),
    "client_service_connection": Target("client service_connection", "service_connection", whole=True),
}

PIECE = {piece.name: piece for piece in PIECES}


def normal(line):
    """A line as compared: no whitespace around it, one space for every run of it inside."""
    return " ".join(line.split())


def digest(lines):
    """The SHA-256 of normalised lines, joined with newlines."""
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def line_digest(line):
    return digest([line])[:16]


HINT = f"Set {TUTORIAL}=/path/to/the/tutorial.txt to compare it line by line with the tutorial's text."


def tutorial_text():
    """The tutorial's text, from the file ECHO_LAB_TUTORIAL names."""
    return helpers.tutorial_text(FACTS.relative_to(ROOT))


def tutorial_lines(text=None):
    return [normal(line) for line in (tutorial_text() if text is None else text).splitlines()]


@functools.cache
def facts():
    if not FACTS.exists():
        pytest.fail(f"{FACTS.relative_to(ROOT)} is missing: make it with {TUTORIAL}=/path/to/the/tutorial.txt "
                    f"{WRITE_FACTS}=1", pytrace=False)
    return json.loads(FACTS.read_text(encoding="utf-8"))


def tutorial_piece(lines, piece):
    """[(line number, line)]: the piece's lines in the tutorial's text."""
    starts = [i for i, line in enumerate(lines) if line == piece.first]
    assert len(starts) >= piece.occurrence, f"the tutorial has no line {piece.first!r} (#{piece.occurrence})"
    start = starts[piece.occurrence - 1]
    end = lines.index(piece.last, start)
    found = [(n + 1, lines[n]) for n in range(start, end + 1)]
    prose = [f"{n}: {line}" for n, line in found if CJK.search(line) or not line]
    assert not prose, f"the piece {piece.name!r} runs into the tutorial's prose: {prose}"
    return found


def the_piece(piece, mode):
    """[Line]: the piece, from the tutorial's text ("text") or from what the facts keep of it ("facts")."""
    if mode == "text":
        return [Line(n, line, line_digest(line)) for n, line in tutorial_piece(tutorial_lines(), piece)]
    kept = facts()["pieces"].get(piece.name)
    assert kept, f"{FACTS.relative_to(ROOT)} has no piece {piece.name!r}: make it again from the tutorial's text"
    return [Line(kept["line"] + i, None, d) for i, d in enumerate(kept["line_sha256"])]


def code_facts(text):
    """What the tests keep of the tutorial's text: where its pieces are, their digests, its functions."""
    lines = tutorial_lines(text)
    pieces = {}
    for piece in PIECES:
        found = tutorial_piece(lines, piece)
        texts = [line for _, line in found]
        pieces[piece.name] = {"occurrence": piece.occurrence, "line": found[0][0], "lines": len(texts),
                              "sha256": digest(texts), "line_sha256": [line_digest(line) for line in texts]}
    spans = {name: range(kept["line"], kept["line"] + kept["lines"]) for name, kept in pieces.items()}
    functions = [{"name": re.match(r"def (\w+)", line)[1], "line": n,
                  "piece": next((name for name, span in spans.items() if n in span), None)}
                 for n, line in enumerate(lines, 1) if line.startswith("def ")]
    return {
        "about": "Facts of the tutorial's text (000_eb5d85daca0bf7f1.txt, a Chinese translation of Real Python's "
                 "multi-connection socket tutorial), made by tests/test_tutorial_code.py; not the text. A piece's "
                 "sha256 is of its lines normalised as the tests do and joined with newlines; line_sha256, the "
                 "first 16 hex digits of each line's.",
        "tutorial": {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "lines": len(lines)},
        "pieces": pieces,
        "functions": functions,
    }


def write_facts(made):
    FACTS.parent.mkdir(exist_ok=True)
    FACTS.write_text(json.dumps(made, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    facts.cache_clear()


def function_lines(source, function):
    """[(line number, line)]: ``function``'s lines in ``source`` ("" = the top level), docstring left out."""
    node = ast.parse(source)
    text = source.splitlines()
    if function:
        for name in function.split("."):
            node = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
            assert node is not None, f"no function {function} in the source"
        statements = [node]
    else:
        statements = [n for n in node.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
    skip = set()
    docstring = node.body[0] if node.body else None
    if isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant) \
            and isinstance(docstring.value.value, str):
        skip = set(range(docstring.lineno, docstring.end_lineno + 1))
    numbers = sorted({n for s in statements for n in range(s.lineno, s.end_lineno + 1)} - skip)
    return [(n, normal(text[n - 1])) for n in numbers if normal(text[n - 1])]


def differences(tutorial, target, source, where):
    """(problems, piece): what keeps ``target.function`` of ``source`` from being the tutorial's piece ([] when
    nothing does), and the piece as ``source`` has it, in the tutorial's spelling.

    ``tutorial`` is [Line]; a line known only by its digest (from the facts) is found by its digest.
    """
    mine = function_lines(source, target.function)
    top = [text for _, text in function_lines(source, "")]
    known = {line_digest(line): line for line in target.rewrites}  # the rewritten lines, by digest
    place = f"{where} {target.function or '(top level)'}"
    problems, at, matched, as_tutorial = [], 0, set(), []
    unplaced = []  # (problem, where the search began): lines known by digest only, not found

    def place_them(until):  # a line not found is in place of the lines between the last found and the next
        for problem, start in unplaced:
            gap = [f"line {n} `{here}`" for n, here in mine[start:until]]
            problems[problem] += ("; in its place: " + ", ".join(gap[:5]) + (", ..." if gap[5:] else "")) if gap \
                else "; nothing is in its place"
        unplaced.clear()

    for number, text, hashed in tutorial:
        line = text if text is not None else known.get(hashed)  # None: this line is known by its digest only
        rewritten = line is not None and line in target.rewrites
        wanted = target.rewrites[line] if rewritten else line
        said = f"line {number}" + (f" `{line}`" if line is not None else "")
        if rewritten and wanted is None:
            as_tutorial.append(line)
            continue
        if wanted is AT_TOP:
            if line not in top:
                problems.append(f"the tutorial's {said} is not at {where} top level")
            as_tutorial.append(line if line in top else "")
            continue

        def fits(here, wanted=wanted, hashed=hashed):
            return here == wanted if wanted is not None else line_digest(here) == hashed

        found = next((i for i in range(at, len(mine)) if fits(mine[i][1])), None)
        if found is None:
            rest = mine[at:]
            if wanted is not None:
                near = difflib.get_close_matches(wanted, [here for _, here in rest], n=1, cutoff=0.5)
                there = next((f"; it has line {n} `{here}` instead" for n, here in rest if near and here == near[0]),
                             "")
            else:
                there = ""
                unplaced.append((len(problems), at))
            problems.append(f"the tutorial's {said}"
                            + (f" (written `{wanted}` here)" if rewritten and wanted != line else "")
                            + f" is not in {place}"
                            + (f" after line {mine[at - 1][0]}" if at else "")
                            + there)
            as_tutorial.append(rest[0][1] if rest else "")
            continue
        place_them(found)
        matched.add(found)
        at = found + 1
        as_tutorial.append(line if line is not None else mine[found][1])
    place_them(len(mine))
    if target.whole and not problems:
        problems += [f"{place} has line {n} `{here}`, which the tutorial has not"
                     for i, (n, here) in enumerate(mine) if i not in matched]
    return problems, as_tutorial


def mismatch(target, source, where, mode):
    """"" when ``target.function`` of ``source`` is the tutorial's piece; why not, when it is not."""
    piece = PIECE[target.piece]
    problems, as_tutorial = differences(the_piece(piece, mode), target, source, where)
    if mode == "text":
        return "\n".join(problems)
    kept = facts()["pieces"][piece.name]
    got = digest([here for _, here in function_lines(source, target.function)] if target.whole else as_tutorial)
    if not problems and got == kept["sha256"]:
        return ""
    last = kept["line"] + kept["lines"] - 1
    span = f"line {last}" if last == kept["line"] else f"lines {kept['line']}-{last}"
    return "\n".join([
        f"{where} {target.function or '(top level)'} is not the tutorial's piece {piece.name!r} "
        f"(the tutorial's {span}, normalised):",
        f"  expected sha256 {kept['sha256']}  (the tutorial's, {FACTS.relative_to(ROOT)})",
        f"  got      sha256 {got}  ({where} lines, as the tutorial would have them)",
        *(f"  {problem}" for problem in problems),
        f"  {HINT}",
    ])


@pytest.mark.parametrize("mode", MODES)
def test_the_facts_are_the_tutorials(mode):
    """The facts are of these pieces; with the text, they are what the text gives (or are rewritten from it)."""
    where = FACTS.relative_to(ROOT)
    again = f"make it again: {TUTORIAL}=/path/to/the/tutorial.txt {WRITE_FACTS}=1 pytest tests/test_tutorial_code.py"
    if mode == "text":
        made = code_facts(tutorial_text())
        if os.environ.get(WRITE_FACTS) == "1":
            write_facts(made)
        kept = facts()
        if kept != made:
            diff = difflib.unified_diff(json.dumps(kept, ensure_ascii=False, indent=1).splitlines(),
                                        json.dumps(made, ensure_ascii=False, indent=1).splitlines(),
                                        str(where), f"from {os.environ[TUTORIAL]}", lineterm="", n=1)
            pytest.fail(f"{where} is not what the tutorial's text gives; {again}\n" + "\n".join(list(diff)[:40]))
        return
    kept = facts()["pieces"]
    assert list(kept) == list(PIECE), f"{where} has the pieces {list(kept)}, not {list(PIECE)}: {again}"
    for piece in PIECES:
        found = kept[piece.name]
        assert (found["occurrence"], found["lines"]) == (piece.occurrence, len(found["line_sha256"])), again
        assert found["line_sha256"][0] == line_digest(normal(piece.first)), f"{piece.name}: another first line; {again}"
        assert found["line_sha256"][-1] == line_digest(normal(piece.last)), f"{piece.name}: another last line; {again}"


@pytest.mark.parametrize("mode", MODES)
def test_the_pieces_are_every_function_the_tutorial_defines(mode):
    if mode == "text":
        lines = tutorial_lines()
        defined = [line for line in lines if line.startswith("def ")]
        in_pieces = [line for piece in PIECES for _, line in tutorial_piece(lines, piece) if line.startswith("def ")]
        assert sorted(defined) == sorted(in_pieces)
        return
    functions = facts()["functions"]
    assert functions, f"{FACTS.relative_to(ROOT)} knows no function of the tutorial's"
    outside = [f"{f['name']} (the tutorial's line {f['line']})" for f in functions if f["piece"] not in PIECE]
    assert not outside, f"functions the tutorial defines that are in no piece: {outside}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("target", SEED_TARGETS, ids=lambda t: t.piece)
def test_seed_py_is_the_tutorials_code(target, mode):
    problem = mismatch(target, SEED_PY.read_text(encoding="utf-8"), "seed.py's", mode)
    assert not problem, problem


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exercise", list(EXERCISE_TARGETS))
def test_the_solution_is_the_tutorials_code(exercise, mode):
    problem = mismatch(EXERCISE_TARGETS[exercise], solution(exercise).code, f"solution({exercise!r})'s", mode)
    assert not problem, problem


@pytest.mark.parametrize("mode", MODES)
def test_a_changed_line_is_named(mode):
    """One character changed in a copy of seed.py: the check names the line (and, from the facts, the digests)."""
    source = SEED_PY.read_text(encoding="utf-8")
    changed = source.replace("print('echoing', repr(data.outb), 'to', data.addr)",
                             "print('echoing', repr(data.outb), 'to', data.adr)", 1)
    assert changed != source
    target = next(t for t in SEED_TARGETS if t.piece == "server service_connection")
    problem = mismatch(target, changed, "seed.py's", mode)
    assert "`print('echoing', repr(data.outb), 'to', data.adr)`" in problem, problem
    if mode == "text":
        first = problem.splitlines()[0]
        assert "`print('echoing', repr(data.outb), 'to', data.addr)`" in first, problem
        assert "`print('echoing', repr(data.outb), 'to', data.adr)`" in first, problem
    else:
        kept = facts()["pieces"][target.piece]
        assert "'server service_connection'" in problem and f"expected sha256 {kept['sha256']}" in problem, problem
        assert f"got      sha256 {digest([here for _, here in function_lines(changed, target.function)])}" \
            in problem, problem
        assert TUTORIAL in problem, problem


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--write-facts":
        sys.exit(f"usage: python {sys.argv[0]} --write-facts PATH/TO/THE/TUTORIAL.txt  (rewrites {FACTS})")
    write_facts(code_facts(pathlib.Path(sys.argv[2]).read_text(encoding="utf-8")))
    print(f"wrote {FACTS}")
