"""What one recorded event means, in words, for the stepper's frames and the live view."""

from .recorder import mask_name

__all__ = ["describe"]


def describe(event):
    """What one recorded event means, in words: 'received 44 bytes', 'registered READ'..."""
    kind, n = event.kind, event.nbytes
    if kind == "accept":
        return f"accepted {event.label}"
    if kind == "recv":
        return f"received {n} bytes" if n else "received 0 bytes (the peer closed)"
    if kind == "send":
        return f"sent {n} bytes"
    if kind == "register":
        return f"registered {mask_name(event.events)}"
    if kind == "modify":
        return f"modified to {mask_name(event.events)}"
    if kind == "unregister":
        return "unregistered"
    if kind == "close":
        return "closed"
    if kind == "ready":
        return f"ready for {mask_name(event.ready)}"
    return f"select() returned {event.ready} ready"
