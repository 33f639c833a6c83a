r"""Sample quality as a Fréchet distance between Gaussian fits to classifier features.

.. math:: d^2 = \lVert m_1 - m_2 \rVert^2 + \operatorname{tr}\left(C_1 + C_2 - 2 (C_1 C_2)^{1/2}\right)

The FID of the papers uses the features of an ImageNet Inception network, which
cannot be fetched offline. We use the penultimate layer of a small classifier
trained in the book on the same dataset: the same formula, other features, so the
numbers are comparable between our models but *not* with published FIDs.

Used in: chapter 5, the OOD benchmark (chapter 8).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from torch import Tensor, nn

from .nets import MLPEncoder

__all__ = ["FeatureClassifier", "frechet_distance"]


class FeatureClassifier(nn.Module):
    """An MLP classifier of 28×28 images; :meth:`features` is its last hidden layer."""

    def __init__(self, hidden=(256, 128), classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(MLPEncoder((1, 28, 28), hidden[:-1], hidden[-1]), nn.ReLU())
        self.head = nn.Linear(hidden[-1], classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        return nn.functional.cross_entropy(self(x), y)

    @torch.no_grad()
    def features(self, x: Tensor, batch_size: int = 1000) -> Tensor:
        return torch.cat([self.body(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    @torch.no_grad()
    def accuracy(self, x: Tensor, y: Tensor) -> float:
        return (self(x).argmax(1) == y).float().mean().item()


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to feature sets ``a`` ``(N, F)`` and ``b`` ``(M, F)``."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two feature sets (N, F) with the same F and N >= 2, got {tuple(a.shape)}, {tuple(b.shape)}")
    a, b = (np.asarray(t.detach().cpu(), dtype=np.float64) for t in (a, b))
    m1, m2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr (c1 c2)^(1/2) = Σ √λ of the symmetric PSD s c2 s with s = c1^(1/2): no matrix square root of a
    # non-symmetric product, which fails (with a warning) when a model's features have a singular covariance.
    w, v = linalg.eigh(c1)
    s = (v * np.sqrt(w.clip(min=0))) @ v.T
    trace_root = np.sqrt(linalg.eigvalsh(s @ c2 @ s).clip(min=0)).sum()
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * trace_root)
