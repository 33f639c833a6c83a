r"""Well-known OOD detectors that none of the book's five papers compares against.

* :func:`max_softmax`: a classifier's maximum softmax probability (Hendrycks & Gimpel, 2017);
* :class:`Mahalanobis`: the distance of a classifier's features to the nearest class mean, under one
  covariance shared by the classes (Lee et al., 2018; no input preprocessing or feature ensemble here);
* :func:`png_bits_per_dim` and :func:`input_complexity`: a generative model's bits/dim minus a lossless
  compressor's, S(x) = −log₂ p(x)/D − L(x)/D (Serrà et al., 2020, with PNG as the compressor);
* :func:`typicality`: the typicality test over batches of M inputs, |mean NLL of the batch − the model's
  entropy estimated on held-out inliers| (Nalisnick et al., 2019). It scores *batches*, not images.

Every score is oriented as in the rest of the book: **higher means more likely OOD**.

Used in: the OOD benchmark (chapter 8).
"""
from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

__all__ = ["max_softmax", "Mahalanobis", "png_bits_per_dim", "input_complexity", "typicality"]


@torch.no_grad()
def max_softmax(classifier: nn.Module, x: Tensor, batch_size: int = 1000) -> Tensor:
    """−max_c softmax(classifier(x))_c per image: low confidence scores high."""
    return torch.cat([-classifier(x[i:i + batch_size]).softmax(1).amax(1) for i in range(0, len(x), batch_size)]).cpu()


class Mahalanobis:
    """Class-conditional Gaussians with a shared covariance fitted to training ``features`` ``(N, F)`` and
    ``labels``; :meth:`__call__` gives min_c (f − μ_c)ᵀ Σ⁻¹ (f − μ_c) per row of ``f``."""

    def __init__(self, features: Tensor, labels: Tensor, ridge: float = 1e-6):
        f, y = features.double().cpu(), torch.as_tensor(labels).cpu()
        classes = y.unique()
        self.means = torch.stack([f[y == c].mean(0) for c in classes])                        # (C, F)
        centred = f - self.means[torch.searchsorted(classes, y)]
        cov = centred.T @ centred / len(f) + ridge * torch.eye(f.shape[1], dtype=f.dtype)
        self.precision = torch.linalg.inv(cov)

    def __call__(self, features: Tensor) -> Tensor:
        d = features.double().cpu()[:, None, :] - self.means[None]                             # (N, C, F)
        return torch.einsum("ncf,fg,ncg->nc", d, self.precision, d).amin(1).float()


def png_bits_per_dim(x: Tensor) -> Tensor:
    """The length of each image's lossless PNG encoding (8-bit grey levels, maximum compression), in bits per
    pixel: the complexity estimate L(x)/D of Serrà et al."""
    pixels = (x.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    lengths = []
    for img in pixels.reshape(len(pixels), *pixels.shape[-2:]):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG", optimize=True)
        lengths.append(8 * buf.tell())
    return torch.tensor(lengths, dtype=torch.float32) / pixels[0].size


def input_complexity(bits_per_dim: Tensor, x: Tensor) -> Tensor:
    """S(x) = bits/dim − PNG bits/dim: the model's code length beyond what a generic compressor needs."""
    return bits_per_dim.cpu() - png_bits_per_dim(x)


def typicality(nll: Tensor, reference: Tensor, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
    """The typicality statistic of disjoint random batches of ``batch_size`` examples of ``nll`` (one value per
    example, any unit): |mean over the batch − mean of ``reference``|, the held-out inliers' NLL (the entropy
    estimate). Returns one value per batch (a remainder smaller than a batch is dropped)."""
    if batch_size < 1 or len(nll) < batch_size:
        raise ValueError(f"typicality: batch_size must be in [1, {len(nll)}], got {batch_size}")
    order = torch.randperm(len(nll), generator=generator)
    batches = nll.cpu()[order[: len(nll) // batch_size * batch_size]].view(-1, batch_size)
    return (batches.mean(1) - reference.cpu().mean()).abs()
