r"""Normalizing flows: an invertible map f from data x to latent z, and a base density p(z).

.. math:: \log p(x) = \log p_Z(f(x)) + \log\left|\det \frac{\partial f}{\partial x}\right|

Every transform maps ``x -> (y, ladj)`` with ``ladj`` = log|det ∂y/∂x| summed
per example, and has an ``inverse``. :class:`Flow` is an ``nn.Module`` that
*returns* a :class:`FlowDistribution`, a ``torch.distributions.Distribution``
with ``log_prob``, ``sample`` and (when the base has it) ``rsample``, over any
vaebook base density (standard normal, Gaussian mixture, generalized-Gaussian
mixture).

Used in: chapter 2 (topology mismatch), chapter 5 and 8 (the PAE's latent flow), chapter 6 (flow posteriors).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, constraints

from .nets import MLP

__all__ = ["AffineCoupling", "Reverse", "Permutation", "Flow", "FlowDistribution", "realnvp", "forward_through",
           "inverse_through"]


def forward_through(transforms: Sequence[nn.Module], x: Tensor) -> tuple[Tensor, Tensor]:
    """z = f(x) for f = fₖ ∘ … ∘ f₁ and log|det ∂z/∂x| per example."""
    ladj = x.new_zeros(x.shape[:-1])
    for t in transforms:
        x, l = t(x)
        ladj = ladj + l
    return x, ladj


def inverse_through(transforms: Sequence[nn.Module], z: Tensor) -> Tensor:
    """x = f⁻¹(z), the transforms inverted in reverse order."""
    for t in reversed(transforms):
        z = t.inverse(z)
    return z


class AffineCoupling(nn.Module):
    r"""RealNVP's affine coupling layer (Dinh et al., 2017).

    The first ``d = dim // 2`` features pass unchanged; the rest are scaled and shifted
    by functions of the first: :math:`y_{d:} = x_{d:} \odot e^{s(x_{:d})} + t(x_{:d})`,
    so ``ladj`` = Σ s. The scale is ``tanh``-bounded for stable training.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        if dim < 2:
            raise ValueError(f"a coupling layer needs dim >= 2, got {dim}")
        self.dim, self.d = dim, dim // 2
        self.net = MLP([self.d, *hidden, 2 * (dim - self.d)])
        nn.init.zeros_(self.net[-1].weight)  # start at the identity
        nn.init.zeros_(self.net[-1].bias)

    def _st(self, x_a: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.net(x_a).chunk(2, dim=-1)
        return torch.tanh(s), t

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x_a, x_b = x[..., :self.d], x[..., self.d:]
        s, t = self._st(x_a)
        return torch.cat([x_a, x_b * s.exp() + t], -1), s.sum(-1)

    def inverse(self, y: Tensor) -> Tensor:
        y_a, y_b = y[..., :self.d], y[..., self.d:]
        s, t = self._st(y_a)
        return torch.cat([y_a, (y_b - t) * (-s).exp()], -1)


class Permutation(nn.Module):
    """A fixed permutation of the features (volume-preserving: ``ladj`` = 0)."""

    def __init__(self, perm: Tensor):
        super().__init__()
        self.register_buffer("perm", torch.as_tensor(perm, dtype=torch.long))
        self.register_buffer("inv", torch.argsort(self.perm))

    @classmethod
    def random(cls, dim: int, generator: torch.Generator | None = None) -> "Permutation":
        return cls(torch.randperm(dim, generator=generator))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[..., self.perm], x.new_zeros(x.shape[:-1])

    def inverse(self, y: Tensor) -> Tensor:
        return y[..., self.inv]


class Reverse(Permutation):
    """Reverse the order of the features (Kamoi & Kobayashi's toy flows: after every coupling)."""

    def __init__(self, dim: int):
        super().__init__(torch.arange(dim - 1, -1, -1))


class FlowDistribution(Distribution):
    """The density of x = f⁻¹(z), z ~ ``base``, for transforms f = fₖ ∘ … ∘ f₁ (x -> z)."""

    arg_constraints: dict = {}
    support = constraints.real_vector

    def __init__(self, transforms: Sequence[nn.Module], base: Distribution):
        self.transforms, self.base = list(transforms), base
        super().__init__(batch_shape=base.batch_shape, event_shape=base.event_shape, validate_args=False)

    @property
    def has_rsample(self) -> bool:
        return self.base.has_rsample

    def to_latent(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """z = f(x) and log|det ∂z/∂x| per example."""
        return forward_through(self.transforms, x)

    def to_data(self, z: Tensor) -> Tensor:
        """x = f⁻¹(z)."""
        return inverse_through(self.transforms, z)

    def log_prob(self, x: Tensor) -> Tensor:
        z, ladj = self.to_latent(x)
        return self.base.log_prob(z) + ladj

    def rsample(self, sample_shape=torch.Size()) -> Tensor:
        return self.to_data(self.base.rsample(sample_shape))

    def sample(self, sample_shape=torch.Size()) -> Tensor:
        with torch.no_grad():
            return self.to_data(self.base.sample(sample_shape))


class Flow(nn.Module):
    """A trainable flow: ``transforms`` (x -> z) over a ``base`` module that returns p(z).

    ``flow()`` is the :class:`FlowDistribution`; ``flow().log_prob(x)`` the log-density.
    """

    def __init__(self, transforms: Sequence[nn.Module], base: nn.Module):
        super().__init__()
        self.transforms, self.base = nn.ModuleList(transforms), base

    def forward(self) -> FlowDistribution:
        return FlowDistribution(self.transforms, self.base())

    def loss(self, x: Tensor) -> Tensor:
        """Mean negative log-likelihood of a batch: the training loss."""
        return -self().log_prob(x).mean()


def realnvp(dim: int, base: nn.Module, *, layers: int = 4, hidden: Sequence[int] = (64, 64),
            permutation: Callable[[int], nn.Module] = Reverse) -> Flow:
    """``layers`` affine couplings, each followed by ``permutation(dim)`` of the features: reversed by default,
    or e.g. ``partial(Permutation.random, generator=g)`` for a new random order after each coupling.

    Kamoi & Kobayashi's toy flow is ``realnvp(dim, base, layers=4)``.
    """
    transforms: list[nn.Module] = []
    for _ in range(layers):
        transforms.append(AffineCoupling(dim, hidden))
        transforms.append(permutation(dim))
    return Flow(transforms, base)
