"""Scale, device, randomness and progress: the settings every chapter shares.

A chapter's scale comes from its papermill ``parameters`` cell; a parameter
left at ``None`` takes its value from the profile (``$VAEBOOK_PROFILE``):

* ``smoke``: the tests, every notebook in seconds, bundled data;
* ``fast``: the built book on a 2-core CPU, bundled real subsets;
* ``full``: paper scale on a GPU, the full official datasets.

Used in: every chapter's first cells.
"""
from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

__all__ = ["PROFILES", "current_profile", "set_profile", "pick", "device", "seed_everything", "progress", "show_progress"]

PROFILES = ("smoke", "fast", "full")
T = TypeVar("T")


def current_profile(profile: str | None = None) -> str:
    """``profile`` if given, else ``$VAEBOOK_PROFILE``, else ``"fast"``; checked against :data:`PROFILES`."""
    p = profile or os.environ.get("VAEBOOK_PROFILE") or "fast"
    if p not in PROFILES:
        raise ValueError(f"unknown profile {p!r}: set VAEBOOK_PROFILE (or the notebook's `profile` "
                         f"parameter) to one of {PROFILES}")
    return p


def set_profile(profile: str | None) -> str:
    """Make ``profile`` (a notebook's parameter) the profile of this process; None keeps the current one.

    Every later :func:`pick`, :func:`vaebook.load` and :func:`vaebook.record`
    follows it. Returns the profile in force.
    """
    name = current_profile(profile)
    os.environ["VAEBOOK_PROFILE"] = name
    return name


def pick(value: T | None, *, smoke: T, fast: T, full: T, profile: str | None = None) -> T:
    """``value`` when the parameters cell set it, else the current profile's default."""
    if value is not None:
        return value
    return {"smoke": smoke, "fast": fast, "full": full}[current_profile(profile)]


def device() -> torch.device:
    """CUDA if present, then Apple's MPS, then the CPU (override with ``$VAEBOOK_DEVICE``)."""
    if os.environ.get("VAEBOOK_DEVICE"):
        return torch.device(os.environ["VAEBOOK_DEVICE"])
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; returns a CPU generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def show_progress() -> bool:
    """Progress bars are on unless ``$VAEBOOK_PROGRESS=0`` (the book build sets it: no bars in the HTML)."""
    return os.environ.get("VAEBOOK_PROGRESS", "1") != "0"


def progress(iterable=None, **kwargs):
    """``tqdm.auto`` (a widget in Jupyter, text in a terminal) unless progress is switched off."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not show_progress(), leave=False, **kwargs)
