"""Training that knows nothing about the model (minGPT's trainer idea), and a cache of trained models.

:func:`fit` runs minibatch SGD on any ``loss(batch) -> scalar``; :func:`train_or_load`
trains a model once per full configuration (and version of the model code) and
re-uses the checkpoint in every later build.

Used in: every chapter that trains.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .files import atomic_path
from .profiles import progress, seed_everything

__all__ = ["fit", "train_or_load", "cache_dir", "config_key", "optimizer"]

# Modules whose code decides what a trained model is: editing one invalidates the cache.
MODEL_MODULES = ("distributions", "nets", "vae", "train", "flows", "pae", "negative", "frechet")


def optimizer(name: str = "adam", **kwargs) -> Callable:
    """An optimiser factory ``params -> Optimizer`` with a readable, hashable description."""
    cls = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}[name]
    return partial(cls, **kwargs)


def fit(loss: Callable[..., Tensor], params, data: Tensor | Sequence[Tensor], epochs: int, batch_size: int,
        make_optimizer: Callable = optimizer("adam", lr=1e-3), generator: torch.Generator | None = None,
        desc: str = "training", on_epoch: Callable[[int], None] | None = None,
        check_every: int | None = None) -> list[float]:
    """Minimise ``loss(*batch)`` over ``epochs`` passes of shuffled minibatches of ``data``.

    ``data`` is a tensor or a tuple of tensors of equal length (e.g. images
    and labels), already on the model's device. Returns the mean loss of each
    epoch. A NaN or infinite loss stops training with the step it happened at. Reading the loss on the
    host waits for a GPU to finish, so the step of the first bad loss is kept on the device and read every
    ``check_every`` steps and at each epoch's end (default: every step on a CPU, where reading costs
    nothing, every 100 steps elsewhere).
    """
    data = (data,) if isinstance(data, Tensor) else tuple(data)
    n = len(data[0])
    if n == 0 or any(len(d) != n for d in data):
        raise ValueError(f"data must be non-empty tensors of equal length, got {[len(d) for d in data]}")
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    device = data[0].device
    check_every = check_every or (1 if device.type == "cpu" else 100)
    opt = make_optimizer(params)
    history, step, per_epoch = [], 0, -(-n // batch_size)
    first_bad = torch.full((), -1, dtype=torch.long, device=device)  # step of the first non-finite loss
    bad_value = torch.zeros((), device=device)
    bar = progress(total=epochs * per_epoch, desc=desc)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator).to(device, non_blocking=True)
        total = torch.zeros((), device=device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            value = loss(*(d[idx] for d in data))
            v = value.detach()
            bad = ~torch.isfinite(v) & (first_bad < 0)
            first_bad, bad_value = torch.where(bad, step, first_bad), torch.where(bad, v, bad_value)
            if (step + 1) % check_every == 0 or start + batch_size >= n:
                _stop_if_bad(first_bad, bad_value, per_epoch, bar)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            total += v * len(idx)
            step += 1
            bar.update()
        history.append(total.item() / n)
        bar.set_postfix(loss=f"{history[-1]:.4g}")
        if on_epoch is not None:
            on_epoch(epoch + 1)
    bar.close()
    return history


def _stop_if_bad(first_bad: Tensor, bad_value: Tensor, per_epoch: int, bar) -> None:
    if (step := int(first_bad)) >= 0:  # the one host read of the flag
        bar.close()
        raise FloatingPointError(f"the loss became {bad_value.item()} at step {step} (epoch {step // per_epoch}). "
                                 f"Lower the learning rate, or check the data for NaNs and the likelihood's scale.")


def cache_dir() -> Path:
    """``$VAEBOOK_CACHE``, else ``~/.cache/vaebook/models``."""
    if os.environ.get("VAEBOOK_CACHE"):
        return Path(os.environ["VAEBOOK_CACHE"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "vaebook" / "models"


def _code_version() -> str:
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in MODEL_MODULES:
        if (here / f"{name}.py").exists():
            h.update((here / f"{name}.py").read_bytes())
    return h.hexdigest()[:12]


def config_key(name: str, config: dict) -> str:
    """A file name from ``name``, the full ``config`` (JSON-able, or with readable reprs) and the code version."""
    blob = json.dumps({"name": name, "config": config, "code": _code_version()}, sort_keys=True, default=repr)
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def train_or_load(name: str, config: dict, build: Callable[[], nn.Module],
                  train: Callable[[nn.Module], list[float] | dict]) -> tuple[nn.Module, list[float] | dict]:
    """Return ``(model, history)``: loaded from the cache when this exact config was trained before,
    else built with ``build()``, trained with ``train(model)`` and saved.

    ``train`` returns the loss history, or a dict of anything ``torch.load(weights_only=True)``
    can read back (lists, numbers, tensors), e.g. latents recorded during training.
    Checkpoints are written atomically, with a SHA-256 of their tensors, and read with
    ``weights_only=True``; a corrupt, altered or mismatching checkpoint is retrained, never trusted.
    The cache folder is checked to be writable *before* training, so a model is never trained only to be
    thrown away. ``build`` and ``train`` run with the random generators seeded from ``config["seed"]``
    (default 0), so neither needs to seed them.
    """
    folder = cache_dir()
    _prepare_cache(folder)
    path = folder / f"{config_key(name, config)}.pt"
    seed = int(config.get("seed", 0))
    with _own_random_state(seed):  # the model is a function of its config alone, trained here or loaded
        model = build()
        if path.exists():
            try:
                ckpt = torch.load(path, map_location="cpu", weights_only=True)
                if ckpt.get("sha256") != _tensor_digest(ckpt["state"], ckpt["history"]):
                    raise ValueError("its tensors do not match the checksum saved with them")
                model.load_state_dict(ckpt["state"])
                return model.eval(), ckpt["history"]
            except Exception as e:  # corrupt or altered file, or weights of another shape
                warnings.warn(f"cached model {path} could not be used ({type(e).__name__}: {e}); retraining it")
                seed_everything(seed)
                model = build()
        history = train(model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    saved = history if isinstance(history, dict) else [float(h) for h in history]
    with atomic_path(path) as tmp:
        torch.save({"state": state, "history": saved, "sha256": _tensor_digest(state, saved),
                    "config": json.dumps(config, default=repr)}, tmp)
    return model.eval(), history


# A save takes seconds; a .part file this old was left by a process that was killed while saving.
STALE_PART_S = 600


def _prepare_cache(folder: Path) -> None:
    """Create ``folder``, fail now (not after training) if it is not writable, and remove stale ``.part`` files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise PermissionError(f"the model cache {folder} is not writable ({e.strerror or e}): set VAEBOOK_CACHE to "
                              f"a writable folder before training") from e
    now = time.time()
    for part in folder.glob(".*.part"):
        with contextlib.suppress(OSError):  # another process may remove it first
            if now - part.stat().st_mtime > STALE_PART_S:
                part.unlink()


def _tensor_digest(*objects) -> str:
    """SHA-256 over every tensor and number in ``objects`` (nested dicts and lists), in a fixed order."""
    h = hashlib.sha256()

    def walk(obj):
        if isinstance(obj, dict):
            for k in sorted(obj, key=str):
                h.update(str(k).encode())
                walk(obj[k])
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v)
        elif isinstance(obj, Tensor):
            t = obj.detach().cpu().contiguous().reshape(-1)
            h.update(f"{t.dtype}{tuple(obj.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes())
        else:
            h.update(repr(obj).encode())

    for obj in objects:
        walk(obj)
    return h.hexdigest()


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
