"""Checks of the listening socket and its registration: exercises 01 and 02.

Each calls the learner's function on sockets and a selector the check
prepared, then looks at what it returned or changed: the socket's options
(01), what the selector holds (02), the names of a mask's bits (02).  A
client then connects, to see the listening socket become readable.
"""

import select
import socket

from ..i18n import _
from .observe import expect_return, is_registered, mask_words, wait_key
from .results import join_text
from .trial import HOST, NET_TIMEOUT, READ, WRITE, Wrong, run_check

__all__ = ["check_listening_socket", "check_mask_names", "check_register_listening"]


# ---------------------------------------------------------------------------
# 01 · the listening socket

def check_listening_socket(listening_socket, sel):
    """Check ``listening_socket(host, port)``: a TCP socket bound, listening, non-blocking, returned."""
    return run_check("listening_socket", _listening_socket, [("listening_socket", listening_socket)], sel)


def _listening_socket(trial, fn):
    copy = trial.rebind(fn, trial.selector())
    lsock = trial.call(copy, HOST, 0, name="listening_socket('127.0.0.1', 0)",
                       on_error={OSError: _("Make the socket with `socket.socket(socket.AF_INET, "
                                            "socket.SOCK_STREAM)` and bind it once.")})
    expect_return(lsock, _("the socket: `return lsock`"), "listening_socket('127.0.0.1', 0)")
    if not isinstance(lsock, socket.socket):
        raise Wrong(_("listening_socket returned a {kind}, not the socket.").format(kind=type(lsock).__name__),
                     hint="`return lsock`")
    trial.own(lsock)
    if lsock.family != socket.AF_INET or lsock.type != socket.SOCK_STREAM:
        raise Wrong(_("The socket is not a TCP socket over IPv4."),
                     hint="`socket.socket(socket.AF_INET, socket.SOCK_STREAM)`")
    host, port = lsock.getsockname()[:2]
    if port == 0:
        raise Wrong(_("The socket is not bound to an address."), hint="`lsock.bind((host, port))`")
    if host != HOST:
        raise Wrong(_("Asked for host '{wanted}', the socket is bound to '{host}'.").format(wanted=HOST, host=host),
                     hint=_("Bind to the `host` argument: `lsock.bind((host, port))`."))
    if not lsock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise Wrong(_("The socket is bound but not listening: clients would be refused."),
                     hint=_("`lsock.listen()` after `bind`."))
    if lsock.getblocking():
        raise Wrong(_("The listening socket is still blocking: an `accept()` with no client waiting "
                       "would freeze the whole server."), hint="`lsock.setblocking(False)`")
    if not trial.printed_line("listening on"):
        raise Wrong(_("It works, but did not print the tutorial's line `listening on (host, port)`."),
                     hint="`print('listening on', (host, port))`")
    # A second call with a port of our choosing: is the port argument used?
    probe = socket.socket()
    probe.bind((HOST, 0))
    wanted = probe.getsockname()[1]
    probe.close()
    second = trial.call(copy, HOST, wanted, name=f"listening_socket('127.0.0.1', {wanted})")
    if isinstance(second, socket.socket):
        trial.own(second)
        if second.getsockname()[1] != wanted:
            raise Wrong(_("Asked for port {wanted}, the socket is bound to port "
                           "{port}.").format(wanted=wanted, port=second.getsockname()[1]),
                         hint=_("Bind to the `port` argument."))
    client = trial.connect((host, port))
    ready = select.select([lsock], [], [], NET_TIMEOUT)[0]
    if not ready:
        raise Wrong(_("A client connected, but the socket never became readable."))
    trial.own(lsock.accept()[0])
    client.close()
    return _("It returns a TCP socket bound to (host, port), listening and non-blocking, and prints "
             "'listening on (host, port)'. A client connected to it.")


# ---------------------------------------------------------------------------
# 02 · register, and the mask's bits

def check_register_listening(register_listening, sel):
    """Check ``register_listening(lsock)``: registered in ``sel`` for READ with data None; key returned."""
    return run_check("register_listening", _register_listening, [("register_listening", register_listening)], sel)


def _register_listening(trial, fn):
    fresh = trial.selector()
    lsock = trial.listener()
    key = trial.call(trial.rebind(fn, fresh), lsock, name="register_listening(lsock)",
                     on_error={KeyError: _("Register the socket once, in `sel`.")})
    sel_map = fresh.get_map()
    if not is_registered(fresh, lsock):
        raise Wrong(_("After register_listening(lsock), lsock is not registered in `sel`."),
                     hint=_("`sel.register(lsock, selectors.EVENT_READ, data=None)`, with the global `sel` "
                            "(not a new selector)."))
    registered = sel_map[lsock]
    if registered.events != READ:
        raise Wrong(_("lsock is registered for {events}.").format(events=mask_words(registered.events)),
                     hint=_("A listening socket becomes *readable* when a client waits to be accepted: "
                            "register it for `selectors.EVENT_READ` only."))
    if registered.data is not None:
        raise Wrong(_("lsock is registered with data={data!r}.").format(data=registered.data),
                     hint=_("The event loop tells the listening socket by `key.data is None`: pass "
                            "`data=None`."))
    expect_return(key, _("the SelectorKey that `sel.register(...)` returns"), "register_listening(lsock)")
    if key is lsock:
        raise Wrong(_("register_listening returned lsock itself, not the SelectorKey that "
                       "`sel.register(...)` returns."), hint="`return sel.register(...)`")
    if key != registered:
        raise Wrong(_("register_listening returned {key!r}, not the SelectorKey.").format(key=key),
                     hint="`return sel.register(...)`")
    client = trial.connect(lsock.getsockname())
    wait_key(fresh, lsock, READ)
    client.close()
    return _("lsock is registered for EVENT_READ with data=None, the key is returned, and select() "
             "reported lsock readable when a client connected.")


def check_mask_names(mask_names):
    """Check ``mask_names(mask)``: the names of the bits set, e.g. 3 -> ['READ', 'WRITE']."""
    return run_check("mask_names", _mask_names, [("mask_names", mask_names)], None, needs_sel=False)


def _mask_names(trial, fn):
    copy = trial.rebind(fn, None)
    for mask, expected in ((READ, ["READ"]), (WRITE, ["WRITE"]), (READ | WRITE, ["READ", "WRITE"]), (0, [])):
        got = trial.call(copy, mask, name=f"mask_names({mask})")
        expect_return(got, _("a list such as {expected!r}").format(expected=expected), f"mask_names({mask})")
        try:
            got_list = list(got)
        except TypeError:
            got_list = None
        if got_list != expected:
            why = {3: _("3 is 0b11: both bits are set, so it is READ and WRITE at once."),
                   0: _("0 has no bit set.")}.get(mask, "")
            if mask in (READ, WRITE) and got_list == ["READ", "WRITE"]:
                why = _("`mask and ...` is true for any mask but 0: `and` does not test a bit, "
                        "`&` does ({mask} & 1 is {bit1}, {mask} & 2 is {bit2}).").format(
                            mask=mask, bit1=mask & 1, bit2=mask & 2)
            elif mask == READ | WRITE and got_list == ["WRITE", "READ"]:
                why = _("The names go in the bits' order: READ (1) first, then WRITE (2).")
            message = _("mask_names({mask}) returned {got!r}, expected {expected!r}.").format(
                mask=mask, got=got, expected=expected)
            raise Wrong(join_text(message, why) if why else message,
                         hint=_("Test each bit on its own with `&`: `if mask & selectors.EVENT_READ:`."))
    return _("mask_names gives ['READ'], ['WRITE'], ['READ', 'WRITE'] and [] for the masks 1, 2, 3 and 0.")
