"""Recorded numbers: each chapter's headline values, for the claim tests and reproduction tables.

``vb.record("01_ood_puzzle", table=repro, auc_bpd_bernoulli=0.41, ...)`` writes
``_build/results/01_ood_puzzle.json``: one JSON object holding the run's meta data (profile, time), its
values (finite numbers by name) and the chapter's reproduction table (rows with the columns of
:mod:`vaebook.tables`; the scorecard reads them). A chapter records once, at its end; the
file is replaced as a whole and atomically, so a reader (another process, a test) sees the previous
run's file or this run's, never a mixture and never values without their meta data. The folder is
``$VAEBOOK_RESULTS``, else ``_build/results`` at the repository root (found from the working directory where the
run started: :mod:`vaebook.settings`).

Used in: every chapter's last cells; ``tests/test_claims.py`` reads the files.
"""
from __future__ import annotations

import datetime
import errno
import json
import math
import numbers
import os
import re
import tempfile
from pathlib import Path

from . import settings
from .files import read_json, write_atomic
from .profiles import batches_cap, current_profile, epochs_cap, run_parameters, steps_cap, used_parameter
from .settings import book_root
from .tables import COLUMNS

__all__ = ["ResultsError", "book_root", "results_dir", "record", "read_results", "read_record", "read_file", "glue", "glue_parameters"]

_CHAPTER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class ResultsError(ValueError):
    """A value that cannot be recorded, a bad chapter name, or a results file that cannot be read."""


def results_dir() -> Path:
    """The run's results folder (:mod:`vaebook.settings`): ``$VAEBOOK_RESULTS``, else ``_build/results`` of the
    book's folder (the one holding ``_toc.yml``) at or above the working directory where the run started."""
    return settings.current().results


def check_results_dir() -> Path:
    """Fail now if the results folder cannot be written: called where a run starts (:func:`vaebook.set_profile`),
    not after the chapter has trained its models. Nothing is created: a folder that does not exist yet is checked
    through the nearest one above it that does (a run stopped by a bad parameter leaves no folder behind)."""
    folder = results_dir()
    existing = next((f for f in (folder, *folder.parents) if f.exists()), folder)
    try:
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise ResultsError(f"the results folder {folder} is not writable ({e.strerror or e}): the chapter would run "
                           f"and then fail to record. Set VAEBOOK_RESULTS to a folder you can write to.") from e
    return folder


def _path(chapter: str) -> Path:
    if not isinstance(chapter, str) or not _CHAPTER.fullmatch(chapter) or ".." in chapter:
        raise ResultsError(f"chapter name {chapter!r} is not a plain file name (letters, digits, '_', '-', '.'): "
                           f"results are written only inside {results_dir()}")
    return results_dir() / f"{chapter}.json"


def _number(key: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ResultsError(f"recorded value {key}={value!r} is not a number: record numbers only "
                           f"(put text in the table)") from None
    if not math.isfinite(v):
        raise ResultsError(f"recorded value {key}={v} is not finite: fix the computation before recording it")
    return v


def _cell(value):
    """A table cell as JSON: numbers, text, booleans; NaN and None become null."""
    if value is None or isinstance(value, (str, bool)):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return v if math.isfinite(v) else None


def record(chapter: str, table=None, claims=None, **values: float) -> None:
    """Write ``chapter``'s results: ``values`` (finite numbers by name), an optional ``table``
    (from :func:`vaebook.reproduction_table`) and the chapter's ``claims`` (:class:`vaebook.claims.Claim`, as a
    list or a dict by id), replacing the previous run's file as a whole."""
    path = _path(chapter)
    clean = {k: _number(k, v) for k, v in values.items()}
    claim_list = _claim_dicts(chapter, claims, clean)
    rows = None
    if table is not None:
        rows = table.to_dict("records") if hasattr(table, "to_dict") else list(table)
        rows = [{str(k): _cell(v) for k, v in row.items()} for row in rows]
        for i, row in enumerate(rows):
            if missing := [c for c in COLUMNS if c not in row]:
                raise ResultsError(f"{chapter}: row {i} of the reproduction table lacks the column(s) {missing}; "
                                   f"build the table with vb.reproduction_table(...)")
            if not isinstance(row["ours"], float):
                raise ResultsError(f"{chapter}: row {i} ({row['quantity']!r}) has ours={row['ours']!r}, not a finite number")
    meta = {"chapter": chapter, "profile": current_profile(), "max_epochs": epochs_cap(), "max_batches": batches_cap(),
            "max_steps": steps_cap(), **run_parameters(),
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    blob = {"meta": meta, "values": clean, **({"table": rows} if rows is not None else {}),
            **({"claims": claim_list} if claim_list is not None else {})}
    write_atomic(path, json.dumps(blob, indent=1, sort_keys=True), what="results file",
                 fix="Free some space there or set VAEBOOK_RESULTS to another folder")


def _claim_dicts(chapter: str, claims, values: dict) -> list[dict] | None:
    """The claims as JSON; each must read values this run records (a claim on a missing value is a typo)."""
    if claims is None:
        return None
    from .claims import Claim, _claims

    claims = _claims(claims)
    for c in claims:
        if not isinstance(c, Claim):
            raise ResultsError(f"{chapter}: claims must be vb.claims.Claim objects, got {c!r}")
        names = [c.reads] + ([c.than] if isinstance(c.than, str) else [])
        if (missing := [n for n in names if n not in values]) and not c.optional:
            raise ResultsError(f"{chapter}: claim {c.id!r} reads {missing}, which this run does not record; record them "
                               f"(or mark the claim optional=True if this profile does not measure them)")
    return [c.to_dict() for c in claims]


def read_record(chapter: str) -> dict:
    """The whole recorded file of ``chapter`` (``meta``, ``values``, maybe ``table``); empty when none."""
    return read_file(_path(chapter))


def read_file(path: Path) -> dict:
    """A results file, checked to be one: empty when it does not exist, :class:`ResultsError` when corrupt."""
    if not path.exists():
        return {}
    try:
        blob = read_json(path)
        _check_blob(blob)
    except (OSError, ValueError) as e:
        raise ResultsError(f"the results file {path} is corrupt ({e}). Delete it and run the chapter again.") from e
    return blob


_TEXT_COLUMNS = ("quantity", "unit", "estimator", "claim", "expect", "profile", "model", "data")


def _check_blob(blob) -> None:
    """Raise ValueError saying what makes ``blob`` not a results file: every reader (the claim tests, the
    scorecard) may then take its numbers as numbers and its rows as whole."""
    if not isinstance(blob, dict) or not isinstance(blob.get("values"), dict) or not isinstance(blob.get("meta"), dict):
        raise ValueError("not a results file of this version: it needs a 'meta' object and a 'values' object")
    for k, v in blob["values"].items():
        if not _finite(v):
            raise ValueError(f"value {k!r} is {v!r}, not a finite number")
    meta = blob["meta"]
    for key, kind in (("profile", str), ("parameters", dict), ("changed", dict)):
        if key in meta and not isinstance(meta[key], kind):
            raise ValueError(f"its meta data's {key!r} is of type {type(meta[key]).__name__}, not {kind.__name__}")
    claims = blob.get("claims")
    if claims is not None:
        from .claims import Claim

        if not isinstance(claims, list):
            raise ValueError(f"its claims are a {type(claims).__name__}, not a list")
        for i, c in enumerate(claims):
            try:
                Claim.from_dict(c)
            except (TypeError, KeyError, ValueError, AttributeError) as e:
                raise ValueError(f"claim {i} is not a claim ({type(e).__name__}: {e})") from None
    table = blob.get("table")
    if table is None:
        return
    if not isinstance(table, list):
        raise ValueError(f"its table is a {type(table).__name__}, not a list of rows")
    for i, r in enumerate(table):
        if not isinstance(r, dict):
            raise ValueError(f"row {i} of its table is a {type(r).__name__}, not an object")
        if missing := [c for c in COLUMNS if c not in r]:
            raise ValueError(f"row {i} of its table lacks the column(s) {missing}")
        bad = ([c for c in ("paper", "reference") if r[c] is not None and not _finite(r[c])]
               + [c for c in ("ours", "runs") if not _finite(r[c])]
               + [c for c in _TEXT_COLUMNS if c in r and r[c] is not None and not isinstance(r[c], str)])
        if bad:
            raise ValueError(f"row {i} of its table ({r.get('quantity')!r}) has " +
                             ", ".join(f"{c}={r[c]!r}" for c in bad) + ": numbers must be numbers, text text")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_results(chapter: str) -> dict[str, float]:
    """The numbers ``chapter`` recorded in its last run (empty when none)."""
    return read_record(chapter).get("values", {})


def glue(name: str, value) -> None:
    """Make ``value`` from this run available to the chapter's prose as ``{glue:text}`name:.2f```.

    No result is typed into a chapter's text: "What we found" pastes the run's numbers (and the words
    that depend on them) through myst-nb's glue. Numbers (NumPy, torch scalars) are glued as Python
    floats, whole numbers (int, NumPy integers) as ints, text as text. Where myst-nb is not installed (Colab) nothing happens: the tables carry the numbers.

    Used in: every chapter's "What we found".
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return
    if isinstance(value, numbers.Integral):  # a count stays a whole number on the page ("32 latents", not "32.0")
        value = int(value)
    elif not isinstance(value, str):
        value = float(value)
    _glue(name, value, display=False)


def glue_parameters(prefix: str, *names: str) -> None:
    """Glue each of this run's parameters ``names`` as ``{prefix}_{name}``, the value the chapter ran with, so that
    its text quotes its settings from the run (``{glue:text}`ch3_flow_epochs```); a list as its items joined by ", "
    ("10, 50, 100"). A name that no :func:`vaebook.param` checked raises ``KeyError``."""
    for name in names:
        value = used_parameter(name)
        glue(f"{prefix}_{name}", ", ".join(f"{v:g}" for v in value) if isinstance(value, list) else value)
