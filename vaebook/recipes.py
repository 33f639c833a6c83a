"""The training set-ups that more than one chapter uses: a paper's model, and how the book trains it.

A recipe holds the settings (nets, optimiser, batch size, epochs); its ``train`` trains the model once and then
loads it (:func:`vaebook.train_or_load`). Two chapters that call the same recipe with the same settings and data get
the same model by construction: the cache key is derived from the model and its training, so chapter 8 finds the
models of chapters 1 and 5 without repeating their code.

:class:`VAERecipe` is the general one: nets, optimiser, batch size and epochs; what varies between a chapter's
models (likelihood, latent size, prior, posterior family, loss) is an argument of its ``train``. :class:`GreyVAE`
and :class:`ColourVAE` are the negative-sampling paper's set-ups (and Rosca et al.'s for colour),
:class:`PAERecipe` the Probabilistic Auto-Encoder's.

Each recipe's profile values (``EPOCHS``, ``N_TRAIN``, …) are dictionaries for :func:`vaebook.param` and
:func:`vaebook.pick`, so that a chapter's parameters cell can still set every one of them:

>>> epochs = vb.param("epochs", epochs, int, **GreyVAE.EPOCHS)
>>> recipe = GreyVAE.of(arch, epochs)
>>> vae, history = recipe.train(x, vb.Bernoulli(), latent_dim=10, seed=0)

Used in: every chapter that trains a VAE (1, 3–8); the colour recipes in chapters 1, 4 and 6.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
from torch import Tensor, nn

from .cache import cache_dir
from .distributions import StandardNormal
from .frechet import FeatureClassifier
from .nets import ConvDecoder, ConvEncoder, ConvNets, DCGANNets, MLPDecoder, MLPEncoder, MLPNets
from .pae import PAE, Autoencoder, train_pae
from .profiles import pick
from .train import FitConfig, train_or_load
from .vae import VAE, Decoder, Encoder

__all__ = ["VAERecipe", "GreyVAE", "ColourVAE", "PAERecipe", "train_classifier", "CLASSIFIER_EPOCHS"]


@dataclass(frozen=True)
class VAERecipe:
    """How a chapter trains its VAEs: encoder and decoder ``nets`` (a callable ``nets(latent_dim, outputs)`` that
    returns the two untrained nets, e.g. :class:`vaebook.MLPNets`), the ``optimizer`` (a partial of a
    ``torch.optim`` class), ``batch_size`` and ``epochs``. What varies between a chapter's models, the likelihood,
    latent size, prior, posterior family, loss and data, is passed to :meth:`train`."""
    nets: Callable[[int, int], tuple[nn.Module, nn.Module]]
    optimizer: Callable
    batch_size: int
    epochs: int

    def build(self, likelihood: nn.Module, latent_dim: int, *, prior: nn.Module | None = None,
              posterior: Callable[[nn.Module, int], nn.Module] | None = None) -> VAE:
        """The untrained VAE: q(z|x) is ``posterior(encoder_net, latent_dim)`` (default: a diagonal Gaussian,
        :class:`vaebook.Encoder`), p(x|z) the decoder net with ``likelihood``, p(z) ``prior`` (default: a standard
        normal). The VAE owns copies of ``likelihood`` and ``prior``, so that two VAEs built from them (a model and
        a copy of it kept during training) share no parameter."""
        enc, dec = self.nets(latent_dim, likelihood.decoder_outputs)
        q = Encoder(enc) if posterior is None else posterior(enc, latent_dim)
        p_z = copy.deepcopy(prior) if prior is not None else StandardNormal(latent_dim)
        return VAE(q, Decoder(dec, copy.deepcopy(likelihood)), p_z)

    def train(self, x: Tensor, likelihood: nn.Module, *, latent_dim: int, seed: int, prior: nn.Module | None = None,
              posterior: Callable[[nn.Module, int], nn.Module] | None = None, labels: Tensor | None = None,
              epochs: int | None = None, name: str = "vae", desc: str | None = None, **options) -> tuple[VAE, dict]:
        """``(vae, history)``: :meth:`build`'s VAE fitted to the images ``x`` (with their ``labels``, which a
        class-mixture prior's loss reads), for ``epochs`` (default: the recipe's), on ``x``'s device. ``name``
        labels its cache file and ``desc`` its progress bar; ``options`` go to :func:`vaebook.train_or_load`
        (``loss``, ``on_epoch``, ``keep``)."""
        def build():
            return self.build(likelihood, latent_dim, prior=prior, posterior=posterior).to(x.device)

        config = FitConfig(epochs=self.epochs if epochs is None else epochs, batch_size=self.batch_size,
                           optimizer=self.optimizer, seed=seed)
        return train_or_load(name, build, x if labels is None else (x, labels), config,
                             desc=desc or f"{likelihood!r}, D={latent_dim}", **options)


@dataclass(frozen=True)
class GreyVAE(VAERecipe):
    """The negative-sampling paper's VAE for 28×28 grey images, as chapter 1 trains it: :class:`vaebook.MLPNets`
    or the paper's convolutional :class:`vaebook.ConvNets` (App. K), a standard-normal prior unless one is given.
    Chapters 4 and 8 train theirs by it too."""

    ARCH = {"smoke": "mlp", "fast": "mlp", "full": "conv"}
    EPOCHS = {"smoke": 1, "fast": 10, "full": 100}
    N_TRAIN = {"smoke": 500, "fast": 10000, "full": 60000}  # training images (chapter 1: Fashion-MNIST)

    @classmethod
    def of(cls, arch: str, epochs: int) -> "GreyVAE":
        """The recipe with ``arch`` nets ("mlp" or "conv") trained for ``epochs``, with the current profile's optimiser
        and batch size: the paper trains with RMSProp (learning rate 1e-4, batch 50) for 100 epochs, as the full
        profile does; the other profiles use Adam (learning rate 1e-3, batch 64) to get there in 10 epochs on a
        CPU."""
        nets = {"mlp": MLPNets((512, 256)), "conv": ConvNets()}
        if arch not in nets:
            raise ValueError(f"GreyVAE.of: arch must be one of {list(nets)}, got {arch!r}")
        optimizer, batch_size = pick(None, smoke=(partial(torch.optim.Adam, lr=1e-3), 64),
                                     fast=(partial(torch.optim.Adam, lr=1e-3), 64),
                                     full=(partial(torch.optim.RMSprop, lr=1e-4), 50))
        return cls(nets[arch], optimizer, batch_size, epochs)

    @classmethod
    def for_profile(cls) -> "GreyVAE":
        """The recipe with the current profile's nets and epochs: chapter 1's main models."""
        return cls.of(pick(None, **cls.ARCH), pick(None, **cls.EPOCHS))


@dataclass(frozen=True)
class ColourVAE(VAERecipe):
    """A VAE for 32×32 colour images with the DCGAN-style nets of the negative-sampling paper
    (:class:`vaebook.DCGANNets`, App. A.2) and 100 latent dimensions, the size both colour set-ups use. Two papers
    train it differently, so two constructors: :meth:`negative_sampling` (chapters 1 and 4) and :meth:`rosca`
    (chapter 6)."""
    LATENT_DIM = 100

    @classmethod
    def negative_sampling(cls, epochs: int) -> "ColourVAE":
        """The negative-sampling paper's colour set-up (App. A.2): Adam, learning rate 1e-4, batch 50."""
        return cls(DCGANNets(), partial(torch.optim.Adam, lr=1e-4), 50, epochs)

    @classmethod
    def rosca(cls, epochs: int) -> "ColourVAE":
        """Rosca et al.'s CIFAR-10 training: Adam, learning rate 1e-3, β = (0.5, 0.9), batch 64."""
        return cls(DCGANNets(), partial(torch.optim.Adam, lr=1e-3, betas=(0.5, 0.9)), 64, epochs)

    def train(self, x: Tensor, likelihood: nn.Module, *, latent_dim: int = LATENT_DIM, **kwargs) -> tuple[VAE, dict]:
        """As :meth:`VAERecipe.train`, with 100 latent dimensions unless told otherwise."""
        return super().train(x, likelihood, latent_dim=latent_dim, **kwargs)


@dataclass(frozen=True)
class PAERecipe:
    """The Probabilistic Auto-Encoder as chapter 5 trains it: an autoencoder (``encoder`` and ``decoder`` "conv",
    Rosca et al.'s convolutional nets, or "mlp" with ``hidden`` units), then a RealNVP of ``layers`` couplings of
    ``flow_hidden`` units on its codes, then σ on validation images (:func:`vaebook.pae.train_pae`). The
    autoencoder trains with ``optimizer`` (Adam, learning rate 1e-3) and ``batch_size`` for ``ae_epochs``, the flow
    with Adam (learning rate 1e-3, batch 256) for ``flow_epochs``. The paper's autoencoder is convolutional; the fast
    profile keeps the convolutional encoder with an MLP decoder, because a training step with the convolutional
    decoder's transposed convolutions costs 2.6 to 2.9 times as much on a CPU (``bench/results/pae_decoder.json``);
    chapter 5 quotes seed runs of the chapter with ``decoder="conv"`` instead."""
    encoder: str
    decoder: str
    ae_epochs: int
    flow_epochs: int
    hidden: tuple[int, ...] = (512, 256)
    layers: int = 6
    flow_hidden: tuple[int, ...] = (256, 256)
    optimizer: Callable = partial(torch.optim.Adam, lr=1e-3)
    batch_size: int = 64

    ENCODER = {"smoke": "conv", "fast": "conv", "full": "conv"}
    DECODER = {"smoke": "mlp", "fast": "mlp", "full": "conv"}
    AE_EPOCHS = {"smoke": 1, "fast": 5, "full": 100}
    FLOW_EPOCHS = {"smoke": 1, "fast": 15, "full": 300}
    N_TRAIN = {"smoke": 600, "fast": 8000, "full": 60000}  # training images, the last N_VAL of them for σ
    N_VAL = {"smoke": 100, "fast": 1000, "full": 5000}

    def __post_init__(self):
        for part, value in (("encoder", self.encoder), ("decoder", self.decoder)):
            if value not in ("conv", "mlp"):
                raise ValueError(f"PAERecipe: {part} must be 'conv' or 'mlp', got {value!r}")

    @classmethod
    def for_profile(cls) -> "PAERecipe":
        """The recipe with the current profile's nets and epochs: chapter 5's models."""
        return cls(pick(None, **cls.ENCODER), pick(None, **cls.DECODER), pick(None, **cls.AE_EPOCHS),
                   pick(None, **cls.FLOW_EPOCHS))

    def encoder_net(self, k: int) -> nn.Module:
        """The untrained encoder net, images to ``k`` numbers."""
        return ConvEncoder(k) if self.encoder == "conv" else MLPEncoder((1, 28, 28), self.hidden, k)

    def decoder_net(self, k: int) -> nn.Module:
        """The untrained decoder net, ``k`` numbers to images."""
        return ConvDecoder(k) if self.decoder == "conv" else MLPDecoder(k, self.hidden[::-1], (1, 28, 28))

    def autoencoder(self, k: int) -> Autoencoder:
        """The untrained autoencoder with a ``k``-dimensional code."""
        return Autoencoder(self.encoder_net(k), self.decoder_net(k))

    def train(self, k: int, x_train: Tensor, x_val: Tensor, *, seed: int, name: str = "pae") -> tuple[PAE, bool]:
        """``(pae, trained)``: the PAE with a ``k``-dimensional code, and whether this call trained any of its models
        (False when all were loaded). ``name`` labels its cache files; a chapter that trains in parallel with others
        should give its own, so that the files it finds new are its own."""
        def files():  # the autoencoder's and the flow's checkpoints under this name (vaebook.pae.train_pae names them)
            return set(cache_dir().glob(f"{name}-ae-*.pt")) | set(cache_dir().glob(f"{name}-flow-*.pt"))

        before = files()
        pae = train_pae(lambda: self.autoencoder(k).to(x_train.device), x_train, x_val, name=name,
                        ae_config=FitConfig(epochs=self.ae_epochs, batch_size=self.batch_size, optimizer=self.optimizer,
                                            seed=seed),
                        flow_config=FitConfig(epochs=self.flow_epochs, batch_size=256, seed=seed),
                        layers=self.layers, hidden=self.flow_hidden)
        return pae, files() != before


CLASSIFIER_EPOCHS = {"smoke": 1, "fast": 5, "full": 20}


def train_classifier(x: Tensor, y: Tensor, *, epochs: int, seed: int, name: str = "classifier",
                     desc: str = "classifier") -> tuple[FeatureClassifier, dict]:
    """``(classifier, history)``: chapter 5's :class:`vaebook.frechet.FeatureClassifier` fitted to the images ``x``
    and their labels ``y`` (Adam, learning rate 1e-3, batch 128), for ``epochs``."""
    return train_or_load(name, lambda: FeatureClassifier().to(x.device), (x, y),
                         FitConfig(epochs=epochs, batch_size=128, seed=seed), desc=desc)
