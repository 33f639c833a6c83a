"""A run's settings: what the environment says about where and how a chapter runs, read in one place, once.

The book's scale and the machine's particulars are not the experiment's business, so they do not travel through
its code as arguments: the profile (``smoke``, ``fast``, ``full``), a dry run's caps, the folders of trained models,
results and data, the device, progress bars, the static book's widgets, the training log and the lock timeout.
They come from ``VAEBOOK_*`` variables (README, "Settings"), and :meth:`Settings.from_environment` is the only
code that reads them. It checks every one, so a bad value fails where the run starts and names its variable.

A chapter builds its settings once, in its first cell: :func:`vaebook.set_profile` makes
``Settings.from_environment(profile)`` the process's current settings (:func:`current`), and every library function
reads them from there. Changing a variable afterwards changes nothing in that run. A script or a test can pass
its own explicitly, the environment's with some fields replaced (a ``Settings`` built from its fields alone takes
their defaults, not the environment's)::

    with vb.Settings.from_environment("smoke").replace(cache=Path("/tmp/models")).use():
        vae, history = vb.train_or_load(...)

Outside a started run (a script that never calls ``set_profile``) :func:`current` reads the environment afresh
at every call. The OpenMP variables are not here: they must be set before torch loads (:mod:`vaebook.runtime`).

Used in: every chapter (through ``vb.set_profile``), and the library's profiles, cache, data, results, train and
widgets modules.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PROFILES", "Settings", "ParameterError", "SettingsError", "current", "start", "stop", "book_root",
           "LOCK_TIMEOUT_S"]

PROFILES = ("smoke", "fast", "full")
# A process training a model touches its lock after every epoch; a waiter gives up after this long without one.
LOCK_TIMEOUT_S = 3600.0


class ParameterError(ValueError):
    """A notebook parameter has a value the chapter cannot use. The message names it and says what it takes."""


class SettingsError(ParameterError):
    """A ``VAEBOOK_*`` variable (or a field of :class:`Settings`) has a value the book cannot use; the message
    names it and says what it takes."""


def _default_cache(environ: Mapping[str, str], what: str) -> Path:
    """``$XDG_CACHE_HOME/vaebook/<what>``, else ``~/.cache/vaebook/<what>``."""
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vaebook" / what


def book_root(start: Path | None = None) -> Path:
    """The book's folder (the one holding ``_toc.yml``) at or above ``start`` (the working directory); else
    ``start``."""
    here = (start or Path.cwd()).resolve()
    return next((folder for folder in (here, *here.parents) if (folder / "_toc.yml").exists()), here)


@dataclass(frozen=True)
class Settings:
    """Everything about a run that is neither the chapter's experiment nor its parameters.

    ``profile``: the scale of every parameter left at None (:func:`vaebook.param`). ``max_epochs``,
    ``max_batches``, ``max_steps``: a dry run's caps (``make full-dry``; None: no cap). ``cache``, ``results``,
    ``data``: the folders of trained models, of recorded results, and of datasets. ``device``: the device asked
    for (None: the best one here, :func:`vaebook.device`). ``progress``: progress bars. ``static_widgets``: draw
    every view of a widget for the static book instead of live controls. ``training_log``: a file that gets a line
    per trained model (None: none). ``lock_timeout``: seconds a process waits for a model another is training,
    without progress. ``commit``: the book's commit where there is no ``.git`` to ask (a copy on a GPU machine).
    """
    profile: str = "fast"
    max_epochs: int | None = None
    max_batches: int | None = None
    max_steps: int | None = None
    cache: Path = field(default_factory=lambda: _default_cache(os.environ, "models"))
    results: Path = field(default_factory=lambda: book_root() / "_build" / "results")
    data: Path = field(default_factory=lambda: _default_cache(os.environ, "data"))
    device: str | None = None
    progress: bool = True
    static_widgets: bool = False
    training_log: Path | None = None
    lock_timeout: float = LOCK_TIMEOUT_S
    commit: str | None = None

    def __post_init__(self):
        for name in ("cache", "results", "data", "training_log"):  # a folder given as text is taken as a path
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))
            elif not isinstance(value, Path) and not (value is None and name == "training_log"):
                raise SettingsError(f"{name} = {value!r}: it must be a path")
        for name in ("progress", "static_widgets"):
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(f"{name} = {getattr(self, name)!r}: it must be True or False")
        if self.device is not None:
            _device("device", self.device)
        if self.profile not in PROFILES:
            raise SettingsError(f"unknown profile {self.profile!r}: set VAEBOOK_PROFILE (or the notebook's `profile` "
                                f"parameter) to one of {PROFILES}")
        for name in ("max_epochs", "max_batches", "max_steps"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise SettingsError(f"{name} = {value!r}: a cap is a whole number >= 1, or None for no cap")
        if (isinstance(self.lock_timeout, bool) or not isinstance(self.lock_timeout, (int, float))
                or not self.lock_timeout > 0 or not math.isfinite(self.lock_timeout)):
            raise SettingsError(f"lock_timeout = {self.lock_timeout!r}: it must be a number of seconds > 0")

    @classmethod
    def from_environment(cls, profile: str | None = None, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings that ``environ`` (default: this process's environment) gives, with ``profile`` (a
        notebook's parameter) before ``$VAEBOOK_PROFILE`` before ``"fast"``. Every variable is checked here."""
        env = os.environ if environ is None else environ

        def text(variable: str) -> str:
            return env.get(variable, "").strip()

        def folder(variable: str) -> Path | None:  # absolute: fixed where the run starts, whatever its working folder later
            return Path(text(variable)).expanduser().absolute() if text(variable) else None

        caps = {name: _cap(variable, text(variable)) for name, variable in
                (("max_epochs", "VAEBOOK_MAX_EPOCHS"), ("max_batches", "VAEBOOK_MAX_BATCHES"),
                 ("max_steps", "VAEBOOK_MAX_STEPS"))}
        return cls(profile=profile or text("VAEBOOK_PROFILE") or "fast", **caps,
                   cache=folder("VAEBOOK_CACHE") or _default_cache(env, "models"),
                   results=folder("VAEBOOK_RESULTS") or book_root() / "_build" / "results",
                   data=folder("VAEBOOK_DATA") or _default_cache(env, "data"),
                   device=_device("VAEBOOK_DEVICE", text("VAEBOOK_DEVICE")),
                   progress=_flag("VAEBOOK_PROGRESS", text("VAEBOOK_PROGRESS"), default=True),
                   static_widgets=_flag("VAEBOOK_STATIC_WIDGETS", text("VAEBOOK_STATIC_WIDGETS"), default=False),
                   training_log=folder("VAEBOOK_TRAINING_LOG"),
                   lock_timeout=_seconds("VAEBOOK_LOCK_TIMEOUT", text("VAEBOOK_LOCK_TIMEOUT")),
                   commit=text("VAEBOOK_COMMIT") or None)

    def replace(self, **changes) -> "Settings":
        """A copy with ``changes`` (checked like the original)."""
        return dataclasses.replace(self, **changes)

    @contextlib.contextmanager
    def use(self):
        """These settings are :func:`current` inside the ``with`` block; the ones before are restored after."""
        global _CURRENT
        before, _CURRENT = _CURRENT, self
        try:
            yield self
        finally:
            _CURRENT = before


def _cap(variable: str, raw: str) -> int | None:
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) < 1:  # "²" passes str.isdigit() and fails int()
        raise SettingsError(f"{variable}={raw!r}: it must be a whole number >= 1, or unset for no cap")
    return int(raw)


def _flag(variable: str, raw: str, default: bool) -> bool:
    if not raw:
        return default
    if raw not in ("0", "1"):
        raise SettingsError(f"{variable}={raw!r}: it must be 1 (on) or 0 (off), or unset (default {int(default)})")
    return raw == "1"


def _seconds(variable: str, raw: str) -> float:
    if not raw:
        return LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or not math.isfinite(value):
        raise SettingsError(f"{variable}={raw!r}: it must be a number of seconds > 0, or unset "
                            f"(default {LOCK_TIMEOUT_S:g})")
    return value


def _device(variable: str, raw: str) -> str | None:
    if not raw:
        return None
    import torch  # only here: vaebook.runtime must prepare OpenMP before torch loads

    try:
        torch.device(raw)
    except (RuntimeError, TypeError):
        said = f"{variable}={raw!r}" if variable.isupper() else f"{variable} = {raw!r}"
        raise SettingsError(f"{said} is not a device torch knows: set it to 'cpu', 'cuda', "
                            f"'cuda:1' or 'mps', or unset it to take the best one here") from None
    return raw


# The settings of the run this process is in (None: none started; current() reads the environment each time).
_CURRENT: Settings | None = None


def current() -> Settings:
    """The settings of the run in progress (:func:`start`, :meth:`Settings.use`); outside one, the environment's
    as it is now (:meth:`Settings.from_environment`)."""
    return _CURRENT if _CURRENT is not None else Settings.from_environment()


def start(settings: Settings) -> Settings:
    """Make ``settings`` this process's current settings until the next :func:`start` or :func:`stop`."""
    global _CURRENT
    _CURRENT = settings
    return settings


def stop() -> None:
    """End the current run's settings: :func:`current` reads the environment again."""
    global _CURRENT
    _CURRENT = None
