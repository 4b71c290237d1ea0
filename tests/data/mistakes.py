"""Learners' plausible mistakes, exercise by exercise: the test data of the checks' tests and of grading.

``MISTAKES[exercise]`` lists ``(case, change, words)``, at least five per exercise:

* ``change`` is what the learner wrote: a list of ``(old, new)`` edits of the
  solution notebook's answer cell, each made once (:func:`mutate`), or, for the
  exercises beyond the tutorial, a whole answer cell (a str, :mod:`data.mistakes_beyond`);
* ``words`` are what the check must show: the first in its message, every one
  in what it shows (message, hint, traceback).

Each is a mistake a learner makes: from the tutorial's text, from the pitfalls
the lessons teach, from what learners type.  ``tests/test_checks.py`` runs
every one through its check; ``GRADED`` names the two that
``tests/test_grading.py``'s students ``mistakes-a`` and ``mistakes-b`` make in
the exercise's notebook (None: that student makes none in this exercise, but
one in another exercise of the same notebook).
"""

from .mistakes_beyond import ECHO_PROTOCOL, TAKE_MESSAGES

__all__ = ["GRADED", "MISTAKES", "mistake", "mistaken", "mutate"]

ACCEPT_EVENTS = "events = selectors.EVENT_READ | selectors.EVENT_WRITE"
SLICE = "            data.outb = data.outb[sent:]\n"
UNREGISTER_CLOSE = "            sel.unregister(sock)\n            sock.close()\n"
CLOSE_UNREGISTER = "            sock.close()\n            sel.unregister(sock)\n"
ADD_WRITE = "            sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)\n"
DROP_WRITE = "        if not data.outb:\n            sel.modify(sock, selectors.EVENT_READ, data=data)"
NAMESPACE = "    data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')\n"
DROP_WRITE_ALWAYS = "    if not data.outb:\n        sel.modify(sock, selectors.EVENT_READ, data=data)"  # after READ too

EDITS = {  # exercise: [(case, replacements, words)]
    # 01 · the listening socket
    "listening_socket": [
        ("no-listen", [("    lsock.listen()\n", "")], ("not listening", "lsock.listen()")),
        ("still-blocking", [("    lsock.setblocking(False)\n", "")], ("still blocking", "setblocking(False)")),
        ("blocking-true", [("lsock.setblocking(False)", "lsock.setblocking(True)")], ("still blocking",)),
        ("no-return", [("    return lsock\n", "")], ("did you forget a `return`",)),
        ("hard-coded-port", [("lsock.bind((host, port))", "lsock.bind((host, 0))")], ("Asked for port",)),
        ("all-interfaces", [("lsock.bind((host, port))", "lsock.bind(('', port))")],
         ("Asked for host '127.0.0.1', the socket is bound to '0.0.0.0'",)),
        ("bind-two-arguments", [("lsock.bind((host, port))", "lsock.bind(host, port)")],
         ("raised TypeError", "lsock.bind(host, port)", "takes exactly one argument",
          "`bind` takes one argument, a (host, port) tuple: `bind((host, port))`")),
        ("udp", [("SOCK_STREAM", "SOCK_DGRAM")], ("raised OSError", "lsock.listen()")),
        ("no-print", [("    print('listening on', (host, port))\n", "")], ("did not print", "listening on")),
    ],
    # 02 · register, and the mask's bits
    "register_listening": [
        ("read-and-write",
         [("selectors.EVENT_READ, data=None", "selectors.EVENT_READ | selectors.EVENT_WRITE, data=None")],
         ("registered for EVENT_READ | EVENT_WRITE", "EVENT_READ` only")),
        ("write-only", [("selectors.EVENT_READ, data=None", "selectors.EVENT_WRITE, data=None")],
         ("registered for EVENT_WRITE only", "*readable*")),
        ("data-not-none", [("data=None", "data='listening'")], ("data='listening'", "key.data is None")),
        ("no-return", [("return sel.register", "sel.register")], ("forget a `return`",)),
        ("returns-lsock", [("    return sel.register(lsock, selectors.EVENT_READ, data=None)",
                            "    sel.register(lsock, selectors.EVENT_READ, data=None)\n    return lsock")],
         ("returned lsock itself, not the SelectorKey",)),
        ("new-selector", [("return sel.register(", "return selectors.DefaultSelector().register(")],
         ("not registered in `sel`", "the global `sel`")),
        ("registers-twice", [("    return sel.register(lsock, selectors.EVENT_READ, data=None)",
                              "    sel.register(lsock, selectors.EVENT_READ, data=None)\n"
                              "    return sel.register(lsock, selectors.EVENT_READ, data=None)")],
         ("raised KeyError", "is already registered", "Register the socket once")),
    ],
    "mask_names": [
        ("equality", [("if mask & selectors.EVENT_READ", "if mask == selectors.EVENT_READ"),
                      ("if mask & selectors.EVENT_WRITE", "if mask == selectors.EVENT_WRITE")],
         ("mask_names(3) returned []", "READ and WRITE at once")),
        ("early-return", [("names.append('READ')", "return ['READ']")], ("mask_names(3) returned ['READ']",)),
        ("elif", [("    if mask & selectors.EVENT_WRITE", "    elif mask & selectors.EVENT_WRITE")],
         ("mask_names(3) returned ['READ']", "both bits are set")),
        ("and-not-bitwise", [("if mask & selectors.EVENT_READ", "if mask and selectors.EVENT_READ"),
                             ("if mask & selectors.EVENT_WRITE", "if mask and selectors.EVENT_WRITE")],
         ("mask_names(1) returned ['READ', 'WRITE']", "`and` does not test a bit")),
        ("write-first", [("names.append('READ')", "names.insert(0, 'READ')"),
                         ("names.append('WRITE')", "names.insert(0, 'WRITE')")],
         ("returned ['WRITE', 'READ']", "READ (1) first")),
        ("no-return", [("    return names\n", "")], ("returned None: did you forget a `return`?",)),
    ],
    # 03 · the event loop
    "event_loop": [
        ("passes-the-key", [("accept_wrapper(key.fileobj)", "accept_wrapper(key)")], ("pass `key.fileobj`",)),
        ("passes-the-socket", [("service_connection(key, mask)", "service_connection(key.fileobj, mask)")],
         ("as its key: pass the `key` that select() returned",)),
        ("inverted-test", [("if key.data is None:", "if key.data is not None:")],
         ("called for the listening socket",)),
        ("accepts-everything", [("            if key.data is None:\n                accept_wrapper(key.fileobj)\n"
                                 "            else:\n                service_connection(key, mask)",
                                 "            accept_wrapper(key.fileobj)")],
         ("accept_wrapper was called with a socket that is not the listening one",)),
        ("one-pass", [("while True:", "if True:")], ("returned after", "while True:")),
        ("returns-from-the-loop", [("                service_connection(key, mask)",
                                    "                return service_connection(key, mask)")],
         ("returned after", "serve forever")),
        ("select-once", [("    while True:\n        events = sel.select(timeout=None)\n",
                          "    events = sel.select(timeout=None)\n    while True:\n")],
         ("no client was waiting", "inside `while True:`")),
        ("spins", [("sel.select(timeout=None)", "sel.select(timeout=0)")], ("the loop spins", "timeout=None")),
        ("registered-events-not-mask", [("service_connection(key, mask)", "service_connection(key, key.events)")],
         ("only ready for EVENT_WRITE", "not `key.events`")),
        ("swallows-exceptions", [("                service_connection(key, mask)",
                                  "                try:\n                    service_connection(key, mask)\n"
                                  "                except BaseException:\n                    return")],
         ("returned after",)),
    ],
    # 04 · accept_wrapper
    "accept_wrapper": [
        ("still-blocking", [("    conn.setblocking(False)\n", "")], ("The accepted socket is still blocking",)),
        ("read-only", [(ACCEPT_EVENTS, "events = selectors.EVENT_READ")], ("registered for EVENT_READ only",)),
        ("data-none", [("sel.register(conn, events, data=data)", "sel.register(conn, events)")],
         ("registered with data=None", "listening socket", "not passed to register", "data=data")),
        ("data-none-passed", [("sel.register(conn, events, data=data)", "sel.register(conn, events, data=None)")],
         ("registered with data=None", "The namespace is made but not passed to register",
          "`sel.register(conn, events, data=data)`")),
        ("no-namespace", [(NAMESPACE, ""), ("data=data", "data=None")],
         ("registered with data=None", "Make a namespace for the connection",
          "`data = types.SimpleNamespace(addr=addr, inb=b'', outb=b'')`")),
        ("namespace-without-its-module", [("types.SimpleNamespace(", "SimpleNamespace(")],
         ("raised NameError", "`SimpleNamespace` is not defined", "with its module", "imports it")),
        ("not-registered", [("    sel.register(conn, events, data=data)\n", "")], ("did not register it",)),
        ("registers-the-listening-socket", [("sel.register(conn,", "sel.register(sock,")],
         ("raised KeyError", "Register the new connection")),
        ("no-inb", [("addr=addr, inb=b'', outb=b''", "addr=addr, outb=b''")], ("key.data has no `inb`",)),
        ("text-not-bytes", [("addr=addr, inb=b'', outb=b''", "addr=addr, inb='', outb=''")],
         ("data.inb is ''; expected b''",)),
        ("accepts-twice", [("    print('accepted connection from', addr)\n",
                            "    print('accepted connection from', addr)\n    conn, addr = sock.accept()\n")],
         ("raised BlockingIOError", "once per call")),
        ("no-print", [("    print('accepted connection from', addr)\n", "")], ("did not print",)),
    ],
    # 05 · the server's service_connection
    "service_connection": [
        ("no-slice", [(SLICE, "")], ("Bytes that were sent are still in outb", "data.outb[sent:]")),
        ("clears-outb", [("data.outb = data.outb[sent:]", "data.outb = b''")], ("the other bytes are lost",)),
        ("sendall", [("            sent = sock.send(data.outb)  # Should be ready to write\n" + SLICE,
                      "            sock.sendall(data.outb)\n            data.outb = b''\n")],
         ("raised BlockingIOError", "`sendall` on a non-blocking socket")),
        ("replaces-outb", [("data.outb += recv_data", "data.outb = recv_data")], ("the first bytes were lost",)),
        ("keeps-it-in-inb", [("data.outb += recv_data", "data.inb += recv_data")],
         ("put the received bytes in data.inb",)),
        ("recv-on-write-only", [("    if mask & selectors.EVENT_READ:", "    if True:")],
         ("raised BlockingIOError", "mask & selectors.EVENT_READ")),
        ("close-before-unregister", [(UNREGISTER_CLOSE, CLOSE_UNREGISTER)],
         ("closed the socket before unregistering it",)),
        ("no-unregister", [("            sel.unregister(sock)\n", "")],
         ("closed the socket but did not unregister it",)),
        ("no-close", [("            sock.close()\n", "")], ("did not close it",)),
        ("closes-when-outb-is-empty", [("    if mask & selectors.EVENT_WRITE:\n        if data.outb:",
                                        "    if mask & selectors.EVENT_WRITE:\n        if not data.outb:\n"
                                        + UNREGISTER_CLOSE + "        elif data.outb:")],
         ("an empty data.outb, it closed the connection",)),
        ("no-print", [("            print('closing connection to', data.addr)\n", "")], ("did not print",)),
    ],
    # 06 · the client's start_connections
    "start_connections": [
        ("connect-not-connect_ex", [("sock.connect_ex(server_addr)", "sock.connect(server_addr)")],
         ("raised BlockingIOError", "connect_ex", "sock.connect(server_addr)")),
        ("still-blocking", [("        sock.setblocking(False)\n", ""),
                            ("sock.connect_ex(server_addr)", "sock.connect(server_addr)")], ("still blocking",)),
        ("shared-messages", [("messages=list(messages)", "messages=messages")], ("share one messages list",)),
        ("off-by-one", [("range(0, num_conns)", "range(1, num_conns)")], ("registered 2 socket(s)",)),
        ("numbered-from-0", [("connid = i + 1", "connid = i")], ("The connids are [0, 1, 2]",)),
        ("read-only", [(ACCEPT_EVENTS, "events = selectors.EVENT_READ")], ("registered for EVENT_READ only",)),
        ("counts-messages-not-bytes", [("msg_total=sum(len(m) for m in messages)", "msg_total=len(messages)")],
         ("msg_total is 2; the messages have 44 bytes in all.",)),
        ("no-print", [("        print('starting connection', connid, 'to', server_addr)\n", "")],
         ("did not print",)),
        ("connect_ex-two-arguments", [("sock.connect_ex(server_addr)", "sock.connect_ex(*server_addr)")],
         ("raised TypeError", "`connect_ex` takes one argument, a (host, port) tuple")),
    ],
    # 07 · the client's service_connection
    "client_service_connection": [
        ("pop-last", [("data.messages.pop(0)", "data.messages.pop()")], ("sent b'Message 2 from client.' first",)),
        ("no-slice", [(SLICE, "")], ("Bytes that were sent are still in outb",)),
        ("assigns-total", [("data.recv_total += len(recv_data)", "data.recv_total = len(recv_data)")],
         ("but data.recv_total is 22",)),
        ("ignores-eof", [("if not recv_data or data.recv_total == data.msg_total:",
                          "if data.recv_total == data.msg_total:")], ("When the server closed first",)),
        ("closes-early", [("        if not recv_data or data.recv_total == data.msg_total:", "        if True:")],
         ("closed the connection after receiving 22 of 44 bytes",)),
        ("recv-on-write-only", [("    if mask & selectors.EVENT_READ:", "    if True:")],
         ("raised BlockingIOError", "mask & selectors.EVENT_READ")),
        ("never-closes", [(UNREGISTER_CLOSE, "            pass\n")],
         ("neither unregistered nor closed the socket",)),
        ("close-before-unregister", [(UNREGISTER_CLOSE, CLOSE_UNREGISTER)],
         ("closed the socket before unregistering it",)),
    ],
    # 08 · the bug hunt: the always-WRITE busy loop
    "bug_hunt": [
        ("the-tutorials-server", [("events = selectors.EVENT_READ  # WRITE only while there is something to send",
                                   ACCEPT_EVENTS), (ADD_WRITE, ""), (DROP_WRITE, "")],
         ("select() woke up", "for one idle client")),
        ("write-forever", [(DROP_WRITE, "")],
         ("After the echo, select() woke up", "stayed registered for EVENT_WRITE")),
        ("never-write", [(ADD_WRITE, "")], ("got nothing back",)),
        ("still-blocking", [("    conn.setblocking(False)\n", "")], ("The accepted socket is still blocking",)),
        ("drops-write-after-a-partial-send",
         [(DROP_WRITE, "        sel.modify(sock, selectors.EVENT_READ, data=data)")],
         ("A client sent 1 MiB and got", "the rest must be sent on a later EVENT_WRITE")),
        ("modify-without-data", [(ADD_WRITE, ADD_WRITE.replace(", data=data)", ")"))],
         ("called accept_wrapper for a connection", "data=data")),
        ("sends-at-once", [("            data.outb += recv_data\n" + ADD_WRITE, "            sock.send(recv_data)\n")],
         ("raised BlockingIOError", "send buffer is full")),
        ("modifies-after-closing", [("            sock.close()\n            return\n", "            sock.close()\n"),
                                    (DROP_WRITE, DROP_WRITE_ALWAYS)],
         ("raised ValueError: Invalid file descriptor: -1", "closed before `sel.modify`", "fileno -1",
          "Unregister first, close last", "`return` right after `sock.close()`")),
        ("registers-again-for-write", [(ADD_WRITE, ADD_WRITE.replace("sel.modify", "sel.register"))],
         ("raised KeyError", "is already registered", "change its events with `sel.modify(")),
        ("modify-instead-of-register",
         [("sel.register(conn, events, data=data)", "sel.modify(conn, events, data=data)")],
         ("raised KeyError", "is not registered", "Register it first with `sel.register`")),
        ("namespace-without-outb", [("addr=addr, inb=b'', outb=b''", "addr=addr, inb=b''")],
         ("raised AttributeError", "The namespace has no `outb`: it was built without that field")),
        ("text-buffers", [("addr=addr, inb=b'', outb=b''", "addr=addr, inb='', outb=''")],
         ("raised TypeError", "Text (str) and bytes were mixed", "`b''`, not `''`")),
        ("sends-text", [("addr=addr, inb=b'', outb=b''", "addr=addr, inb='', outb=''"),
                        ("data.outb += recv_data", "data.outb += recv_data.decode()")],
         ("raised TypeError: a bytes-like object is required, not 'str'", "`send` takes bytes, not a str")),
    ],
}

MISTAKES = {
    **EDITS,
    "take_messages": [(case, source, tuple(words)) for case, (source, words) in TAKE_MESSAGES.items()],
    "EchoProtocol": [(case, source, tuple(words)) for case, (source, words) in ECHO_PROTOCOL.items()],
}

GRADED = {  # exercise: (the mistake of student mistakes-a, that of mistakes-b)
    "listening_socket": ("still-blocking", "no-listen"),
    "register_listening": ("read-and-write", None),
    "mask_names": (None, "elif"),
    "event_loop": ("spins", "select-once"),
    "accept_wrapper": ("still-blocking", "read-only"),
    "service_connection": ("no-slice", "sendall"),
    "start_connections": ("shared-messages", "connect-not-connect_ex"),
    "client_service_connection": ("pop-last", "assigns-total"),
    "bug_hunt": ("write-forever", "still-blocking"),
    "take_messages": ("takes a message before it is complete", "if instead of while"),
    "EchoProtocol": ("no backpressure (lesson 12's protocol)", "echoes twice"),
}


def mutate(source, *replacements):
    """``source`` with each ``(old, new)`` made once, in order; each ``old`` must be there."""
    for old, new in replacements:
        assert old in source, f"{old!r} is not in the solution"
        source = source.replace(old, new, 1)
    return source


def mistake(exercise, case):
    """``(change, words)`` of the mistake ``case`` of ``exercise``."""
    return next((change, words) for name, change, words in MISTAKES[exercise] if name == case)


def mistaken(exercise, case, solution):
    """The answer cell a learner writes with mistake ``case``: ``solution`` (the answer cell's code) edited, or
    the whole cell the mistake is."""
    change, _words = mistake(exercise, case)
    return change if isinstance(change, str) else mutate(solution, *change)
