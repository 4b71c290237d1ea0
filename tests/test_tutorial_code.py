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
"""

import ast
import difflib
import inspect
import pathlib
import re
from dataclasses import dataclass, field

import pytest

from echo_lab import seed
from echo_lab.checks import solution

ROOT = pathlib.Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed" / "000_eb5d85daca0bf7f1.txt"
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


def normal(line):
    """A line as compared: no whitespace around it, one space for every run of it inside."""
    return " ".join(line.split())


def tutorial_lines():
    if not SEED.exists():
        pytest.fail(f"the seed text is missing: {SEED}")
    return [normal(line) for line in SEED.read_text(encoding="utf-8").splitlines()]


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
    """What keeps ``target.function`` of ``source`` from being the tutorial's piece: [] when it is."""
    mine = function_lines(source, target.function)
    top = function_lines(source, "")
    place = f"{where} {target.function or '(top level)'}"
    problems, at, matched = [], 0, set()
    for number, line in tutorial:
        wanted = target.rewrites.get(line, line)
        if wanted is None:
            continue
        if wanted is AT_TOP:
            if line not in [text for _, text in top]:
                problems.append(f"the tutorial's line {number} `{line}` is not at {where} top level")
            continue
        found = next((i for i in range(at, len(mine)) if mine[i][1] == wanted), None)
        if found is None:
            rest = mine[at:]
            near = difflib.get_close_matches(wanted, [text for _, text in rest], n=1, cutoff=0.5)
            there = next((f"line {n} `{text}`" for n, text in rest if near and text == near[0]), None)
            problems.append(f"the tutorial's line {number} `{line}`"
                            + (f" (written `{wanted}` here)" if wanted != line else "")
                            + f" is not in {place}"
                            + (f" after line {mine[at - 1][0]}" if at else "")
                            + (f"; it has {there} instead" if there else ""))
            continue
        matched.add(found)
        at = found + 1
    if target.whole and not problems:
        problems += [f"{place} has line {n} `{text}`, which the tutorial has not"
                     for i, (n, text) in enumerate(mine) if i not in matched]
    return problems


PIECE = {piece.name: piece for piece in PIECES}


def test_the_pieces_are_every_function_the_tutorial_defines():
    lines = tutorial_lines()
    defined = [line for line in lines if line.startswith("def ")]
    in_pieces = [line for piece in PIECES for _, line in tutorial_piece(lines, piece) if line.startswith("def ")]
    assert sorted(defined) == sorted(in_pieces)


@pytest.mark.parametrize("target", SEED_TARGETS, ids=lambda t: t.piece)
def test_seed_py_is_the_tutorials_code(target):
    tutorial = tutorial_piece(tutorial_lines(), PIECE[target.piece])
    problems = differences(tutorial, target, SEED_PY.read_text(encoding="utf-8"), "seed.py's")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("exercise", list(EXERCISE_TARGETS))
def test_the_solution_is_the_tutorials_code(exercise):
    target = EXERCISE_TARGETS[exercise]
    tutorial = tutorial_piece(tutorial_lines(), PIECE[target.piece])
    problems = differences(tutorial, target, solution(exercise).code, f"solution({exercise!r})'s")
    assert not problems, "\n".join(problems)


def test_a_changed_line_is_named(tmp_path):
    """One character changed in a copy of seed.py: the check names the line, in the tutorial and in seed.py."""
    source = SEED_PY.read_text(encoding="utf-8")
    changed = source.replace("print('echoing', repr(data.outb), 'to', data.addr)",
                             "print('echoing', repr(data.outb), 'to', data.adr)", 1)
    assert changed != source
    target = next(t for t in SEED_TARGETS if t.piece == "server service_connection")
    tutorial = tutorial_piece(tutorial_lines(), PIECE[target.piece])
    problems = differences(tutorial, target, changed, "seed.py's")
    assert problems and "`print('echoing', repr(data.outb), 'to', data.addr)`" in problems[0], problems
    assert "`print('echoing', repr(data.outb), 'to', data.adr)`" in problems[0], problems
