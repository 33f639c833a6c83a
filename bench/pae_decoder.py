"""What a convolutional decoder costs chapter 5's autoencoder on a CPU, against an MLP decoder.

    python -m bench.pae_decoder [--json bench/results/pae_decoder.json]

The PAE paper's autoencoder is convolutional, encoder and decoder. Chapter 5 trains Rosca et al.'s convolutional
encoder (``vb.ConvEncoder``) with either decoder (``vb.recipes.PAERecipe``: ``decoder="conv"``, ``vb.ConvDecoder``'s
transposed convolutions, or ``"mlp"``, a (256, 512) MLP). Timed here on one thread, as the book builds: one training
step of the autoencoder as ``vb.fit`` trains it (a batch of 64, its loss, backward, Adam) at K = 4, 32 and 64, the median of
``--repeats`` runs of ``--steps`` steps each after a warm-up, and the ratio of the two decoders' step times.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VAEBOOK_PROGRESS", "0")
import torch  # noqa: E402

import vaebook as vb  # noqa: E402
from vaebook.recipes import PAERecipe  # noqa: E402

from bench import write_results  # noqa: E402


def step_seconds(decoder: str, k: int, steps: int, repeats: int, batch: int = 64) -> float:
    """Seconds per training step of chapter 5's autoencoder with ``decoder``, trained by ``vb.fit`` as the chapter
    trains it (its Adam, fused where it can be)."""
    torch.manual_seed(0)
    ae = PAERecipe("conv", decoder, ae_epochs=1, flow_epochs=1).autoencoder(k)
    x = torch.rand(steps * batch, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    vb.fit(ae.loss, ae.parameters(), x[:5 * batch], epochs=1, batch_size=batch)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        vb.fit(ae.loss, ae.parameters(), x, epochs=1, batch_size=batch)
        times.append((time.perf_counter() - t) / steps)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the measurement to this file")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows = {}
    for k in (4, 32, 64):
        mlp, conv = (step_seconds(d, k, args.steps, args.repeats) for d in ("mlp", "conv"))
        rows[f"K = {k}"] = {"ms per step, MLP decoder": round(1e3 * mlp, 2),
                            "ms per step, convolutional decoder": round(1e3 * conv, 2),
                            "convolutional / MLP": round(conv / mlp, 2)}
        print(f"K = {k}", rows[f"K = {k}"], flush=True)
    if args.json:
        write_results(args.json, "bench.pae_decoder", **rows, setting={"batch": 64, "steps": args.steps,
                      "repeats (median taken)": args.repeats, "threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
