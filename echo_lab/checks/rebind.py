"""A copy of the learner's function in which the learner's selector is one of the check's own.

The tutorial's functions use a module-level selector, ``sel``.  A check must
not register its test sockets in *your* ``sel``, nor close it, so you pass
your function **and** your ``sel`` in, and :func:`rebind` makes a *copy* of
your function in which every global name bound to that selector (normally
just ``sel``) means a fresh ``Recorder(selectors.DefaultSelector())`` of the
check's own.  The same is done for a default argument or an enclosing
variable holding it, and for the functions defined beside yours that it
calls.  In the copy, ``print`` writes into the check's transcript instead of
the notebook.  Your variables are read only to make that copy, and never
changed; a selector your code reaches some other way (an attribute, another
module) is not replaced.
"""

import contextlib
import types

__all__ = ["rebind", "uses_selector"]


def rebind(fn, mine, sel, print_, replace):
    """A copy of ``fn`` where ``mine`` (the learner's selector) is ``sel`` and ``print`` is ``print_``.

    ``replace`` (a dict) puts other globals in the copy (the event loop's handlers).
    """

    def swap(value):
        return sel if value is mine else value

    old = fn.__globals__
    new = dict(old)
    for name, value in old.items():
        if value is mine:
            new[name] = sel
    new["print"] = print_
    for name, value in old.items():  # helpers defined beside fn use the copy too
        if isinstance(value, types.FunctionType) and value.__globals__ is old and name not in replace:
            new[name] = _copy_function(value, new, swap)
    new.update(replace)
    return _copy_function(fn, new, swap)


def uses_selector(fn, mine):
    """Can ``fn`` reach the selector ``mine``: a global of its module, a default argument, an enclosing variable?"""
    cells = []
    for cell in fn.__closure__ or ():
        with contextlib.suppress(ValueError):
            cells.append(cell.cell_contents)
    return (any(v is mine for v in fn.__globals__.values())
            or any(v is mine for v in (fn.__defaults__ or ()))
            or any(v is mine for v in (fn.__kwdefaults__ or {}).values())
            or any(v is mine for v in cells))


def _copy_function(fn, globals_, swap):
    """``fn`` with the globals ``globals_``, and ``swap`` applied to its defaults and enclosing variables."""
    closure = None
    if fn.__closure__:
        cells = []
        for cell in fn.__closure__:
            try:
                cells.append(types.CellType(swap(cell.cell_contents)))
            except ValueError:  # an empty cell
                cells.append(cell)
        closure = tuple(cells)
    defaults = tuple(swap(v) for v in fn.__defaults__) if fn.__defaults__ else fn.__defaults__
    copy = types.FunctionType(fn.__code__, globals_, fn.__name__, defaults, closure)
    if fn.__kwdefaults__:
        copy.__kwdefaults__ = {k: swap(v) for k, v in fn.__kwdefaults__.items()}
    copy.__qualname__ = fn.__qualname__
    return copy
