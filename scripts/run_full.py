"""Paper scale: every chapter in the full profile, one job per (chapter, seed), then one gather step.

    python -m scripts.run_full                       # every chapter, the paper's number of runs, local processes
    python -m scripts.run_full --max-epochs 1 --max-batches 20 --max-steps 2   # the dry run (make full-dry)
    python -m scripts.run_full --cluster slurm --partition gpu --gpus-per-job 1 --time-min 240 --parallel 8
    python -m scripts.run_full --gather-only --out _build/full
    python -m scripts.run_full notebooks/04_negative_sampling.ipynb --seeds 3   # re-run one failed job, gather all

Each job executes one notebook with papermill (``profile``, ``seed`` and any ``-p name value`` as parameters, each
where the notebook has it: vaebook refuses a parameter a chapter does not define, and so does ``-p`` one no chapter has)
into its own folder ``<out>/jobs/<chapter>/seed<k>/``: the executed notebook, the chapter's recorded numbers
(``results/``) and ``job.json`` (status, seconds, peak memory), each written whole or not at all. A job that
fails writes its error into its ``job.json`` and takes nothing else down. The gather step then merges every
job's reproduction table into ``<out>/summary.json`` and ``summary.md``: per row the mean and standard
deviation of "ours" over the seeds that ran, and the jobs that failed or never reported, by name.

Jobs go through submitit (the optional extra ``pip install -e .[cluster]``): local processes by default, or
Slurm with ``--cluster slurm``. The models trained by the jobs share one cache (``<out>/models``), keyed by
everything that defines them, so jobs that need the same model (chapter 8 re-uses chapters 1 and 5's) train it
at most once per seed when they run one after the other.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import resource
import statistics
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from vaebook.files import atomic_path  # noqa: E402

from scripts import chapters  # noqa: E402

# How many runs each paper averages over, and why: chapters.yml (paper_runs). A notebook that is not a chapter of the
# manifest (a test's) runs 3 seeds. Jobs start longest first, by the full-profile dry run's seconds (chapters.yml,
# full_dry_s): with a few jobs at a time, the long ones then run beside the short ones instead of alone at the end.
PAPER_RUNS = {c.stem: c.paper_runs for c in chapters.CHAPTERS}
DEFAULT_RUNS = 3
LONGEST_FIRST = tuple(c.stem for c in chapters.full_order())
# How much faster one GPU trains the book's models than the 2-core development CPU: what the cost table assumes for
# the models a dry run trained on a CPU. An assumption, not a measurement. Small VAEs on 28×28 images at batch 50-100
# are bound by kernel launches on a GPU, so the gain is far below the gap in peak FLOPs; 20× is a middle guess. The
# one GPU lent so far (an H100, 2026-11-22) measured nothing of it: submitit hid the GPU from the local jobs, which
# trained on its CPU (fixed since, see _submit). A dry run on a GPU logs `"device": "cuda"` for every model, and the
# table takes those seconds as they are; `bench/gpu_step.py` times one step of each kind of model in one call.
GPU_SPEEDUP = 20.0


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

    from scripts import workarounds
    from vaebook import runtime

    os.environ.update(env)
    for key, value in runtime.environment().items():  # inherited by the kernel, before it imports torch
        os.environ.setdefault(key, value)
    workarounds.install_kernel_reply_slices()
    notebook = Path(job.notebook)
    started, error = time.time(), None
    running = folder / f".{notebook.stem}.running.ipynb"  # renamed onto its name only when the run succeeded
    try:
        parameters = {"profile": job.profile, "seed": job.seed, **job.parameters}
        takes = notebook_parameters(notebook)  # vaebook refuses a parameter the chapter lacks (00_data has no seed)
        pm.execute_notebook(str(notebook), str(running), parameters={k: v for k, v in parameters.items() if k in takes},
                            cwd=str(notebook.parent), kernel_name="python3", progress_bar=False,
                            execution_timeout=job.timeout_s, start_timeout=300)  # a busy machine starts kernels slowly
        os.replace(running, folder / notebook.name)
    except pm.PapermillExecutionError as e:
        error = f"{e.ename}: {e.evalue} (cell {e.exec_count})"
    except Exception as e:  # the kernel died, a timeout, a missing file: the job fails, the others go on
        error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
    finally:
        running.unlink(missing_ok=True)
    report = {"job": job.name, "notebook": notebook.stem, "seed": job.seed, "profile": job.profile,
              "max_epochs": job.max_epochs, "max_batches": job.max_batches, "max_steps": job.max_steps, "gpu": job.gpu,
              "commit": _commit(), "parameters": job.parameters, "status": "failed" if error else "ok",
              "error": error, "seconds": round(time.time() - started, 1),
              # the kernel is this process's child: its peak resident memory, in MB (Linux reports KB)
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
              "host": platform.node(),
              "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with atomic_path(folder / "job.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    return report


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


def submit(jobs: list[Job], *, out: Path, cluster: str, parallel: int, slurm: dict) -> None:
    """Run ``jobs`` through submitit, ``parallel`` at a time, and wait for all of them."""
    try:
        import submitit
    except ImportError:
        sys.exit("run_full.py needs submitit: pip install -e '.[cluster]' (or pip install submitit)")
    with _own_environment():  # the settings made there are for the workers
        _submit(submitit, jobs, out=out, cluster=cluster, parallel=parallel, slurm=slurm)


def _submit(submitit, jobs: list[Job], *, out: Path, cluster: str, parallel: int, slurm: dict) -> None:
    # The workers unpickle run_job by its module name (scripts.run_full): let them import the repository's packages.
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


def gather(out: Path) -> dict:
    """Merge every job under ``out`` into ``summary.json`` / ``summary.md``; name failed and missing jobs."""
    from vaebook.results import read_file

    planned = [j["name"] for j in json.loads((out / "jobs.json").read_text())] if (out / "jobs.json").exists() else []
    reports = {}
    for path in sorted(out.glob("jobs/*/seed*/job.json")):
        report = json.loads(path.read_text())
        if not planned or report["job"] in planned:  # not a job of an earlier plan
            reports[report["job"]] = {**report, "folder": str(path.parent)}
    missing = [name for name in planned if name not in reports]
    failed = [f"{r['job']}: {r['error'].splitlines()[0] if r['error'] else 'failed'}"
              for r in reports.values() if r["status"] != "ok"]
    failed += [f"{name}: no report (the job was killed, timed out, or never ran)" for name in missing]
    chapters: dict[str, dict] = defaultdict(lambda: {"seeds": [], "rows": {}, "values": {}, "meta": {}, "trained": {}})
    for report in reports.values():
        if report["status"] != "ok":
            continue
        for path in sorted(Path(report["folder"], "results").glob("*.json")):
            blob = read_file(path)
            chapter = chapters[path.stem]
            chapter["meta"] = chapter["meta"] or blob["meta"]
            chapter["seeds"].append(report["seed"])
            for row in blob.get("table") or []:
                key = " | ".join(str(row.get(c)) for c in ("quantity", "estimator", "model", "data"))
                chapter["rows"].setdefault(key, {**row, "ours_runs": []})["ours_runs"].append(row["ours"])
            for name, value in blob["values"].items():
                chapter["values"].setdefault(name, []).append(value)
        log = Path(report["folder"], "training.jsonl")
        trained = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        chapters[report["notebook"]]["trained"][report["seed"]] = trained
    summary = {"out": str(out), "jobs": sorted(reports.values(), key=lambda r: r["job"]), "failed": failed,
               "chapters": {}}
    for name, chapter in sorted(chapters.items()):
        rows = []
        for row in chapter["rows"].values():
            runs = row.pop("ours_runs")
            rows.append({**row, "ours": _mean(runs), "ours_std": _std(runs), "runs": len(runs)})
        summary["chapters"][name] = {
            "seeds": sorted(chapter["seeds"]), "profile": chapter["meta"].get("profile"),
            "max_epochs": chapter["meta"].get("max_epochs"), "max_steps": chapter["meta"].get("max_steps"),
            "max_batches": chapter["meta"].get("max_batches"), "rows": rows,
            "values": {k: {"mean": _mean(v), "std": _std(v), "runs": len(v)} for k, v in chapter["values"].items()},
            "cost": cost(chapter["trained"])}
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text(summary_markdown(summary))
    return summary


def cost(trained: dict[int, list[dict]]) -> dict | None:
    """What one run of a chapter costs to train, from the models its jobs trained (``train_or_load``'s log).

    ``seconds_per_epoch``: the sum over the chapter's models of the seconds one epoch took here (the mean over
    seeds); ``epochs``: the epochs each model asks for (the profile's, before any cap); ``train_seconds``: what
    training every model for its full epochs takes per run, on this machine. Models loaded from the cache (trained
    by another chapter) are not counted twice.
    """
    runs = [[m for m in models if m["epochs_run"] > 0] for models in trained.values()]
    runs = [models for models in runs if models]
    if not runs:
        return None
    on_gpu = lambda m: m.get("device", "cpu").startswith("cuda")  # logs before the device was recorded: CPUs
    per_run = [sum(_epoch_seconds(m) for m in models) for models in runs]
    full = {kind: [sum(_epoch_seconds(m) * m["epochs_asked"] for m in models if on_gpu(m) == (kind == "cuda"))
                   for models in runs] for kind in ("cuda", "cpu")}
    devices = {"cuda" if on_gpu(m) else "cpu" for models in runs for m in models}
    return {"models": len(runs[0]), "seconds_per_epoch": _mean(per_run),
            "train_seconds": _mean(full["cuda"]) + _mean(full["cpu"]),
            "train_seconds_cuda": _mean(full["cuda"]), "train_seconds_cpu": _mean(full["cpu"]),
            "epochs_asked": sorted({m["epochs_asked"] for models in runs for m in models}),
            "device": devices.pop() if len(devices) == 1 else "mixed"}


def _epoch_seconds(m: dict) -> float:
    """Seconds of one whole epoch of a logged model: an epoch cut to fewer minibatches is scaled up."""
    whole = m.get("batches_per_epoch", 1) / m.get("batches_run", 1)
    return m["seconds"] / m["epochs_run"] * whole


def _commit() -> str:
    """The repository's commit, for the job's report ("unknown" outside a git checkout)."""
    import subprocess

    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs)


def _std(xs: list[float]) -> float:
    """The sample standard deviation (n − 1); 0 for a single run."""
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def cost_table(summary: dict, runs: dict[str, int], speedup: float = GPU_SPEEDUP) -> list[str]:
    """Markdown rows: per chapter, the seconds per epoch (all its models) on the device they trained on, the epochs
    and runs of the paper, and the training hours they imply there and on GPUs, 1 GPU and 8 through the fan-out
    (jobs placed longest first on the least busy GPU). Seconds measured on a GPU are GPU seconds; seconds measured
    on a CPU become GPU seconds at the assumed ``speedup``."""
    lines = ["| chapter | models | trained on | s/epoch | epochs (paper) | runs | hours there | GPU hours |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    jobs, assumed = [], False
    for name, chapter in summary["chapters"].items():
        if not (c := chapter.get("cost")):
            continue
        n, device = runs.get(name, DEFAULT_RUNS), c.get("device", "cpu")
        hours = c["train_seconds"] / 3600
        # seconds measured on a GPU count as they are, a CPU's at the assumed speed-up
        gpu_hours = (c["train_seconds_cuda"] + c["train_seconds_cpu"] / speedup) / 3600
        assumed |= device != "cuda"
        jobs += [gpu_hours] * n
        lines.append(f"| {name} | {c['models']} | {device} | {c['seconds_per_epoch']:.1f} | "
                     f"{', '.join(map(str, c['epochs_asked']))} | {n} | {hours * n:.1f} | {gpu_hours * n:.2f} |")
    gpus = [0.0] * 8
    for hours in sorted(jobs, reverse=True):
        gpus[gpus.index(min(gpus))] += hours
    lines += ["", f"Training every chapter for the paper's epochs and runs: {sum(jobs):.1f} GPU hours on 1 GPU, "
              f"{max(gpus):.1f} h of wall-clock time on 8 GPUs through the fan-out (one job per chapter and seed). "
              + (f"Rows trained on a CPU count at an assumed GPU speed-up of {speedup:g}× (not a measurement); "
                 if assumed else "Every row was measured on a GPU; ")
              + "scoring and plotting are not counted."]
    return lines


def summary_markdown(summary: dict) -> str:
    """The gathered jobs as Markdown: time and peak memory per job, then each chapter's rows as mean ± std."""
    profiles = sorted({r["profile"] for r in summary["jobs"]}) or ["—"]
    lines = [f"# Runs over seeds, {' and '.join(profiles)} profile", "",
             "| job | status | seconds | peak RSS (MB) | commit | caps: epochs, batches, steps |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['job']} | {r['status']} | {r['seconds']:.0f} | {r['peak_rss_mb']} | {r.get('commit', '—')} | "
              + ", ".join(str(r.get(c) or "—") for c in ("max_epochs", "max_batches", "max_steps")) + " |"
              for r in summary["jobs"]]
    if summary["failed"]:
        lines += ["", "**Failed:**", ""] + [f"- {f}" for f in summary["failed"]]
    for name, chapter in summary["chapters"].items():
        caps = [f"training at {e} epoch(s)" for e in [chapter["max_epochs"]] if e]
        caps += [f"epochs at {b} minibatches" for b in [chapter.get("max_batches")] if b]
        caps += [f"step counts at {s}" for s in [chapter.get("max_steps")] if s]
        cap = f"; **dry run, capped: {', '.join(caps)}; not a result**" if caps else ""
        lines += ["", f"## {name}", "", f"Profile {chapter['profile']}, seeds {chapter['seeds']}{cap}.", "",
                  "| quantity | paper | ours (mean ± std) | runs | estimator |", "| --- | --- | --- | --- | --- |"]
        for row in chapter["rows"]:
            paper = "—" if row.get("paper") is None else f"{row['paper']:.3g}"
            lines.append(f"| {row['quantity']} | {paper} | {row['ours']:.3g} ± {row['ours_std']:.2g} | {row['runs']} "
                         f"| {row.get('estimator') or '—'} |")
    if any(c.get("cost") for c in summary["chapters"].values()):
        lines += ["", "## What paper scale costs", ""] + cost_table(summary, PAPER_RUNS)
    return "\n".join(lines) + "\n"


def parse_parameter(text: list[str]) -> tuple[str, object]:
    name, value = text
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: every chapter in notebooks/")
    ap.add_argument("--out", default=str(ROOT / "_build" / "full"))
    ap.add_argument("--profile", default="full", choices=("smoke", "fast", "full"))
    ap.add_argument("--seeds", type=int, nargs="+", help="these seeds (default: range of the paper's runs)")
    ap.add_argument("--runs", type=int, help="seeds 0 .. runs-1 for every chapter")
    ap.add_argument("--max-epochs", type=int, help="cap every model's training (a dry run: flagged on every page)")
    ap.add_argument("--max-batches", type=int, help="end every training epoch after this many minibatches (a dry "
                    "run: the cost table scales the seconds up to whole epochs)")
    ap.add_argument("--max-steps", type=int, help="cap every other count of repetitions: importance samples, "
                    "sampler and optimiser steps, bootstrap resamples (a dry run: flagged on every page)")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="a notebook parameter for every job (JSON value), e.g. -p n_test 500")
    ap.add_argument("--cluster", default="local", choices=("local", "slurm", "debug"),
                    help="submitit's executor: local processes (default), Slurm, or in this process (debug)")
    ap.add_argument("--parallel", type=int, default=1, help="jobs at a time (local) or in the Slurm array")
    ap.add_argument("--partition", default=None, help="Slurm partition")
    ap.add_argument("--gpus-per-job", type=int, default=1, help="Slurm GPUs per job")
    ap.add_argument("--cpus-per-job", type=int, default=8, help="Slurm CPUs per job")
    ap.add_argument("--time-min", type=int, default=24 * 60, help="time limit per job, minutes")
    ap.add_argument("--cache", help="the model cache the jobs share (default: <out>/models)")
    ap.add_argument("--gather-only", action="store_true", help="only merge the jobs already under --out")
    args = ap.parse_args(argv)
    for flag, value in (("--max-epochs", args.max_epochs), ("--max-batches", args.max_batches),
                        ("--max-steps", args.max_steps)):
        if value is not None and value < 1:
            ap.error(f"{flag} {value}: give a whole number >= 1")
    out = Path(args.out).resolve()
    if not args.gather_only:
        paths = [Path(p).resolve() for p in args.notebooks] or [c.path for c in chapters.CHAPTERS]
        if missing := [str(p) for p in paths if not p.exists()]:
            ap.error(f"no such notebook: {', '.join(missing)}")
        defined = set().union(*map(notebook_parameters, paths))  # a -p goes to the chapters that have it
        if unknown := sorted({name for name, _ in args.parameter} - defined):
            ap.error(f"-p {', '.join(unknown)}: none of the notebooks has such a parameter (they have: "
                     f"{', '.join(sorted(defined))})")
        jobs = plan(paths, out=out, profile=args.profile, seeds=args.seeds, runs=args.runs,
                    parameters=dict(parse_parameter(p) for p in args.parameter), max_epochs=args.max_epochs,
                    max_steps=args.max_steps, max_batches=args.max_batches, cache=Path(args.cache).resolve() if args.cache else None)
        out.mkdir(parents=True, exist_ok=True)
        # The plan adds to the one already in --out: re-running only the jobs that failed keeps the others' results.
        planned = {j["name"]: j for j in (json.loads((out / "jobs.json").read_text()) if (out / "jobs.json").exists() else [])}
        planned.update({j.name: {**asdict(j), "name": j.name} for j in jobs})
        with atomic_path(out / "jobs.json") as tmp:
            tmp.write_text(json.dumps(list(planned.values()), indent=1))
        print(f"{len(jobs)} job(s) on {args.cluster}, {args.parallel} at a time, into {out}", flush=True)
        submit(jobs, out=out, cluster=args.cluster, parallel=args.parallel,
               slurm={"partition": args.partition, "gpus": args.gpus_per_job, "cpus": args.cpus_per_job,
                      "time_min": args.time_min})
    summary = gather(out)
    print((out / "summary.md").read_text())
    for failure in summary["failed"]:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
