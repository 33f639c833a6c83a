"""A PAE's three outlier scores from one encoding (``vb.PAEScores``) against one score at a time.

    python -m bench.pae_scores [--json bench/results/pae_scores.json]

Chapter 5 scores every test set with a PAE's reconstruction error, latent density and eq. 12 at each K, and chapter 8
with three PAEs. Scored one at a time (``vb.Score`` of ``pae.ae.reconstruction_error``, ``pae.score(x,
reconstruction=False)`` and ``pae.score(x)``), each runs the convolutional encoder and the decoder again, and the
latent density also the decoder it does not need; ``vb.PAEScores`` encodes once. Both are timed here on one thread,
on the fast profile's nets (``vb.recipes.PAERecipe``: a convolutional encoder, an MLP decoder, a RealNVP of 6
couplings; untrained: the arithmetic is the same), 2,000 images in batches of 250 as the chapters score, and the
scores compared bit for bit.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

import vaebook as vb  # noqa: E402
from vaebook.pae import PAE  # noqa: E402
from vaebook.recipes import PAERecipe  # noqa: E402

from bench import write_results  # noqa: E402

ONE_AT_A_TIME = [vb.Score("reconstruction error", lambda pae, x: pae.ae.reconstruction_error(x)),
                 vb.Score("latent density", lambda pae, x: pae.score(x, reconstruction=False)),
                 vb.Score("eq. 12", lambda pae, x: pae.score(x))]


def pae(k: int) -> PAE:
    torch.manual_seed(0)
    recipe = PAERecipe("conv", "mlp", ae_epochs=1, flow_epochs=1)
    flow = vb.realnvp(k, vb.StandardNormal(k), layers=recipe.layers, hidden=recipe.flow_hidden)
    return PAE(recipe.autoencoder(k), flow, torch.full((1, 28, 28), 0.1)).eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the measurement to this file")
    ap.add_argument("--n", type=int, default=2000, help="images scored")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    x = torch.rand(args.n, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    rows = {}
    for k in (4, 64):
        model, times = pae(k), {"one pass (vb.PAEScores)": [], "one score at a time": []}
        for _ in range(args.repeats):
            t = time.perf_counter()
            fast = vb.ood_scores(model, x, [vb.PAEScores()], batch_size=250)
            times["one pass (vb.PAEScores)"].append(time.perf_counter() - t)
            t = time.perf_counter()
            slow = vb.ood_scores(model, x, ONE_AT_A_TIME, batch_size=250)
            times["one score at a time"].append(time.perf_counter() - t)
        row = {name: round(statistics.median(v), 3) for name, v in times.items()}
        row["speed-up"] = round(row["one score at a time"] / row["one pass (vb.PAEScores)"], 2)
        row["bit for bit the same"] = all(torch.equal(fast[name], slow[name]) for name in slow)
        rows[f"K = {k}"] = row
        print(f"K = {k}", row)
    if args.json:
        write_results(args.json, "bench.pae_scores", **rows, setting={"images": args.n, "batch": 250,
                      "repeats (median taken)": args.repeats, "threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
