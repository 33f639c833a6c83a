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

import math
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, constraints

from .nets import MLP

__all__ = ["AffineCoupling", "ActNorm", "ConvCoupling", "ChannelMix", "Reverse", "Permutation", "Flow",
           "FlowDistribution", "ImageFlow", "realnvp", "dequantize", "squeeze", "unsqueeze", "forward_through",
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


class ActNorm(nn.Module):
    """Glow's activation normalisation: a learned shift and scale per feature, y = (x − loc)·exp(log_scale),
    ``ladj`` = Σ log_scale. :meth:`from_data` starts it at the data's overall mean and spread (Glow's
    data-dependent start, per channel: here one channel). Not per pixel: a pixel that is black in every training
    image would start with a spread of the dequantization noise alone (σ ≈ 0.001) and make any image with ink
    there, an outlier or not, hugely unlikely (chapter 3 found this)."""

    def __init__(self, dim: int):
        super().__init__()
        self.loc, self.log_scale = nn.Parameter(torch.zeros(dim)), nn.Parameter(torch.zeros(dim))

    @classmethod
    @torch.no_grad()
    def from_data(cls, x: Tensor) -> "ActNorm":
        """Start at the mean and standard deviation of all the values of ``x`` ``(N, D)`` together."""
        norm = cls(x.shape[-1])
        # summed in float64 (in float32, a million values came out a bit apart with one thread and with two), on the
        # CPU: Apple's GPU (MPS) has no float64
        x = x.detach().to("cpu", torch.float64)
        norm.loc.fill_(x.mean().item())
        norm.log_scale.fill_(-math.log(max(x.std().item(), 1e-6)))
        return norm

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return (x - self.loc) * self.log_scale.exp(), self.log_scale.sum().expand(x.shape[:-1])

    def inverse(self, y: Tensor) -> Tensor:
        return y * (-self.log_scale).exp() + self.loc


def squeeze(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Flattened images ``(B, C·H·W)`` of ``shape`` (C, H, W) to ``(B, 4C, H/2, W/2)``: each 2×2 patch becomes
    4 channels."""
    c, h, w = shape
    return x.reshape(-1, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(-1, 4 * c, h // 2, w // 2)


def unsqueeze(y: Tensor, shape: Sequence[int]) -> Tensor:
    """The inverse of :func:`squeeze`: back to flattened images ``(B, C·H·W)``."""
    c, h, w = shape
    return y.reshape(-1, c, 2, 2, h // 2, w // 2).permute(0, 1, 4, 2, 5, 3).reshape(-1, c * h * w)


class ConvCoupling(nn.Module):
    """Glow's affine coupling on images: on the squeezed image (:func:`squeeze`), half of the channels (the first,
    or with ``flip`` the second) pass unchanged and a small convolutional net of them scales and shifts the other
    half (``tanh``-bounded log-scale, started at the identity). Takes and returns flattened images, so it composes
    with every other transform here."""

    def __init__(self, shape: Sequence[int], hidden: int = 16, flip: bool = False):
        super().__init__()
        c, h, w = shape
        if h % 2 or w % 2:
            raise ValueError(f"ConvCoupling(shape={tuple(shape)}): height and width must be even to squeeze")
        self.shape, self.flip, self.half = tuple(shape), flip, 2 * c
        self.net = nn.Sequential(nn.Conv2d(2 * c, hidden, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
                                 nn.Conv2d(hidden, 4 * c, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)  # start at the identity
        nn.init.zeros_(self.net[-1].bias)

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = squeeze(x, self.shape)
        a, b = h[:, :self.half], h[:, self.half:]
        return (b, a) if self.flip else (a, b)

    def _join(self, a: Tensor, b: Tensor) -> Tensor:
        return unsqueeze(torch.cat([b, a] if self.flip else [a, b], 1), self.shape)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self._split(x)
        s, t = self.net(a).chunk(2, 1)
        s = torch.tanh(s)
        return self._join(a, b * s.exp() + t), s.flatten(1).sum(-1)

    def inverse(self, y: Tensor) -> Tensor:
        a, b = self._split(y)
        s, t = self.net(a).chunk(2, 1)
        return self._join(a, (b - t) * (-torch.tanh(s)).exp())


class ChannelMix(nn.Module):
    """A fixed 1×1 convolution of the squeezed image's channels by a random rotation (Glow learns this matrix):
    ``ladj`` = (H/2)(W/2)·log|det W|, zero up to rounding. Takes and returns flattened images of ``shape``."""

    def __init__(self, shape: Sequence[int], generator: torch.Generator | None = None):
        super().__init__()
        self.shape = tuple(shape)
        q, _ = torch.linalg.qr(torch.randn(4 * shape[0], 4 * shape[0], generator=generator))
        self.register_buffer("weight", q)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.einsum("ij,bjhw->bihw", self.weight, squeeze(x, self.shape))
        positions = self.shape[1] * self.shape[2] // 4
        return unsqueeze(y, self.shape), (positions * torch.linalg.slogdet(self.weight)[1]).expand(x.shape[:-1])

    def inverse(self, y: Tensor) -> Tensor:
        w_inv = torch.linalg.inv(self.weight)
        return unsqueeze(torch.einsum("ij,bjhw->bihw", w_inv, squeeze(y, self.shape)), self.shape)


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

    def forward(self, component: Tensor | None = None) -> FlowDistribution:
        """p(x); with ``component`` labels ``(B,)``, each example's density under its own prior component
        (Kamoi & Kobayashi train a mixture-prior flow so, as the VAEs of :class:`vaebook.VAE`)."""
        return FlowDistribution(self.transforms, self.base() if component is None else self.base(component))

    def loss(self, x: Tensor, component: Tensor | None = None) -> Tensor:
        """Mean negative log-likelihood of a batch: the training loss."""
        return -self(component).log_prob(x).mean()


def dequantize(x: Tensor) -> Tensor:
    """8-bit values in [0, 1] made continuous: (255·x + u)/256 with u ~ U[0, 1) per value (Theis et al. 2016)."""
    return (x * 255 + torch.rand_like(x)) / 256


class ImageFlow(nn.Module):
    r"""A :class:`Flow` over 8-bit images ``(B, C, H, W)`` in [0, 1]: each image is dequantized, flattened and
    centred (x̃ − ½), and its log-likelihood is given for the discrete data, in nats per image,

    .. math:: \log P(x) \ge \mathbb{E}_u \log p(\tilde x) - D \log 256,

    one draw of u per call, so it is comparable with a discrete VAE's log-likelihood (Kamoi & Kobayashi's
    Table 1 sets Glow beside VAEs so)."""

    def __init__(self, flow: Flow):
        super().__init__()
        self.flow = flow

    @classmethod
    def glow(cls, images: Tensor, base: nn.Module, *, steps: int = 8, hidden: int = 16,
             generator: torch.Generator | None = None) -> "ImageFlow":
        """A small Glow-like flow for ``images`` ``(N, C, H, W)`` (they set the shape and the first layer's start),
        after Kamoi & Kobayashi's App. B: an :class:`ActNorm` started at the images' overall mean and spread, then
        ``steps`` × (:class:`ChannelMix`, :class:`ConvCoupling` of ``hidden`` channels, alternating halves) on the
        once-squeezed image, no multi-scale split, and a random permutation of all dimensions at the end (their
        Listing 1: the latent has no spatial layout, so a prior's mode axis is no particular pixel)."""
        shape, dim = tuple(images.shape[1:]), images[0].numel()
        transforms: list[nn.Module] = [ActNorm.from_data(images.flatten(1) - 0.5)]
        for k in range(steps):
            transforms += [ChannelMix(shape, generator), ConvCoupling(shape, hidden, flip=k % 2 == 1)]
        transforms.append(Permutation.random(dim, generator))
        return cls(Flow(transforms, base).to(images.device))

    def log_likelihood(self, x: Tensor, component: Tensor | None = None) -> Tensor:
        x_t = dequantize(x).flatten(1) - 0.5
        return self.flow(component).log_prob(x_t) - x_t.shape[1] * math.log(256)

    def loss(self, x: Tensor, component: Tensor | None = None) -> Tensor:
        return -self.log_likelihood(x, component).mean()


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
