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
import json
import sys
from dataclasses import asdict
from pathlib import Path

from vaebook.files import atomic_path

from scripts import chapters
from scripts.full.gather import gather
from scripts.full.jobs import notebook_parameters, parse_parameter, plan
from scripts.full.submit import submit

ROOT = Path(__file__).resolve().parents[1]


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
