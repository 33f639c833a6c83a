"""Images per second of vaebook's training loop against a bare PyTorch loop, same model, data and steps.

    python bench/train_throughput.py [--epochs 3] [--n 10000]

Prints both throughputs and their ratio (vaebook / bare; the target is >= 0.9).
Each loop runs ``--repeats`` times, alternating, and the best time of each is kept.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import vaebook as vb


def model(seed: int = 0) -> vb.VAE:
    torch.manual_seed(seed)
    enc, dec = vb.MLPNets((512, 256))(10, 1)
    return vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(10))


def bare_loop(vae: vb.VAE, x: torch.Tensor, epochs: int, batch_size: int) -> None:
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for start in range(0, len(x), batch_size):
            loss = vae.loss(x[order[start:start + batch_size]])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def vaebook_loop(vae: vb.VAE, x: torch.Tensor, epochs: int, batch_size: int) -> None:
    vb.fit(vae.loss, vae.parameters(), x, epochs, batch_size, vb.optimizer("adam", lr=1e-3),
           torch.Generator().manual_seed(0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ["VAEBOOK_PROGRESS"] = "0"  # measure the loop, not the progress bar
    torch.set_num_threads(torch.get_num_threads())
    x = vb.load("fashion-mnist", "train", args.n, profile="fast").tensor()
    best = {"bare": float("inf"), "vaebook": float("inf")}
    loops = [("bare", bare_loop), ("vaebook", vaebook_loop)]
    for r in range(args.repeats):
        for name, loop in (loops if r % 2 == 0 else loops[::-1]):  # alternate which runs first
            vae = model()
            t = time.perf_counter()
            loop(vae, x, args.epochs, args.batch_size)
            best[name] = min(best[name], time.perf_counter() - t)
    images = args.epochs * args.n
    for name, t in best.items():
        print(f"{name:8s} {images / t:9.0f} images/s  ({t:.2f} s for {args.epochs} epochs of {args.n})")
    print(f"ratio vaebook / bare: {best['bare'] / best['vaebook']:.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
