"""The stepper: a widget stepping through a recording, one ``select()`` call per frame.

:func:`stepper` turns a recording into one small HTML frame per ``select()``
call: what was registered, what was ready, what the handler did.  A ``Play``
button, a slider and a ``Stack`` of the frames are linked with ``jslink``, so
stepping runs in the browser alone: it still works in a saved, trusted
notebook with no kernel behind it (and hides JupyterLab's "disconnected"
mark there, which would make it look broken).

Every control has a name a screen reader reads out, in the language in use
(:mod:`echo_lab.i18n`): ipywidgets draws Play's buttons as icons alone, and
gives the slider's handle no name, so a few lines of JavaScript in the note
(run by its ``<style>``'s ``onload``, in the browser alone, saved notebook
too) name them: Play (Pause while playing), Stop, and the frame slider,
whose value reads "3 of 5".  Text on a mask's colour is black or white,
whichever WCAG contrast makes readable (:func:`~echo_lab.watch.style.text_color`).
"""

import html
import json
from collections import Counter

import ipywidgets as ipw

from ..i18n import _
from .describe import describe
from .recorder import mask_name
from .style import MASK_COLORS, text_color

__all__ = ["MAX_ROWS", "Stepper", "stepper"]

MAX_ROWS = 12  # sockets listed in one frame; the rest are counted


class Stepper(ipw.VBox):
    """Play, slider, a note and a Stack of frames; built by :func:`stepper`.

    Attributes: ``play``, ``slider``, ``note``, ``stack``, ``frames`` (the
    HTML widgets), ``calls`` (the select() call number of each frame) and
    ``links`` (the two ``jslink``: play -> slider, slider -> stack).

    The slider counts frames from 1, as the frames' headings do ("frame 1 of
    4"): it is a ``SelectionSlider`` whose labels are "1", "2"...; its
    ``index`` (from 0) is what the links carry.  ``play.interval`` is the time
    a frame stays on screen, in milliseconds.
    """

    def __init__(self, frames, calls, total, interval=1.5):
        last = max(len(frames) - 1, 0)
        self.frames, self.calls = frames, calls
        seconds = f"{interval:g} s"
        # No description: the front end shows a Play's tooltip only on a Play without one.
        self.play = ipw.Play(min=0, max=last, interval=round(interval * 1000), show_repeat=False,
                             tooltip=_("Play/pause: the next frame every {seconds}. Stop: back to frame 1.")
                             .format(seconds=seconds))
        self.slider = ipw.SelectionSlider(options=[str(i + 1) for i in range(last + 1)], index=0,
                                          description=_("frame"),
                                          tooltip=_("Drag to any frame, or click the slider and use the arrow keys."))
        self.stack = ipw.Stack(frames, selected_index=0 if frames else None)
        self.note = ipw.HTML(_STYLE + _names() + _note(len(frames), total))
        self.links = [ipw.jslink((self.play, "value"), (self.slider, "index")),
                      ipw.jslink((self.slider, "index"), (self.stack, "selected_index"))]
        super().__init__([ipw.HBox([self.play, self.slider]), self.note, self.stack])
        self.add_class("echo-lab-stepper")

    def close_all(self):
        """Close this widget and every widget it made (frees their comms)."""
        for w in [*self.links, *self.frames, self.stack, self.play, self.slider, self.note]:
            w.close()
        self.children[0].close()
        self.close()

    def __repr__(self):  # stable text: nbval compares it, an untrusted notebook shows it
        return _("<Stepper: run the cell, or trust the notebook, to step through select() calls>")


# Widgets restored from a saved notebook have no kernel behind them, and JupyterLab
# marks each one with a red broken-link icon (the class jupyter-widgets-disconnected).
# The stepper needs no kernel (its links run in the browser), so it hides that mark.
_STYLE = ("<style>.echo-lab-stepper.jupyter-widgets-disconnected::before,"
          ".echo-lab-stepper .jupyter-widgets-disconnected::before"
          "{content:none;display:none}</style>")

# Names for the controls, set in the browser once the note is in the stepper (a <style> loads when it is
# in the page), and again whenever ipywidgets redraws a control or the slider or Play changes.  Single quotes
# only: it goes in an attribute in double quotes.
_NAME_CONTROLS = """(function (style, names) {
  var html = style.closest('.widget-html'), root = html && html.parentElement;
  if (!root || root.echoLabNamed) return;
  root.echoLabNamed = true;
  function set(element, attribute, value) {
    if (element.getAttribute(attribute) !== value) element.setAttribute(attribute, value);
  }
  function name() {
    var buttons = root.querySelectorAll('.widget-play button'), icon = buttons[0] && buttons[0].querySelector('i');
    var playing = !!icon && icon.classList.contains('fa-pause');
    [playing ? names.pause : names.play, names.stop, names.repeat].forEach(function (label, i) {
      if (buttons[i]) { set(buttons[i], 'aria-label', label); set(buttons[i], 'title', label); }
    });
    root.querySelectorAll('.widget-slider .noUi-handle').forEach(function (handle) {
      var frame = Math.round(Number(handle.getAttribute('aria-valuenow'))) + 1;
      var frames = Math.round(Number(handle.getAttribute('aria-valuemax'))) + 1;
      set(handle, 'aria-label', names.slider);
      set(handle, 'aria-valuetext', names.position.replace('{frame}', frame).replace('{frames}', frames));
    });
  }
  name();
  new MutationObserver(name).observe(root, {childList: true, subtree: true, attributes: true,
                                            attributeFilter: ['class', 'aria-valuenow', 'aria-valuetext']});
})"""


def _names():
    """An empty <style> whose onload names the controls, in the language in use."""
    names = {"play": _("Play"), "pause": _("Pause"), "stop": _("Stop: back to frame 1"), "repeat": _("Repeat"),
             "slider": _("frame"), "position": _("{frame} of {frames}")}
    script = f"{_NAME_CONTROLS}(this, {json.dumps(names, ensure_ascii=False)})"
    return '<style onload="{}"></style>'.format(html.escape(script, quote=False).replace('"', "&quot;"))


def _note(frames, total):
    if total == 0:
        return _("No select() call was recorded.")
    if frames == total:
        return _("{total} select() calls, one frame each.").format(total=total)
    return _("<b>Thinned:</b> showing {frames} of {total} select() calls, evenly spaced "
             "(the first and the last are kept).").format(frames=frames, total=total)


def stepper(events, max_frames=1000, interval=1.5):
    """A widget stepping through ``events`` (from ``Recorder.events()``) one select() call at a time.

    With more select() calls than ``max_frames``, frames are taken evenly
    (first and last kept) and a note says so.  ``interval`` is how long Play
    shows each frame, in seconds (long enough to read a table; change it
    later with ``.play.interval``, in ms).  Returns a :class:`Stepper`.
    Raises ``ValueError`` if ``max_frames`` < 2 or ``interval`` <= 0.
    """
    if max_frames < 2:
        raise ValueError(f"max_frames must be at least 2, not {max_frames}")
    if not interval > 0:
        raise ValueError(f"interval must be more than 0 seconds, not {interval}")
    selects = [e.call for e in events if e.kind == "select"]
    chosen = _thin(selects, max_frames)
    pages = _frame_pages(events, chosen) or ["<i>{}</i>".format(_("no select() call recorded"))]
    first = ipw.HTML(pages[0])
    # The frames share one Layout and one style model: 1,000 of each would triple the saved size.
    frames = [first] + [ipw.HTML(page, layout=first.layout, style=first.style)
                        for page in pages[1:]]
    return Stepper(frames, sorted(chosen), len(selects), interval)


def _thin(calls, limit):
    """The calls to keep: all of them, or ``limit`` evenly spaced with the first and last."""
    if len(calls) <= limit:
        return set(calls)
    last = len(calls) - 1
    return {calls[round(i * last / (limit - 1))] for i in range(limit)}


def _frame_pages(events, chosen):
    """One HTML page per chosen call, replaying registrations to know what was registered."""
    registered = {}  # fd -> (label, mask), as the selector held it
    pages, frame = [], None
    for e in events:
        if e.kind == "select":
            if frame is not None:
                pages.append(_page(frame, len(pages) + 1, len(chosen)))
            frame = _Frame(e.call, registered) if e.call in chosen else None
        elif frame is not None:
            frame.add(e)
        if e.kind in ("register", "modify"):
            registered[e.fd] = (e.label, e.events)
        elif e.kind == "unregister":
            registered.pop(e.fd, None)
        elif e.kind == "ready" and e.fd not in registered:  # its register event was dropped
            registered[e.fd] = (e.label, e.events)
    if frame is not None:
        pages.append(_page(frame, len(pages) + 1, len(chosen)))
    return pages


class _Frame:
    """What one select() call saw: a copy of the registrations, then its events."""

    def __init__(self, call, registered):
        self.call, self.before = call, dict(registered)
        self.ready, self.did = {}, {}  # fd -> ready mask; fd -> list of descriptions
        self.labels = {fd: label for fd, (label, _mask) in registered.items()}

    def add(self, e):
        if e.kind == "ready":
            self.ready[e.fd] = e.ready
        else:  # accept is recorded on the listening socket, labelled with the new client
            self.did.setdefault(e.fd, []).append(describe(e))
        self.labels.setdefault(e.fd, e.label if e.kind != "accept" else f"fd {e.fd}")


def _page(frame, number, frames):
    """A table, one row per socket; past MAX_ROWS sockets the idle ones are only counted."""
    fds = list(frame.labels)
    if len(fds) > MAX_ROWS:
        fds = [fd for fd in fds if fd in frame.ready or fd in frame.did][:MAX_ROWS]
    rows = "".join(_row(frame, fd) for fd in fds)
    heads = ["socket", _("registered for"), _("ready for"), _("then the handler")]  # socket: the glossary's
    return (_("<b>select() call {call}</b>: {ready} ready (frame {number} of {frames})")
            .format(call=frame.call, ready=len(frame.ready), number=number, frames=frames)
            + "<table style='border-spacing:12px 0'><tr>" + "".join(f"<td><b>{h}</b></td>" for h in heads)
            + f"</tr>{rows}{_others(frame, set(fds))}</table>")


def _others(frame, shown):
    """One line counting the sockets left out (idle ones first), by registered mask."""
    masks = Counter(mask_name(mask) for fd, (_label, mask) in frame.before.items() if fd not in shown)
    if not masks:
        return ""
    counts = _(", ").join(f"{n} {name}" for name, n in sorted(masks.items()))  # a list's separator
    more = _("and {count} more registered ({counts})").format(count=sum(masks.values()), counts=counts)
    return f"<tr><td colspan=4>{more}</td></tr>"


def _row(frame, fd):
    label = html.escape(frame.labels[fd])
    before = mask_name(frame.before[fd][1]) if fd in frame.before else ""
    ready = frame.ready.get(fd, 0)
    if ready:
        color = MASK_COLORS[ready]
        cell = f'<td style="background:{color};color:{text_color(color)}">{mask_name(ready)}</td>'
    else:
        cell = "<td></td>"
    did = html.escape(_(", ").join(frame.did.get(fd, ())))
    return f"<tr><td>{label}</td><td>{before}</td>{cell}<td>{did}</td></tr>"
