"""Running code in a notebook's kernel: servers on threads, clients bounded in the calling cell.

* :mod:`~echo_lab.run.background`: :class:`BackgroundServer`, an event loop on a kernel thread.
* :mod:`~echo_lab.run.blocking`: :class:`BlockingServer`, a blocking server function on a kernel thread.
* :mod:`~echo_lab.run.client`: :func:`run_client`, a client run in the calling cell with a time limit.
* :mod:`~echo_lab.run.threadout`: a server thread's ``print`` goes to its log, not to whichever cell runs.
* :mod:`~echo_lab.run.unstick`: ending a thread that will not return.
"""
