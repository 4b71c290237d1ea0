"""The table of common exceptions (``echo_lab.checks.exception_hints``): each row's hint names the mistake.

Each exception here is raised for real, by the call a learner of this course gets wrong
(``bind(host, port)``, ``sel.modify`` on a closed socket, ``send('text')``...), on real sockets and
selectors: the table's patterns meet CPython's own messages, not copies of them.  ``test_checks.py``
(MISTAKES) runs the checks themselves on learners' functions that make these mistakes.
"""

import errno
import re
import selectors
import socket
import types

import pytest
import test_checks

from echo_lab import i18n
from echo_lab.checks import tracebacks
from echo_lab.checks.exception_hints import ROWS, exception_hint

GENERIC = "The last lines of the traceback show where in your code it failed."


def modify_after_close(sel, sock):
    sel.register(sock, selectors.EVENT_READ)
    sel.unregister(sock)
    sock.close()
    sel.modify(sock, selectors.EVENT_READ)  # no `return` after closing


def recv_after_close(sel, sock):
    sock.close()
    sock.recv(1024)


def accept_with_no_client(sel, sock):
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    sock.accept()


def text_buffer(sel, sock):
    data = types.SimpleNamespace(outb="")
    data.outb += b"received"


def register_twice(sel, sock):
    sel.register(sock, selectors.EVENT_READ)
    sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)


def not_defined(sel, sock):
    test_checks.learner("def f():\n    return SimpleNamespace(addr=None)\n")["f"]()


MISTAKES = {  # case: (what the learner does with a selector and a socket, words the hint must have)
    "bind-two-arguments": (lambda sel, sock: sock.bind("127.0.0.1", 0),
                           ("`bind` takes one argument, a (host, port) tuple", "`bind((host, port))`")),
    "connect-two-arguments": (lambda sel, sock: sock.connect("127.0.0.1", 1), ("`connect` takes one argument",)),
    "send-text": (lambda sel, sock: sock.send("hello"), ("`send` takes bytes, not a str",)),
    "text-buffer": (text_buffer, ("Text (str) and bytes were mixed", "`b''`, not `''`")),
    "modify-after-close": (modify_after_close, ("closed before `sel.modify` or `sel.unregister`", "fileno -1",
                                                "Unregister first, close last", "`return` right after `sock.close()`")),
    "recv-after-close": (recv_after_close, ("used after it was closed", "after `sel.unregister(sock)`")),
    "accept-with-no-client": (accept_with_no_client, ("was not ready", "`accept` once each time")),
    "unregister-not-registered": (lambda sel, sock: sel.unregister(sock), ("not registered in `sel`",)),
    "get_key-not-registered": (lambda sel, sock: sel.get_key(sock), ("not registered in `sel`", "`sel.get_key`")),
    "register-twice": (register_twice, ("already registered", "`sel.modify(sock, events, data=data)`")),
    "name-not-defined": (not_defined, ("`SimpleNamespace` is not defined", "with its module", "imports it")),
    "namespace-without-the-field": (lambda sel, sock: types.SimpleNamespace(addr=None, inb=b"").outb,
                                    ("The namespace has no `outb`", "built without that field",
                                     "`types.SimpleNamespace(..., outb=...)`")),
    "listening-key-data": (lambda sel, sock: sel.register(sock, selectors.EVENT_READ, data=None).data.outb,
                           ("None where an object with `outb` was expected", "`data=None`")),
}


def hint_for(case):
    """The exception the learner's call of ``case`` raises, on a fresh selector and socket, and its hint."""
    action, _ = MISTAKES[case]
    with selectors.DefaultSelector() as sel, socket.socket() as sock, pytest.raises(Exception) as caught:
        action(sel, sock)
    return caught.value, exception_hint(caught.value)


@pytest.mark.parametrize("case", list(MISTAKES))
def test_a_common_exception_gets_a_hint_that_names_the_mistake(case):
    error, hint = hint_for(case)
    for word in MISTAKES[case][1]:
        assert word in hint, (word, hint, error)


def test_every_row_of_the_table_is_a_mistake_tried_here():
    hints = [hint_for(case)[1] for case in MISTAKES]
    for _kind, _pattern, hint in ROWS:
        words = max(re.split(r"{\w+}", hint), key=len)  # the row's longest stretch without a field
        assert any(words in shown for shown in hints), hint


def test_a_closed_socket_used_on_windows_gets_the_same_hint_as_here():
    """Windows says WinError 10038, "not a socket", where Linux and macOS say "Bad file descriptor" (its text,
    as CPython raises it there: the socket layer here cannot raise it)."""
    windows = OSError(10038, "An operation was attempted on something that is not a socket")
    assert exception_hint(windows) == hint_for("recv-after-close")[1]
    windows.winerror = 10038  # what Windows' OSError carries
    here = OSError(errno.EBADF, "Bad file descriptor")
    meant = "a socket was used after it was closed."
    assert tracebacks.error_meaning(windows) == tracebacks.error_meaning(here) == meant


def test_an_exception_the_table_does_not_know_gets_the_generic_line():
    for error in (ZeroDivisionError("division by zero"), ValueError("invalid literal"), KeyError("addr"),
                  ConnectionResetError(104, "Connection reset by peer")):
        assert exception_hint(error) == GENERIC, error


def test_the_hints_are_said_in_chinese():
    with i18n.speaking("zh_CN"):
        assert hint_for("bind-two-arguments")[1] == \
            "`bind` 只接受一个参数，即一个 (host, port) 元组：`bind((host, port))`，要写两层括号。"
        assert "已关闭的 socket 的 fileno 是 -1" in hint_for("modify-after-close")[1]
        assert "`SimpleNamespace` 没有定义" in hint_for("name-not-defined")[1]
        assert exception_hint(ZeroDivisionError("division by zero")) == "回溯的最后几行显示了你的代码在哪里出错。"
    assert not hint_for("bind-two-arguments")[1].startswith("`bind` 只接受")  # English after the block
