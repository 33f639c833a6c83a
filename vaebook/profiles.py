"""Scale, device, randomness and progress: the settings every chapter shares.

A chapter's scale comes from its papermill ``parameters`` cell; a parameter
left at ``None`` takes its value from the profile (the run's settings, :mod:`vaebook.settings`:
``$VAEBOOK_PROFILE`` or the notebook's ``profile`` parameter):

* ``smoke``: the tests, every notebook in seconds, bundled data;
* ``fast``: the built book on a 2-core CPU, bundled real subsets;
* ``full``: paper scale on a GPU, the full official datasets.

Used in: every chapter's first cells.
"""
from __future__ import annotations

import random
import warnings
from typing import TypeVar

import numpy as np
import torch

from . import settings as _settings
from .settings import PROFILES, ParameterError

__all__ = ["PROFILES", "ParameterError", "current_profile", "set_profile", "epochs_cap", "batches_cap", "steps_cap",
           "dry_run_note", "pick", "param", "used_parameter", "profile_value", "run_parameters", "device", "seed_everything", "progress", "show_progress",
           "SEED_MAX"]

T = TypeVar("T")


def current_profile(profile: str | None = None) -> str:
    """``profile`` if given, else the run's (:mod:`vaebook.settings`: ``$VAEBOOK_PROFILE``, default ``"fast"``);
    checked against :data:`PROFILES`."""
    if profile is None:
        return _settings.current().profile
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}: set VAEBOOK_PROFILE (or the notebook's `profile` "
                             f"parameter) to one of {PROFILES}")
    return profile


def set_profile(profile: str | None) -> str:
    """Start this process's run: its settings (:class:`vaebook.settings.Settings`) are built once, from
    ``profile`` (a notebook's parameter; None: ``$VAEBOOK_PROFILE``, else ``"fast"``) and the environment, and
    every later :func:`pick`, :func:`vaebook.load`, :func:`vaebook.train_or_load` and :func:`vaebook.record`
    follows them. Returns the profile in force.

    A chapter calls it first, so it is where a run starts: it forgets the parameters of an earlier run in this
    process (:func:`run_parameters`), refuses a papermill parameter that the chapter's parameters cell does not
    define (a typo such as ``-p latnt_dim 3`` would otherwise run with the default and record it as the result),
    and checks every ``VAEBOOK_*`` variable and that the results folder is writable, before anything is trained.
    """
    run = _settings.Settings.from_environment(profile)
    _PARAMETERS.clear()
    _USED.clear()
    _DECLARED.clear()
    _INJECTED.clear()
    _INJECTED.update(_check_injected(_input_history()))
    from .results import check_results_dir  # results imports this module

    from .claims import check_seed_file

    with run.use():  # checked before they become the run's: a refused run leaves no settings behind
        check_results_dir()
        check_seed_file()  # the verdicts a chapter prints at its end: a corrupt record is named before any training
        device()
    _settings.start(run)
    if (note := dry_run_note()) is not None:
        _announce_dry_run(note)
    return run.profile


def epochs_cap() -> int | None:
    """The dry run's cap on every model's training epochs: ``$VAEBOOK_MAX_EPOCHS``, or None (no cap).

    ``make full-dry`` sets it to run the full profile (its data, nets and metrics) on a CPU with only the
    step counts cut. :func:`vaebook.train_or_load` trains a capped model under its own cache key, every page
    says so at the top, and :func:`vaebook.record` writes the cap into the run's meta data.
    """
    return _settings.current().max_epochs


def batches_cap() -> int | None:
    """The dry run's cap on the minibatches of every training epoch: ``$VAEBOOK_MAX_BATCHES``, or None (no cap).

    With it a model on the full data trains for a few optimiser steps instead of whole passes; the training
    log keeps the seconds per batch, from which ``scripts/run_full.py`` reckons the seconds of a full epoch.
    """
    return _settings.current().max_batches


def steps_cap() -> int | None:
    """The dry run's cap on every other count of repetitions: ``$VAEBOOK_MAX_STEPS``, or None (no cap).

    It cuts what costs time in proportion to its count and leaves the data, the nets and the metrics at their
    size: importance samples, the steps of samplers, of optimisers outside :func:`vaebook.fit` and of the
    density-ratio classifier, bootstrap resamples. A chapter marks such a parameter with ``steps=True``
    (:func:`param`, :func:`pick`).
    """
    return _settings.current().max_steps


def dry_run_note() -> str | None:
    """What a dry run cuts, in words (for the page, the table caption and the meta data); None outside one."""
    run = _settings.current()
    cuts = [f"training at {e} epoch(s) ($VAEBOOK_MAX_EPOCHS)" for e in [run.max_epochs] if e is not None]
    cuts += [f"every epoch at {b} minibatches ($VAEBOOK_MAX_BATCHES)" for b in [run.max_batches] if b is not None]
    cuts += [f"every other step count (importance samples, sampler and optimiser steps, bootstrap resamples) at "
             f"{s} ($VAEBOOK_MAX_STEPS)" for s in [run.max_steps] if s is not None]
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


SEED_MAX = 2**32 - 1  # numpy.random.seed's largest


_KIND_NAMES = {int: ("an integer", "integers"), float: ("a number", "numbers"), bool: ("True or False", "booleans"),
               str: ("a string", "strings")}


def _check_one(value, kind: type, low, above, high, choices):
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
    if (low is not None and value < low) or (above is not None and value <= above) or (high is not None and value > high):
        return None
    if choices is not None and value not in choices:
        return None
    return value


def param(name: str, value, kind, *, low=None, above=None, high=None, choices=None, contains=(), why: str | None = None,
          steps=False, **profiles):
    """A notebook parameter, checked: ``value`` if the parameters cell (or papermill) set it, else the
    profile's value from ``smoke=``, ``fast=``, ``full=``.

    ``kind`` is ``int``, ``float``, ``bool``, ``str``, or ``[int]`` / ``[float]`` for a non-empty list of them.
    Integers must be ``>= low`` (default 1: sizes, epochs, dimensions; none when ``choices`` are given),
    numbers ``>= low`` or ``> above``, and ``<= high``, when given; values one of ``choices`` when given; a list
    must hold every element of ``contains``. A parameter named ``seed`` is an integer in ``[0, 2**32 - 1]`` (what
    NumPy accepts) unless told otherwise. ``why`` says what the bounds protect, for the message: e.g. ``low=20,
    why="an AUROC and a variance need test images of both sets"``. A value that breaks a rule raises
    :class:`ParameterError` naming the parameter and what it takes, before anything is trained, cached or
    recorded. ``steps=True`` marks a count of repetitions that a dry run cuts (:func:`steps_cap`); the check
    applies to the value before the cut.

    The value returned is remembered for this run and written into its results' meta data
    (:func:`run_parameters`, :func:`vaebook.record`).

    >>> n_train = param("n_train", None, int, smoke=500, fast=10000, full=60000)
    """
    default = pick(None, **profiles) if profiles else None
    if value is None:
        if not profiles:
            raise ParameterError(f"parameter {name} is None: set it in the notebook's parameters cell")
        value = default
    is_list = isinstance(kind, list)
    item = kind[0] if is_list else kind
    if name == "seed" and item is int and choices is None:
        low, high = (0 if low is None and above is None else low), (SEED_MAX if high is None else high)
    if low is None and above is None and choices is None and item is int:  # the choices say what may be 0
        low = 1
    rule = (_KIND_NAMES[item][is_list] + (f" >= {low}" if low is not None else "")
            + (f" > {above}" if above is not None else "") + (f" <= {high}" if high is not None else "")
            + (f" in {list(choices)}" if choices else "") + (f" ({why})" if why else ""))
    if is_list:
        rule = f"a non-empty list of {rule}" + (f" that contains {list(contains)}" if contains else "")
    hint = (f"Set it in the notebook's parameters cell (or `papermill -p {name} ...`)" +
            (f"; the current profile's value is {default!r}." if default is not None else "."))
    if is_list:
        ok = isinstance(value, (list, tuple)) and len(value) > 0
        checked = [_check_one(v, item, low, above, high, choices) for v in value] if ok else []
        if not ok or any(c is None for c in checked) or not set(contains) <= set(checked):
            raise ParameterError(f"parameter {name} = {value!r}: it must be {rule}. {hint}")
    else:
        checked = _check_one(value, item, low, above, high, choices)
        if checked is None:
            raise ParameterError(f"parameter {name} = {value!r}: it must be {rule}. {hint}")
    _remember(name, checked, default)
    _DECLARED[name] = dict(profiles)
    _USED[name] = _capped(checked, steps)
    return _USED[name]


# This run's parameters: name -> (effective value, whether it is the chapter's own for this profile). A notebook
# kernel runs one chapter; set_profile starts its run and clears them.
_PARAMETERS: dict[str, tuple[object, bool]] = {}
# name -> the value the chapter runs with (after a dry run's cut): what its text quotes (used_parameter).
_USED: dict[str, object] = {}
# name -> the values its vb.param call declared for each profile (profile_value).
_DECLARED: dict[str, dict[str, object]] = {}
# The values papermill injected (`papermill -p name value`), read from the kernel's input history by set_profile.
_INJECTED: dict[str, object] = {}


def _remember(name: str, value, default) -> None:
    """The chapter's own value is the profile's where it has one, else its parameters cell's (papermill did not
    inject another)."""
    changed = value != default if default is not None else name in _INJECTED
    _PARAMETERS[name] = (value, not changed)


def used_parameter(name: str):
    """The value of this run's parameter ``name`` as the chapter runs with it (after a dry run's cut)."""
    if name not in _USED:
        raise KeyError(f"{name!r} is not a parameter of this run: only the values checked by vb.param are "
                       f"({', '.join(sorted(_USED)) or 'none yet'})")
    return _USED[name]


def profile_value(name: str, profile: str):
    """The value this run's parameter ``name`` takes in ``profile``, as its :func:`param` call declares it, so that a
    page quotes another profile's setting from the one place it is set ("the full profile trains up to
    {glue:text}`ch6_ratio_steps_full` steps")."""
    if name not in _DECLARED:
        raise KeyError(f"{name!r} is not a parameter of this run: only the values checked by vb.param are "
                       f"({', '.join(sorted(_DECLARED)) or 'none yet'})")
    if current_profile(profile) not in _DECLARED[name]:
        raise KeyError(f"parameter {name} declares no value for the {profile} profile")
    return _DECLARED[name][profile]


def run_parameters() -> dict:
    """This run's parameters for its results' meta data: ``parameters`` (every :func:`param` by name, its value
    before a dry run's cut) and ``changed`` (those that are not the chapter's own values for the profile: set
    through papermill or edited). A run with ``changed == {}`` is the chapter as written, in its profile; the
    claim tests and the scorecard can tell every other run by it."""
    return {"parameters": {k: v for k, (v, _) in _PARAMETERS.items()},
            "changed": {k: v for k, (v, own) in _PARAMETERS.items() if not own}}


def _input_history() -> list[str]:
    """The code cells this kernel has run, in order (IPython's ``In``); empty outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    history = getattr(shell, "user_ns", {}).get("In", []) if shell is not None else []
    return [c for c in history if isinstance(c, str)]


def _assigned(source: str) -> dict[str, object]:
    """The names a parameters cell assigns, with their literal values (``...`` where not a literal)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    names = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    names[t.id] = ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    names[t.id] = ...
    return names


def _check_injected(history: list[str]) -> dict[str, object]:
    """The parameters papermill injected, checked against the chapter's parameters cell.

    papermill runs its injected cell (it begins with ``# Parameters``) right after the cell tagged
    ``parameters``, and only prints a warning for a name the chapter does not have. Here such a name is an
    error that names it and lists the chapter's parameters. Returns the injected values that differ from the
    parameters cell's (``profile`` aside: the meta data record it on its own).
    """
    last = max((i for i, c in enumerate(history) if c.lstrip().startswith("# Parameters")), default=None)
    if last is None or last == 0:
        return {}
    injected, defined = _assigned(history[last]), _assigned(history[last - 1])
    if unknown := sorted(set(injected) - set(defined)):
        raise ParameterError(f"papermill parameter{'s' * (len(unknown) > 1)} {', '.join(unknown)}: this chapter has "
                             f"no such parameter, so the run would use the default and record it as the result. "
                             f"Its parameters are: {', '.join(sorted(defined))}.")
    return {k: v for k, v in injected.items() if k != "profile" and v != defined[k]}


def device() -> torch.device:
    """CUDA if present, then Apple's MPS, then the CPU (override with ``$VAEBOOK_DEVICE``, e.g. ``cuda:1``)."""
    if (raw := _settings.current().device) is not None:
        chosen = torch.device(raw)
        if not _available(chosen):
            raise ParameterError(f"VAEBOOK_DEVICE={raw!r}, but this machine has no such device: unset it, or set "
                                 f"it to 'cpu'")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _available(d: torch.device) -> bool:
    if d.type == "cuda":
        return torch.cuda.is_available() and (d.index or 0) < torch.cuda.device_count()
    if d.type == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return True


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; returns a CPU generator seeded the same way.

    ``seed`` is a whole number in ``[0, 2**32 - 1]``, the range all three accept."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= SEED_MAX:
        raise ParameterError(f"seed = {seed!r}: a seed must be a whole number from 0 to 2**32 - 1 = {SEED_MAX} "
                             f"(NumPy's range); set the notebook's `seed` parameter to one")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def show_progress() -> bool:
    """Progress bars are on unless ``$VAEBOOK_PROGRESS=0`` (the book build sets it: no bars in the HTML)."""
    return _settings.current().progress


def progress(iterable=None, **kwargs):
    """``tqdm.auto`` (a widget in Jupyter, text in a terminal) unless progress is switched off."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not show_progress(), leave=False, **kwargs)
