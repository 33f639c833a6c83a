r"""Negative sampling in VAEs (the negative-sampling paper, ICLR 2020 submission, eq. 1).

A second, *negative* prior p̄(z) = N(s·1, I) receives the posteriors of negative
examples x̄; the loss to minimise is

.. math::
    \mathcal{L}(x, \bar x) = -\mathrm{ELBO}(x) + \mathrm{KL}[q(z|\bar x)\,\|\,\bar p(z)].

Negatives come from a *source* (:class:`Source`), an object called with a batch
of positives and the VAE that returns a batch of negatives: :class:`Auxiliary` (another
dataset), :class:`UniformNoise`, :class:`GaussianNoise` (the data plus noise),
:class:`ModelSamples` (the VAE's own samples). The adversarial scheme (§3.2),
:class:`Adversarial`, is a source too, with its own loss
(:func:`adversarial_loss`): the encoder maps the generator's samples x̂ to
p̄(z), while the generator, and only the generator, gets the extra term
KL[q(z|x̂) ‖ p(z)] that asks the encoder to map x̂ to the positive prior.
:func:`training_loss` asks the source for its loss (:meth:`Source.loss`).

Used in: chapters 4 and 8.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch
from torch import Tensor, nn

from .vae import VAE, kl

__all__ = ["negative_kl", "negative_sampling_loss", "adversarial_loss", "generator_term", "training_loss",
           "Source", "Auxiliary", "UniformNoise", "GaussianNoise", "ModelSamples", "Adversarial", "spectral_normalize",
           "frozen"]


def negative_kl(vae: VAE, x_neg: Tensor, negative_prior: nn.Module) -> Tensor:
    """KL[q(z|x̄) ‖ p̄(z)] per negative example ``(B,)`` (closed form for Gaussians)."""
    return kl(vae.encoder(x_neg), negative_prior())


def negative_sampling_loss(vae: VAE, negatives: Callable[[Tensor, VAE], Tensor], negative_prior: nn.Module
                           ) -> Callable[[Tensor], Tensor]:
    """The loss of eq. (1) as a function of a batch of positives, for :func:`vaebook.fit`:
    ``mean(−ELBO(x)) + mean(KL[q(z|x̄) ‖ p̄(z)])`` with ``x̄ = negatives(x, vae)``."""

    def loss(x: Tensor) -> Tensor:
        x_neg = negatives(x, vae)
        return -vae.elbo(x).mean() + negative_kl(vae, x_neg, negative_prior).mean()

    return loss


@contextmanager
def frozen(module: nn.Module):
    """Inside the block, ``module``'s parameters are constants: gradients flow *through* the module
    to its inputs but are not accumulated in its parameters."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p in params:
            p.requires_grad_(True)


def generator_term(vae: VAE, x_gen: Tensor) -> Tensor:
    """KL[q(z|x̂) ‖ p(z)] of generated images ``(B,)``, with the encoder frozen: its gradient reaches
    the generator (through x̂) and never the encoder."""
    with frozen(vae.encoder):
        return kl(vae.encoder(x_gen), vae.prior())


def adversarial_loss(vae: VAE, negative_prior: nn.Module) -> Callable[..., Tensor]:
    r"""The adversarial scheme of §3.2 as one loss whose gradients are, per network, the paper's

    * encoder φ: ∇_φ [−ELBO(x) + KL(q(z|x̂) ‖ p̄(z))], x̂ a constant negative;
    * generator θ: ∇_θ [−ELBO(x) + KL(q(z|x̂) ‖ p(z))], through x̂ = mean of p_θ(x|z), z ~ p(z).

    The paper's generator loss also contains the negative term; we read it as
    acting on the encoder only (x̂ is a constant there), since its gradient
    through x̂ would pull the generator towards p̄(z), against the extra term.
    Both networks take a step on the same batch (the paper alternates).
    ``loss(x, x_gen=None)``: pass ``x_gen`` to fix the generated batch (tests).
    """

    def loss(x: Tensor, x_gen: Tensor | None = None) -> Tensor:
        if x_gen is None:
            x_gen = vae.decoder(vae.prior().sample((len(x),))).mean
        return (-vae.elbo(x).mean() + negative_kl(vae, x_gen.detach(), negative_prior).mean()
                + generator_term(vae, x_gen).mean())

    return loss


# ------------------------------------------------------------------------------ sources of negatives
class Source:
    """A source of negatives: ``source(x, vae)`` returns a batch of negatives for the positives ``x``.
    It also knows how the VAE is trained with it: :meth:`loss` (eq. 1 by default) and :meth:`prepare`,
    applied to the encoder's network before training (unchanged by default)."""

    def __call__(self, x: Tensor, vae: VAE | None = None) -> Tensor:
        raise NotImplementedError

    def loss(self, vae: VAE, negative_prior: nn.Module) -> Callable[[Tensor], Tensor]:
        return negative_sampling_loss(vae, self, negative_prior)

    def prepare(self, encoder_net: nn.Module) -> nn.Module:
        return encoder_net


class Auxiliary(Source):
    """Negatives drawn at random from an auxiliary dataset ``images`` (e.g. KMNIST or EMNIST-Letters)."""

    def __init__(self, images: Tensor, generator: torch.Generator | None = None):
        if len(images) == 0:
            raise ValueError("the auxiliary dataset is empty: load some images first")
        self.images, self.generator = images, generator

    def __repr__(self) -> str:
        return f"Auxiliary(n={len(self.images)})"

    def __call__(self, x: Tensor, vae: VAE | None = None) -> Tensor:
        idx = torch.randint(len(self.images), (len(x),), generator=self.generator).to(self.images.device)
        return self.images[idx]


class UniformNoise(Source):
    """Negatives of i.i.d. uniform pixels in [0, 1]."""

    def __repr__(self) -> str:
        return "UniformNoise()"

    def __call__(self, x: Tensor, vae: VAE | None = None) -> Tensor:
        return torch.rand_like(x)


class GaussianNoise(Source):
    """The positives themselves plus N(0, σ²) noise, clipped to [0, 1] (σ = 0.25 in Table 3)."""

    def __init__(self, sigma: float = 0.25):
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma = sigma

    def __repr__(self) -> str:
        return f"GaussianNoise(sigma={self.sigma:g})"

    def __call__(self, x: Tensor, vae: VAE | None = None) -> Tensor:
        return (x + self.sigma * torch.randn_like(x)).clamp(0, 1)


class ModelSamples(Source):
    """The VAE's own current samples (the mean of p(x|z), z ~ p(z)), as constants."""

    def __repr__(self) -> str:
        return "ModelSamples()"

    def __call__(self, x: Tensor, vae: VAE) -> Tensor:
        with torch.no_grad():
            return vae.sample(len(x))


class Adversarial(ModelSamples):
    """The generator's samples, trained with :func:`adversarial_loss` and spectral normalisation on
    the encoder (:func:`spectral_normalize`), as in the paper."""

    def __repr__(self) -> str:
        return "Adversarial()"

    def loss(self, vae: VAE, negative_prior: nn.Module) -> Callable[..., Tensor]:
        return adversarial_loss(vae, negative_prior)

    def prepare(self, encoder_net: nn.Module) -> nn.Module:
        return spectral_normalize(encoder_net)


def training_loss(vae: VAE, source: Source | None, negative_prior: nn.Module) -> Callable[[Tensor], Tensor]:
    """The loss that goes with a source of negatives: the plain negative ELBO for ``None`` (the
    baseline VAE), otherwise the source's own (:meth:`Source.loss`)."""
    return vae.loss if source is None else source.loss(vae, negative_prior)


def spectral_normalize(module: nn.Module, skip_last: bool = True) -> nn.Module:
    """Spectral normalisation (Miyato et al., 2018) on the weights of ``module``'s linear and
    convolutional layers, in place; ``skip_last`` leaves the output layer free (it sets the
    posterior's location, which must reach the negative prior)."""
    layers = [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for m in layers[:-1] if skip_last else layers:
        nn.utils.parametrizations.spectral_norm(m)
    return module
