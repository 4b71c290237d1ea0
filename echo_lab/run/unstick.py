"""Ending a thread that will not return: shut its sockets down, then raise inside it.

Used where a learner's code runs on a thread of ours: the background server's
loop (:mod:`echo_lab.run.background`) and a check's call (:mod:`echo_lab.checks.trial`,
:mod:`echo_lab.checks.protocol_server`).  Shutting a socket down wakes a blocking
``recv`` or ``accept``; an endless Python loop gets an exception raised inside
it (``PyThreadState_SetAsyncExc``, as Ctrl-C would).  A thread stuck where
neither reaches (``time.sleep(1000)``) is left running.
"""

import contextlib
import ctypes
import socket

__all__ = ["unstick"]


def _raise_in_thread(thread, exc_type):
    """Raise ``exc_type`` inside ``thread`` at its next Python instruction."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))


def unstick(thread, sockets, exc_type, wait, attempts=1):
    """Shut ``sockets`` down, wait ``wait`` s for ``thread``; then up to ``attempts`` times raise
    ``exc_type`` inside it and wait again.  Returns whether the thread ended."""
    for sock in sockets:
        with contextlib.suppress(OSError, AttributeError):
            sock.shutdown(socket.SHUT_RDWR)
    thread.join(wait)
    for _attempt in range(attempts):
        if not thread.is_alive():
            break
        _raise_in_thread(thread, exc_type)
        thread.join(wait)
    return not thread.is_alive()
