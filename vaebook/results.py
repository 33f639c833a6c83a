"""Recorded numbers: each chapter's headline values, for the claim tests and reproduction tables.

``vb.record("01_ood_puzzle", auc_bpd_bernoulli=0.41)`` merges the values into
``_build/results/01_ood_puzzle.json`` (a flat JSON object of numbers) and the
profile into ``01_ood_puzzle.meta.json``. The folder is ``$VAEBOOK_RESULTS``,
else ``_build/results`` at the repository root (found from the working directory).

Used in: every chapter's last cells; ``tests/test_claims.py`` reads the files.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .files import atomic_path
from .profiles import current_profile

__all__ = ["results_dir", "record", "read_results"]


def results_dir() -> Path:
    if os.environ.get("VAEBOOK_RESULTS"):
        return Path(os.environ["VAEBOOK_RESULTS"])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").exists():
            return folder / "_build" / "results"
    return here / "_build" / "results"


def _write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))


def read_results(chapter: str) -> dict[str, float]:
    """The numbers recorded so far for ``chapter`` (empty when none)."""
    path = results_dir() / f"{chapter}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def record(chapter: str, **values: float) -> dict[str, float]:
    """Merge ``values`` (finite numbers) into ``chapter``'s results file; returns them all."""
    clean = {}
    for k, v in values.items():
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"recorded value {k}={v} is not finite: fix the computation before recording it")
        clean[k] = v
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    merged = {**read_results(chapter), **clean}
    _write_json(folder / f"{chapter}.json", merged)
    _write_json(folder / f"{chapter}.meta.json", {"profile": current_profile()})
    return merged
