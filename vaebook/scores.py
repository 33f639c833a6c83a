"""Per-example OOD scores: one function, :func:`ood_scores`, and the estimators as objects.

Every score is oriented so that **higher means more likely out-of-distribution**, and carries the name
a table prints in its header, which names the estimator: ``bits/dim (ELBO)`` and
``bits/dim (IWAE, k = 100)`` are different numbers for the same model, and a table that compares
with a paper must use the paper's.

>>> s = vb.ood_scores(vae, x, [vb.BitsPerDim(), vb.KL()])
>>> s["bits/dim (ELBO)"], s["KL (nats)"]

A score object that gives several scores from one pass over the model has ``names`` instead of ``name`` and
returns ``{name: (B,)}``: :class:`PAEScores`, the three scores of a Probabilistic Auto-Encoder from one encoding.

Used in: chapters 1, 3, 4, 5 and 8.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

import torch
from torch import Tensor, nn

from .metrics import batched

__all__ = ["Score", "BitsPerDim", "KL", "NegativeLogLikelihood", "PAEScores", "ood_scores"]


@dataclass(frozen=True)
class Score:
    """A named per-example score ``fn(model, x) -> (B,)``, higher = more OOD."""
    name: str
    fn: Callable[[nn.Module, Tensor], Tensor]

    def __call__(self, model: nn.Module, x: Tensor) -> Tensor:
        return self.fn(model, x)


@dataclass(frozen=True)
class BitsPerDim:
    """−log₂ p(x) per dimension (8-bit scale): from the ELBO (one posterior sample, analytic KL) when
    ``k == 1``, the estimate the negative-sampling paper scores with; from the IWAE bound with ``k`` samples
    otherwise, a tighter estimate of the same quantity."""
    k: int = 1

    @property
    def name(self) -> str:
        return "bits/dim (ELBO)" if self.k == 1 else f"bits/dim (IWAE, k = {self.k})"

    def __call__(self, model: nn.Module, x: Tensor) -> Tensor:
        return model.bits_per_dim(x, k=self.k, chunk=min(self.k, 50)) if self.k > 1 else model.bits_per_dim(x)


@dataclass(frozen=True)
class KL:
    """KL[q(z|x) ‖ p(z)] in nats: how far the encoder moves an image's posterior from the prior."""
    name: str = "KL (nats)"

    def __call__(self, model: nn.Module, x: Tensor) -> Tensor:
        return model.kl(x)


@dataclass(frozen=True)
class NegativeLogLikelihood:
    """−log p(x) in nats by importance sampling with ``k`` samples (IWAE), under the whole prior."""
    k: int = 100

    @property
    def name(self) -> str:
        return f"NLL (nats, IWAE, k = {self.k})"

    def __call__(self, model: nn.Module, x: Tensor) -> Tensor:
        return -model.log_likelihood(x, k=self.k, chunk=min(self.k, 50))


@dataclass(frozen=True)
class PAEScores:
    """A :class:`vaebook.PAE`'s three outlier scores from one pass of its encoder, z = f(x):

    * ``reconstruction error``: the autoencoder's, Σ (x − g(z))² (:meth:`vaebook.pae.Autoencoder.reconstruction_error`);
    * ``latent density``: −ln p(z), the flow's density of the code (:meth:`vaebook.PAE.score` without its
      reconstruction term, the paper's choice at large K);
    * ``eq. 12``: −ln p̃(x), the σ-weighted reconstruction error plus −ln p(z) (:meth:`vaebook.PAE.score`).

    Each is the same number as the PAE's own method computes alone (``tests/test_scores.py``); the encoder, the
    costly part, runs once instead of three times. (The reconstruction error is written out here, not called:
    ``Autoencoder.reconstruction_error`` encodes its input itself, and a change to the model modules would change
    every model's cache key.)
    """
    names: ClassVar[tuple[str, ...]] = ("reconstruction error", "latent density", "eq. 12")

    def __call__(self, pae: nn.Module, x: Tensor) -> dict[str, Tensor]:
        z = pae.ae.encoder(x)
        terms = pae.score_terms(x, z)
        return {"reconstruction error": ((pae.ae.decoder(z) - x) ** 2).flatten(1).sum(1),
                "latent density": terms["latent"], "eq. 12": terms["latent"] + terms["reconstruction"]}


@torch.no_grad()
def ood_scores(model: nn.Module, x: Tensor, scores: Sequence, *, batch_size: int = 500) -> dict[str, Tensor]:
    """Every score of ``scores`` for every example of ``x``: ``{name: (N,) tensor on the CPU}``, computed
    ``batch_size`` examples at a time; a score with ``names`` (:class:`PAEScores`) gives each of its names."""
    names = [name for s in scores for name in (s.names if hasattr(s, "names") else (s.name,))]
    if len(set(names)) != len(names):
        raise ValueError(f"ood_scores: two scores share a name in {names}; give each its own name")
    out = {}
    for s in scores:
        value = batched(lambda b: s(model, b), x, batch_size)
        out.update({name: v.cpu() for name, v in value.items()} if isinstance(value, dict) else {s.name: value.cpu()})
    return out
