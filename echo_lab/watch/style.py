"""The look the pictures and widgets share: their colours, text readable on them, and a figure to draw in.

Colours are Okabe-Ito, a palette that colour-blind readers can tell apart;
its eight colours are named here once, for every picture and chart.
:data:`MASK_COLORS` gives each event mask its colour, in the pictures of
:mod:`~echo_lab.watch.draw` and in the stepper's frames alike.

Text written on a colour takes its colour from :func:`text_color`, black or
white, whichever contrasts more with it by WCAG 2's measure
(:func:`contrast`): on every mask colour that is at least 4.5:1, what WCAG
AA asks of text (:data:`AA_TEXT`).  White on Okabe-Ito's orange would be
2.25:1.

Words are drawn in the language in use (:mod:`echo_lab.i18n`).  Every
picture and chart ends with :func:`use_fonts`, which adds the CJK fonts
installed (:data:`CJK_FONTS`) after each text's own as fallbacks: matplotlib
takes each character from the first font that has it, so English looks as
it always did and Chinese is not drawn as boxes.
"""

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.text import Text

from .recorder import READ, WRITE

__all__ = ["AA_TEXT", "BLACK", "BLUE", "BLUISH_GREEN", "CJK_FONTS", "MASK_COLORS", "ORANGE", "PANEL_COLORS",
           "REDDISH_PURPLE", "SKY_BLUE", "VERMILLION", "WHITE", "YELLOW", "contrast", "figure", "font_families",
           "luminance", "text_color", "use_fonts"]

# Okabe-Ito's eight colours
BLACK, ORANGE, SKY_BLUE, BLUISH_GREEN = "#000000", "#E69F00", "#56B4E9", "#009E73"
YELLOW, BLUE, VERMILLION, REDDISH_PURPLE = "#F0E442", "#0072B2", "#D55E00", "#CC79A7"
WHITE = "#FFFFFF"

MASK_COLORS = {READ: BLUE, WRITE: ORANGE, READ | WRITE: REDDISH_PURPLE}
PANEL_COLORS = [VERMILLION, BLUISH_GREEN, SKY_BLUE, YELLOW, BLACK]  # the rest of Okabe-Ito

AA_TEXT = 4.5  # the contrast WCAG 2 AA asks of text (1.4.3; 3:1 only for large text)

# Fonts with Chinese characters, the first one installed first: Linux (Debian's fonts-noto-cjk, which the
# course's CI installs; WenQuanYi), Windows (Microsoft YaHei, SimHei), macOS (PingFang SC, Heiti SC).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
             "Heiti SC", "SimHei", "WenQuanYi Zen Hei", "Arial Unicode MS")


def luminance(color):
    """WCAG 2's relative luminance of ``color`` ("#RRGGBB"): 0 for black, 1 for white."""
    digits = color.removeprefix("#")
    if len(digits) != 6:
        raise ValueError(f"a colour is written #RRGGBB, not {color!r}")
    r, g, b = (int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def _linear(channel):
    """An sRGB channel (0 to 1) as light, as WCAG 2 computes it."""
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def contrast(foreground, background):
    """WCAG 2's contrast ratio of two colours, from 1 (the same) to 21 (black and white); order does not matter."""
    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_color(background):
    """The colour to write text in on ``background``: black or white, whichever contrasts more."""
    return max((BLACK, WHITE), key=lambda color: contrast(color, background))


def figure(ax, size):
    """``(fig, ax)``: the figure of the ``ax`` given, or a new one of ``size`` inches."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def font_families(families=None, cjk=None):
    """``families`` (default: ``font.family``'s), then the fonts of :data:`CJK_FONTS` installed here.

    Only installed fonts (``cjk``, if given, is those): matplotlib would log "findfont: Font family
    ... not found" for any other.
    """
    families = list(plt.rcParams["font.family"] if families is None else families)
    return families + [name for name in (_installed_cjk() if cjk is None else cjk) if name not in families]


def _installed_cjk():
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in installed]


def use_fonts(fig):
    """Give every text of ``fig`` the installed CJK fonts as fallbacks; returns ``fig``.

    A text keeps its own family first (sans-serif, monospace...); the fallbacks only draw the
    characters it lacks.  Done on the texts, not in ``rcParams``, so that it holds in axes a lesson
    made beforehand and when the figure is shown, and leaves the learner's own figures alone.
    """
    cjk = _installed_cjk()
    for text in fig.findobj(Text):
        text.set_fontfamily(font_families(text.get_fontfamily(), cjk))
    return fig
