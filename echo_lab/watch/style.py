"""The look the pictures share: their colours, and a figure to draw in.

Colours are Okabe-Ito, a palette that colour-blind readers can tell apart.
:data:`MASK_COLORS` gives each event mask its colour, in the pictures of
:mod:`~echo_lab.watch.draw` and in the stepper's frames alike.
"""

import matplotlib.pyplot as plt

from .recorder import READ, WRITE

__all__ = ["MASK_COLORS", "PANEL_COLORS", "figure"]

MASK_COLORS = {READ: "#0072B2", WRITE: "#E69F00", READ | WRITE: "#CC79A7"}
PANEL_COLORS = ["#D55E00", "#009E73", "#56B4E9", "#F0E442", "#000000"]  # the rest of Okabe-Ito


def figure(ax, size):
    """``(fig, ax)``: the figure of the ``ax`` given, or a new one of ``size`` inches."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax
