r"""Several small models of one architecture trained as one batched model: seeds (runs) of a chapter's VAE.

A VAE on 28×28 images is too small to keep a GPU busy: one training step is a few hundred kernel launches of a few
microseconds each. Stacking ``K`` models' parameters along a new leading dimension
(:func:`torch.func.stack_module_state`) and mapping one model's loss over it (:func:`torch.func.vmap` of
:func:`torch.func.functional_call`) makes the ``K`` steps one step of the same number of launches, each ``K`` times
wider: the linear layers become batched products, the convolutions grouped ones. Adam and RMSprop act on each
number by itself, so one optimiser over the stacked tensors takes the ``K`` models' steps exactly.

What :func:`fit_batched` keeps from :func:`vaebook.fit`, so that a batched run is the same computation as ``K``
calls of ``fit`` (``tests/test_batched.py`` checks it on the CPU, to float rounding):

* each model its own minibatch order, ``torch.randperm(n, generator=Generator().manual_seed(seed))`` per epoch;
* each model its own random numbers, in the order its loss draws them: a :class:`Recipe` states them
  (:meth:`Recipe.draws`) and takes them as inputs (:meth:`Recipe.loss`). With ``noise="exact"`` (the default on a
  CPU) they are drawn from ``Generator().manual_seed(seed)``, the stream :func:`vaebook.train_or_load` seeds
  before ``fit``, so the draws are the same numbers; ``noise="device"`` (the default on a GPU) draws all models'
  at once on the device: the same distribution, other numbers;
* the loss of each epoch, the mean over the examples it saw, and a NaN check kept on the device.

What it adds, for a GPU: the whole dataset stays on the device and each step gathers its minibatches by index (no
data loader), and optionally TF32 products (``tf32``), a CUDA graph of the whole step (``graphs``: one launch
replays the forward, backward and optimiser step) and :func:`torch.compile` (``compile``). The last two apply on
CUDA only and fall back to the plain step, with a warning, where they fail; :class:`BatchedHistory` says what ran.

Models are batched when they have the same ``repr`` (the same nets, likelihood and prior) and the same
:class:`Recipe`. Two likelihoods or an adversarial and a plain encoder (spectral normalisation adds parameters)
are two groups.

Not ``vaebook/batched.py``: ``vb.batched`` is :func:`vaebook.metrics.batched`, and importing a submodule of that name
would replace it in the package.

Used in: :mod:`vaebook.paper_scale` (chapters 1, 4, 6 and 7 at the paper's scale), ``bench/gpu_step.py``.
"""
from __future__ import annotations

import contextlib
import copy
import time
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn.utils import parametrizations

from . import negative as neg
from .train import FitConfig, _fused, _one_thread, _own_random_state
from .vae import VAE, kl

__all__ = ["Draw", "Recipe", "ELBO", "Negatives", "AdversarialNegatives", "recipe_for", "elbo_given",
           "BatchedHistory", "fit_batched", "train_batched", "same_architecture"]


# ------------------------------------------------------------------------------------------------ recipes
@dataclass(frozen=True)
class Draw:
    """One random tensor a loss draws per step: ``kind`` ``"normal"``, ``"uniform"`` or ``"randint"`` (below ``high``)."""
    kind: str
    shape: tuple[int, ...]
    high: int = 0

    def sample(self, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
        """This draw from ``generator`` on the CPU: the numbers ``torch.randn``/``rand``/``randint`` (and so
        ``rsample``, ``rand_like``, …) give on the global generator in the same state, for a model of ``dtype``."""
        if self.kind == "normal":
            return torch.randn(self.shape, generator=generator, dtype=dtype)
        if self.kind == "uniform":
            return torch.rand(self.shape, generator=generator, dtype=dtype)
        return torch.randint(self.high, self.shape, generator=generator)

    def sample_many(self, k: int, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
        """``k`` models' draws at once on ``device`` (its own generator): ``(k, *shape)``."""
        shape = (k, *self.shape)
        if self.kind == "normal":
            return torch.randn(shape, device=device, dtype=dtype)
        if self.kind == "uniform":
            return torch.rand(shape, device=device, dtype=dtype)
        return torch.randint(self.high, shape, device=device)


def elbo_given(vae: VAE, x: Tensor, eps: Tensor, beta: float = 1.0) -> Tensor:
    """:meth:`vaebook.VAE.elbo` with its posterior draw given: z = μ(x) + ε·σ(x), the z that ``q_z.rsample()`` makes
    from the same ε. ``(B,)``."""
    q_z = vae.encoder(x)
    z = q_z.base_dist.loc + eps * q_z.base_dist.scale
    return vae.decoder(z).log_prob(x) - beta * kl(q_z, vae.prior(), z=z[None])


class Recipe:
    """How a model is trained, with its randomness as inputs: :meth:`draws` lists the random tensors one step
    draws, in the order the model's own loss draws them; :meth:`loss` is that loss as a function of the batch and
    those tensors (no random numbers inside, so that it can be mapped over models)."""

    def draws(self, model: nn.Module, x_shape: tuple[int, ...]) -> list[Draw]:
        raise NotImplementedError

    def loss(self, model: nn.Module, x: Tensor, *noise: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ELBO(Recipe):
    """:meth:`vaebook.VAE.loss`: the mean of −ELBO over the batch (``beta`` weights the KL)."""

    def __init__(self, beta: float = 1.0):
        self.beta = beta

    def __repr__(self) -> str:
        return f"ELBO(beta={self.beta:g})"

    def draws(self, model: VAE, x_shape) -> list[Draw]:
        return [Draw("normal", (x_shape[0], model.latent_dim))]

    def loss(self, model: VAE, x: Tensor, eps: Tensor) -> Tensor:
        return -elbo_given(model, x, eps, self.beta).mean()


class Negatives(Recipe):
    """:func:`vaebook.negative.negative_sampling_loss` (eq. 1) with negatives from a
    :class:`~vaebook.negative.Auxiliary`, :class:`~vaebook.negative.UniformNoise`,
    :class:`~vaebook.negative.GaussianNoise` or :class:`~vaebook.negative.ModelSamples` source. An auxiliary
    source's images are drawn from each model's stream, as with ``generator=None`` (chapter 4's)."""

    def __init__(self, source: neg.Source, negative_prior: nn.Module):
        if not isinstance(source, (neg.Auxiliary, neg.UniformNoise, neg.GaussianNoise, neg.ModelSamples)):
            raise TypeError(f"Negatives: no batched form of the source {source!r}")
        self.source, self.negative_prior = source, negative_prior

    def __repr__(self) -> str:
        return f"Negatives({self.source!r}, {self.negative_prior!r})"

    def draws(self, model: VAE, x_shape) -> list[Draw]:
        b, s = x_shape[0], self.source
        first = (Draw("randint", (b,), len(s.images)) if isinstance(s, neg.Auxiliary) else
                 Draw("uniform", tuple(x_shape)) if isinstance(s, neg.UniformNoise) else
                 Draw("normal", tuple(x_shape)) if isinstance(s, neg.GaussianNoise) else
                 Draw("normal", (b, model.latent_dim)))                                   # ModelSamples: z ~ p(z)
        return [first, Draw("normal", (b, model.latent_dim))]

    def _negatives(self, model: VAE, x: Tensor, r: Tensor) -> Tensor:
        s = self.source
        if isinstance(s, neg.Auxiliary):
            return s.images[r]
        if isinstance(s, neg.UniformNoise):
            return r
        if isinstance(s, neg.GaussianNoise):
            return (x + s.sigma * r).clamp(0, 1)
        p_z = model.prior()
        return model.decoder(p_z.base_dist.loc + r * p_z.base_dist.scale).mean.detach()

    def loss(self, model: VAE, x: Tensor, r: Tensor, eps: Tensor) -> Tensor:
        x_neg = self._negatives(model, x, r)
        return -elbo_given(model, x, eps).mean() + neg.negative_kl(model, x_neg, self.negative_prior).mean()


class AdversarialNegatives(Recipe):
    """:func:`vaebook.negative.adversarial_loss`: the generator's samples x̂ = mean of p(x|z), z ~ p(z), as
    negatives for the encoder, and KL[q(z|x̂) ‖ p(z)] for the generator alone, through the encoder with its
    parameters held constant (:func:`vaebook.negative.frozen`). The encoder is called in the same order (ELBO,
    negatives, generator term), so that its spectral normalisation takes the same power iterations."""

    def __init__(self, negative_prior: nn.Module):
        self.negative_prior = negative_prior

    def __repr__(self) -> str:
        return f"AdversarialNegatives({self.negative_prior!r})"

    def draws(self, model: VAE, x_shape) -> list[Draw]:
        b, d = x_shape[0], model.latent_dim
        return [Draw("normal", (b, d)), Draw("normal", (b, d))]                       # z ~ p(z), then the ELBO's ε

    def loss(self, model: VAE, x: Tensor, z0: Tensor, eps: Tensor) -> Tensor:
        p_z = model.prior()
        x_gen = model.decoder(p_z.base_dist.loc + z0 * p_z.base_dist.scale).mean
        rest = -elbo_given(model, x, eps).mean() + neg.negative_kl(model, x_gen.detach(), self.negative_prior).mean()
        encoder = model.encoder
        constant = {k: v.detach() for k, v in encoder.named_parameters()}
        q_gen = functional_call(encoder, (constant, dict(encoder.named_buffers())), (x_gen,))
        return rest + kl(q_gen, p_z).mean()


def recipe_for(source: neg.Source | None, negative_prior: nn.Module | None = None) -> Recipe:
    """The recipe of :func:`vaebook.negative.training_loss`: :class:`ELBO` for ``None`` (the baseline),
    :class:`AdversarialNegatives` for :class:`~vaebook.negative.Adversarial`, else :class:`Negatives`."""
    if source is None:
        return ELBO()
    if isinstance(source, neg.Adversarial):
        return AdversarialNegatives(negative_prior)
    return Negatives(source, negative_prior)


# ------------------------------------------------------------------------------------------------ training
@dataclass
class BatchedHistory:
    """What :func:`fit_batched` did: ``loss[k]`` the mean loss of each epoch of model ``k`` (as :func:`vaebook.fit`
    returns), ``seconds``, ``steps`` (optimiser steps, each of all models) and ``settings``: the device, noise,
    TF32, CUDA graph and compile settings that actually ran (a failed graph or compile says why)."""
    loss: list[list[float]]
    seconds: float = 0.0
    steps: int = 0
    settings: dict = field(default_factory=dict)


class _VmapSpectralNorm(parametrizations._SpectralNorm):
    """torch's spectral normalisation, its power iteration written without ``out=`` (which ``vmap`` cannot map):
    the same operations, the vectors copied back into the buffers."""

    @torch.no_grad()
    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        u, v = self._u, self._v
        for _ in range(n_power_iterations):
            u = F.normalize(torch.mv(weight_mat, v), dim=0, eps=self.eps)
            v = F.normalize(torch.mv(weight_mat.H, u), dim=0, eps=self.eps)
        self._u.copy_(u)
        self._v.copy_(v)


class _Loss(nn.Module):
    """``forward(x, *noise)``: the recipe's loss of ``model``; the module :func:`functional_call` maps over models."""

    def __init__(self, model: nn.Module, recipe: Recipe):
        super().__init__()
        self.model, self.recipe = model, recipe

    def forward(self, x: Tensor, *noise: Tensor) -> Tensor:
        return self.recipe.loss(self.model, x, *noise)


def same_architecture(models: Sequence[nn.Module]) -> bool:
    """Whether ``models`` can be batched: the same ``repr`` (nets, likelihood, prior and their settings) and the same
    parameter and buffer names and shapes."""
    def shapes(m):
        return [(k, tuple(v.shape), v.dtype) for k, v in [*m.named_parameters(), *m.named_buffers()]]
    return all(repr(m) == repr(models[0]) and shapes(m) == shapes(models[0]) for m in models)


@contextlib.contextmanager
def _settings(tf32: bool | None):
    """Distribution argument checks off (a check is a data-dependent branch, which ``vmap`` cannot map; on a GPU
    each is also a host sync), and TF32 products on (True), off (False) or as torch has them (None); undone after."""
    validate = torch.distributions.Distribution._validate_args
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.distributions.Distribution.set_default_validate_args(False)
    if tf32 is not None:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.distributions.Distribution.set_default_validate_args(validate)
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def _capturable(optimizer: Callable) -> Callable:
    """``optimizer`` able to run inside a CUDA graph (its step count kept on the device)."""
    return partial(optimizer, capturable=True)


class _Step:
    """One training step of all models: the minibatch gathered by index on the device, the noise drawn, the
    losses ``(K,)`` computed, backward, optimiser step. With a CUDA graph, full-size steps replay the captured
    graph after three plain steps (warm-up: cuDNN's choices, the allocator), from static index and noise buffers."""

    def __init__(self, loss_fn, params, buffers, opt, data, draws, noise, generators, k, batch_size, graphs):
        self.loss_fn, self.params, self.buffers, self.opt, self.data = loss_fn, params, buffers, opt, data
        self.draws, self.noise, self.generators, self.k, self.batch_size = draws, noise, generators, k, batch_size
        self.graphs, self.graph, self.plain_steps, self.why = graphs, None, 0, None

    def _noise(self, b: int) -> list[Tensor]:
        device, dtype = self.data.device, self.data.dtype
        if self.noise == "exact":
            return [torch.stack([d.sample(g, dtype) for g in self.generators]).to(device, non_blocking=True)
                    for d in self.draws(b)]
        return [d.sample_many(self.k, device, dtype) for d in self.draws(b)]

    def _body(self, idx: Tensor, noise: list[Tensor] | None) -> Tensor:
        x = self.data[idx]                                                               # (K, B, C, H, W)
        noise = self._noise(idx.shape[1]) if noise is None else noise
        losses = self.loss_fn(self.params, self.buffers, x, *noise)                       # (K,)
        losses.sum().backward()
        self.opt.step()
        return losses.detach()

    def __call__(self, idx: Tensor) -> Tensor:
        full = idx.shape[1] == self.batch_size
        if not (self.graphs and full):
            self.opt.zero_grad(set_to_none=self.graph is None)  # a captured graph keeps writing into its gradients
            return self._body(idx, None)
        if self.graph is None and self.plain_steps < 3:
            self.plain_steps += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.opt.zero_grad(set_to_none=True)
                out = self._body(idx, None)
            torch.cuda.current_stream().wait_stream(side)
            return out
        if self.graph is None:
            self._capture(idx)
        self.static_idx.copy_(idx)
        if self.noise == "exact":
            for buf, fresh in zip(self.static_noise, self._noise(self.batch_size)):
                buf.copy_(fresh)
        self.graph.replay()
        return self.static_losses.clone()

    def _capture(self, idx: Tensor) -> None:
        self.static_idx = idx.clone()
        self.static_noise = self._noise(self.batch_size) if self.noise == "exact" else None
        self.opt.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_losses = self._body(self.static_idx, self.static_noise)


def fit_batched(models: Sequence[nn.Module], recipe: Recipe, data: Tensor, *, epochs: int, batch_size: int,
                seeds: Sequence[int], optimizer: Callable = partial(torch.optim.Adam, lr=1e-3),
                noise: str | None = None, tf32: bool | None = None, graphs: bool = False, compile: bool = False,
                max_batches: int | None = None, check_every: int | None = None,
                deadline: float | None = None) -> BatchedHistory:
    """Train ``models`` (the same architecture, one seed each) together by ``recipe`` on ``data`` (a tensor on the
    models' device), as :func:`vaebook.fit` trains each alone; their weights are updated in place.

    ``seeds[k]`` seeds model ``k``'s minibatch order and, with ``noise="exact"``, its random numbers (the streams
    :func:`vaebook.train_or_load` seeds). ``noise``: ``"exact"`` or ``"device"`` (None: exact on a CPU, device
    elsewhere). ``tf32``: TF32 matrix products on, off, or torch's setting (None). ``graphs``, ``compile``: a CUDA
    graph of the whole step, :func:`torch.compile` of the losses, CUDA only. ``max_batches`` cuts every epoch as in
    :func:`vaebook.fit`. ``deadline`` (a :func:`time.monotonic` time): a :class:`TimeoutError` at the first epoch's
    end past it. The NaN check is read every ``check_every`` steps (1 on a CPU, 100 elsewhere).
    """
    models = list(models)
    k, n = len(models), len(data)
    if k == 0 or len(seeds) != k:
        raise ValueError(f"fit_batched: need one seed per model, got {k} models and {len(seeds)} seeds")
    if not same_architecture(models):
        raise ValueError("fit_batched: the models differ (repr, parameter names or shapes); batch only models of one "
                         "architecture, likelihood and prior")
    if epochs < 0 or batch_size < 1 or n == 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1 and data, got {epochs}, {batch_size}, {n} examples")
    device = data.device
    cuda = device.type == "cuda"
    noise = noise or ("exact" if device.type == "cpu" else "device")
    if noise not in ("exact", "device"):
        raise ValueError(f"noise must be 'exact' or 'device', not {noise!r}")
    check_every = check_every or (1 if device.type == "cpu" else 100)
    settings = {"device": str(device), "models": k, "noise": noise, "tf32": tf32, "graphs": graphs and cuda,
                "compile": compile and cuda}
    for asked, on in (("graphs", graphs), ("compile", compile)):
        if on and not cuda:
            settings[f"{asked}_why_not"] = "CUDA only"

    template = copy.deepcopy(models[0])
    for m in template.modules():
        if type(m) is parametrizations._SpectralNorm:
            m.__class__ = _VmapSpectralNorm
    wrapper = _Loss(template, recipe)
    params, buffers = stack_module_state(models)                       # (K, ...) leaves, requires_grad as the models'
    params = {f"model.{name}": p for name, p in params.items()}
    buffers = {f"model.{name}": b for name, b in buffers.items()}

    def one(p, b, x, *noise_k):
        return functional_call(wrapper, (p, b), (x, *noise_k))

    loss_fn = vmap(one, randomness="error")
    if compile and cuda:
        loss_fn = torch.compile(loss_fn)
    opt = None
    if graphs and cuda:
        try:
            opt = _fused(_capturable(optimizer), device)(list(params.values()))
        except (TypeError, ValueError, RuntimeError) as e:  # an optimiser that cannot run inside a graph
            graphs = False
            settings.update(graphs=False, graphs_why_not=f"optimiser: {type(e).__name__}: {e}"[:300])
    opt = opt or _fused(optimizer, device)(list(params.values()))
    orders = [torch.Generator().manual_seed(int(s)) for s in seeds]
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds] if noise == "exact" else None
    x_shape = tuple(data.shape[1:])
    step = _Step(loss_fn, params, buffers, opt, data, lambda b: recipe.draws(template, (b, *x_shape)), noise,
                 generators, k, batch_size, graphs and cuda)

    per_epoch = -(-n // batch_size) if max_batches is None else min(-(-n // batch_size), max_batches)
    last = min(n, per_epoch * batch_size)
    first_bad = torch.full((k,), -1, dtype=torch.long, device=device)
    history, steps, started = [[] for _ in range(k)], 0, time.perf_counter()
    with _settings(tf32):
        for epoch in range(epochs):
            order = torch.stack([torch.randperm(n, generator=g) for g in orders]).to(device, non_blocking=True)
            total = torch.zeros(k, device=device)
            for start in range(0, last, batch_size):
                idx = order[:, start:start + batch_size]                                   # (K, B)
                try:
                    losses = step(idx)
                except Exception as e:  # a graph or a compiled step that fails: the plain step, and say why
                    if not (step.graphs or compile) or not cuda:
                        raise
                    warnings.warn(f"fit_batched: the CUDA graph / compiled step failed ({type(e).__name__}: {e}); "
                                  f"training goes on with the plain step")
                    settings.update(graphs=False, compile=False, fallback=f"{type(e).__name__}: {e}"[:300])
                    step.graphs, step.graph, step.loss_fn = False, None, vmap(one, randomness="error")
                    losses = step(idx)
                bad = ~torch.isfinite(losses) & (first_bad < 0)
                first_bad = torch.where(bad, steps, first_bad)
                if (steps + 1) % check_every == 0 or start + batch_size >= last:
                    _stop_if_bad(first_bad, per_epoch)
                total += losses * idx.shape[1]
                steps += 1
            for i, v in enumerate((total / last).tolist()):
                history[i].append(v)
            if deadline is not None and time.monotonic() > deadline and epoch + 1 < epochs:
                raise TimeoutError(f"fit_batched: past the deadline after {epoch + 1} of {epochs} epochs")
    if cuda:
        torch.cuda.synchronize(device)
    with torch.no_grad():
        for i, m in enumerate(models):
            for name, t in [*m.named_parameters(), *m.named_buffers()]:
                t.copy_((params if f"model.{name}" in params else buffers)[f"model.{name}"][i])
    return BatchedHistory(history, round(time.perf_counter() - started, 3), steps, settings)


def _stop_if_bad(first_bad: Tensor, per_epoch: int) -> None:
    if (first_bad >= 0).any():  # the one host read of the flags
        i = int(torch.argmax((first_bad >= 0).int()))
        step = int(first_bad[i])
        raise FloatingPointError(f"model {i}'s loss became non-finite at step {step} (epoch {step // per_epoch}). "
                                 f"Lower the learning rate, or check the data for NaNs and the likelihood's scale.")


def train_batched(build: Callable[[], nn.Module], recipe: Recipe, data: Tensor, config: FitConfig,
                  seeds: Sequence[int], **kwargs) -> tuple[list[nn.Module], BatchedHistory]:
    """One model of ``build()`` per seed, trained together: model ``k`` is what
    ``vb.train_or_load(name, build, data, dataclasses.replace(config, seed=seeds[k]), loss=…)`` trains (its
    initialisation from ``build()`` under ``seeds[k]``, then :func:`fit_batched`), without the cache.
    ``config.seed`` is not used. ``kwargs`` go to :func:`fit_batched`. Returns the models (in eval mode) and the
    history."""
    models = []
    for s in seeds:
        with _own_random_state(int(s)), _one_thread():  # as train_or_load builds it
            models.append(build())
    history = fit_batched(models, recipe, data, epochs=config.epochs, batch_size=config.batch_size,
                          optimizer=config.optimizer, seeds=seeds, **kwargs)
    return [m.eval() for m in models], history
