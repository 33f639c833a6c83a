"""Scores and metrics for out-of-distribution detection.

Convention, everywhere in the book: **a higher score means more likely OOD**.
Bits/dim and KL[q(z|x) ‖ p(z)] are such scores already; a log-likelihood must
be negated. AUROC 0.5 is chance; below 0.5 the detector is reliably *wrong*:
it ranks the outliers as more typical than the inliers.

Used in: chapters 1, 3, 4, 5 and 8.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve as _roc_curve
from torch import Tensor

__all__ = ["TPR", "LEVEL", "auroc", "aupr", "fpr_at_tpr", "bootstrap_ci", "roc_curve", "batched", "logsumexp_chunked"]

TPR = 0.95  # the true-positive rate at which fpr_at_tpr reads the false-positive rate (the OOD literature's)
LEVEL = 0.95  # the level of bootstrap_ci's intervals


def _labels_scores(score_in, score_out):
    s_in, s_out = (np.asarray(torch.as_tensor(s).detach().cpu(), dtype=np.float64).ravel() for s in (score_in, score_out))
    if not (np.isfinite(s_in).all() and np.isfinite(s_out).all()):
        raise ValueError("scores contain NaN or inf: check the model and the data before computing an AUROC")
    if len(s_in) == 0 or len(s_out) == 0:
        raise ValueError("need at least one inlier and one outlier score")
    return np.r_[np.zeros(len(s_in)), np.ones(len(s_out))], np.r_[s_in, s_out]


def auroc(score_in, score_out) -> float:
    """Area under the ROC curve for telling outliers (label 1) from inliers (label 0) by a score
    where higher means more likely OOD."""
    return float(roc_auc_score(*_labels_scores(score_in, score_out)))


def aupr(score_in, score_out) -> float:
    """Area under the precision-recall curve with the outliers as the positive class ("AUPR-Out"), by average
    precision. Chance is the outliers' share of the examples, not 0.5."""
    return float(average_precision_score(*_labels_scores(score_in, score_out)))


def fpr_at_tpr(score_in, score_out, tpr: float = TPR) -> float:
    """The share of outliers accepted as inliers when the threshold accepts ``tpr`` of the inliers ("FPR at 95 %
    TPR", Hendrycks & Gimpel 2017; lower is better; 1 − ``tpr`` would be chance for a score unrelated to the sets)."""
    labels, scores = _labels_scores(score_in, score_out)
    threshold = np.quantile(scores[labels == 0], tpr)  # inliers with a score at most this are accepted
    return float((scores[labels == 1] <= threshold).mean())


def bootstrap_ci(metric: Callable, score_in, score_out, n_boot: int = 200, level: float = LEVEL,
                 seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of ``metric(score_in, score_out)``: inliers and outliers resampled with
    replacement, each set on its own, ``n_boot`` times.

    For :func:`auroc`, :func:`aupr` and :func:`fpr_at_tpr` the ``n_boot`` resamples are scored at once
    (:data:`_MANY`); the resamples are the same and the values agree with one call per resample to within
    rounding (tested); measured in bench/RESULTS.md (bench/bootstrap_speed.py)."""
    labels, scores = _labels_scores(score_in, score_out)
    s_in, s_out = scores[labels == 0], scores[labels == 1]
    rng = np.random.default_rng(seed)
    # rng.choice(s, n) with replacement draws rng.integers(0, len(s), n): the same draws, kept as indices
    draws = [(rng.integers(0, len(s_in), len(s_in)), rng.integers(0, len(s_out), len(s_out))) for _ in range(n_boot)]
    if metric in _MANY:
        values = _MANY[metric](s_in, s_out, np.stack([i for i, _ in draws]), np.stack([o for _, o in draws]))
    else:
        values = [metric(s_in[i], s_out[o]) for i, o in draws]
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _counts(s_in: np.ndarray, s_out: np.ndarray, i: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How often each resample (rows of the indices ``i`` into ``s_in`` and ``o`` into ``s_out``) drew each distinct
    score, inliers and outliers apart: two ``(R, G)`` arrays, the G distinct scores of both sets in increasing order.
    A resample holds only the original scores, so these counts are all a rank statistic needs: no sorting per resample."""
    _, group = np.unique(np.r_[s_in, s_out], return_inverse=True)
    n_groups = group.max() + 1
    offset = np.arange(len(i))[:, None] * n_groups  # resample r counts into bins r·G … r·G + G − 1

    def count(g: np.ndarray, idx: np.ndarray) -> np.ndarray:
        flat = np.bincount((offset + g[idx]).ravel(), minlength=len(idx) * n_groups)
        return flat.reshape(len(idx), n_groups).astype(np.float64)
    return count(group[:len(s_in)], i), count(group[len(s_in):], o)


def _auroc_many(s_in, s_out, i, o) -> np.ndarray:
    """The AUROC of each resample, by the Mann–Whitney U statistic: the share of (inlier, outlier) pairs that the score
    orders right, ties counting one half. Counts of whole and half pairs are exact in floating point, so this is the
    number a rank sum gives."""
    c_in, c_out = _counts(s_in, s_out, i, o)
    below = np.cumsum(c_in, axis=1) - c_in  # inliers drawn with a lower score than the group's
    return (c_out * (below + c_in / 2)).sum(axis=1) / (i.shape[1] * o.shape[1])


def _aupr_many(s_in, s_out, i, o) -> np.ndarray:
    """The average precision of each resample, as :func:`aupr` computes it: Σ over thresholds, from the highest score
    down, of the recall gained there times the precision there, tied scores forming one threshold."""
    c_in, c_out = _counts(s_in, s_out, i, o)
    tp = np.cumsum(c_out[:, ::-1], axis=1)[:, ::-1]                   # outliers at or above each threshold
    accepted = np.cumsum((c_in + c_out)[:, ::-1], axis=1)[:, ::-1]    # examples at or above it
    return (c_out * tp / np.maximum(accepted, 1)).sum(axis=1) / o.shape[1]


def _fpr_many(s_in, s_out, i, o, tpr: float = TPR) -> np.ndarray:
    """:func:`fpr_at_tpr` of each resample: its inliers' quantile as its threshold."""
    s_in, s_out = s_in[i], s_out[o]
    threshold = np.quantile(s_in, tpr, axis=1, keepdims=True)
    return (s_out <= threshold).mean(axis=1)


def roc_curve(score_in, score_out) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of the same convention, for plotting."""
    fpr, tpr, _ = _roc_curve(*_labels_scores(score_in, score_out))
    return fpr, tpr


@torch.no_grad()
def batched(fn: Callable[[Tensor], Tensor | dict[str, Tensor]], x: Tensor, batch_size: int = 500) -> Tensor | dict[str, Tensor]:
    """``fn`` applied to ``x`` in batches, outputs concatenated (bounded memory for per-example scores); an ``fn``
    that returns ``{name: tensor}`` gets each name's outputs concatenated."""
    parts = [fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if isinstance(parts[0], dict):
        return {name: torch.cat([p[name] for p in parts]) for name in parts[0]}
    return torch.cat(parts)


def logsumexp_chunked(fn: Callable[[slice], Tensor], n: int, chunk: int = 4096) -> Tensor:
    """log Σ_j exp(fn(j)) over j < n, where ``fn(slice)`` returns the terms of a block ``(..., len)``.

    Only one block of terms exists at a time: O(chunk) memory for sums over a
    whole training set (the marginal KL, Shu's nearest-neighbour weights).
    """
    total = None
    for start in range(0, n, chunk):
        block = torch.logsumexp(fn(slice(start, min(start + chunk, n))), dim=-1)
        total = block if total is None else torch.logaddexp(total, block)
    return total if total is not None else torch.tensor(-math.inf)


_MANY = {auroc: _auroc_many, aupr: _aupr_many, fpr_at_tpr: _fpr_many}
"""Metrics that :func:`bootstrap_ci` computes for all its resamples at once."""
