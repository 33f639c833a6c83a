r"""The adversarial autoencoder (Makhzani et al. 2015) as Rosca et al. use it: marginal distribution matching.

A VAE pays KL[q(z|x) ‖ p(z)] for every image. An AAE drops that term and instead matches the aggregate
posterior q(z) to the prior p(z) with a discriminator D(z) = σ(h(z)), trained to tell prior draws (label 1)
from codes z ~ q(z|x) (label 0): the density-ratio trick of :mod:`vaebook.ratio`, used for training. At the
discriminator's optimum h(z) = log p(z)/q(z), so E_q[−h(z)] is the AAE's own estimate of KL[q(z) ‖ p(z)].

Its loss is one scalar,

.. math::
    -\mathbb{E}_{q(z|x)}[\log p(x|z)]
    \;+\; \underbrace{-\log D(z_p) - \log(1 - D(\bar z))}_{\text{discriminator}}
    \;+\; \underbrace{-\log D(z)}_{\text{encoder}},

whose gradients are, network by network, those of the usual alternating updates (one simultaneous step on
the same batch, as chapter 4's adversarial negatives): the discriminator sees the codes as constants (z̄),
the encoder sees a frozen discriminator and gets the non-saturating generator loss. The terms are not
weighted (Rosca et al. App. K follow Makhzani et al. there).

Rosca et al. §5.1 and Fig. 5: with no per-image KL, nothing keeps a Gaussian q(z|x) wide, so its variance
collapses and the AAE spreads its codes over every latent, where a VAE switches unused latents off.

Used in: chapter 6.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn.functional import binary_cross_entropy_with_logits as logistic

from .negative import frozen
from .ratio import _classifier
from .vae import VAE, Decoder, Encoder

__all__ = ["AdversarialAutoencoder"]


class AdversarialAutoencoder(VAE):
    """An AAE ``(encoder, decoder, prior)`` with a discriminator on the latent space of ``hidden`` units.

    It keeps the VAE's interface (``encoder``, ``decoder``, ``prior``, ``log_likelihood``, ``sample``, …), so the
    book's estimators score it as they score a VAE; only :meth:`loss` differs.
    """

    def __init__(self, encoder: Encoder, decoder: Decoder, prior: nn.Module, hidden: Sequence[int] = (256, 256)):
        super().__init__(encoder, decoder, prior)
        self.discriminator = _classifier(self.latent_dim, hidden)

    def loss(self, x: Tensor, component: Tensor | None = None, *, beta: float = 1.0) -> Tensor:
        """Reconstruction (nats per image) + the discriminator's logistic loss + the encoder's generator loss."""
        if component is not None or beta != 1.0:
            raise ValueError("AdversarialAutoencoder.loss(x): an AAE has no per-image KL to weight (beta) "
                             "and no prior components to train by label (component)")
        z = self.encoder(x).rsample()
        reconstruction = -self.decoder(z).log_prob(x).mean()
        h_p = self.discriminator(self.prior().sample((len(x),))).squeeze(-1)
        h_q = self.discriminator(z.detach()).squeeze(-1)
        discriminator = logistic(h_p, torch.ones_like(h_p)) + logistic(h_q, torch.zeros_like(h_q))
        with frozen(self.discriminator):
            h = self.discriminator(z).squeeze(-1)
        encoder = logistic(h, torch.ones_like(h))
        return reconstruction + discriminator + encoder

    @torch.no_grad()
    def ratio_kl(self, x: Tensor, batch_size: int = 1000) -> float:
        """The discriminator's own estimate of KL[q(z) ‖ p(z)]: the mean of −h(z) over z ~ q(z|x), x in ``x``."""
        h = torch.cat([self.discriminator(self.encoder(x[i:i + batch_size]).sample()).squeeze(-1)
                       for i in range(0, len(x), batch_size)])
        return (-h).mean().item()
