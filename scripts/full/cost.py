"""What paper scale costs: seconds per epoch of every model a chapter's jobs trained, scaled to the paper's epochs
and runs, on the device they trained on (a CPU's seconds at an assumed GPU speed-up)."""
from __future__ import annotations

import statistics

from scripts.full.jobs import DEFAULT_RUNS

# How much faster one GPU trains the book's models than the 2-core development CPU: what the cost table assumes for
# the models a dry run trained on a CPU. An assumption, not a measurement. Small VAEs on 28×28 images at batch 50-100
# are bound by kernel launches on a GPU, so the gain is far below the gap in peak FLOPs; 20× is a middle guess. The
# one GPU lent so far (an H100, 2026-11-22) measured nothing of it: submitit hid the GPU from the local jobs, which
# trained on its CPU (fixed since: scripts/full/submit.py). A dry run on a GPU logs `"device": "cuda"` for every model, and the
# table takes those seconds as they are; `bench/gpu_step.py` times one step of each kind of model in one call.
GPU_SPEEDUP = 20.0


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
    return {"models": len(runs[0]), "seconds_per_epoch": statistics.fmean(per_run),
            "train_seconds": statistics.fmean(full["cuda"]) + statistics.fmean(full["cpu"]),
            "train_seconds_cuda": statistics.fmean(full["cuda"]), "train_seconds_cpu": statistics.fmean(full["cpu"]),
            "epochs_asked": sorted({m["epochs_asked"] for models in runs for m in models}),
            "device": devices.pop() if len(devices) == 1 else "mixed"}


def _epoch_seconds(m: dict) -> float:
    """Seconds of one whole epoch of a logged model: an epoch cut to fewer minibatches is scaled up."""
    whole = m.get("batches_per_epoch", 1) / m.get("batches_run", 1)
    return m["seconds"] / m["epochs_run"] * whole


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
