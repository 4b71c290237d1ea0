"""What one recorded event means, in words, for the stepper's frames and the live view.

The words are in the language in use when an event is described (:mod:`echo_lab.i18n`);
masks and sockets' names stay as they are.
"""

from ..i18n import _
from .recorder import mask_name

__all__ = ["describe"]


def describe(event):
    """What one recorded event means, in words: 'received 44 bytes', 'registered READ'..."""
    kind, n = event.kind, event.nbytes
    if kind == "accept":
        return _("accepted {label}").format(label=event.label)
    if kind == "recv":
        return _("received {count} bytes").format(count=n) if n else _("received 0 bytes (the peer closed)")
    if kind == "send":
        return _("sent {count} bytes").format(count=n)
    if kind == "register":
        return _("registered {mask}").format(mask=mask_name(event.events))
    if kind == "modify":
        return _("modified to {mask}").format(mask=mask_name(event.events))
    if kind == "unregister":
        return _("unregistered")
    if kind == "close":
        return _("closed")
    if kind == "ready":
        return _("ready for {mask}").format(mask=mask_name(event.ready))
    return _("select() returned {count} ready").format(count=event.ready)
