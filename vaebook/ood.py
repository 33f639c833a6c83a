r"""The later fixes for likelihood-based OOD detection, as scores of the book's scoring API.

Each score is an object ``score(model, x) -> (B,)`` with a ``name`` that names its estimator, oriented like the
rest of the book (**higher means more likely OOD**), so it goes straight into :func:`vaebook.ood_scores`:

>>> from vaebook import ood
>>> s = vb.ood_scores(vae, x, [ood.LikelihoodRegret(), ood.LikelihoodRatio(background), ood.WAIC(others)])

* :class:`InputComplexity`: the model's code length of the 8-bit image minus a named lossless compressor's
  (:class:`PNG`, :class:`Zlib`, :class:`LZMA`), in bits/dim (Serrà et al., 2020);
* :class:`LikelihoodRegret`: how much the ELBO of one image improves when its posterior is re-optimised for it
  alone (Xiao, Yan & Amit, 2020);
* :class:`Perturbation` and :class:`LikelihoodRatio`: a background model trained on inputs with a fraction μ of
  their pixels replaced at random, and the log-likelihood ratio of the model to it (Ren et al., 2019);
* :class:`WAIC`: the mean over a small ensemble of log p(x) minus its variance (Choi, Jang & Alemi, 2018).

:data:`PUBLISHED` holds, for each paper, its Fashion-MNIST → MNIST AUROC with the table it comes from (or why none
is given) and how its set-up differs from the book's.

Used in: the OOD benchmark (chapter 8).
"""
from __future__ import annotations

import contextlib
import lzma
import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Independent, Normal

from .baselines import png_bits_per_dim
from .likelihoods import Categorical256, DiscretizedGaussian
from .papers import PAE_T2_QUOTED
from .scores import BitsPerDim
from .vae import kl

__all__ = ["PNG", "Zlib", "LZMA", "InputComplexity", "LikelihoodRegret", "Perturbation", "LikelihoodRatio", "WAIC",
           "PUBLISHED", "EIGHT_BIT_LIKELIHOODS"]

EIGHT_BIT_LIKELIHOODS = (DiscretizedGaussian, Categorical256)
"""Likelihoods whose ``log_prob`` is the probability of the 8-bit image: −log₂ of it is a code length."""


# ------------------------------------------------------------------------------------------------ compressors
def _levels(x: Tensor) -> Tensor:
    """The 8-bit grey levels of images in [0, 1], ``(B, C·H·W)`` bytes on the CPU."""
    return (x.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).flatten(1)


def _bits_per_dim(x: Tensor, compress: Callable[[bytes], bytes]) -> Tensor:
    levels = _levels(x)
    return torch.tensor([8.0 * len(compress(row.numpy().tobytes())) for row in levels]) / levels.shape[1]


@dataclass(frozen=True)
class PNG:
    """L(x)/D: the length of the image's lossless PNG file (maximum compression, headers included) in bits per
    pixel, from :func:`vaebook.baselines.png_bits_per_dim`. Grey images ``(B, 1, H, W)`` only."""
    name: str = "PNG"

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"PNG: expects grey images (B, 1, H, W), got {tuple(x.shape)}; use Zlib or LZMA")
        return png_bits_per_dim(x)


@dataclass(frozen=True)
class Zlib:
    """L(x)/D with DEFLATE (zlib's stream, 2-byte header and 4-byte checksum included) on the raw 8-bit pixels."""
    level: int = 9

    @property
    def name(self) -> str:
        return f"zlib (level {self.level})"

    def __call__(self, x: Tensor) -> Tensor:
        return _bits_per_dim(x, lambda b: zlib.compress(b, self.level))


@dataclass(frozen=True)
class LZMA:
    """L(x)/D with LZMA2 in its raw format (no container header) on the raw 8-bit pixels. The dictionary is
    ``dict_size`` bytes, not the preset's 64 MiB: an image is a few KiB, and setting up the preset's dictionary
    took 150 ms per image (0.2 ms with 64 KiB), for the same length."""
    preset: int = 9
    dict_size: int = 1 << 16

    @property
    def name(self) -> str:
        return f"LZMA2 (raw, preset {self.preset})"

    def __call__(self, x: Tensor) -> Tensor:
        filters = [{"id": lzma.FILTER_LZMA2, "preset": self.preset, "dict_size": self.dict_size}]
        return _bits_per_dim(x, lambda b: lzma.compress(b, format=lzma.FORMAT_RAW, filters=filters))


# ------------------------------------------------------------------------------------------------ input complexity
def _likelihood(model: nn.Module) -> nn.Module | None:
    decoder = getattr(model, "decoder", None)
    return getattr(decoder, "likelihood", None)


@dataclass(frozen=True)
class InputComplexity:
    r"""S(x) = ℓ_M(x)/D − L(x)/D (Serrà et al., 2020, in bits/dim): the model's code length of the 8-bit
    image beyond what a generic lossless ``compressor`` needs for it.

    ℓ_M(x) = −log₂ P(x) is a code length only when P is a probability of the 8-bit image: the model's
    likelihood must be one of :data:`EIGHT_BIT_LIKELIHOODS` (a Bernoulli on grey levels is not normalised over
    the 256 levels, a Gaussian is a density; both are refused). ``bits`` estimates it: the ELBO
    (``vb.BitsPerDim()``), an upper bound on −log₂ P(x)/D and, by bits-back coding, a code length itself; or the
    tighter IWAE bound (``vb.BitsPerDim(k=…)``). The name says both: ``"input complexity (bits/dim (ELBO) − PNG)"``.
    """
    compressor: Callable[[Tensor], Tensor] = PNG()
    bits: Callable[[nn.Module, Tensor], Tensor] = BitsPerDim()

    @property
    def name(self) -> str:
        return f"input complexity ({self.bits.name} − {self.compressor.name})"

    def __call__(self, model: nn.Module, x: Tensor) -> Tensor:
        if not isinstance(_likelihood(model), EIGHT_BIT_LIKELIHOODS):
            raise TypeError(f"InputComplexity needs a model whose likelihood is a probability of the 8-bit image "
                            f"({', '.join(c.__name__ for c in EIGHT_BIT_LIKELIHOODS)}), not "
                            f"{type(_likelihood(model)).__name__}: its bits/dim are no code length "
                            f"(vaebook.baselines.input_complexity keeps the old, unlike-for-like score)")
        return self.bits(model, x).cpu() - self.compressor(x)


# ------------------------------------------------------------------------------------------------ likelihood regret
def _log_px(model: nn.Module, x: Tensor, z: Tensor, decode_block: int = 4000) -> Tensor:
    """log p(x|z) for draws ``z`` ``(S, B, D)``: ``(S, B)``, the decoder seeing at most ``decode_block`` images."""
    per_block = max(1, decode_block // len(x))
    out = []
    for zs in z.split(per_block):                                                   # (s, B, D)
        p_x = model.decoder(zs.flatten(0, 1))
        out.append(p_x.log_prob(x.repeat(len(zs), *[1] * (x.ndim - 1))).view(zs.shape[:2]))
    return torch.cat(out)


def _elbo(model: nn.Module, x: Tensor, loc: Tensor, log_scale: Tensor, eps: Tensor) -> Tensor:
    """ELBO(x) under q(z) = N(loc, diag exp(log_scale)²) ``(B, D)``, averaged over the standard-normal draws
    ``eps`` ``(S, 1, D)`` (shared by the images), the KL analytic where torch knows it: ``(B,)``."""
    q_z = Independent(Normal(loc, log_scale.exp()), 1)
    z = loc + log_scale.exp() * eps                                                 # (S, B, D)
    return _log_px(model, x, z).mean(0) - kl(q_z, model.prior(), z=z)


@dataclass(frozen=True)
class LikelihoodRegret:
    r"""Likelihood Regret (Xiao, Yan & Amit, NeurIPS 2020): how much the ELBO of one image improves when
    q(z|x) is fitted to that image alone, the decoder and the prior frozen, in nats:

    .. math:: \mathrm{LR}(x) = \mathrm{ELBO}(x; \hat\mu(x), \hat\sigma(x)) - \mathrm{ELBO}(x; \mu(x), \sigma(x)),

    (μ, σ) the encoder's posterior and (μ̂, σ̂) the result of ``steps`` Adam steps (learning rate ``lr``) on the
    image's own −ELBO, starting from (μ, σ). An image like the training data gains little: the encoder already
    gives it a good posterior. An image the encoder never learned to encode gains more.

    *What is re-optimised.* The paper re-optimises a copy of the whole encoder per image (its code: Adam, learning
    rate 2·10⁻⁴, 100 steps, one image at a time). Here the posterior's parameters themselves, the mean and the
    log-scale of each image, are optimised: the family q is the same, so at the optimum the re-fitted ELBO is at
    least the paper's (an encoder can only reach posteriors of this family), no per-image copy of the encoder is made, a step costs
    one decoder pass instead of an encoder and a decoder pass, and a whole batch is one problem: the loss is the
    sum of the per-image −ELBOs, whose gradient for one image's parameters is that image's own, and Adam acts per
    coordinate, so a batch gives each image what it would get alone.

    *Noise.* Each step uses ``train_samples`` posterior draws (Adam moves every coordinate by about ``lr`` whatever
    its gradient's size, so a one-draw gradient's noise moves it too: on the fast profile's Bernoulli VAE, one
    draw left 13 % of the images with a negative regret, down to −4 nats; four draws 2 %, down to −0.7 nats,
    against regrets of about 2 nats for Fashion-MNIST and 15 for MNIST). The ELBO before and after is averaged over
    ``samples`` draws. All are standard-normal noise ε drawn from a generator seeded with ``seed`` and shared by
    every image of a call (z = μ + σ ε): an image's regret is the same in any batch, the before and after share
    their draws (common random numbers, so their difference has little Monte-Carlo noise), and the score is a
    function of the image. The posterior must be a diagonal Gaussian (``vb.Encoder``); a mixture prior's KL is
    estimated on the same draws.

    Used in: chapter 8.
    """
    steps: int = 20
    lr: float = 0.05
    samples: int = 16
    train_samples: int = 4
    seed: int = 0

    def __post_init__(self):
        if self.steps < 0 or self.samples < 1 or self.train_samples < 1 or not self.lr > 0:
            raise ValueError(f"LikelihoodRegret: need steps >= 0, samples >= 1, train_samples >= 1 and lr > 0, got "
                             f"{self.steps}, {self.samples}, {self.train_samples}, {self.lr}")

    @property
    def name(self) -> str:
        return f"likelihood regret (nats, {self.steps} Adam steps on q(z|x))"

    def __call__(self, model: nn.Module, x: Tensor) -> Tensor:
        return self.fit(model, x)[0]

    def fit(self, model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(regret, elbo_before, elbo_after)``, each ``(B,)`` on the CPU."""
        q_z = model.encoder(x)
        if not (isinstance(q_z, Independent) and isinstance(q_z.base_dist, Normal)):
            raise TypeError(f"LikelihoodRegret re-optimises a diagonal Gaussian posterior; the encoder gives a "
                            f"{type(q_z).__name__}")
        loc0, log_scale0 = q_z.base_dist.loc.detach(), q_z.base_dist.scale.detach().log()   # (B, D)
        g = torch.Generator().manual_seed(self.seed)
        d = loc0.shape[-1]
        eps = torch.randn(self.samples, 1, d, generator=g).to(loc0)                          # (S, 1, D)
        eps_steps = torch.randn(self.steps, self.train_samples, 1, d, generator=g).to(loc0)  # (T, S', 1, D)
        loc, log_scale = loc0.clone().requires_grad_(), log_scale0.clone().requires_grad_()
        opt = torch.optim.Adam([loc, log_scale], lr=self.lr)
        with torch.enable_grad():  # vb.ood_scores runs its scores under no_grad
            for e in eps_steps:
                loss = -_elbo(model, x, loc, log_scale, e).sum()  # image i's gradient is its own −ELBO's
                loc.grad, log_scale.grad = torch.autograd.grad(loss, [loc, log_scale])  # the model's .grad untouched
                opt.step()
        with torch.no_grad():
            before = _elbo(model, x, loc0, log_scale0, eps)
            after = _elbo(model, x, loc.detach(), log_scale.detach(), eps)
        return (after - before).cpu(), before.cpu(), after.cpu()


# ------------------------------------------------------------------------------------------------ likelihood ratio
@dataclass(frozen=True)
class Perturbation:
    """Ren et al.'s (2019) input perturbation for training a background model: each pixel is replaced,
    independently with probability ``rate`` (μ), by a grey level drawn uniformly from the 256 of 8 bits.

    With a ``seed`` the perturbation is a fixed function of its input (the same draws on every call: a perturbed
    training *set*, whose content keys the trained model in the cache); with ``seed=None`` it draws from torch's
    global generator, fresh noise on every call, to perturb each minibatch inside a training loss (the paper's
    way; ``vb.train_or_load`` seeds that generator). The authors' image code trains background models with μ of
    0.1, 0.2 and 0.3 (google-research, genomics_ood/images_ood/README.md)."""
    rate: float
    seed: int | None = 0

    def __post_init__(self):
        if not 0 <= self.rate <= 1:
            raise ValueError(f"Perturbation: rate must be in [0, 1], got {self.rate}")

    def __call__(self, x: Tensor) -> Tensor:
        g = None if self.seed is None else torch.Generator().manual_seed(self.seed)
        device = None if g is not None else x.device
        replace = torch.rand(x.shape, generator=g, device=device).to(x.device) < self.rate
        levels = torch.randint(0, 256, x.shape, generator=g, device=device).to(x) / 255
        return torch.where(replace, levels, x)


@dataclass(frozen=True, eq=False)
class LikelihoodRatio:
    r"""Minus the log-likelihood ratio of Ren et al. (NeurIPS 2019) per dimension, in bits:

    .. math:: -\mathrm{LLR}(x)/(D \ln 2) = \mathrm{bpd}_\theta(x) - \mathrm{bpd}_{\theta_0}(x),

    θ the scored model and θ₀ the ``background`` model, trained with the same recipe on inputs perturbed by
    :class:`Perturbation`. The background model learns what every image shares (the statistics of grey levels and
    their neighbours), so the ratio keeps what is particular to the training data; the minus sign makes higher
    mean more OOD. Both models are scored by the same estimator ``bits`` and must have the same likelihood class:
    a ratio of a probability to a density would compare nothing."""
    background: nn.Module
    bits: Callable[[nn.Module, Tensor], Tensor] = BitsPerDim()

    @property
    def name(self) -> str:
        return f"likelihood ratio ({self.bits.name}, model − background)"

    def __call__(self, model: nn.Module, x: Tensor) -> Tensor:
        if type(_likelihood(model)) is not type(_likelihood(self.background)):
            raise TypeError(f"LikelihoodRatio: the model's likelihood ({type(_likelihood(model)).__name__}) and the "
                            f"background's ({type(_likelihood(self.background)).__name__}) must be the same")
        return self.bits(model, x).cpu() - self.bits(self.background, x).cpu()


# ------------------------------------------------------------------------------------------------ WAIC
@contextlib.contextmanager
def _seeded(seed: int | None, device: torch.device):
    """Torch's generator seeded with ``seed`` inside (nothing when None), the caller's state given back after."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@dataclass(frozen=True, eq=False)
class WAIC:
    r"""Minus the WAIC of Choi, Jang & Alemi (2018) over an ensemble, in nats:

    .. math:: -\mathrm{WAIC}(x) = \mathrm{Var}_\theta[\log p_\theta(x)] - \mathbb{E}_\theta[\log p_\theta(x)],

    the ensemble being the scored model and the ``members`` (the same recipe, other seeds). An input the members
    disagree on scores higher than its mean log-likelihood alone says. The variance is the unbiased one over the
    M members. log p(x) is the ELBO (``k == 1``) or the IWAE bound with ``k`` samples, in nats (the units
    matter: the variance scales with their square). With a ``seed``, every member's estimate uses the same random
    draws, so that the variance measures the members' disagreement more than their independent Monte-Carlo noise.
    """
    members: Sequence[nn.Module]
    k: int = 1
    seed: int | None = 0

    def __post_init__(self):
        if len(self.members) < 1 or self.k < 1:
            raise ValueError(f"WAIC: needs at least one other member and k >= 1, got {len(self.members)}, {self.k}")

    @property
    def name(self) -> str:
        estimator = "ELBO" if self.k == 1 else f"IWAE, k = {self.k}"
        return f"−WAIC (nats, {estimator}, ensemble of {len(self.members) + 1})"

    def log_px(self, model: nn.Module, x: Tensor) -> Tensor:
        """log p(x) of each member, the scored ``model`` first: ``(M, B)`` on the CPU."""
        def one(m: nn.Module) -> Tensor:
            with _seeded(self.seed, x.device), torch.no_grad():
                return (m.elbo(x) if self.k == 1 else m.log_likelihood(x, k=self.k, chunk=min(self.k, 50))).cpu()
        return torch.stack([one(m) for m in (model, *self.members)])

    def __call__(self, model: nn.Module, x: Tensor) -> Tensor:
        log_px = self.log_px(model, x)
        return log_px.var(0) - log_px.mean(0)


# ------------------------------------------------------------------------------------------------ the papers' numbers
_NOT_READ = ("no published number: the paper's results tables were not reachable offline when this module was "
             "written (only its opening pages), and no paper in ../shared/papers quotes one for this pair")
_PAE_T2 = "the PAE paper's Table 2 (Böhm & Seljak 2020, in ../shared/papers), which quotes it"
PUBLISHED: dict[str, dict] = {
    "input complexity": {
        "paper": "Serrà et al., Input complexity and out-of-distribution detection with likelihood-based generative "
                 "models, ICLR 2020",
        "auroc": None, "table": None, "note": _NOT_READ,
        "setup": "the paper's own generative models (Glow, PixelCNN++) and compressors; here a small MLP VAE with an "
                 "8-bit likelihood (vb.DiscretizedGaussian) and PNG"},
    "likelihood regret": {
        "paper": "Xiao, Yan & Amit, Likelihood Regret: an out-of-distribution detection score for variational "
                 "auto-encoder, NeurIPS 2020",
        "auroc": None, "table": None, "note": _NOT_READ,
        "setup": "authors' code (XavierXiao/Likelihood-Regret, compute_LR.py): a DCGAN-style conv VAE, latent 100, "
                 "256-way categorical pixels, images resized to 32×32; a copy of the encoder re-optimised per image "
                 "(Adam, lr 2e-4, 100 steps, weight decay 5e-5), NLL by IWAE with 1000 samples, 500 test images per "
                 "set. Here: a Bernoulli MLP VAE, the posterior re-optimised (20 steps), the ELBO with 16 draws"},
    "likelihood ratio": {
        "paper": "Ren et al., Likelihood ratios for out-of-distribution detection, NeurIPS 2019",
        "auroc": PAE_T2_QUOTED["likelihood ratio"]["MNIST"], "table": _PAE_T2, "note": "",
        "setup": "PixelCNN foreground and background models on the whole test sets; the background's mutation rate "
                 "(0.1-0.3) and L2 weight (0, 10 or 100) chosen by the AUROC against NotMNIST, an OOD set "
                 "(google-research/google-research, genomics_ood/images_ood). Here: Bernoulli MLP VAEs of chapter "
                 "1's recipe, μ fixed in advance, no L2 term"},
    "WAIC": {
        "paper": "Choi, Jang & Alemi, WAIC, but why? Generative ensembles for robust anomaly detection, 2018",
        "auroc": PAE_T2_QUOTED["WAIC"]["MNIST"], "table": _PAE_T2, "note": "",
        "setup": "an ensemble of independently trained generative models, scored by WAIC; not run here: two more "
                 "VAEs do not fit the chapter's time budget"},
}
"""Each method's published Fashion-MNIST → MNIST AUROC with its table (``auroc``, ``table``), how the paper's set-up
differs from the book's (``setup``), and, where no number is given, why (``note``)."""
