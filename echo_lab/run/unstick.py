"""Ending a thread that will not return: shut its sockets down, then raise inside it.

The last resort of :class:`~echo_lab.run.runner.Runner`'s ``stop()``, for a
learner's code that runs on a thread of ours and does not return.  Shutting a
socket down wakes a blocking ``recv`` or ``accept``; an endless Python loop
gets an exception raised inside it (``PyThreadState_SetAsyncExc``, as Ctrl-C
would).  A thread stuck where neither reaches (``time.sleep(1000)``) is left
running: :func:`unstick` returns False.

``PyThreadState_SetAsyncExc`` returns how many threads it reached.  0 means
no thread has that id (:func:`raise_in_thread` raises ``LookupError``); more
than 1 must be undone at once by calling it again with NULL, as CPython's
documentation says (``SystemError``).  Neither passes in silence.
"""

import contextlib
import ctypes
import socket

__all__ = ["raise_in_thread", "unstick"]


def raise_in_thread(ident, exc_type):
    """Raise ``exc_type`` inside the thread ``ident`` at its next Python instruction.

    ``LookupError`` if no thread has that id (it ended, or never ran);
    ``SystemError`` if more than one was reached (undone before raising).
    """
    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    reached = set_async_exc(ctypes.c_ulong(ident), ctypes.py_object(exc_type))
    if reached == 0:
        raise LookupError(f"no Python thread has the id {ident}: it has ended, or never ran")
    if reached > 1:
        set_async_exc(ctypes.c_ulong(ident), None)  # NULL: take the exception back from every one
        raise SystemError(f"PyThreadState_SetAsyncExc reached {reached} threads for the id {ident}; undone")


def unstick(thread, sockets, exc_type, wait, attempts=3):
    """Shut ``sockets`` down, wait ``wait`` s for ``thread``; then up to ``attempts`` times raise
    ``exc_type`` inside it and wait again.  Returns whether the thread ended.

    A thread that ends between the check and the raise is fine (it ended); a
    live thread that ``raise_in_thread`` cannot find is an error, raised.
    """
    for sock in sockets:
        with contextlib.suppress(OSError, AttributeError):
            sock.shutdown(socket.SHUT_RDWR)
    thread.join(wait)
    for _attempt in range(attempts):
        if not thread.is_alive():
            break
        try:
            raise_in_thread(thread.ident, exc_type)
        except LookupError:
            thread.join(wait)  # its state is gone: it is ending, let it finish
            if thread.is_alive():
                raise
            break
        thread.join(wait)
    return not thread.is_alive()
