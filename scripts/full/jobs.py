"""What a paper-scale run runs: one :class:`Job` per chapter and seed, the longest chapters first."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from scripts import chapters

# How many runs each paper averages over, and why: chapters.yml (paper_runs). A notebook that is not a chapter of the
# manifest (a test's) runs 3 seeds. Jobs start longest first, by the full-profile dry run's seconds (chapters.yml,
# full_dry_s): with a few jobs at a time, the long ones then run beside the short ones instead of alone at the end.
PAPER_RUNS = {c.stem: c.paper_runs for c in chapters.CHAPTERS}
DEFAULT_RUNS = 3
LONGEST_FIRST = tuple(c.stem for c in chapters.full_order())


@dataclass(frozen=True)
class Job:
    """One notebook run: ``notebook`` with ``profile``, ``seed`` and ``parameters``, into ``folder``."""
    notebook: str
    seed: int
    profile: str
    folder: str
    cache: str
    parameters: dict = field(default_factory=dict)
    max_epochs: int | None = None
    max_steps: int | None = None
    max_batches: int | None = None
    timeout_s: int = 24 * 3600
    gpu: int | None = None  # a local job's GPU (None: leave CUDA_VISIBLE_DEVICES as the worker found it)

    @property
    def name(self) -> str:
        return f"{Path(self.notebook).stem} seed {self.seed}"


def notebook_parameters(notebook: Path) -> set[str]:
    """The names the notebook's cell tagged ``parameters`` defines (papermill's own reading of it)."""
    import papermill as pm

    return set(pm.inspect_notebook(str(notebook)))


def plan(notebooks: list[Path], *, out: Path, profile: str, seeds: list[int] | None, runs: int | None,
         parameters: dict, max_epochs: int | None, max_steps: int | None = None, max_batches: int | None = None,
         cache: Path | None = None) -> list[Job]:
    """One :class:`Job` per notebook and seed: ``seeds`` if given, else ``range(runs)``, else the paper's runs;
    the longest chapters first (:data:`LONGEST_FIRST`)."""
    jobs, cache = [], cache or out / "models"
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    for nb in sorted(notebooks, key=lambda nb: rank.get(nb.stem, len(rank))):
        for seed in seeds if seeds is not None else range(runs or PAPER_RUNS.get(nb.stem, DEFAULT_RUNS)):
            jobs.append(Job(str(nb), seed, profile, str(out / "jobs" / nb.stem / f"seed{seed}"), str(cache),
                            parameters, max_epochs, max_steps, max_batches))
    return jobs


def parse_parameter(text: list[str]) -> tuple[str, object]:
    name, value = text
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value
