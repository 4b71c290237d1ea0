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
"""

import matplotlib.pyplot as plt

from .recorder import READ, WRITE

__all__ = ["AA_TEXT", "BLACK", "BLUE", "BLUISH_GREEN", "MASK_COLORS", "ORANGE", "PANEL_COLORS", "REDDISH_PURPLE",
           "SKY_BLUE", "VERMILLION", "WHITE", "YELLOW", "contrast", "figure", "luminance", "text_color"]

# Okabe-Ito's eight colours
BLACK, ORANGE, SKY_BLUE, BLUISH_GREEN = "#000000", "#E69F00", "#56B4E9", "#009E73"
YELLOW, BLUE, VERMILLION, REDDISH_PURPLE = "#F0E442", "#0072B2", "#D55E00", "#CC79A7"
WHITE = "#FFFFFF"

MASK_COLORS = {READ: BLUE, WRITE: ORANGE, READ | WRITE: REDDISH_PURPLE}
PANEL_COLORS = [VERMILLION, BLUISH_GREEN, SKY_BLUE, YELLOW, BLACK]  # the rest of Okabe-Ito

AA_TEXT = 4.5  # the contrast WCAG 2 AA asks of text (1.4.3; 3:1 only for large text)


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
