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
import warnings
from typing import TypeVar

import numpy as np
import torch

__all__ = ["PROFILES", "ParameterError", "current_profile", "set_profile", "epochs_cap", "batches_cap", "steps_cap",
           "dry_run_note", "pick", "param", "device", "seed_everything", "progress", "show_progress"]

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
    if (note := dry_run_note()) is not None:
        _announce_dry_run(note)
    return name


def _cap(variable: str) -> int | None:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ParameterError(f"{variable}={raw!r}: it must be a whole number >= 1, or unset for no cap")
    return int(raw)


def epochs_cap() -> int | None:
    """The dry run's cap on every model's training epochs: ``$VAEBOOK_MAX_EPOCHS``, or None (no cap).

    ``make full-dry`` sets it to run the full profile (its data, nets and metrics) on a CPU with only the
    step counts cut. :func:`vaebook.train_or_load` trains a capped model under its own cache key, every page
    says so at the top, and :func:`vaebook.record` writes the cap into the run's meta data.
    """
    return _cap("VAEBOOK_MAX_EPOCHS")


def batches_cap() -> int | None:
    """The dry run's cap on the minibatches of every training epoch: ``$VAEBOOK_MAX_BATCHES``, or None (no cap).

    With it a model on the full data trains for a few optimiser steps instead of whole passes; the training
    log keeps the seconds per batch, from which ``scripts/run_full.py`` reckons the seconds of a full epoch.
    """
    return _cap("VAEBOOK_MAX_BATCHES")


def steps_cap() -> int | None:
    """The dry run's cap on every other count of repetitions: ``$VAEBOOK_MAX_STEPS``, or None (no cap).

    It cuts what costs time in proportion to its count and leaves the data, the nets and the metrics at their
    size: importance samples, the steps of samplers, of optimisers outside :func:`vaebook.fit` and of the
    density-ratio classifier, bootstrap resamples. A chapter marks such a parameter with ``steps=True``
    (:func:`param`, :func:`pick`).
    """
    return _cap("VAEBOOK_MAX_STEPS")


def dry_run_note() -> str | None:
    """What a dry run cuts, in words (for the page, the table caption and the meta data); None outside one."""
    cuts = [f"training at {e} epoch(s) ($VAEBOOK_MAX_EPOCHS)" for e in [epochs_cap()] if e is not None]
    cuts += [f"every epoch at {b} minibatches ($VAEBOOK_MAX_BATCHES)" for b in [batches_cap()] if b is not None]
    cuts += [f"every other step count (importance samples, sampler and optimiser steps, bootstrap resamples) at "
             f"{s} ($VAEBOOK_MAX_STEPS)" for s in [steps_cap()] if s is not None]
    return "DRY RUN, capped: " + "; ".join(cuts) if cuts else None


def _announce_dry_run(note: str) -> None:
    text = (f"{note}. The numbers on this page show that the code runs at this scale; none of them is a result.")
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Markdown(f"**{text}**"))
    else:
        warnings.warn(text, stacklevel=3)


def _capped(value, steps: bool):
    if steps and (cap := steps_cap()) is not None:
        return [min(v, cap) for v in value] if isinstance(value, list) else min(value, cap)
    return value


def pick(value: T | None, *, smoke: T, fast: T, full: T, profile: str | None = None, steps: bool = False) -> T:
    """``value`` when the parameters cell set it, else the current profile's default.

    ``steps=True`` marks a count of repetitions that a dry run cuts (:func:`steps_cap`).
    """
    if value is None:
        value = {"smoke": smoke, "fast": fast, "full": full}[current_profile(profile)]
    return _capped(value, steps)


class ParameterError(ValueError):
    """A notebook parameter has a value the chapter cannot use. The message names it and says what it takes."""


_KIND_NAMES = {int: ("an integer", "integers"), float: ("a number", "numbers"), bool: ("True or False", "booleans"),
               str: ("a string", "strings")}


def _check_one(value, kind: type, low, above, choices):
    """``value`` converted to ``kind`` if it is one, else None."""
    if kind is bool:
        return value if isinstance(value, (bool, np.bool_)) else None
    if isinstance(value, (bool, np.bool_)):  # True is an int in Python, never a size or a distance
        return None
    if kind is int:
        if not isinstance(value, (int, np.integer)):  # 100.5 and "abc" alike: a count is never a float or a string
            return None
        value = int(value)
    elif kind is float:
        if not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
            return None
        value = float(value)
    elif kind is str:
        if not isinstance(value, str):
            return None
    if (low is not None and value < low) or (above is not None and value <= above):
        return None
    if choices is not None and value not in choices:
        return None
    return value


def param(name: str, value, kind, *, low=None, above=None, choices=None, contains=(), steps=False, **profiles):
    """A notebook parameter, checked: ``value`` if the parameters cell (or papermill) set it, else the
    profile's value from ``smoke=``, ``fast=``, ``full=``.

    ``kind`` is ``int``, ``float``, ``bool``, ``str``, or ``[int]`` / ``[float]`` for a non-empty list of them.
    Integers must be ``>= low`` (default 1: sizes, epochs, dimensions; none when ``choices`` are given),
    numbers ``>= low`` or ``> above`` when given; values one of ``choices`` when given; a list must hold every element of ``contains``. A value that breaks
    a rule raises :class:`ParameterError` naming the parameter and what it takes, before anything is
    trained, cached or recorded. ``steps=True`` marks a count of repetitions that a dry run cuts
    (:func:`steps_cap`); the check applies to the value before the cut.

    >>> n_train = param("n_train", None, int, smoke=500, fast=10000, full=60000)
    """
    default = pick(None, **profiles) if profiles else None
    if value is None:
        if not profiles:
            raise ParameterError(f"parameter {name} is None: set it in the notebook's parameters cell")
        value = default
    is_list = isinstance(kind, list)
    item = kind[0] if is_list else kind
    if low is None and above is None and choices is None and item is int:  # the choices say what may be 0
        low = 1
    rule = (_KIND_NAMES[item][is_list] + (f" >= {low}" if low is not None else "")
            + (f" > {above}" if above is not None else "") + (f" in {list(choices)}" if choices else ""))
    if is_list:
        rule = f"a non-empty list of {rule}" + (f" that contains {list(contains)}" if contains else "")
    hint = (f"Set it in the notebook's parameters cell (or `papermill -p {name} ...`)" +
            (f"; the current profile's value is {default!r}." if default is not None else "."))
    if is_list:
        ok = isinstance(value, (list, tuple)) and len(value) > 0
        checked = [_check_one(v, item, low, above, choices) for v in value] if ok else []
        if not ok or any(c is None for c in checked) or not set(contains) <= set(checked):
            raise ParameterError(f"parameter {name} = {value!r}: it must be {rule}. {hint}")
        return _capped(checked, steps)
    checked = _check_one(value, item, low, above, choices)
    if checked is None:
        raise ParameterError(f"parameter {name} = {value!r}: it must be {rule}. {hint}")
    return _capped(checked, steps)


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
