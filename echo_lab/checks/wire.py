"""Lesson 10's messages on the wire, as exercise 09's check builds and reads them.

A message goes on the wire as a 4-byte big-endian length, then the payload
(:func:`frame`).  The check's own reader, :func:`reference_take_messages`,
is the code ``solution("take_messages")`` shows: the solution notebook's
answer cell, as the exercises' table carries it (:mod:`~echo_lab.checks.exercises`),
defined with this module's :data:`HEADER` and :data:`MAX_MESSAGE` as the
exercise's notebook defines them: the answer shown and the reader the check
trusts are one text, written once, in the notebook.  :data:`MESSAGES` are what the check sends, :data:`TOO_LONG` the
length of a header it must see refused.
"""

import functools
import struct

from .exercises import EXERCISES

__all__ = ["HEADER", "MAX_MESSAGE", "MESSAGES", "TOO_LONG", "frame", "reference_take_messages"]

HEADER = struct.Struct("!I")  # as in exercise 09's notebook
MAX_MESSAGE = 1024 * 1024  # as in exercise 09's notebook
TOO_LONG = 0xFFFF_FFFF  # the largest length a header can announce: 4 GiB - 1
MESSAGES = [b"Message 1 from client.", b"Message 2 from client.", b"", b"abc" * 1000,
            b"Message 5 from client."]


def frame(payload):
    """One message as it goes on the wire: its 4-byte length, then the payload."""
    return HEADER.pack(len(payload)) + payload


@functools.cache
def _solution_reader(max_message):
    """The solution's ``take_messages``, defined as the notebook's cell defines it, with ``MAX_MESSAGE``
    set to ``max_message``."""
    namespace = {"HEADER": HEADER, "MAX_MESSAGE": max_message}
    exec(compile(EXERCISES["take_messages"].solution, "<solution take_messages>", "exec"), namespace)
    return namespace["take_messages"]


def reference_take_messages(data, max_message=MAX_MESSAGE):
    """Lesson 10's ``take_messages`` (the code ``solution("take_messages")`` shows): the check's own reader."""
    return _solution_reader(max_message)(data)
