"""The jobs through submitit: local processes, each job on the least busy GPU, or a Slurm array."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from scripts.full.execute import _own_environment, run_job
from scripts.full.jobs import Job

ROOT = Path(__file__).resolve().parents[2]


def submit(jobs: list[Job], *, out: Path, cluster: str, parallel: int, slurm: dict) -> None:
    """Run ``jobs`` through submitit, ``parallel`` at a time, and wait for all of them."""
    try:
        import submitit
    except ImportError:
        sys.exit("run_full.py needs submitit: pip install -e '.[cluster]' (or pip install submitit)")
    forget_old_reports(jobs)
    with _own_environment():  # the settings made there are for the workers
        _submit(submitit, jobs, out=out, cluster=cluster, parallel=parallel, slurm=slurm)


def forget_old_reports(jobs: list[Job]) -> None:
    """Remove each job's report of an earlier run (``job.json``) before it is submitted. A job reads as run only by
    its report: a worker that dies before the job starts writes none, and the earlier run's report, with that
    run's results beside it, would otherwise be gathered as this run's (a seed record then mixed two versions of
    a chapter's code)."""
    for job in jobs:
        (Path(job.folder) / "job.json").unlink(missing_ok=True)


def _submit(submitit, jobs: list[Job], *, out: Path, cluster: str, parallel: int, slurm: dict) -> None:
    # The workers unpickle run_job by its module name (scripts.full.execute): let them import the repository's packages.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    executor = submitit.AutoExecutor(folder=out / "submitit" / "%j", cluster=cluster)
    executor.update_parameters(timeout_min=slurm["time_min"], name="vaebook")
    if executor.cluster != "local":  # Slurm: one array, `parallel` of it running; debug: each job in this process
        if executor.cluster == "slurm":
            executor.update_parameters(slurm_partition=slurm["partition"], gpus_per_node=slurm["gpus"],
                                       cpus_per_task=slurm["cpus"], slurm_array_parallelism=parallel)
        with executor.batch():
            handles = [executor.submit(run_job, job) for job in jobs]
        for job, handle in zip(jobs, handles):
            _report(job, handle)
        return
    # Local processes: `parallel` jobs in flight, the next one started as soon as one ends, sharing the cores and
    # the GPUs. submitit starts a local worker with CUDA_VISIBLE_DEVICES="" (no GPU); each job names its own, the
    # GPU with the fewest jobs on it, for its notebook's kernel.
    from vaebook import runtime

    # OpenMP and MKL both: with MKL left at the machine's count, a job's matrix products summed in another order
    # than the book build's, and training carried the difference into most recorded numbers.
    for key, value in runtime.environment(max(1, runtime.usable_cpus() // parallel)).items():
        os.environ.setdefault(key, value)
    gpus, pending, running = local_gpus(), list(jobs), []
    while pending or running:
        while pending and len(running) < parallel:
            job = replace(pending.pop(0), gpu=least_busy(gpus, [j.gpu for j, _ in running]))
            running.append((job, executor.submit(run_job, job)))
        time.sleep(1)
        for job, handle in [pair for pair in running if pair[1].done()]:
            running.remove((job, handle))
            _report(job, handle)


def local_gpus() -> list[int]:
    """The GPUs local jobs may use: those in ``$CUDA_VISIBLE_DEVICES`` if it is set, else every GPU torch sees."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [int(k) for k in visible.split(",") if k.strip().isdigit()]
    import torch

    return list(range(torch.cuda.device_count()))


def least_busy(gpus: list[int], in_use: list[int]) -> int | None:
    """The GPU of ``gpus`` that the fewest running jobs use (``in_use``: their GPUs), the first on ties; None
    without GPUs."""
    return min(gpus, key=in_use.count) if gpus else None


def _report(job: Job, handle) -> None:
    try:
        report = handle.result()
        print(f"{job.name}: {report['status']} in {report['seconds']:.0f} s, peak {report['peak_rss_mb']} MB", flush=True)
    except Exception as e:  # the worker itself died (killed, out of memory): gather names the job
        print(f"{job.name}: the job died: {type(e).__name__}: {str(e)[-500:]}", file=sys.stderr, flush=True)
