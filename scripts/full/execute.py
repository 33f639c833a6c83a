"""One job: a notebook executed by papermill into its own folder, with ``job.json`` (status, seconds, peak memory)
written whole or not at all. A failing notebook fails its job and takes nothing else down."""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import resource
import time
import traceback
from pathlib import Path

from vaebook.files import atomic_path

from scripts.full.jobs import Job, notebook_parameters

ROOT = Path(__file__).resolve().parents[2]


def run_job(job: Job) -> dict:
    """Execute ``job`` and write ``job.json`` beside its outputs; never raises for a failing notebook."""
    folder = Path(job.folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in ("job.json", "training.jsonl"):  # a report always belongs to this run of the job
        (folder / old).unlink(missing_ok=True)
    env = {"VAEBOOK_PROFILE": job.profile, "VAEBOOK_RESULTS": str(folder / "results"), "VAEBOOK_CACHE": job.cache,
           "VAEBOOK_PROGRESS": "0", "VAEBOOK_TRAINING_LOG": str(folder / "training.jsonl")}
    if job.max_epochs is not None:
        env["VAEBOOK_MAX_EPOCHS"] = str(job.max_epochs)
    if job.max_steps is not None:
        env["VAEBOOK_MAX_STEPS"] = str(job.max_steps)
    if job.max_batches is not None:
        env["VAEBOOK_MAX_BATCHES"] = str(job.max_batches)
    if job.gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(job.gpu)
    with _own_environment():  # a job run in this process (--cluster debug) leaves its caller's environment alone
        return _run(job, folder, env)


@contextlib.contextmanager
def _own_environment():
    """Changes to ``os.environ`` inside are undone after."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run(job: Job, folder: Path, env: dict[str, str]) -> dict:
    import papermill as pm

    from scripts import kernels
    from vaebook import runtime

    os.environ.update(env)
    for key, value in runtime.environment().items():  # inherited by the kernel, before it imports torch
        os.environ.setdefault(key, value)
    notebook = Path(job.notebook)
    started, error = time.time(), None
    commit, code = _commit(), _fingerprint(Path(job.notebook))  # what the job runs, taken before it runs
    running = folder / f".{notebook.stem}.running.ipynb"  # renamed onto its name only when the run succeeded
    try:
        parameters = {"profile": job.profile, "seed": job.seed, **job.parameters}
        takes = notebook_parameters(notebook)  # vaebook refuses a parameter the chapter lacks (00_data has no seed)
        kernels.papermill(notebook, running, parameters={k: v for k, v in parameters.items() if k in takes},
                          cwd=notebook.parent, timeout=job.timeout_s, start_timeout=300)  # busy: kernels start slowly
        os.replace(running, folder / notebook.name)
    except pm.PapermillExecutionError as e:
        error = f"{e.ename}: {e.evalue} (cell {e.exec_count})"
    except Exception as e:  # the kernel died, a timeout, a missing file: the job fails, the others go on
        error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
    finally:
        running.unlink(missing_ok=True)
    report = {"job": job.name, "notebook": notebook.stem, "seed": job.seed, "profile": job.profile,
              "max_epochs": job.max_epochs, "max_batches": job.max_batches, "max_steps": job.max_steps, "gpu": job.gpu,
              "commit": commit, "fingerprint": code, "parameters": job.parameters, "status": "failed" if error else "ok",
              "error": error, "seconds": round(time.time() - started, 1),
              # the kernel is this process's child: its peak resident memory, in MB (Linux reports KB)
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
              "host": platform.node(),
              "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with atomic_path(folder / "job.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    return report


def _fingerprint(notebook: Path) -> str | None:
    """The chapter's code fingerprint (:func:`vaebook.claims.fingerprint`), None for a notebook it cannot read."""
    from vaebook.claims import fingerprint

    try:
        return fingerprint(notebook)
    except Exception:  # a test's toy notebook, a notebook without claims: the job runs all the same
        return None


def _commit() -> str:
    """The repository's commit, for the job's report ("unknown" outside a git checkout)."""
    import subprocess

    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"
