"""The language of echo_lab's messages: checks, hints and solutions in English or Chinese.

    import echo_lab.i18n; echo_lab.i18n.use('zh_CN')   # the Chinese notebooks' one extra line

Messages are written in English and marked with :func:`_` where they are
made; their translations are a gettext catalog,
``echo_lab/locale/zh_CN/LC_MESSAGES/echo_lab.po``, compiled to ``.mo`` by
``tools/translate.py``.  A message without a translation stays English.
"""

import gettext
import pathlib

__all__ = ["LANGUAGES", "use", "_"]

LOCALE = pathlib.Path(__file__).with_name("locale")
LANGUAGES = ("en", "zh_CN")
_current = gettext.NullTranslations()


def use(language="en"):
    """Answer in ``language`` from now on: ``'en'`` or ``'zh_CN'``."""
    global _current
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    _current = (gettext.NullTranslations() if language == "en"
                else gettext.translation("echo_lab", LOCALE, languages=[language]))


def _(message):
    """``message`` in the language in use."""
    return _current.gettext(message)
