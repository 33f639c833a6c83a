"""Likelihoods p(x|z): modules that turn the decoder's output ``h`` into a distribution over images.

Each is an ``nn.Module`` whose ``forward(h)`` returns a :class:`torch.distributions.Distribution` over whole
images (``Independent`` over channels and pixels). Two class attributes tell the rest of the book how to use it:
``decoder_outputs``, how many numbers the decoder gives per image channel (1 for a Bernoulli logit or a Gaussian
mean, 2 for a mean and a log-scale, 256 for a categorical), and ``discrete``, whether ``log_prob`` is a
probability of 8-bit data (bits/dim as is) or a density on [0, 1] (bits/dim adds 8 bits per pixel).

Used in: every chapter that trains a VAE.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributions import Bernoulli as _Bernoulli, Distribution, Independent, Normal

from .distributions import PixelCategorical, QuantizedNormal

__all__ = ["Bernoulli", "Gaussian", "Categorical256", "DiscretizedGaussian"]


class Bernoulli(nn.Module):
    """p(x|z) = Π Bernoulli(x_i; σ(h_i)). On grey levels (not binarised) this is the usual cross-entropy
    score of the papers, not a normalised density; bits/dim then measure that score."""

    discrete, decoder_outputs = True, 1

    def forward(self, h: Tensor) -> Distribution:
        return Independent(_Bernoulli(logits=h, validate_args=False), 3)


class Gaussian(nn.Module):
    """p(x|z) = N(x; h, σ²I) with σ fixed (``sigma``) or learned (one scalar, ``sigma=None``)."""

    discrete, decoder_outputs = False, 1

    def __init__(self, sigma: float | None = None, min_sigma: float = 1e-2):
        super().__init__()
        self.fixed, self.min_sigma = sigma, min_sigma
        self.log_sigma = nn.Parameter(torch.zeros(())) if sigma is None else None

    def extra_repr(self) -> str:
        return f"sigma={'learned' if self.fixed is None else f'{self.fixed:g}'}, min_sigma={self.min_sigma:g}"

    def sigma(self) -> Tensor:
        if self.fixed is not None:
            return torch.tensor(self.fixed)
        return self.log_sigma.exp().clamp(min=self.min_sigma)

    def forward(self, h: Tensor) -> Distribution:
        return Independent(Normal(h, self.sigma().to(h)), 3)


class Categorical256(nn.Module):
    """p(x|z): a 256-way categorical per pixel; the decoder gives 256 logits per channel."""

    discrete, decoder_outputs = True, 256

    def forward(self, h: Tensor) -> Distribution:
        b, c256, hh, ww = h.shape
        logits = h.view(b, c256 // 256, 256, hh, ww).permute(0, 1, 3, 4, 2)
        return Independent(PixelCategorical(logits), 3)


class DiscretizedGaussian(nn.Module):
    """p(x|z): a quantized normal per pixel; the decoder gives a mean and a log-scale per channel."""

    discrete, decoder_outputs = True, 2

    def forward(self, h: Tensor) -> Distribution:
        loc, log_scale = h.chunk(2, dim=1)
        return Independent(QuantizedNormal(loc, log_scale.clamp(-7, 2).exp()), 3)
