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

__all__ = ["auroc", "aupr", "fpr_at_tpr", "bootstrap_ci", "roc_curve", "batched", "logsumexp_chunked"]


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


def fpr_at_tpr(score_in, score_out, tpr: float = 0.95) -> float:
    """The share of outliers accepted as inliers when the threshold accepts ``tpr`` of the inliers ("FPR at 95 %
    TPR", Hendrycks & Gimpel 2017; lower is better; 1 − ``tpr`` would be chance for a score unrelated to the sets)."""
    labels, scores = _labels_scores(score_in, score_out)
    threshold = np.quantile(scores[labels == 0], tpr)  # inliers with a score at most this are accepted
    return float((scores[labels == 1] <= threshold).mean())


def bootstrap_ci(metric: Callable, score_in, score_out, n_boot: int = 200, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of ``metric(score_in, score_out)``: inliers and outliers resampled with
    replacement, each set on its own, ``n_boot`` times."""
    labels, scores = _labels_scores(score_in, score_out)
    s_in, s_out = scores[labels == 0], scores[labels == 1]
    rng = np.random.default_rng(seed)
    values = [metric(rng.choice(s_in, len(s_in)), rng.choice(s_out, len(s_out))) for _ in range(n_boot)]
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def roc_curve(score_in, score_out) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of the same convention, for plotting."""
    fpr, tpr, _ = _roc_curve(*_labels_scores(score_in, score_out))
    return fpr, tpr


@torch.no_grad()
def batched(fn: Callable[[Tensor], Tensor], x: Tensor, batch_size: int = 500) -> Tensor:
    """``fn`` applied to ``x`` in batches, outputs concatenated (bounded memory for per-example scores)."""
    return torch.cat([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


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
