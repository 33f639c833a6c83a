r"""The Probabilistic Auto-Encoder (Böhm & Seljak): an autoencoder, then a normalizing flow on its codes.

1. An autoencoder z = f(x), x̂ = g(z) trained on the squared reconstruction error only.
2. A flow b: z -> u with p(u) = N(0, I) fitted to the encoded training set (eq. 5),
   so p(z) = N(b(z); 0, I) |det ∂b/∂z|; sampling is x = g(b⁻¹(u)) (eq. 6).
3. An implicit Gaussian likelihood p(x|z) = N(g(z), diag σ²) with σᵢ the per-pixel
   reconstruction error measured on validation images (eq. 8).

The outlier score of eq. 12 is −ln p̃(x) at a latent point z′ (the encoder's output
f(x), or the MAP of eq. 9): a σ-weighted reconstruction error plus the latent density
term −ln p(z′). Each term is available on its own (:meth:`PAE.score_terms`).

:func:`train_pae` runs the three steps, each model cached by :func:`vaebook.train_or_load`.

Used in: chapter 5, the OOD benchmark (chapter 8).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch
from torch import Tensor, nn

from .distributions import StandardNormal
from .flows import Flow, Permutation, realnvp
from .metrics import batched
from .train import FitConfig, train_or_load

__all__ = ["Autoencoder", "PAE", "Standardize", "pixel_sigma", "train_pae"]


class Autoencoder(nn.Module):
    """A deterministic autoencoder: ``encoder`` x -> z (``(B, K)``), ``decoder`` z -> x̂ (image shape)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))

    def loss(self, x: Tensor) -> Tensor:
        """Mean over the batch of the summed squared reconstruction error."""
        return ((self(x) - x) ** 2).flatten(1).sum(1).mean()

    @torch.no_grad()
    def reconstruction_error(self, x: Tensor) -> Tensor:
        """Summed squared error per image ``(B,)``: the AE outlier score."""
        return ((self(x) - x) ** 2).flatten(1).sum(1)


class Standardize(nn.Module):
    """A fixed affine flow layer z -> (z − m)/s per feature (``ladj`` = −Σ log s), put first in the
    latent flow so that its couplings see codes of unit scale."""

    def __init__(self, mean: Tensor, std: Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return (z - self.mean) / self.std, (-self.std.log().sum()).expand(z.shape[:-1])

    def inverse(self, u: Tensor) -> Tensor:
        return u * self.std + self.mean


@torch.no_grad()
def pixel_sigma(ae: Autoencoder, x_val: Tensor, floor: float = 1e-3) -> Tensor:
    """σᵢ of eq. 8: the root-mean-square reconstruction error of each pixel over validation images."""
    return (((ae(x_val) - x_val) ** 2).mean(0)).sqrt().clamp(min=floor)


class PAE(nn.Module):
    """An :class:`Autoencoder`, a latent :class:`vaebook.Flow` and the per-pixel ``sigma`` (eq. 8)."""

    def __init__(self, ae: Autoencoder, flow: Flow, sigma: Tensor):
        super().__init__()
        self.ae, self.flow = ae, flow
        self.register_buffer("sigma", sigma)

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """x = g(b⁻¹(u)), u ~ N(0, I) (eq. 6)."""
        return self.ae.decoder(self.flow().sample((n,)))

    def log_likelihood(self, x: Tensor, z: Tensor, mask: Tensor | None = None, noise: float = 0.0) -> Tensor:
        """ln p(x|z) of eq. 8 ``(B,)``; with a ``mask`` (1 = observed) only observed pixels count, and
        ``noise`` adds σ_noise² to the variance (eq. 14)."""
        var = self.sigma ** 2 + noise ** 2
        terms = -0.5 * ((x - self.ae.decoder(z)) ** 2 / var + torch.log(2 * math.pi * var))
        if mask is not None:
            terms = terms * mask
        return terms.flatten(1).sum(1)

    def score_terms(self, x: Tensor, z: Tensor | None = None) -> dict[str, Tensor]:
        """The terms of −ln p̃(x) (eq. 12) at z′ = ``z`` (default: the encoder's output f(x)), each ``(B,)``:
        ``reconstruction`` = ½ Σ (x − g(z′))²/σ², ``latent`` = −ln p(z′) = ½ b(z′)ᵀb(z′) − ln det J + (K/2) ln 2π."""
        z = self.ae.encoder(x) if z is None else z
        reconstruction = 0.5 * (((x - self.ae.decoder(z)) / self.sigma) ** 2).flatten(1).sum(1)
        return {"reconstruction": reconstruction, "latent": -self.flow().log_prob(z)}

    def score(self, x: Tensor, z: Tensor | None = None, reconstruction: bool = True) -> Tensor:
        """The outlier score −ln p̃(x) of eq. 12 (higher = more likely OOD); ``reconstruction=False``
        keeps only the latent density term (the paper's choice at large K)."""
        t = self.score_terms(x, z)
        return t["latent"] + (t["reconstruction"] if reconstruction else 0)

    def map_objective(self, x: Tensor, z: Tensor, mask: Tensor | None = None, noise: float = 0.0) -> Tensor:
        """−ln p(x|z) − ln p(z) per image (eq. 9), the objective the MAP minimises."""
        return -self.log_likelihood(x, z, mask, noise) - self.flow().log_prob(z)

    def map(self, x: Tensor, mask: Tensor | None = None, noise: float = 0.0, steps: int = 200, lr: float = 0.05,
            z0: Tensor | None = None) -> tuple[Tensor, list[float]]:
        """The MAP z′ of eq. 9 by Adam in latent space from ``z0`` (default f(x)); returns z′ and the mean
        objective at each step. The networks are not changed."""
        z = (self.ae.encoder(x) if z0 is None else z0).detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        history = []
        for _ in range(steps):
            loss = self.map_objective(x, z, mask, noise).sum()
            z.grad, = torch.autograd.grad(loss, z)  # only z's gradient: no work on (or change to) the networks' .grad
            opt.step()
            history.append(loss.item() / len(x))
        return z.detach(), history

    def langevin(self, x: Tensor, mask: Tensor | None, noise: float, z0: Tensor, steps: int = 500, step_size: float = 1e-3,
                 generator: torch.Generator | None = None) -> Tensor:
        """Posterior samples of z given a corrupted x (eq. 13) by Metropolis-adjusted Langevin dynamics (MALA),
        one chain per row of ``z0``; returns the final states ``(B, K)``.

        With U the MAP objective, the proposal z′ = z − ε∇U(z) + √(2ε) ξ is accepted with probability
        min(1, exp(U(z) − U(z′) + ln q(z | z′) − ln q(z′ | z))), q(a | b) = N(a; b − ε∇U(b), 2ε I). Without the
        correction (unadjusted Langevin) a step too large for a sharp posterior sent the chains to infinity: the
        full profile's masked digits reached NaN. Corrected, such a step is refused and the chain waits.
        """
        def energy(z: Tensor) -> tuple[Tensor, Tensor]:
            z = z.detach().requires_grad_(True)
            u = self.map_objective(x, z, mask, noise)
            grad, = torch.autograd.grad(u.sum(), z)
            return u.detach(), grad

        z = z0.detach().clone()
        u, grad = energy(z)
        for _ in range(steps):
            xi = torch.randn(z.shape, generator=generator).to(z)
            proposal = z - step_size * grad + math.sqrt(2 * step_size) * xi
            u_new, grad_new = energy(proposal)
            log_q_forward = -(xi ** 2).sum(-1) / 2  # ‖z′ − z + ε∇U(z)‖² / 4ε with z′ − z + ε∇U(z) = √(2ε) ξ
            log_q_back = -((z - proposal + step_size * grad_new) ** 2).sum(-1) / (4 * step_size)
            log_alpha = u - u_new + log_q_back - log_q_forward
            u_accept = torch.rand(len(z), generator=generator).to(z).log()
            accept = torch.isfinite(log_alpha) & torch.isfinite(grad_new).all(-1) & (u_accept < log_alpha)
            z = torch.where(accept[:, None], proposal, z)
            u, grad = torch.where(accept, u_new, u), torch.where(accept[:, None], grad_new, grad)
        return z


def train_pae(build_ae: Callable[[], Autoencoder], x_train: Tensor, x_val: Tensor, *, ae_config: FitConfig,
              flow_config: FitConfig, layers: int = 6, hidden=(256, 256), name: str = "pae") -> PAE:
    """The PAE's three steps: the autoencoder ``build_ae()`` fitted to ``x_train``; a RealNVP of ``layers``
    couplings (a random permutation after each, and a fixed standardisation of the codes first) fitted to the
    training codes; σ from the reconstruction errors of ``x_val``. Each model is trained once, then loaded."""
    ae, _ = train_or_load(f"{name}-ae", build_ae, x_train, ae_config, desc=f"{name}: autoencoder")
    codes = batched(ae.encoder, x_train, 1000)
    k = codes.shape[1]

    def build_flow():
        shuffle = partial(Permutation.random, generator=torch.Generator().manual_seed(flow_config.seed))
        flow = realnvp(k, StandardNormal(k), layers=layers, hidden=hidden, permutation=shuffle)
        flow.transforms.insert(0, Standardize(codes.mean(0), codes.std(0) + 1e-6))
        return flow.to(codes.device)

    flow, _ = train_or_load(f"{name}-flow", build_flow, codes, flow_config, desc=f"{name}: latent flow, K={k}")
    return PAE(ae, flow, pixel_sigma(ae, x_val)).eval()
