"""Training that knows nothing about the model (minGPT's trainer idea), and a cache of trained models.

:func:`fit` runs minibatch SGD on any ``loss(*batch) -> scalar``. :func:`train_or_load` is the one way a
chapter trains: ``train_or_load(name, build, data, FitConfig(...))`` builds a model, fits it to ``data``
and caches it under a key derived from everything that defines it (see :mod:`vaebook.cache`); the next
build loads it.

Used in: every chapter that trains.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import random
import re
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from . import settings
from .cache import cache_dir, code_fingerprint, code_version, fingerprint, prepare_cache, tensor_digest, training_lock
from .files import WriteError, write_atomic
from .profiles import batches_cap, epochs_cap, progress, seed_everything
from .runtime import flushes_denormals

__all__ = ["fit", "FitConfig", "train_or_load", "model_key"]


def fit(loss: Callable[..., Tensor], params, data: Tensor | Sequence[Tensor], *, epochs: int, batch_size: int,
        optimizer: Callable = partial(torch.optim.Adam, lr=1e-3), generator: torch.Generator | None = None,
        desc: str = "training", on_epoch: Callable[[int], None] | None = None,
        check_every: int | None = None, max_batches: int | None = None) -> list[float]:
    """Minimise ``loss(*batch)`` over ``epochs`` passes of shuffled minibatches of ``data``.

    ``data`` is a tensor or a tuple of tensors of equal length (e.g. images
    and labels), already on the model's device. ``optimizer`` makes the optimiser from the parameters,
    e.g. ``partial(torch.optim.Adam, lr=1e-3)``. Returns the mean loss of each epoch. A NaN or infinite loss stops training with the step it happened at. Reading the loss on the
    host waits for a GPU to finish, so the step of the first bad loss is kept on the device and read every
    ``check_every`` steps and at each epoch's end (default: every step on a CPU, where reading costs
    nothing, every 100 steps elsewhere). ``max_batches`` ends every epoch after that many minibatches (a dry
    run's cut); the epoch's loss is then the mean over the examples it saw.
    """
    data = (data,) if isinstance(data, Tensor) else tuple(data)
    n = len(data[0])
    if n == 0 or any(len(d) != n for d in data):
        raise ValueError(f"data must be non-empty tensors of equal length, got {[len(d) for d in data]}")
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    device = data[0].device
    check_every = check_every or (1 if device.type == "cpu" else 100)
    opt = _fused(optimizer, device)(params)
    history, step, per_epoch = [], 0, -(-n // batch_size)
    if max_batches is not None:
        per_epoch = min(per_epoch, max_batches)
    last = min(n, per_epoch * batch_size)  # the examples an epoch sees
    first_bad = torch.full((), -1, dtype=torch.long, device=device)  # step of the first non-finite loss
    bad_value = torch.zeros((), device=device)
    bar = progress(total=epochs * per_epoch, desc=desc)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator).to(device, non_blocking=True)
        total = torch.zeros((), device=device)
        for start in range(0, last, batch_size):
            idx = order[start:start + batch_size]
            value = loss(*(d[idx] for d in data))
            v = value.detach()
            bad = ~torch.isfinite(v) & (first_bad < 0)
            first_bad, bad_value = torch.where(bad, step, first_bad), torch.where(bad, v, bad_value)
            if (step + 1) % check_every == 0 or start + batch_size >= last:
                _stop_if_bad(first_bad, bad_value, per_epoch, bar)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            total += v * len(idx)
            step += 1
            bar.update()
        history.append(total.item() / last)
        bar.set_postfix(loss=f"{history[-1]:.4g}")
        if on_epoch is not None:
            on_epoch(epoch + 1)
    bar.close()
    return history


def _fused(optimizer: Callable, device: torch.device) -> Callable:
    """``optimizer`` with ``fused=True`` where it is a ``partial`` of Adam or AdamW that leaves the implementation to
    torch, on a CPU or a GPU. The update is the same; the fused kernel does it in one pass over each parameter
    instead of about ten, and on a CPU the optimiser's step was 45 % of an MLP VAE's training step
    (bench/train_throughput.py). Not part of a model's cache key: like the number of threads, it changes only the
    rounding."""
    if (isinstance(optimizer, partial) and optimizer.func in (torch.optim.Adam, torch.optim.AdamW)
            and not {"fused", "foreach"} & optimizer.keywords.keys() and device.type in ("cpu", "cuda")):
        return partial(optimizer, fused=True)
    return optimizer


def _stop_if_bad(first_bad: Tensor, bad_value: Tensor, per_epoch: int, bar) -> None:
    if (step := int(first_bad)) >= 0:  # the one host read of the flag
        bar.close()
        raise FloatingPointError(f"the loss became {bad_value.item()} at step {step} (epoch {step // per_epoch}). "
                                 f"Lower the learning rate, or check the data for NaNs and the likelihood's scale.")


@dataclass(frozen=True)
class FitConfig:
    """Everything about training that is neither the model nor the data: a part of the cache key.

    ``optimizer`` makes the optimiser from the parameters (``partial(torch.optim.RMSprop, lr=1e-4)``);
    ``seed`` seeds the model's initialisation and the minibatch order.
    """
    epochs: int
    batch_size: int
    optimizer: Callable = partial(torch.optim.Adam, lr=1e-3)
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"FitConfig(epochs={self.epochs!r}): epochs must be a whole number >= 0")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"FitConfig(batch_size={self.batch_size!r}): batch_size must be a whole number >= 1")
        if not callable(self.optimizer):
            raise TypeError(f"FitConfig(optimizer={self.optimizer!r}) must make an optimiser from parameters, "
                            f"e.g. partial(torch.optim.Adam, lr=1e-3)")


def _default_loss(model: nn.Module) -> Callable[..., Tensor]:
    return model.loss


def model_key(name: str, model: nn.Module, data: Tensor | Sequence[Tensor], config: FitConfig,
              loss: Callable = _default_loss, on_epoch: Callable | None = None, max_batches: int | None = None) -> str:
    """The cache file name of a model: ``name`` and a hash of everything that defines the trained model."""
    return _key(name, _key_parts(model, data, config, loss, on_epoch, max_batches))


def _key_parts(model, data, config, loss, on_epoch, max_batches) -> dict:
    """What defines a trained model, part by part, as text (:func:`vaebook.cache.fingerprint`)."""
    parts = {"model": fingerprint(model), "data": fingerprint(data), "config": fingerprint(config.__dict__),
             "loss": fingerprint(loss), "on_epoch": fingerprint(on_epoch), "code": code_version(),
             "fit": code_fingerprint(fit), "default_loss": code_fingerprint(_default_loss)}
    if max_batches is not None:  # a dry run's cut epochs: never taken for the model trained on whole ones
        parts["max_batches"] = max_batches
    on_cpu = (data if isinstance(data, Tensor) else data[0]).device.type == "cpu"
    if on_cpu and flushes_denormals():  # trained with denormal floats flushed to zero (vaebook.runtime): another
        parts["denormals"] = "flushed"  # rounding; a GPU's arithmetic does not depend on the CPU's setting
    return parts


def _key(name: str, parts: dict) -> str:
    return f"{name}-{hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]}"


def _trained_for(key: str, parts: dict, config: FitConfig, max_batches: int | None, examples: int) -> dict:
    """What a checkpoint is the model of, saved in it and checked when it is loaded: its key, a hash of each part
    of the key, and the training configuration in words (for the warning that says what differs)."""
    return {"key": key,
            "parts": {k: hashlib.sha256(str(v).encode()).hexdigest()[:16] for k, v in sorted(parts.items())},
            "config": {"epochs": config.epochs, "batch_size": config.batch_size, "optimizer": repr(config.optimizer),
                       "seed": config.seed, "max_batches": max_batches, "examples": examples}}


def _differences(saved: dict, wanted: dict) -> str:
    """What differs between the model a checkpoint was trained for and the one wanted, in words; empty when it is
    the same model. The parts of the key decide; the configuration in words only explains (an optimiser's ``repr``
    may hold a memory address)."""
    parts = sorted(k for k in {*saved.get("parts", {}), *wanted["parts"]}
                   if saved.get("parts", {}).get(k) != wanted["parts"].get(k))
    if not parts and str(saved.get("key")).rsplit("-", 1)[-1] == wanted["key"].rsplit("-", 1)[-1]:
        return ""
    config = [f"{k} {saved.get('config', {}).get(k)!r}, not {v!r}" for k, v in wanted["config"].items()
              if saved.get("config", {}).get(k) != v]
    return (f"it is the model of key {saved.get('key')}, not {wanted['key']}: its {', '.join(parts) or 'key'} "
            f"differ{'s' * (len(parts) == 1)}" + (f" ({'; '.join(config)})" if config else ""))


def train_or_load(name: str, build: Callable[[], nn.Module], data: Tensor | Sequence[Tensor], config: FitConfig, *,
                  loss: Callable[[nn.Module], Callable[..., Tensor]] | None = None,
                  on_epoch: Callable[[nn.Module, int], Any] | None = None,
                  keep: Sequence[int] = (), desc: str | None = None) -> tuple[nn.Module, dict]:
    """Return ``(model, history)``: the model ``build()`` makes, fitted to ``data`` with ``config``;
    loaded from the cache when this exact model was trained before.

    ``loss(model)`` gives the function of a minibatch to minimise (``None``: ``model.loss``), e.g.
    ``loss=lambda vae: partial(vae.loss, beta=4.0)``. ``on_epoch(model, epoch)``, if given, runs after
    each epoch; what it returns (tensors, numbers, lists, dicts) is kept with the model, in
    ``history["recorded"][epoch]`` (``None`` keeps nothing). ``history["loss"]`` is the mean loss per epoch, and
    ``history["from_cache"]`` says whether the model was loaded (True) or trained by this call.

    ``keep`` names epochs after which a copy of the model is kept: ``history["kept"][epoch]`` is the model as it
    was then, built by ``build`` and in eval mode. Training stops at no epoch, so the copy after epoch e *is* the
    model that ``config`` with ``epochs=e`` trains (same initialisation, same minibatches), provided ``on_epoch``
    draws no random numbers from the global generators (wrap it in ``torch.random.fork_rng()`` if it does): one run
    gives a short model and its longer continuation, e.g. to ask whether more training changes a result.

    The cache key is derived, never written by hand (:func:`model_key`): the built model's ``repr`` and initial
    tensors, ``config``, the content of ``data``, the code of ``loss`` and ``on_epoch`` with the values they
    capture, and the library's code. Changing any of these retrains; editing a comment does not. ``build``
    and training run with every random generator seeded from ``config.seed`` and the caller's random state is
    given back afterwards, so a model is a function of its definition alone, trained here or loaded.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(f"train_or_load: name {name!r} must be a plain file name (letters, digits, '_', '-', '.')")
    if not isinstance(config, FitConfig):
        raise TypeError(f"train_or_load({name!r}, ...): config must be a vb.FitConfig, got {type(config).__name__}")
    loss = loss or _default_loss
    asked = config.epochs
    keep = sorted(set(keep))
    if any(isinstance(e, bool) or not isinstance(e, int) or not 1 <= e <= asked for e in keep):
        raise ValueError(f"train_or_load({name!r}, ...): keep={keep} must be epochs from 1 to the config's "
                         f"epochs={asked}")
    if (cap := epochs_cap()) is not None and config.epochs > cap:  # a dry run: its own key, never taken for the full model
        config = dataclasses.replace(config, epochs=cap)
    max_batches = batches_cap()
    folder = cache_dir()
    data = (data,) if isinstance(data, Tensor) else tuple(data)
    with contextlib.ExitStack() as held:
        held.enter_context(_own_random_state(config.seed))
        with _one_thread():
            model = build()
        parts = _key_parts(model, data, config, loss, on_epoch, max_batches)
        if keep:  # its history holds the copies: never taken for the same model trained without them
            parts["keep"] = keep
        key = _key(name, parts)
        identity = key.rsplit("-", 1)[1]  # the name is a label, the hash the identity
        trained_for = _trained_for(key, parts, config, max_batches, len(data[0]))
        path = _checkpoint_path(folder, key, identity)
        seen = _stamp(path)
        if (history := _load_cached(path, model, trained_for)) is not None:
            return model.eval(), _with_kept({**history, "from_cache": True}, build)
        prepare_cache(folder)  # only now: a read-only cache that holds every model a chapter needs is fine
        beat = held.enter_context(training_lock(folder, identity))  # a process training this same model: wait ...
        path = _checkpoint_path(folder, key, identity)
        if _stamp(path) != seen and (history := _load_cached(path, model, trained_for)) is not None:  # ... and load it
            return model.eval(), _with_kept({**history, "from_cache": True}, build)
        generator = seed_everything(config.seed)
        recorded, snapshots = {}, {}
        keep_at = {min(e, config.epochs) for e in keep}  # a dry run cut to fewer epochs keeps its last one for the rest

        def after_epoch(epoch: int) -> None:
            beat()  # this process is making progress: a waiter keeps waiting
            if epoch in keep_at:
                snapshots[epoch] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if on_epoch is not None and (value := on_epoch(model, epoch)) is not None:
                recorded[epoch] = value

        started = time.perf_counter()
        losses = fit(loss(model), model.parameters(), data, epochs=config.epochs, batch_size=config.batch_size,
                     optimizer=config.optimizer, generator=generator, desc=desc or name,
                     on_epoch=after_epoch, max_batches=max_batches)
        seconds = round(time.perf_counter() - started, 3)
        history = {"loss": [float(v) for v in losses], "recorded": recorded}
        if keep:
            history["kept"] = {e: snapshots[min(e, config.epochs)] for e in keep}
        _save(path, model, history, trained_for)
    per_epoch = -(-len(data[0]) // config.batch_size)
    _log_training(name=name, device=str(data[0].device), examples=len(data[0]), epochs_asked=asked,
                  epochs_run=config.epochs, batches_per_epoch=per_epoch,
                  batches_run=min(per_epoch, max_batches or per_epoch), seconds=seconds)
    return model.eval(), _with_kept({**history, "from_cache": False}, build)


def _with_kept(history: dict, build: Callable[[], nn.Module]) -> dict:
    """``history`` with its kept weights (``train_or_load(keep=...)``) turned into models made by ``build``."""
    if "kept" not in history:
        return history
    models = {}
    with _own_random_state(0):  # build draws an initialisation that the weights replace: the caller's state is kept
        for epoch, state in history["kept"].items():
            model = build()
            model.load_state_dict(state)
            models[epoch] = model.eval()
    return {**history, "kept": models}


def _checkpoint_path(folder: Path, key: str, identity: str) -> Path:
    """``folder/<key>.pt``, or the checkpoint of the same model that another chapter saved under its own name."""
    path = folder / f"{key}.pt"
    return path if path.exists() else next(iter(sorted(folder.glob(f"*-{identity}.pt"))), path)


def _stamp(path: Path) -> tuple | None:
    """Which file ``path`` is now (None: none), to tell whether another process has saved one since."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _load_cached(path: Path, model: nn.Module, trained_for: dict) -> dict | None:
    """The history of the checkpoint ``path`` of the model ``trained_for`` describes, its weights loaded into
    ``model``; None when there is none, or (with a warning that says why) when the file cannot be trusted to be
    that model: corrupt, altered, saved without the key it was trained for, trained for another key, or of another
    shape."""
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state, history, saved = ckpt["state"], ckpt["history"], ckpt.get("trained_for")
        if ckpt.get("sha256") != tensor_digest(state, history, *([saved] if saved is not None else [])):
            raise ValueError("its tensors do not match the checksum saved with them")
        if not isinstance(saved, dict):
            raise ValueError("it was saved without the key and configuration it was trained for (by an older "
                             "vaebook, or not by train_or_load)")
        if differs := _differences(saved, trained_for):
            raise ValueError(differs)
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        if {k: tuple(v.shape) for k, v in state.items()} != shapes:
            raise ValueError("its weights have other names or shapes than the model's")
        model.load_state_dict(state)  # checked first: a failed load would leave the model half-filled
        return history
    except Exception as e:  # anything at all: the model is trained again, never trusted
        warnings.warn(f"cached model {path} could not be used ({type(e).__name__}: {e}); retraining it")
        return None


def _save(path: Path, model: nn.Module, history: dict, trained_for: dict) -> None:
    """Save the trained model with what it was trained for, under a checksum of both. Serialised in memory first:
    a full disk is then an ``OSError`` with its cause, not torch's "unexpected pos" from deep inside its writer,
    and the bytes needed are known. A failed save is a warning that names the file and the cause; this session
    goes on with the model it trained (it would otherwise be lost with the error)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"state": state, "history": history, "trained_for": trained_for,
                "sha256": tensor_digest(state, history, trained_for)}, buffer)
    try:
        write_atomic(path, buffer.getvalue(), what="trained model",
                     fix="Free some space there or set VAEBOOK_CACHE to a folder with room")
    except WriteError as e:
        warnings.warn(f"{e}. This session goes on with the model it trained; the next run trains it again.")


def _log_training(**entry) -> None:
    """One JSON line per trained model in ``$VAEBOOK_TRAINING_LOG``, if set: ``scripts/run_full.py`` turns the
    dry run's lines into the cost of paper scale (seconds per epoch × the epochs each model asks for; an epoch cut
    to ``batches_run`` of its ``batches_per_epoch`` minibatches is scaled up to a whole one). ``device`` says where
    the model trained, so that seconds measured on a CPU are never read as a GPU's."""
    if path := settings.current().training_log:
        try:
            with open(path, "a") as f:  # one short write per line: parallel writers do not interleave
                f.write(json.dumps(entry) + "\n")
        except OSError as e:  # written after the save: the model is cached whatever happens here
            warnings.warn(f"the training log {path} (VAEBOOK_TRAINING_LOG) could not be written "
                          f"({e.strerror or e}); the trained model is saved, only this log line is lost")


@contextlib.contextmanager
def _one_thread():
    """torch on one thread inside, the caller's thread count given back after. A model is built so: its start
    (spectral normalisation's power iteration, a start computed from the data) comes out of reductions that torch
    splits between its threads, and with two threads it differed in the last bits from one thread's, and so did the
    model's cache key: a chapter run with two threads found none of the book's models."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _own_random_state(seed: int):
    """Seed Python, NumPy and PyTorch with ``seed`` inside, and give the caller back its own random state after.

    Without it a model's initialisation depended on what ran before it in the notebook, and the code after
    a cache hit (no training, so no random numbers drawn) saw other random numbers than after a fresh
    training: a rebuild from cache and a clean build gave different pages.
    """
    py, np_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        seed_everything(seed)
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(np_state)
