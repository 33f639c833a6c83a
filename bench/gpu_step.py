"""Milliseconds per training step of the full profile's models, and what a step waits for.

    python -m bench.gpu_step [--steps 40] [--repeats 3] [--out step.json] [--device cuda]

Why: on an H100 (2026-11-22, commit a068d11, the dry runs in the README) the book's full-profile training steps
ran only 0.5-2.3x as fast as on the 2-core development CPU, where a GPU should be one to two orders of magnitude
faster. This script isolates the step, so that one GPU session can find what it waits for. One step (forward,
backward, Adam) of each kind of model that the full profile trains, at the chapter's batch size:

* ``ch7 MLP``: Bozkurt's deep MLP VAE (400-200-100, D = 50), Bernoulli likelihood, batch 100;
* ``ch6 conv``: Rosca's App. K conv nets (``vb.ConvNets``), D = 10, Bernoulli, batch 64;
* ``ch3 Kamoi``: Kamoi's conv nets with the 256-way categorical pixel, two-mode Gaussian-mixture prior, D = 50,
  each image under its own component, batch 64;
* ``ch3 Glow``: ``vb.ImageFlow.glow`` with 32 steps of 128 channels, the two-mode prior on its 784 dims, batch 64.

Each is timed under variants, one change each against ``fit``:

* ``fit``: :func:`vaebook.fit`, as the book trains (the NaN flag stays on the device, read every 100 steps);
* ``bare``: a bare PyTorch loop over the same batches (no flag, no running loss);
* ``no-validate``: ``torch.distributions`` argument checks off (on a GPU each check is a host-device sync);
* ``cudnn-benchmark``: ``torch.backends.cudnn.benchmark`` on (cuDNN times its algorithms for these shapes).

and, on CUDA, the host-device synchronisations of one ``fit`` step (``torch.cuda.set_sync_debug_mode``) and the
SM clock before and after. Times: wall clock over ``--steps`` steps after as many warm-up steps, the device
synchronised at both ends; the median of ``--repeats``. Prints a table; ``--out`` also writes it as JSON.

    python -m bench.gpu_step --stacked [--runs 5] [--steps 40] [--repeats 3] [--device cuda]

``--stacked`` times instead the paper-scale run's path (:mod:`vaebook.paper_scale`): ``--runs`` models of one kind
trained one by one with :func:`vaebook.fit` (``plain``: the milliseconds of one model's step, times the runs) against
the same models trained as one batched model (:func:`vaebook.stacked.fit_batched`, its ``noise="device"`` draws), and
on CUDA the batched path with TF32, with a CUDA graph of the step, with both, and (``--compile``) with ``torch.compile``. The kinds are
the models paper scale trains most: chapter 4's conv VAE (baseline, RMSprop, batch 50), its adversarial conv VAE
(spectral normalisation), chapter 7's deep MLP VAE (batch 100). The results go to ``bench/results/step_<device>.json``
(or ``--out``) with the machine, torch and the commit.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
import warnings
from contextlib import contextmanager
from functools import partial

import torch

import vaebook as vb
from bench import write_results


def models(device: torch.device) -> dict:
    """name -> (build, data, batch size): ``build()`` gives a fresh model on ``device``, ``data`` its tensors."""
    g = torch.Generator().manual_seed(0)
    binary = lambda n: (torch.rand(n, 1, 28, 28, generator=g) < 0.3).float().to(device)
    grey = lambda n: (torch.randint(0, 256, (n, 1, 28, 28), generator=g) / 255).to(device)
    halves = lambda n: (torch.arange(n) % 2).to(device)

    def vae(nets, latent_dim, likelihood, prior):
        enc, dec = nets(latent_dim, likelihood.decoder_outputs)
        return vb.VAE(vb.Encoder(enc), vb.Decoder(dec, likelihood()), prior).to(device)

    mixture = lambda dim: vb.GaussianMixture(vb.two_mode_means(dim, 100.0))  # the chapter's modes, 100 apart
    x3 = grey(640)
    return {
        "ch7 MLP": (lambda: vae(vb.MLPNets((400, 200, 100)), 50, vb.Bernoulli, vb.StandardNormal(50)),
                    (binary(1000),), 100),
        "ch6 conv": (lambda: vae(vb.ConvNets(), 10, vb.Bernoulli, vb.StandardNormal(10)), (binary(640),), 64),
        "ch3 Kamoi": (lambda: vae(vb.KamoiNets(), 50, vb.Categorical256, mixture(50)), (x3, halves(640)), 64),
        "ch3 Glow": (lambda: vb.ImageFlow.glow(x3, mixture(784), steps=32, hidden=128).to(device), (x3, halves(640)), 64),
    }


@contextmanager
def variant(name: str):
    """The one setting that ``name`` changes, undone after."""
    validate, benchmark = torch.distributions.Distribution._validate_args, torch.backends.cudnn.benchmark
    torch.distributions.Distribution.set_default_validate_args(name != "no-validate")
    torch.backends.cudnn.benchmark = name == "cudnn-benchmark"
    try:
        yield
    finally:
        torch.distributions.Distribution.set_default_validate_args(validate)
        torch.backends.cudnn.benchmark = benchmark


def bare(model, data, steps: int, batch_size: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = len(data[0])
    for i in range(steps):
        idx = torch.arange(i * batch_size, (i + 1) * batch_size, device=data[0].device) % n
        loss = model.loss(*(d[idx] for d in data))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def with_fit(model, data, steps: int, batch_size: int) -> None:
    vb.fit(model.loss, model.parameters(), data, epochs=1, batch_size=batch_size, max_batches=steps,
           optimizer=partial(torch.optim.Adam, lr=1e-3), generator=torch.Generator().manual_seed(0))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ms_per_step(build, data, batch_size: int, steps: int, repeats: int, loop, device) -> float:
    model = build()
    loop(model, data, steps, batch_size)  # warm-up: allocator, kernels, cuDNN's choices
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        loop(model, data, steps, batch_size)
        sync(device)
        times.append((time.perf_counter() - t) / steps * 1e3)
    return statistics.median(times)


def syncs_per_step(build, data, batch_size: int, device) -> int | None:
    """Host-device synchronisations in one ``fit`` step (CUDA only): the warnings of the sync debug mode."""
    if device.type != "cuda":
        return None
    model = build()
    with_fit(model, data, 2, batch_size)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            bare(model, data, 1, batch_size)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def sm_clock() -> str:
    out = subprocess.run(["nvidia-smi", "--query-gpu=clocks.sm,utilization.gpu", "--format=csv,noheader"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "—"


def stacked_models(device: torch.device) -> dict:
    """name -> (build, source, negative prior, data, batch size, optimiser): the kinds of model paper scale trains."""
    from vaebook import negative as neg

    g = torch.Generator().manual_seed(0)
    grey = (torch.randint(0, 256, (1000, 1, 28, 28), generator=g) / 255).to(device)
    binary = (torch.rand(1000, 1, 28, 28, generator=g) < 0.3).float().to(device)

    def vae(nets, latent_dim, source=None):
        def build():
            enc, dec = nets(latent_dim, 1)
            enc = enc if source is None else source.prepare(enc)
            return vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(latent_dim)).to(device)
        return build

    rmsprop, adam = partial(torch.optim.RMSprop, lr=1e-4), partial(torch.optim.Adam, lr=1e-3)
    prior = vb.ShiftedNormal(10, 8.0).to(device)
    return {"ch4 conv": (vae(vb.ConvNets(), 10), None, prior, grey, 50, rmsprop),
            "ch4 adversarial": (vae(vb.ConvNets(), 10, neg.Adversarial()), neg.Adversarial(), prior, grey, 50, rmsprop),
            "ch7 MLP": (vae(vb.MLPNets((400, 200, 100)), 50), None, prior, binary, 100, adam)}


def _timed(run, steps: int, repeats: int, device) -> float:
    """Median milliseconds per step of ``run(steps)``, after one warm-up call."""
    run(steps)
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        run(steps)
        sync(device)
        times.append((time.perf_counter() - t) / steps * 1e3)
    return statistics.median(times)


def stacked_row(name, spec, runs: int, steps: int, repeats: int, device, compile: bool = False) -> dict:
    """One kind of model: ms per step of ``runs`` models, one by one (``vb.fit``) and batched, under each variant."""
    from vaebook import negative as neg
    from vaebook.stacked import fit_batched, recipe_for

    build, source, prior, data, batch, opt = spec
    one = build()
    plain = _timed(lambda n: vb.fit(neg.training_loss(one, source, prior), one.parameters(), data, epochs=1,
                                    batch_size=batch, optimizer=opt, max_batches=n,
                                    generator=torch.Generator().manual_seed(0)), steps, repeats, device)
    row = {"model": name, "batch": batch, "runs": runs, "plain, one model": plain, "plain": plain * runs}
    variants = {"batched": {}}
    if device.type == "cuda":
        variants.update({"batched, TF32": {"tf32": True}, "batched, CUDA graph": {"graphs": True},
                         "batched, CUDA graph, TF32": {"graphs": True, "tf32": True}})
        if compile:
            variants["batched, compile"] = {"compile": True}
    for label, kw in variants.items():
        models = [build() for _ in range(runs)]
        settings = {}

        def batched(n):
            h = fit_batched(models, recipe_for(source, prior), data, epochs=1, batch_size=batch, optimizer=opt,
                            seeds=range(runs), max_batches=n, noise="device", **kw)
            settings.update(h.settings)
        try:
            row[label] = _timed(batched, steps, repeats, device)
            if kw and not all(settings.get(k) == v for k, v in kw.items()):
                row[label + " (fell back)"] = settings.get("fallback", "setting not applied")
        except Exception as e:  # a variant that fails on this machine is reported, not fatal
            row[label] = None
            row[label + " (failed)"] = f"{type(e).__name__}: {e}"[:300]
    row["speed-up, batched"] = row["plain"] / row["batched"]
    return row


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.abspath(__file__)))
    return out.stdout.strip() or os.environ.get("VAEBOOK_COMMIT", "unknown")


def main_stacked(args, device, name) -> None:
    rows = []
    for model_name, spec in stacked_models(device).items():
        if args.only and model_name not in args.only:
            continue
        torch.manual_seed(0)
        rows.append(stacked_row(model_name, spec, args.runs, args.steps, args.repeats, device, args.compile))
        print("  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in rows[-1].items()), flush=True)
    columns = [c for c in rows[0] if c not in ("model", "batch", "runs")] if rows else []
    print(f"\nms per training step of {args.runs} models on {device} ({name}): one by one (plain) and batched")
    print("| model | batch | " + " | ".join(columns) + " |")
    print("| --- | --- |" + " --- |" * len(columns))
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | " + " | ".join(
            f"{r.get(c):.2f}" if isinstance(r.get(c), float) else str(r.get(c, "—")) for c in columns) + " |")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"step_{device.type}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"what": "ms per training step: runs models one by one (vb.fit) against batched (vaebook.stacked)",
                   "device": device.type, "device_name": name, "label": "GPU" if device.type == "cuda" else "CPU",
                   "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
                   "commit": _commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "steps": args.steps, "repeats": args.repeats, "runs": args.runs, "rows": rows}, f, indent=1)
    print(f"written to {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default=None, help="default: vaebook.device()")
    ap.add_argument("--only", nargs="*", help="model names to run (default: all)")
    ap.add_argument("--out", help="also write the results here as JSON")
    ap.add_argument("--stacked", action="store_true", help="plain against batched training of --runs models")
    ap.add_argument("--runs", type=int, default=5, help="models trained together with --stacked")
    ap.add_argument("--compile", action="store_true", help="with --stacked on CUDA, also torch.compile (slow to compile)")
    args = ap.parse_args()
    os.environ["VAEBOOK_PROGRESS"] = "0"  # time the steps, not a progress bar
    device = torch.device(args.device) if args.device else vb.device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    if args.stacked:
        print(f"device {device} ({name}), torch {torch.__version__}, {args.steps} steps x {args.repeats}, {args.runs} runs")
        return main_stacked(args, device, name)
    print(f"device {device} ({name}), torch {torch.__version__}, {args.steps} steps x {args.repeats}")
    clock_before = sm_clock() if device.type == "cuda" else None
    variants = {"fit": with_fit, "bare": bare, "no-validate": with_fit, "cudnn-benchmark": with_fit}
    rows = []
    for model_name, (build, data, batch_size) in models(device).items():
        if args.only and model_name not in args.only:
            continue
        row = {"model": model_name, "batch": batch_size}
        for v, loop in variants.items():
            with variant(v):
                torch.manual_seed(0)
                row[v] = ms_per_step(build, data, batch_size, args.steps, args.repeats, loop, device)
        row["syncs/step"] = syncs_per_step(build, data, batch_size, device)
        rows.append(row)
        print("  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    print(f"\nms per training step on {device} ({name})")
    print("| model | batch | " + " | ".join(variants) + " | syncs/step |")
    print("| --- | --- |" + " --- |" * (len(variants) + 1))
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | " + " | ".join(f"{r[v]:.1f}" for v in variants)
              + f" | {r['syncs/step'] if r['syncs/step'] is not None else '—'} |")
    if device.type == "cuda":
        print(f"SM clock, utilisation: before {clock_before}; after {sm_clock()}")
    if args.out:
        write_results(args.out, "bench.gpu_step", device=str(device), device_name=name, steps=args.steps,
                      repeats=args.repeats, rows=rows)


if __name__ == "__main__":
    main()
