"""Watching an event loop: record what it does, then draw it.

* :mod:`~echo_lab.watch.recorder`: :class:`Recorder`, a selector that records every call.
* :mod:`~echo_lab.watch.draw`: pictures of a recording: the event masks' bits, and, from their modules,

  * :mod:`~echo_lab.watch.timeline`: what select() reported, socket by socket, drawn from
    :mod:`~echo_lab.watch.timeline_layout`, the same as plain data;
  * :mod:`~echo_lab.watch.wakeups`: select() calls per second, recording against recording;
  * :mod:`~echo_lab.watch.style`: the colours they share, and a figure to draw in.

* :mod:`~echo_lab.watch.widgets`: widgets to watch a loop, gathered from their modules:

  * :mod:`~echo_lab.watch.stepper`: step through a recording, one select() call per frame;
  * :mod:`~echo_lab.watch.live`: watch a running server, refreshed from a thread;
  * :mod:`~echo_lab.watch.describe`: what one recorded event means, in words.

* :mod:`~echo_lab.watch.charts`: charts of what lessons 11 and 12 measure with plain sockets.
"""
