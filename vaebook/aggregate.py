r"""The aggregate posterior q(z) = (1/N) Σᵢ q(z | xᵢ) of a VAE over a training set, and what it
tells us (Rosca, Lakshminarayanan & Mohamed).

*ELBO surgery* (their eq. 5) splits the KL term of the ELBO, averaged over the data:

.. math::
    \mathbb{E}_{x}\,\mathrm{KL}[q(z|x)\,\|\,p(z)] = \mathrm{KL}[q(z)\,\|\,p(z)] + I(x; z),
    \qquad 0 \le I(x; z) \le \log N .

The *marginal KL* KL[q(z) ‖ p(z)] measures how well the encoder's codes, all together,
match the prior; it is estimated by Monte Carlo (their Alg. 2). Prior draws where q(z)
is small are the *low-posterior samples* of Alg. 1: regions the prior covers and the
data never reaches.

Every sum over the N training posteriors is chunked (:func:`vaebook.logsumexp_chunked`).

Used in: chapter 6, and chapter 7 through :mod:`vaebook.optimal_decoder`.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Normal, constraints

from .flows import forward_through, inverse_through
from .metrics import logsumexp_chunked

__all__ = ["AggregatePosterior", "marginal_kl", "elbo_surgery", "low_posterior"]


def _float64(t: Tensor) -> Tensor:
    """``t`` in float64, on its device, or on the CPU for Apple's GPU (MPS), which has no float64."""
    return t.to("cpu" if t.device.type == "mps" else t.device, torch.float64)


class AggregatePosterior(Distribution):
    """q(z) = (1/N) Σᵢ q(z | xᵢ) for diagonal-Gaussian posteriors ``loc``, ``scale`` ``(N, D)``.

    With ``transforms`` (a flow posterior: z = f⁻¹(z₀), z₀ ~ N(locᵢ, scaleᵢ), f the
    flow's transforms as in :class:`vaebook.FlowDistribution`), each component is
    log N(f(z); locᵢ, scaleᵢ) + log|det ∂f/∂z|. Build it from a VAE with :meth:`from_vae`.
    """

    arg_constraints: dict = {}
    support = constraints.real_vector

    def __init__(self, loc: Tensor, scale: Tensor, transforms: Sequence[nn.Module] = (), chunk: int = 4096):
        if loc.shape != scale.shape or loc.ndim != 2:
            raise ValueError(f"need loc and scale of the same shape (N, D), got {tuple(loc.shape)} and {tuple(scale.shape)}")
        if not (scale > 0).all():
            raise ValueError("posterior scales must be positive")
        self.loc, self.scale, self.transforms, self.chunk = loc, scale, list(transforms), chunk
        super().__init__(event_shape=loc.shape[1:], validate_args=False)

    @classmethod
    @torch.no_grad()
    def from_vae(cls, vae, x: Tensor, batch_size: int = 1000, chunk: int = 4096) -> "AggregatePosterior":
        """Encode ``x`` in batches and keep each posterior's base location and scale (and the flow)."""
        locs, scales, transforms = [], [], ()
        for i in range(0, len(x), batch_size):
            q = vae.encoder(x[i:i + batch_size])
            if hasattr(q, "transforms"):  # a flow posterior: keep its base Gaussian and its transforms
                q, transforms = q.base, q.transforms
            locs.append(q.base_dist.loc)
            scales.append(q.base_dist.scale)
        return cls(torch.cat(locs), torch.cat(scales), transforms, chunk)

    def __len__(self) -> int:
        return len(self.loc)

    def component_log_prob(self, z: Tensor, rows: slice = slice(None)) -> Tensor:
        """log q(z_m | x_i) for z ``(M, D)`` and the training images i in ``rows``: ``(M, len(rows))``.

        The Gaussian's quadratic form is expanded into matrix products,
        Σ_d (z_d − μ_id)²/σ_id² = z² · (1/σ²)ᵢ − 2 z · (μ/σ²)ᵢ + Σ_d μ_id²/σ_id²,
        so no ``(M, N, D)`` tensor is ever built; in float64, against the cancellation.
        """
        z0, ladj = forward_through(self.transforms, z)
        z64, loc, scale = (_float64(t) for t in (z0, self.loc[rows], self.scale[rows]))
        prec = scale ** -2
        quad = (z64 ** 2) @ prec.T - 2 * z64 @ (loc * prec).T + (loc ** 2 * prec).sum(-1)
        log_norm = -torch.log(scale).sum(-1) - 0.5 * loc.shape[1] * math.log(2 * math.pi)
        return (-0.5 * quad.clamp(min=0) + log_norm).to(z0.device, z0.dtype) + ladj[:, None]

    def log_prob(self, z: Tensor) -> Tensor:
        """log q(z) = logsumexp_i log q(z | x_i) − log N, ``(M,)``, chunked over i."""
        z = z.reshape(-1, z.shape[-1])
        return logsumexp_chunked(lambda rows: self.component_log_prob(z, rows), len(self), self.chunk) - math.log(len(self))

    def sample(self, sample_shape=torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        """z ~ q(z): pick a training image uniformly, then z ~ q(z | x_i)."""
        n = math.prod(sample_shape) if len(sample_shape) else 1
        i = torch.randint(len(self), (n,), generator=generator).to(self.loc.device)
        eps = torch.randn(n, self.loc.shape[1], generator=generator).to(self.loc)
        with torch.no_grad():
            z = inverse_through(self.transforms, self.loc[i] + self.scale[i] * eps)
        return z.view(*sample_shape, -1) if len(sample_shape) else z[0]


@torch.no_grad()
def marginal_kl(q: AggregatePosterior, prior: Distribution, n: int = 10_000, batch: int = 1000,
                generator: torch.Generator | None = None) -> tuple[float, float]:
    """KL[q(z) ‖ p(z)] by Monte Carlo (Rosca et al. Alg. 2): the mean of log q(z) − log p(z) over
    ``n`` draws z ~ q(z). Returns ``(estimate, standard error)``."""
    terms = []
    for start in range(0, n, batch):
        z = q.sample((min(batch, n - start),), generator=generator)
        terms.append(q.log_prob(z) - prior.log_prob(z))
    terms = torch.cat(terms)
    return terms.mean().item(), (terms.std() / math.sqrt(len(terms))).item()


@torch.no_grad()
def elbo_surgery(vae, x: Tensor, n: int = 10_000, generator: torch.Generator | None = None,
                 batch_size: int = 1000, q: AggregatePosterior | None = None) -> dict[str, float]:
    """The terms of eq. (5) over the images ``x``: ``avg_kl`` = mean KL[q(z|x) ‖ p(z)],
    ``marginal_kl`` (± ``marginal_kl_se``), ``mutual_info`` = their difference, and ``log_n``.
    Pass ``q``, the aggregate posterior of ``x``, if it is already built."""
    avg_kl = torch.cat([vae.kl(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]).mean().item()
    q = AggregatePosterior.from_vae(vae, x, batch_size) if q is None else q
    mkl, se = marginal_kl(q, vae.prior(), n, generator=generator)
    return {"avg_kl": avg_kl, "marginal_kl": mkl, "marginal_kl_se": se, "mutual_info": avg_kl - mkl,
            "log_n": math.log(len(x))}


@torch.no_grad()
def low_posterior(q: AggregatePosterior, prior: Distribution, num_z: int, n: int, batch: int = 1000
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """Rosca et al.'s Alg. 1: draw ``num_z`` latents from the prior, keep the ``n`` with the lowest
    log q(z). Returns ``(z_low, log_q_low, log_q_all)``; decode ``z_low`` to see the samples."""
    z = prior.sample((num_z,))
    log_q = torch.cat([q.log_prob(z[i:i + batch]) for i in range(0, num_z, batch)])
    order = torch.argsort(log_q)[:n]
    return z[order], log_q[order], log_q
