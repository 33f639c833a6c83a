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
from dataclasses import dataclass
from functools import partial
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import MultivariateNormal
from torch.distributions.utils import _standard_normal

from .nets import MLP
from .train import _fused

__all__ = ["HIDDEN", "FIRST_CHECK", "RTOL", "ATOL", "tolerance", "RatioEstimate", "ratio_kl", "SyntheticGaussian", "AffineGaussian", "random_gaussian", "ratio_minimise"]


# The classifier and stopping rule of ratio_kl, both ours (the paper's classifier is far larger and trains for a
# fixed number of steps): hidden layers of HIDDEN units,
# checked after FIRST_CHECK, 2·FIRST_CHECK, … steps, stopped when two doublings in a row each moved the estimate by at
# most RTOL of its value or ATOL nats
HIDDEN, FIRST_CHECK, RTOL, ATOL = (256, 256), 100, 0.05, 0.01


def tolerance(kl: float, rtol: float = RTOL, atol: float = ATOL) -> float:
    """How far one doubling of the steps may move an estimate ``kl`` for it to count as not moving (nats)."""
    return max(rtol * abs(kl), atol)


@dataclass(frozen=True)
class RatioEstimate:
    """A density-ratio estimate of KL[q ‖ p] and how it was reached.

    ``kl``: the estimate after ``steps`` training steps; ``trace``: (steps, estimate) at every check;
    ``converged``: whether the last two doublings of the steps each changed the estimate by at most
    :attr:`tolerance` (False: the step budget ran out first, and the estimate may still be moving); ``rtol`` and
    ``atol``: the stopping rule's tolerances, relative to the estimate and in nats.
    """
    kl: float
    steps: int
    converged: bool
    trace: tuple[tuple[int, float], ...]
    rtol: float = RTOL
    atol: float = ATOL

    @property
    def tolerance(self) -> float:
        """How far one doubling of the steps may move the final estimate for it to count as not moving (nats)."""
        return tolerance(self.kl, self.rtol, self.atol)

    @property
    def last_move(self) -> float | None:
        """How far the last doubling of the steps moved the estimate (nats); None after a single check."""
        return abs(self.trace[-1][1] - self.trace[-2][1]) if len(self.trace) > 1 else None


def _classifier(dim: int, hidden: Sequence[int]) -> nn.Module:
    return MLP([dim, *hidden, 1], activation=lambda: nn.LeakyReLU(0.2))


def _adam(module: nn.Module, **kwargs) -> torch.optim.Optimizer:
    """Adam for ``module``'s parameters, fused where ``vb.fit`` would fuse it (one rule: :func:`vaebook.train._fused`)."""
    device = next(module.parameters()).device
    return _fused(partial(torch.optim.Adam, **kwargs), device)(module.parameters())


def _classifier_step(clf: nn.Module, opt: torch.optim.Optimizer, zq: Tensor, zp: Tensor) -> None:
    """One step of the logistic loss: samples of q are labelled 1, samples of p 0."""
    logits = clf(torch.cat([zq, zp])).squeeze(-1)
    labels = torch.cat([torch.ones(len(zq)), torch.zeros(len(zp))]).to(logits)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()


def ratio_kl(sample_q: Callable[[int], Tensor], sample_p: Callable[[int], Tensor], dim: int,
             hidden: Sequence[int] = HIDDEN, max_steps: int = 3200, first_check: int = FIRST_CHECK,
             rtol: float = RTOL, atol: float = ATOL, batch_size: int = 256, lr: float = 1e-3,
             n_eval: int = 10_000, seed: int = 0) -> RatioEstimate:
    """KL[q ‖ p] by the density-ratio trick, the classifier trained until its estimate stops moving.

    An MLP (leaky ReLUs of slope 0.2, Adam, logistic loss) learns to tell fresh samples ``sample_q(n)`` from
    ``sample_p(n)``; the estimate is its mean logit over a fixed set of ``n_eval`` samples of q. It is checked
    after ``first_check``, 2·``first_check``, 4·``first_check``, … steps; training stops when each of the last
    two doublings of the steps changed it by at most ``rtol`` of its value or ``atol`` nats (one stable doubling
    is not enough: the estimate often rests on a plateau before it rises again), or after ``max_steps``.
    """
    torch.manual_seed(seed)
    clf = _classifier(dim, hidden)
    opt = _adam(clf, lr=lr, betas=(0.9, 0.9))
    with torch.no_grad():
        z_eval = torch.cat([sample_q(min(batch_size, n_eval - i)).detach() for i in range(0, n_eval, batch_size)])
    trace, step, check, converged = [], 0, min(first_check, max_steps), False
    while True:
        for _ in range(check - step):
            _classifier_step(clf, opt, sample_q(batch_size).detach(), sample_p(batch_size).detach())
        step = check
        with torch.no_grad():
            trace.append((step, clf(z_eval).mean().item()))
        tol = tolerance(trace[-1][1], rtol, atol)
        if len(trace) > 2 and all(abs(trace[i][1] - trace[i - 1][1]) <= tol for i in (-1, -2)):
            converged = True
            break
        if step >= max_steps:
            break
        check = min(2 * step, max_steps)
    return RatioEstimate(trace[-1][1], step, converged, tuple(trace), rtol, atol)


class SyntheticGaussian(MultivariateNormal):
    """Eq. (13)'s Gaussian N(b, WᵀW): torch's ``MultivariateNormal``, with samples drawn as b + ε Lᵀ in one matrix
    product (L: the Cholesky factor). They are the same draws as torch's (the same ε, in double precision), but
    torch multiplies each ε by L separately, which at d = 100 made sampling most of a classifier step's time."""

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> Tensor:
        eps = _standard_normal(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps @ self._unbroadcasted_scale_tril.mT


class AffineGaussian(nn.Module):
    """Rosca et al.'s eq. (13): x = Wᵀz + b, z ~ N(0, I_k), k = 10 d, so x ~ N(b, WᵀW).

    W and b start standard normal; we scale W by 1/√k so that the covariance stays of order 1 whatever d
    (the paper does not say how W is drawn). Both are parameters: App. D's minimisation learns them.
    """

    def __init__(self, d: int, generator: torch.Generator | None = None):
        super().__init__()
        k = 10 * d
        self.w = nn.Parameter(torch.randn(k, d, generator=generator) / math.sqrt(k))
        self.b = nn.Parameter(torch.randn(d, generator=generator))

    def rsample(self, n: int) -> Tensor:
        """``n`` samples, differentiable in W and b."""
        return torch.randn(n, self.w.shape[0]) @ self.w + self.b

    def distribution(self) -> SyntheticGaussian:
        """N(b, WᵀW) in double precision, for closed-form KLs."""
        w, b = self.w.double(), self.b.double()
        return SyntheticGaussian(b, covariance_matrix=w.T @ w)


def random_gaussian(d: int, generator: torch.Generator | None = None) -> SyntheticGaussian:
    """A random Gaussian of eq. (13) (:class:`AffineGaussian`), fixed."""
    with torch.no_grad():
        return AffineGaussian(d, generator).distribution()


def ratio_minimise(target: MultivariateNormal, learned: AffineGaussian, steps: int, check_every: int = 50,
                   hidden: Sequence[int] = HIDDEN, batch_size: int = 256, lr_classifier: float = 1e-4,
                   lr_gaussian: float = 1e-3, seed: int = 0) -> dict[str, list[float]]:
    """App. D's *minimisation*: learn ``learned``'s W and b to minimise the density-ratio estimate of
    KL[learned ‖ target], the classifier and the Gaussian trained jointly, one step each (a GAN's regime).

    The Gaussian's loss is the reverse-KL generator loss −log D/(1 − D) on its samples (D: the classifier's
    probability of "target"), which is its logit h(x) ≈ log learned(x)/target(x). Adam with β = (0.5, 0.9) for both,
    the paper's learning rates by default. Returns every ``check_every`` steps the step, the true KL in closed
    form, and the classifier's online estimate (its mean logit on the Gaussian's current samples).
    """
    torch.manual_seed(seed)
    clf = _classifier(target.loc.shape[-1], hidden)
    opt_c = _adam(clf, lr=lr_classifier, betas=(0.5, 0.9))
    opt_g = _adam(learned, lr=lr_gaussian, betas=(0.5, 0.9))
    out = {"step": [], "true_kl": [], "estimate": []}
    for step in range(steps + 1):
        if step % check_every == 0 or step == steps:
            with torch.no_grad():
                out["step"].append(step)
                out["true_kl"].append(torch.distributions.kl_divergence(learned.distribution(), target).item())
                out["estimate"].append(clf(learned.rsample(batch_size)).mean().item())
        if step == steps:
            break
        _classifier_step(clf, opt_c, learned.rsample(batch_size).detach(), target.sample((batch_size,)).float())
        loss = clf(learned.rsample(batch_size)).mean()   # the estimate of KL[learned ‖ target]
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
    return out
