"""The look the pictures share: their colours, and a figure to draw in.

Colours are Okabe-Ito, a palette that colour-blind readers can tell apart;
its eight colours are named here once, for every picture and chart.
:data:`MASK_COLORS` gives each event mask its colour, in the pictures of
:mod:`~echo_lab.watch.draw` and in the stepper's frames alike.
"""

import matplotlib.pyplot as plt

from .recorder import READ, WRITE

__all__ = ["BLACK", "BLUE", "BLUISH_GREEN", "MASK_COLORS", "ORANGE", "PANEL_COLORS", "REDDISH_PURPLE", "SKY_BLUE",
           "VERMILLION", "YELLOW", "figure"]

# Okabe-Ito's eight colours
BLACK, ORANGE, SKY_BLUE, BLUISH_GREEN = "#000000", "#E69F00", "#56B4E9", "#009E73"
YELLOW, BLUE, VERMILLION, REDDISH_PURPLE = "#F0E442", "#0072B2", "#D55E00", "#CC79A7"

MASK_COLORS = {READ: BLUE, WRITE: ORANGE, READ | WRITE: REDDISH_PURPLE}
PANEL_COLORS = [VERMILLION, BLUISH_GREEN, SKY_BLUE, YELLOW, BLACK]  # the rest of Okabe-Ito


def figure(ax, size):
    """``(fig, ax)``: the figure of the ``ax`` given, or a new one of ``size`` inches."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax
