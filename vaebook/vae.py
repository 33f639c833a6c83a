r"""The variational autoencoder, assembled from objects: encoder, decoder (with its likelihood) and prior.

.. math::
    \log p(x) \ge \mathrm{ELBO}(x) = \mathbb{E}_{q(z|x)}[\log p(x|z)] - \mathrm{KL}[q(z|x)\,\|\,p(z)]

Notation (the book's): ``x`` data, ``z`` latent, ``q_z`` = q(z|x), ``p_z`` = p(z),
``p_x`` = p(x|z), ``log_w`` = log p(x|z) + log p(z) − log q(z|x).

Used in: chapters 1 and 3 to 8.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from .flows import FlowDistribution
from .metrics import logsumexp_chunked

__all__ = ["Encoder", "FlowEncoder", "Decoder", "VAE", "kl", "bits_per_dim"]


class Encoder(nn.Module):
    """q(z|x) = N(μ(x), diag σ²(x)) from a network whose output is ``(B, 2·latent_dim)``."""

    def __init__(self, net: nn.Module, min_scale: float = 1e-4):
        super().__init__()
        self.net, self.min_scale = net, min_scale

    def forward(self, x: Tensor) -> Distribution:
        mu, pre = self.net(x).chunk(2, dim=-1)
        return Independent(Normal(mu, nn.functional.softplus(pre) + self.min_scale), 1)


class FlowEncoder(Encoder):
    """A flow posterior: the :class:`Encoder`'s Gaussian pushed through a flow shared by all inputs,
    z = f⁻¹(z₀), z₀ ~ N(μ(x), diag σ²(x)), with f the ``transforms`` (e.g. ``vb.realnvp(...).transforms``).
    Its KL to the prior has no closed form: the VAE estimates it by Monte Carlo."""

    def __init__(self, net: nn.Module, transforms, min_scale: float = 1e-4):
        super().__init__(net, min_scale)
        self.transforms = nn.ModuleList(transforms)

    def forward(self, x: Tensor) -> Distribution:
        return FlowDistribution(self.transforms, super().forward(x))


class Decoder(nn.Module):
    """p(x|z): a network's output turned into a distribution by a likelihood object
    (:class:`vaebook.Bernoulli`, :class:`vaebook.Gaussian`, …)."""

    def __init__(self, net: nn.Module, likelihood: nn.Module):
        super().__init__()
        self.net, self.likelihood = net, likelihood

    def forward(self, z: Tensor) -> Distribution:
        return self.likelihood(self.net(z))


def bits_per_dim(log_px: Tensor, dims: int, discrete: bool) -> Tensor:
    r"""Bits per dimension of 8-bit data in [0, 1] from a log-likelihood in nats.

    Discrete likelihoods give a probability: bpd = −log P(x) / (D ln 2).
    Continuous ones give a density on [0, 1]^D; a density on the 256-level
    scale is 256^{-D} times it, so bpd = (−log p(x) + D ln 256) / (D ln 2).
    """
    nll = -log_px + (0.0 if discrete else dims * math.log(256))
    return nll / (dims * math.log(2))


def kl(q_z: Distribution, p_z: Distribution, *, samples: int = 1, z: Tensor | None = None) -> Tensor:
    """KL[q ‖ p] per example: analytic when torch knows it, else a Monte Carlo mean over ``samples`` draws
    of q (or over the given draws ``z``, shape ``(S, B, D)``)."""
    try:
        return kl_divergence(q_z, p_z)
    except NotImplementedError:
        z = q_z.rsample((samples,)) if z is None else z
        return (q_z.log_prob(z) - p_z.log_prob(z)).mean(0)


class VAE(nn.Module):
    """A VAE ``(encoder, decoder, prior)``; every method returns one value per example ``(B,)``.

    ``component`` (labels ``(B,)``) scores each example under its own prior
    component, for mixture priors trained by label (Kamoi & Kobayashi §4).
    """

    def __init__(self, encoder: Encoder, decoder: Decoder, prior: nn.Module):
        super().__init__()
        self.encoder, self.decoder, self.prior = encoder, decoder, prior

    @property
    def latent_dim(self) -> int:
        return self.prior().event_shape[0]

    def kl(self, x: Tensor, component: Tensor | None = None, *, samples: int = 16) -> Tensor:
        """KL[q(z|x) ‖ p(z)]: analytic when torch knows it, else a Monte Carlo mean over ``samples``."""
        return kl(self.encoder(x), self.prior(component), samples=samples)

    def elbo(self, x: Tensor, component: Tensor | None = None, *, beta: float = 1.0) -> Tensor:
        """ELBO(x) with one reparameterised sample (KL analytic where possible); ``beta`` weights the KL."""
        q_z = self.encoder(x)
        z = q_z.rsample()
        rec = self.decoder(z).log_prob(x)
        return rec - beta * kl(q_z, self.prior(component), z=z[None])

    def loss(self, x: Tensor, component: Tensor | None = None, *, beta: float = 1.0) -> Tensor:
        """The training loss: the mean over the batch of −ELBO, its KL weighted by ``beta`` (β-VAE)."""
        return -self.elbo(x, component, beta=beta).mean()

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, component: Tensor | None = None, *, k: int = 100, chunk: int = 50,
                       decode_block: int = 1000) -> Tensor:
        r"""Importance-weighted estimate (IWAE, Burda et al.) of log p(x) with ``k`` samples:

        .. math:: \log \frac{1}{K} \sum_k \frac{p(x|z_k) p(z_k)}{q(z_k|x)}, \quad z_k \sim q(z|x)

        computed ``chunk`` samples at a time (:func:`vaebook.logsumexp_chunked`), so
        memory stays at ``chunk × B`` decoded images whatever ``k`` is. The decoder and the likelihood see at most
        ``decode_block`` images at once (whole samples of the batch; the draws are the same): on a CPU, 12,500
        decoded images at once took 2.3× as long as the same images a thousand at a time, whose intermediates
        stay in the cache.
        """
        q_z, p_z = self.encoder(x), self.prior(component)

        def log_px(z: Tensor) -> Tensor:                                                   # (S, B, D) -> (S, B)
            p_x = self.decoder(z.flatten(0, 1))
            return p_x.log_prob(x.repeat(z.shape[0], *[1] * (x.ndim - 1))).view(z.shape[:2])

        def log_w(samples: slice) -> Tensor:
            z = q_z.sample((samples.stop - samples.start,))                                # (S, B, D)
            per_block = max(1, decode_block // len(x))                                     # samples per decoder call
            return (torch.cat([log_px(zs) for zs in z.split(per_block)]) + p_z.log_prob(z) - q_z.log_prob(z)).T  # (B, S)

        return logsumexp_chunked(log_w, k, chunk) - math.log(k)

    @torch.no_grad()
    def bits_per_dim(self, x: Tensor, *, k: int = 1, **kwargs) -> Tensor:
        """Bits/dim of ``x``: from the ELBO when ``k == 1``, from the IWAE bound with ``k`` samples otherwise."""
        log_px = self.elbo(x) if k == 1 else self.log_likelihood(x, k=k, **kwargs)
        return bits_per_dim(log_px, x[0].numel(), self.decoder.likelihood.discrete)

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """Images decoded from prior draws: the mean of p(x|z), z ~ p(z)."""
        return self.decoder(self.prior().sample((n,))).mean

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """The mean of p(x|z) at the posterior mean z = μ(x)."""
        return self.decoder(self.encoder(x).mean).mean
