r"""Shu et al.'s optimal decoder: a weighted average of the training images (Bozkurt et al., Theorem 1).

For a fixed encoder and an infinitely expressive decoder, the ELBO is maximised
by a decoder whose output at z is a weighted average of the N training images,

.. math::
    \mu(z) = \sum_i w_i(z)\, x_i, \qquad
    w_i(z) = \frac{q(z \mid x_i)}{\sum_j q(z \mid x_j)},

(for a Bernoulli or Gaussian likelihood). When one weight is ≈ 1 the decoder is
a 1-nearest-neighbour lookup in latent space. The *perplexity* exp(H(w)) of the
weights counts the effective number of neighbours: 1 for a one-hot w, N for a
uniform one.

Sums over a whole training set are chunked (:class:`vaebook.aggregate.AggregatePosterior`),
so 60,000 images need memory for ``chunk`` of them at a time.

Used in: chapter 7.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from .aggregate import AggregatePosterior

__all__ = ["OptimalDecoder", "NeighbourStats", "Reconstructions", "perplexity", "reconstruct"]


def perplexity(w: Tensor) -> Tensor:
    """exp of the entropy of weight vectors ``(..., N)`` that sum to 1 (0 log 0 = 0)."""
    return torch.exp(-torch.xlogy(w, w).sum(-1))


@dataclass
class NeighbourStats:
    """What the optimal decoder says at a batch of latents ``z`` ``(M, D)``."""

    mean: Tensor        # μ(z), the weighted-average image, (M, *image)
    perplexity: Tensor  # exp(H(w(z))), (M,)
    top_index: Tensor   # indices of the k heaviest training images, (M, k)
    top_weight: Tensor  # their weights, (M, k)


class OptimalDecoder:
    """The optimal decoder of a VAE's encoder over a training set.

    ``loc``, ``scale``: the diagonal-Gaussian posteriors q(z|x_i) of the N
    training images ``(N, D)``; ``images``: the images themselves ``(N, ...)``.
    Build it from a VAE with :meth:`from_vae`. The weights are the aggregate
    posterior's components, normalised: w_i(z) = q(z|x_i) / (N q(z)).
    """

    def __init__(self, loc: Tensor, scale: Tensor, images: Tensor, chunk: int = 4096):
        if len(images) != len(loc):
            raise ValueError(f"need one image per posterior, got {len(images)} images and loc of shape {tuple(loc.shape)}")
        self.q = AggregatePosterior(loc, scale, chunk=chunk)
        self.images = images

    @classmethod
    def from_vae(cls, vae, images: Tensor, batch_size: int = 1000, chunk: int = 4096) -> "OptimalDecoder":
        """Encode ``images`` with ``vae.encoder`` (in batches) and keep their posteriors."""
        q = AggregatePosterior.from_vae(vae, images, batch_size, chunk)
        return cls(q.loc, q.scale, images, chunk)

    def __len__(self) -> int:
        return len(self.q)

    def log_normalizer(self, z: Tensor) -> Tensor:
        """log Σ_j q(z | x_j) ``(M,)``, chunked over the training set."""
        return self.q.log_prob(z) + math.log(len(self))

    def weights(self, z: Tensor) -> Tensor:
        """All weights w_i(z) ``(M, N)`` at once: for small training sets (plots, tests)."""
        return torch.softmax(self.q.component_log_prob(z), dim=-1)

    @torch.no_grad()
    def __call__(self, z: Tensor, k: int = 3) -> NeighbourStats:
        """μ(z), the weights' perplexity and the ``k`` heaviest training images, in two chunked passes
        (the normaliser, then the sums)."""
        log_norm = self.log_normalizer(z)
        mean = torch.zeros(len(z), *self.images.shape[1:], dtype=self.q.loc.dtype, device=self.q.loc.device)
        entropy = torch.zeros(len(z), dtype=self.q.loc.dtype, device=self.q.loc.device)
        top_w = torch.full((len(z), 0), -math.inf, device=self.q.loc.device)
        top_i = torch.zeros((len(z), 0), dtype=torch.long, device=self.q.loc.device)
        for start in range(0, len(self), self.q.chunk):
            rows = slice(start, min(start + self.q.chunk, len(self)))
            log_w = self.q.component_log_prob(z, rows) - log_norm[:, None]                       # (M, c)
            w = log_w.exp()
            mean += (w @ self.images[rows].flatten(1).to(w)).view_as(mean)
            entropy -= torch.xlogy(w, w).sum(-1)
            cand_w = torch.cat([top_w, w], 1)
            cand_i = torch.cat([top_i, torch.arange(rows.start, rows.stop, device=w.device).expand(len(z), -1)], 1)
            top_w, pos = cand_w.topk(min(k, cand_w.shape[1]), dim=1)
            top_i = cand_i.gather(1, pos)
        return NeighbourStats(mean, entropy.exp(), top_i, top_w)


@dataclass
class Reconstructions:
    """A VAE's reconstructions of images ``x`` ``(M, ...)`` next to what the optimal decoder gives at the same
    latents (Bozkurt et al., Fig. 1 and 2)."""

    x: Tensor           # the images
    x_hat: Tensor       # the decoder's output E[p(x | z)] at z = the posterior mean μ(x)
    stats: NeighbourStats  # the optimal decoder at the same z: μ(z), perplexity, heaviest training images
    bce_x: Tensor       # BCE(x, x̂) per image, on the CPU
    bce_mu: Tensor      # BCE(μ(z), x̂) per image, on the CPU
    neighbours: Tensor  # the k heaviest training images ``(M, k, ...)``

    @property
    def closer_to_mu(self) -> float:
        """The fraction of images whose reconstruction is closer (BCE) to the weighted average μ(z) than to x."""
        return (self.bce_mu < self.bce_x).float().mean().item()


def _bce(target: Tensor, pred: Tensor) -> Tensor:
    """Binary cross-entropy summed over each image's pixels ``(M,)``, predictions clamped away from 0 and 1."""
    return F.binary_cross_entropy(pred.clamp(1e-6, 1 - 1e-6), target, reduction="none").flatten(1).sum(1)


@torch.no_grad()
def reconstruct(vae, opt: OptimalDecoder, x: Tensor, k: int = 3) -> Reconstructions:
    """Encode ``x`` to z = μ(x), decode it, and compare the reconstruction x̂ with the input and with the optimal
    decoder ``opt``'s weighted average μ(z) (clamped to [0, 1]) by binary cross-entropy."""
    z = vae.encoder(x).mean
    x_hat = vae.decoder(z).mean
    stats = opt(z, k=k)
    return Reconstructions(x, x_hat, stats, _bce(x, x_hat).cpu(), _bce(stats.mean.clamp(0, 1), x_hat).cpu(),
                           opt.images[stats.top_index])
