"""The bootstrap intervals of chapter 8: all resamples scored at once against one metric call per resample.

    python -m bench.bootstrap_speed [--json bench/results/bootstrap.json]

Chapter 8 computes a 95 % interval of the AUROC, the AUPR and the FPR at 95 % TPR for every detector and OOD set
(240 pairs of 2,000 inlier and 2,000 outlier scores, 50 resamples each in the fast profile).
``vb.metrics.bootstrap_ci`` scores all resamples of the AUROC and the AUPR at once, from how often each resample drew
each distinct score (no sort per resample); the other path is one sklearn call per resample, on the same resamples.
Both are timed here on one thread, and their intervals compared.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

import vaebook as vb  # noqa: E402
from vaebook import metrics  # noqa: E402

from bench import write_results  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the measurement to this file")
    ap.add_argument("--n", type=int, default=2000, help="scores per set")
    ap.add_argument("--n-boot", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    out = {}
    for ties in (False, True):
        kind = "with ties (scores rounded to 2 decimals)" if ties else "without ties"
        out[kind] = {}
        for metric in (vb.auroc, metrics.aupr):
            times, gaps = {"all at once": [], "one call per resample": []}, []
            for r in range(args.repeats):
                s_in, s_out = rng.normal(size=args.n), rng.normal(size=args.n) + 0.3
                if ties:
                    s_in, s_out = s_in.round(2), s_out.round(2)
                t = time.perf_counter()
                fast = metrics.bootstrap_ci(metric, s_in, s_out, n_boot=args.n_boot, seed=r)
                times["all at once"].append(time.perf_counter() - t)
                t = time.perf_counter()
                slow = metrics.bootstrap_ci(lambda a, b: metric(a, b), s_in, s_out, n_boot=args.n_boot, seed=r)
                times["one call per resample"].append(time.perf_counter() - t)
                gaps.append(max(abs(fast[0] - slow[0]), abs(fast[1] - slow[1])))
            row = {k: round(float(np.median(v)), 4) for k, v in times.items()}
            row["largest difference of the interval ends"] = float(max(gaps))
            out[kind][metric.__name__] = row
            print(kind, metric.__name__, row)
    out["setting"] = {"scores per set": args.n, "resamples": args.n_boot, "repeats (median taken)": args.repeats,
                      "threads": os.environ["OMP_NUM_THREADS"]}
    if args.json:
        write_results(args.json, "bench.bootstrap_speed", **out)


if __name__ == "__main__":
    main()
