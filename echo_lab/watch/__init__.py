"""Watching an event loop: record what it does, then draw it.

* :mod:`~echo_lab.watch.recorder`: :class:`Recorder`, a selector that records every call.
* :mod:`~echo_lab.watch.draw`: pictures of a recording (the timeline, wake-ups, the mask bits).
* :mod:`~echo_lab.watch.widgets`: step through a recording, or watch a server live.
* :mod:`~echo_lab.watch.charts`: charts of what lessons 10 to 12 measure with plain sockets.
"""
