"""The language of echo_lab's messages: checks, hints and solutions in English or Chinese.

    import echo_lab.i18n; echo_lab.i18n.use('zh_CN')   # the Chinese notebooks' one extra line

Messages are written in English and marked with :func:`_` where they are
made; their translations are a gettext catalog,
``echo_lab/locale/zh_CN/LC_MESSAGES/echo_lab.po``, compiled to ``.mo`` by
``tools/translate.py``.  A message without a translation stays English.

The language is a context variable: set in a notebook's cell, it holds for
the cells after it; a thread started by echo_lab (a server, a check's call,
the live view) speaks the language of the code that made it; a test can set
it for one block (:func:`speaking`) without leaving it set for the next.
"""

import contextlib
import contextvars
import gettext
import pathlib

__all__ = ["LANGUAGES", "speaking", "use", "_"]

LOCALE = pathlib.Path(__file__).with_name("locale")
LANGUAGES = ("en", "zh_CN")
_ENGLISH = gettext.NullTranslations()
_current = contextvars.ContextVar("echo_lab.i18n language", default=_ENGLISH)


def _translations(language):
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return _ENGLISH if language == "en" else gettext.translation("echo_lab", LOCALE, languages=[language])


def use(language="en"):
    """Answer in ``language`` from now on: ``'en'`` or ``'zh_CN'``."""
    _current.set(_translations(language))


@contextlib.contextmanager
def speaking(language):
    """Answer in ``language`` inside the ``with`` block only."""
    token = _current.set(_translations(language))
    try:
        yield
    finally:
        _current.reset(token)


def _(message):
    """``message`` in the language in use."""
    return _current.get().gettext(message)
