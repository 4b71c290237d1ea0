"""Running code in a notebook's kernel: servers on threads, clients bounded in the calling cell.

* :mod:`~echo_lab.run.runner`: :class:`~echo_lab.run.runner.Runner`, one function on a daemon
  thread (start, bounded stop, its error and log kept), the registry :func:`~echo_lab.stop_all`
  empties, and the rule that a new server replaces the old one on its port or function.
* :mod:`~echo_lab.run.background`: :class:`BackgroundServer`, an event loop on a runner.
* :mod:`~echo_lab.run.blocking`: :class:`BlockingServer`, a blocking server function on a runner.
* :mod:`~echo_lab.run.bounded`: :func:`~echo_lab.run.bounded.call_bounded`, a call on a runner
  with a deadline (the checks').
* :mod:`~echo_lab.run.client`: :func:`run_client`, a client run in the calling cell with a time limit.
* :mod:`~echo_lab.run.threadout`: a server thread's ``print`` goes to its log, not to whichever cell runs.
* :mod:`~echo_lab.run.unstick`: ending a thread that will not return.
"""
