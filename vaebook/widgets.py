"""Interactive controls for the chapters. Widgets are live in Jupyter and Colab and blank in the
static HTML, so every chapter also draws the same sweep as a static figure.

Used in: every chapter's "try it" section.
"""
from __future__ import annotations

from typing import Callable

__all__ = ["explore"]


def explore(update: Callable[..., None], **controls):
    """Call ``update(**values)`` now and whenever a control changes; the figure is redrawn in place.

    ``controls`` maps parameter names to ipywidgets (sliders, dropdowns).
    Precompute the expensive part so that ``update`` runs in about a second.
    Returns the widget box (display it as the cell's last value).
    """
    import ipywidgets as w

    out = w.interactive_output(update, controls)
    return w.VBox([w.HBox(list(controls.values())), out])
