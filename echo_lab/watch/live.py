"""The live view: a running :class:`~echo_lab.BackgroundServer`'s sockets, refreshed from a thread.

:class:`LiveView` shows the server's registered sockets and latest events.
Two rules about threads in a kernel shape it: a thread must never ``print``
(its output would land in whatever cell runs at that moment), and must never
use ``with out:`` on an ``Output`` widget (that captures the *main* thread's
output too, and races).  So the thread only assigns an HTML widget's
``.value``, a message the front end applies wherever the widget is.  Its
words are in the language in use when it refreshes (:mod:`echo_lab.i18n`).
"""

import contextvars
import html
import threading
import time

import ipywidgets as ipw

from ..i18n import _
from .describe import describe
from .recorder import mask_name

__all__ = ["MAX_ROWS", "RECENT", "LiveView"]

MAX_ROWS = 12  # registered sockets listed; the rest are counted
RECENT = 10  # latest events shown


class LiveView(ipw.HTML):
    """A running server's registered sockets and latest events, refreshed every ``interval`` s.

    A daemon thread assigns ``.value`` (never prints, never ``with out:``).
    It stops by itself within ``interval`` after the server stops (after a
    last refresh), or on :meth:`stop` / :meth:`close`.  A server that is not
    running yet is shown once, without a thread.
    """

    def __init__(self, server, interval=0.2, recent=RECENT):
        self.server, self.interval, self.recent = server, interval, recent
        self._stop = threading.Event()
        self._last = (time.monotonic(), self._calls())
        super().__init__(self._render())
        self.thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run,),
                                       name="echo_lab live view", daemon=True)  # in the language in use
        if server.running:
            self.thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            running = self.server.running  # read before rendering: the last page shows the end
            try:
                self.value = self._render()
            except Exception as exc:  # a view must not die silently: say why it stopped
                self.value = "<i>{}</i>".format(_("live view stopped: {error}").format(error=html.escape(repr(exc))))
                return
            if not running:
                return

    def stop(self, timeout=1.0):
        """Stop refreshing; wait up to ``timeout`` s for the thread. Returns True if it ended."""
        self._stop.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout)
        return not self.thread.is_alive()

    def close(self):
        self.stop()
        super().close()

    def __repr__(self):
        return _("<LiveView of a {kind} server: run the cell to watch it>").format(kind=self.server.kind)

    # -- rendering (on the view's thread) --
    def _calls(self):
        return self.server.recorder.calls if self.server.recorder is not None else 0

    def _rate(self):
        now, calls = time.monotonic(), self._calls()
        then, before = self._last
        self._last = (now, calls)
        return (calls - before) / (now - then) if now > then else 0.0

    def _render(self):
        server = self.server
        host, port = server.address
        state = _("running") if server.running else _("stopped")
        rate = _(", {rate:,.0f} per second now").format(rate=self._rate()) if server.running else ""
        head = _("<b>{kind} server</b> on {host}:{port}, {state}: {calls:,} select() calls so far{rate}").format(
            kind=html.escape(server.kind), host=host, port=port, state=state, calls=self._calls(), rate=rate)
        return head + _sockets_table(server) + self._recent_events()

    def _recent_events(self):
        recorder = self.server.recorder
        if recorder is None:
            return "<p>{}</p>".format(_("(not recording: no events to show)"))
        lines = [_event_line(e, recorder) for e in recorder.events(last=self.recent)]
        return "<b>{}</b><pre>".format(_("latest events")) + html.escape("\n".join(lines)) + "</pre>"


def _event_line(e, recorder):
    if e.kind == "select":
        return _("call {call}: {what}").format(call=e.call, what=describe(e))
    # accept is recorded on the listening socket but labelled with the new client
    who = recorder.label(e.fd) if e.kind == "accept" else e.label
    return _("call {call}: {who}: {what}").format(call=e.call, who=who, what=describe(e))


def _sockets_table(server):
    keys = server.registered()
    if not keys and server.state == "stopped":
        return "<p>{}</p>".format(_("(no selector: the server has stopped)"))
    label = server.recorder.label if server.recorder is not None else (lambda fd: f"fd {fd}")
    rows = "".join(f"<tr><td>{html.escape(label(k.fd))}</td><td>{mask_name(k.events)}</td></tr>"
                   for k in keys[:MAX_ROWS])
    more = len(keys) - MAX_ROWS
    more = "<tr><td colspan=2>{}</td></tr>".format(_("... and {count} more").format(count=more)) if more > 0 else ""
    return (f"<table style='border-spacing:12px 0'><tr><td><b>{_('registered socket')}</b></td>"
            f"<td><b>{_('for')}</b></td></tr>{rows}{more}</table>")
