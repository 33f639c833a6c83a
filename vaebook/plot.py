"""Figures the chapters share: image grids, score histograms, ROC curves, sweep panels.

Used in: every chapter.
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib import pyplot as plt

from .metrics import roc_curve

__all__ = ["figure", "image_grid", "show_images", "score_histograms", "roc_plot"]


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
    if (legend := ax.get_legend()) is not None:
        legend.set_title(None)
        for text in legend.get_texts():
            text.set_fontsize(8)


def roc_plot(ax, score_in, outliers: dict[str, object]) -> None:
    """ROC curves of one inlier score set against named outlier sets (higher score = more OOD)."""
    for name, s_out in outliers.items():
        fpr, tpr = roc_curve(score_in, s_out)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8)


def figure(*args, **kwargs):
    """``plt.subplots`` with the book's layout defaults."""
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(*args, **kwargs)
