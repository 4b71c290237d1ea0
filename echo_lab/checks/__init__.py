"""Check a learner's version of the tutorial's functions against real sockets.

An exercise notebook asks for one of the tutorial's functions, with its name
and signature, then checks it::

    from echo_lab.checks import check_accept_wrapper, hint, solution

    check_accept_wrapper(accept_wrapper, sel)   # -> a Result, shown in the notebook
    hint("accept_wrapper")                      # the first hint
    hint("accept_wrapper", 2)                   # the next one
    solution("accept_wrapper")                  # the tutorial's code

A check says one of three things (:class:`Result`):

* **not attempted yet**: the function still raises ``NotImplementedError``;
* **not right yet**: what the function did (``the accepted socket is still
  blocking``, ``closed the socket before unregistering it``...) and a hint;
  an exception from the learner's code is shown with its traceback;
* **passed**.

Why you pass your ``sel`` in: a check runs a *copy* of your function in
which your selector is replaced by a fresh one of the check's own, so your
``sel`` is never registered in nor closed, and ``print`` writes to the check
instead of the notebook.  Each call of your function runs on a worker thread
for at most :data:`CALL_TIMEOUT` seconds and every network wait has a
timeout, so a blocked ``recv`` or an endless loop is reported instead of
freezing the notebook.  ``trial.py`` tells how.

The modules, each readable on its own:

* ``results``: what a check shows (``Result``, ``Hint``, ``Solution``);
* ``exercises``: the exercises' table, one row each (name, functions, check, hints;
  notebook, minutes and solution code from ``solutions.json``, which
  ``tools/make_exercises.py`` writes from the solution notebooks);
* ``hints``: an exercise's graded hints and its solution, shown: ``hint()``, ``solution()``;
* ``trial``: running the learner's function, bounded, on a worker thread, and
  turning what a check saw into a ``Result``;
* ``rebind``: the copy of the learner's function that uses the check's selector;
* ``tracebacks``: an error of the learner's code as it is shown: the learner's frames
  of its traceback, and what it means (``show_error``);
* ``exception_hints``: the hint for a common exception of the learner's code, from one table;
* ``observe``: what several checks look at (socket waits, the selector's record,
  a background server);
* ``listening``: the listening socket, its registration, a mask's bits (01, 02);
* ``server_functions``: the server's handlers (04, 05);
* ``steps``: a check that plays a scene, as named steps run in order: a failure says which;
* ``event_loop``: the loop (03), run on a thread with the check's handlers;
* ``client_functions``: the client's functions (06, 07);
* ``bughunt``: the always-WRITE busy loop (08);
* ``framing``: the length-prefixed message reader, ``take_messages`` (09), looked
  at on buffers (``framing_direct``) and in a server (``framing_server``);
* ``wire``: lesson 10's messages on the wire, ``frame`` and the check's own
  reader, ``reference_take_messages`` (the solution's code, run);
* ``protocol``: the asyncio ``EchoProtocol`` that pushes back (10);
* ``protocol_server``: ``ProtocolServer``, a protocol class served on a loop thread;
* ``protocol_clients``: the clients sent to it (``flood`` and others), each bounded;
* ``runs``: what the exercises' run cells print (``serve_tutorial_clients``,
  ``run_tutorial_client``): numbers, and errors shown as the checks show them.
"""

# What the exercises, lessons and teachers import; each checker's own constants and the
# shared machinery stay in their modules (echo_lab.checks.client_functions.MSG1, echo_lab.checks.trial.Wrong...).
from .bughunt import check_bug_hunt
from .client_functions import check_client_service_connection, check_start_connections
from .event_loop import check_event_loop
from .exercises import EXERCISES
from .framing import check_take_messages
from .hints import hint, solution
from .listening import check_listening_socket, check_mask_names, check_register_listening
from .protocol import BOUND, check_echo_protocol
from .protocol_clients import FLOOD, flood
from .protocol_server import ProtocolServer
from .results import Hint, Result, Solution
from .runs import run_tutorial_client, serve_tutorial_clients
from .server_functions import check_accept_wrapper, check_service_connection
from .tracebacks import show_error
from .trial import CALL_TIMEOUT
from .wire import frame, reference_take_messages

__all__ = [
    "BOUND",
    "CALL_TIMEOUT",
    "EXERCISES",
    "FLOOD",
    "Hint",
    "ProtocolServer",
    "Result",
    "Solution",
    "check_accept_wrapper",
    "check_bug_hunt",
    "check_client_service_connection",
    "check_echo_protocol",
    "check_event_loop",
    "check_listening_socket",
    "check_mask_names",
    "check_register_listening",
    "check_service_connection",
    "check_start_connections",
    "check_take_messages",
    "flood",
    "frame",
    "hint",
    "reference_take_messages",
    "run_tutorial_client",
    "serve_tutorial_clients",
    "show_error",
    "solution",
]
