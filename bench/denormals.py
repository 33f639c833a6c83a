"""Seconds per epoch of chapter 1's VAE with denormal floats kept, and flushed to zero (what ``import vaebook`` does).

    python -m bench.denormals [--epochs 10] [--json bench/results/denormals.json]

A float32 below 1.2e-38 in magnitude is *denormal*; on x86 CPUs arithmetic that meets one is many times slower.
Training makes them: when a ReLU unit stops firing, Adam's first moments of its weights shrink by 0.9 a step and are
denormal some 800 steps later (``vaebook.runtime``). So the first epochs of a model are fast and the later ones
slow, which a 3-epoch benchmark (``bench/train_throughput.py``) does not see. This trains chapter 1's main model (MLP
512-256, latent 10, Bernoulli, Adam, batch 64, 10,000 Fashion-MNIST images) on one thread, after one warm-up epoch,
once each way, and prints the seconds of every epoch. Flushing reads and writes every denormal as zero; the cache
keys say which way a model was trained (``vaebook.train``), so the two are never mixed.
"""
from __future__ import annotations

import argparse
import os
import time
from functools import partial
from pathlib import Path

import torch

import vaebook as vb

from bench import write_results


def epoch_seconds(x: torch.Tensor, epochs: int, flush: bool) -> list[float]:
    if not torch.set_flush_denormal(flush) and flush:  # this thread only: the run uses one thread
        raise SystemExit("this CPU cannot flush denormals (torch.set_flush_denormal): nothing to compare")
    torch.manual_seed(0)
    enc, dec = vb.MLPNets((512, 256))(10, 1)
    vae = vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(10))
    times = [time.perf_counter()]
    vb.fit(vae.loss, vae.parameters(), x, epochs=epochs, batch_size=64, optimizer=partial(torch.optim.Adam, lr=1e-3),
           generator=torch.Generator().manual_seed(0), on_epoch=lambda e: times.append(time.perf_counter()))
    return [round(b - a, 3) for a, b in zip(times, times[1:])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with vb.Settings.from_environment("fast", os.environ).replace(progress=False).use():
        x = vb.load("fashion-mnist", "train", args.n).tensor()
        epoch_seconds(x, 1, flush=True)  # warm-up: the first run would otherwise pay for it
        runs = {"kept": epoch_seconds(x, args.epochs, flush=False), "flushed": epoch_seconds(x, args.epochs, flush=True)}
    torch.set_flush_denormal(True)  # as vaebook left it
    for name, seconds in runs.items():
        print(f"denormals {name:8s} {sum(seconds):6.1f} s: " + " ".join(f"{s:.2f}" for s in seconds))
    speedup = sum(runs["kept"]) / sum(runs["flushed"])
    print(f"speed-up {speedup:.2f}x over {args.epochs} epochs; last epoch {runs['kept'][-1] / runs['flushed'][-1]:.2f}x")
    if args.json:
        write_results(args.json, "bench.denormals", epochs=args.epochs, images=args.n, seconds_per_epoch=runs,
                      speedup=round(speedup, 3))


if __name__ == "__main__":
    main()
