r"""The density-ratio trick: a KL divergence estimated by a classifier (Rosca et al. §4, Alg. 3, App. D).

A classifier D(z) = σ(h(z)) trained to tell samples of q (label 1) from samples
of p (label 0) satisfies, at its optimum, h(z) = log q(z)/p(z); so

.. math:: \mathrm{KL}[q \,\|\, p] = \mathbb{E}_{q}[\log q(z) - \log p(z)] \approx \mathbb{E}_{q}[h(z)].

It needs only samples, which is why VAE-GAN hybrids use it; Rosca et al. show it
underestimates the KL and scales badly with dimension. :func:`random_gaussian`
builds the Gaussians of their synthetic experiment, whose KL is known in closed form
(``torch.distributions.kl_divergence``).

Used in: chapter 6.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import MultivariateNormal

from .nets import MLP

__all__ = ["ratio_kl", "random_gaussian"]


def ratio_kl(sample_q: Callable[[int], Tensor], sample_p: Callable[[int], Tensor], dim: int,
             hidden: Sequence[int] = (256, 256), steps: int = 2000, batch_size: int = 512, lr: float = 1e-3,
             n_eval: int = 10_000, seed: int = 0) -> float:
    """KL[q ‖ p] by the density-ratio trick: train an MLP (leaky ReLUs of slope 0.2, Adam, logistic
    loss) on fresh samples ``sample_q(n)`` and ``sample_p(n)`` for ``steps`` steps, then average its
    logit over ``n_eval`` new samples of q."""
    torch.manual_seed(seed)
    clf = MLP([dim, *hidden, 1], activation=lambda: nn.LeakyReLU(0.2))
    opt = torch.optim.Adam(clf.parameters(), lr=lr, betas=(0.9, 0.9))
    bce = nn.BCEWithLogitsLoss()
    for _ in range(steps):
        zq, zp = sample_q(batch_size).detach(), sample_p(batch_size).detach()
        logits = clf(torch.cat([zq, zp])).squeeze(-1)
        labels = torch.cat([torch.ones(len(zq)), torch.zeros(len(zp))]).to(logits)
        loss = bce(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return torch.cat([clf(sample_q(min(batch_size, n_eval - i)).detach()).squeeze(-1)
                          for i in range(0, n_eval, batch_size)]).mean().item()


def random_gaussian(d: int, generator: torch.Generator | None = None) -> MultivariateNormal:
    """Rosca et al.'s eq. (13): x = Wᵀz + b, z ~ N(0, I_k), k = 10 d, so x ~ N(b, WᵀW).

    W and b are standard normal; we scale W by 1/√k so that the covariance stays of order 1
    whatever d (the paper does not say how W is drawn)."""
    k = 10 * d
    w = torch.randn(k, d, generator=generator, dtype=torch.float64) / math.sqrt(k)
    b = torch.randn(d, generator=generator, dtype=torch.float64)
    return MultivariateNormal(b, covariance_matrix=w.T @ w)
