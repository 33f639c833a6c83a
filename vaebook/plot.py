"""Figures the chapters share: image grids, score histograms, ROC curves, sweep panels.

Used in: every chapter.
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib import pyplot as plt

from .metrics import roc_curve

__all__ = ["PAGE_WIDTH", "figure", "canvas", "panel_grid", "image_grid", "show_images", "score_histograms", "roc_plot"]


def image_grid(x, nrow: int = 10, pad: int = 1) -> np.ndarray:
    """Images ``(N, C, H, W)`` (tensor in [0, 1]) or ``(N, H, W)`` uint8 -> one ``(rows·H, nrow·W[, 3])`` array."""
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).detach().cpu().float()
    if x.ndim == 3:
        x = x[:, None]
    if x.max() > 1.5:
        x = x / 255
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    n, c, h, w = x.shape
    rows = -(-n // nrow)
    grid = torch.ones(c, rows * (h + pad) - pad, nrow * (w + pad) - pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[:, r * (h + pad):r * (h + pad) + h, col * (w + pad):col * (w + pad) + w] = x[i]
    grid = grid.clamp(0, 1).permute(1, 2, 0).numpy()
    return grid[..., 0] if c == 1 else grid


def show_images(ax, x, nrow: int = 10, title: str | None = None) -> None:
    """Draw :func:`image_grid` of ``x`` on ``ax``, grey-scale, without axes."""
    ax.imshow(image_grid(x, nrow), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def score_histograms(ax, scores: dict[str, object], bins: int = 50, xlabel: str = "", density: bool = True) -> None:
    """Overlaid histograms of per-example scores, one per named set, on shared bins clipped to the central 99 %
    (seaborn's ``histplot``: each set normalised on its own, so sets of different sizes compare)."""
    import pandas as pd
    import seaborn as sns

    arrays = {k: np.asarray(torch.as_tensor(v).detach().cpu(), dtype=float).ravel() for k, v in scores.items()}
    lo, hi = np.percentile(np.concatenate(list(arrays.values())), [0.5, 99.5])
    long = pd.DataFrame({"score": np.concatenate([np.clip(a, lo, hi) for a in arrays.values()]),
                         "set": np.repeat(list(arrays), [len(a) for a in arrays.values()])})
    sns.histplot(long, x="score", hue="set", bins=np.linspace(lo, hi, bins + 1), stat="density" if density else "count",
                 common_norm=False, element="step", alpha=0.4, ax=ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density" if density else "count")
    if ax.get_legend() is not None:  # in a band of its own above the bars, which it would otherwise cover
        ax.set_ylim(top=ax.get_ylim()[1] * 1.3)
        sns.move_legend(ax, "upper center", ncol=min(len(arrays), 3), title=None, fontsize=8, frameon=False,
                        handlelength=1.2, columnspacing=1.0)


def roc_plot(ax, score_in, outliers: dict[str, object]) -> None:
    """ROC curves of one inlier score set against named outlier sets (higher score = more OOD)."""
    for name, s_out in outliers.items():
        fpr, tpr = roc_curve(score_in, s_out)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8)


# The widest figure, in inches. Figures are saved at 100 dpi and the book's column is 672 px wide, so a figure
# this wide is shown at 0.78 of its size and its 10-pt labels stay about 11 px high; a 15-inch figure of five
# panels was shown at 0.44 and could not be read (tests/test_browser.py checks every page).
PAGE_WIDTH = 8.5
MIN_PANEL = 2.6  # the narrowest panel, in inches, that a row of panels is given before it wraps


def figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs):
    """``plt.subplots`` with the book's layout: constrained, and never wider than :data:`PAGE_WIDTH`.

    A single row of more panels than fit at :data:`MIN_PANEL` each wraps onto balanced rows, keeping
    each panel's shape; the axes then come back as a flat array of ``ncols`` in reading order (shape
    ``(1, ncols)`` with ``squeeze=False``), so the caller's indexing is unchanged. Any other figure
    wider than the page is scaled down whole, so its text becomes larger relative to its panels.
    """
    kwargs.setdefault("layout", "constrained")
    w, h = figsize or plt.rcParams["figure.figsize"]
    if w <= PAGE_WIDTH:
        return plt.subplots(nrows, ncols, figsize=(w, h), **kwargs)
    per_row = max(1, int(PAGE_WIDTH // MIN_PANEL))
    if nrows == 1 and ncols > per_row and "width_ratios" not in kwargs and "gridspec_kw" not in kwargs:
        rows = -(-ncols // per_row)
        panel_w, per_row = w / ncols, -(-ncols // rows)  # balanced: 5 panels as 3 + 2, 4 as 2 + 2
        scale = min(1.0, PAGE_WIDTH / (per_row * panel_w))
        squeeze = kwargs.pop("squeeze", True)
        fig = plt.figure(figsize=(per_row * panel_w * scale, rows * h * scale), layout=kwargs.pop("layout"))
        axes = np.array(panel_grid(fig, ncols, per_row, **kwargs), dtype=object)
        return fig, (axes if squeeze else axes.reshape(1, ncols))
    return plt.subplots(nrows, ncols, figsize=_page(w, h), **kwargs)


def canvas(figsize: tuple[float, float]):
    """An empty figure (for ``fig.subfigures``), constrained and scaled down to :data:`PAGE_WIDTH` if wider."""
    return plt.figure(figsize=_page(*figsize), layout="constrained")


def panel_grid(parent, n: int, per_row: int = 3, **kwargs) -> list:
    """``n`` axes on ``parent`` (a figure or a subfigure) in balanced rows of at most ``per_row``, in reading order
    (``kwargs`` go to ``subplots``, e.g. ``sharey``)."""
    rows = -(-n // per_row)
    grid = parent.subplots(rows, -(-n // rows), squeeze=False, **kwargs).ravel()
    for ax in grid[n:]:
        ax.remove()
    return list(grid[:n])


def _page(w: float, h: float) -> tuple[float, float]:
    scale = min(1.0, PAGE_WIDTH / w)
    return w * scale, h * scale
