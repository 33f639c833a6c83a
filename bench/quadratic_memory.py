"""Peak memory and time of the book's quadratic metrics at paper scale: 60,000 training posteriors.

    python -m bench.quadratic_memory [--n 60000] [--m 60000] [--dim 32] [--json bench/results/quadratic_memory.json]

Each metric runs in a fresh process (so that its peak resident memory is its own) on random posteriors of
``--n`` training images in ``--dim`` latent dimensions, against ``--m`` query points:

* the marginal KL's log q(z) (chapter 6, Rosca et al. Alg. 2): ``m`` draws z ~ q(z), each against all ``n``;
* the optimal decoder (chapter 7, Shu's weights): μ(z), the weights' perplexity and the 3 heaviest training
  images for ``m`` codes, against all ``n`` 784-pixel training images.

Both are sums over an ``(m, n)`` matrix that is never built: the training set is visited ``chunk`` (4,096)
columns at a time and the queries ``batch`` (1,000) rows at a time, so memory grows with ``n`` only through
the ``(n, dim)`` posteriors and the ``(n, 784)`` images. The target is a peak below 4 GB at 60k × 60k.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench import write_results

CHILD = r"""
import json, resource, sys, time
import torch
from vaebook.aggregate import AggregatePosterior
from vaebook.optimal_decoder import OptimalDecoder
metric, n, m, dim, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), 1000
g = torch.Generator().manual_seed(0)
loc, scale = torch.randn(n, dim, generator=g), 0.1 + torch.rand(n, dim, generator=g)
t = time.perf_counter()
if metric == "marginal_kl":
    q = AggregatePosterior(loc, scale)
    total = 0.0
    for start in range(0, m, batch):
        total += q.log_prob(q.sample((min(batch, m - start),), generator=g)).sum().item()
    out = total / m
else:
    images = torch.rand(n, 1, 28, 28, generator=g)
    decoder = OptimalDecoder(loc, scale, images)
    out = 0.0
    for start in range(0, m, batch):
        out += decoder(torch.randn(min(batch, m - start), dim, generator=g)).perplexity.sum().item()
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "value": out}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60_000)
    ap.add_argument("--m", type=int, default=60_000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    results = {}
    print(f"n = {args.n:,} training posteriors, m = {args.m:,} queries, {args.dim} latent dimensions")
    for metric in ("marginal_kl", "optimal_decoder"):
        run = subprocess.run([sys.executable, "-c", CHILD, metric, str(args.n), str(args.m), str(args.dim)],
                             capture_output=True, text=True, check=True)
        r = results[metric] = json.loads(run.stdout.strip().splitlines()[-1])
        verdict = "below" if r["peak_mb"] < 4096 else "ABOVE"
        print(f"{metric:16s} {r['seconds']:8.1f} s   peak RSS {r['peak_mb']:7.0f} MB ({verdict} the 4 GB target)")
    if args.json:
        write_results(args.json, "bench.quadratic_memory", n=args.n, m=args.m, dim=args.dim, target_mb=4096, **results)


if __name__ == "__main__":
    main()
