"""One epoch of chapter 1's VAE on an idle CPU and on a CPU shared with busy processes.

    python -m bench.cpu_contention [--busy 2] [--repeats 3] [--n 10000] [--json bench/results/cpu_contention.json]

Each measurement runs in a fresh Python process, because the OpenMP runtime reads its settings
once, when torch is imported. Settings (rows) times load (columns):

* ``default``: OpenMP's default wait policy, threads spin between parallel regions; one thread per CPU;
* ``passive``: ``OMP_WAIT_POLICY=PASSIVE``, what :mod:`vaebook.runtime` sets before torch loads;
* ``1 thread``: ``OMP_NUM_THREADS=1``, what each notebook kernel of the book build gets when two run at once;
* ``idle``: nothing else running; ``busy``: ``--busy`` processes running ``while True: pass`` beside it.

Prints the median seconds per epoch of each case (after a warm-up), the slowdown busy / idle of each
setting, and the cost of each setting on an idle machine against the default. The README quotes it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from bench import write_results

CHILD = r"""
import json, os, sys, time
from functools import partial
if os.environ.get("BENCH_POLICY") == "default":
    import torch  # before vaebook: vaebook.runtime then leaves OpenMP's default policy alone
import vaebook as vb
import torch
n = int(sys.argv[1])
x = vb.load("fashion-mnist", "train", n, profile="fast").tensor()
torch.manual_seed(0)
enc, dec = vb.MLPNets((512, 256))(10, 1)  # chapter 1's fast-profile model
vae = vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(10))
opt = partial(torch.optim.Adam, lr=1e-3)
vb.fit(vae.loss, vae.parameters(), x[:640], epochs=1, batch_size=64, optimizer=opt)  # warm-up: allocator, kernels
t = time.perf_counter()
vb.fit(vae.loss, vae.parameters(), x, epochs=1, batch_size=64, optimizer=opt)  # one epoch, batch 64, as chapter 1 trains
print(json.dumps({"seconds": time.perf_counter() - t, "threads": torch.get_num_threads(),
                  "policy": os.environ.get("OMP_WAIT_POLICY", "default")}))
"""


@contextmanager
def busy(count: int):
    """``count`` processes spinning on a core each, stopped on exit."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


SETTINGS = {"default": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}, "1 thread": {"OMP_NUM_THREADS": "1"}}


def epoch_seconds(setting: str, n: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env.update(BENCH_POLICY="default" if setting != "passive" else "passive", VAEBOOK_PROGRESS="0", **SETTINGS[setting])
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=2, help="busy processes beside the training (default 2)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=10000, help="training images (chapter 1's fast profile: 10,000)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(args.repeats):
        for setting in list(SETTINGS)[::1 if r % 2 == 0 else -1]:  # alternate the order between repeats
            times.setdefault((setting, "idle"), []).append(epoch_seconds(setting, args.n))
            with busy(args.busy):
                times.setdefault((setting, "busy"), []).append(epoch_seconds(setting, args.n))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"one epoch of chapter 1's MLP VAE, {args.n} images, batch 64; median of {args.repeats} runs; "
          f"{os.cpu_count()} CPUs, busy = {args.busy} spinning processes")
    for setting in SETTINGS:
        for load in ("idle", "busy"):
            runs = ", ".join(f"{s:.2f}" for s in times[setting, load])
            print(f"  {setting:9s} {load:5s} {med[setting, load]:7.2f} s   (runs: {runs})")
    for setting in SETTINGS:
        print(f"  {setting:9s} slowdown busy / idle {med[setting, 'busy'] / med[setting, 'idle']:5.1f}x;  "
              f"idle time against the default {med[setting, 'idle'] / med['default', 'idle']:.2f}x")
    if args.json:
        write_results(args.json, "bench.cpu_contention", images=args.n, busy_processes=args.busy, cpus=os.cpu_count(),
                      repeats=args.repeats, epoch_seconds={f"{s}, {load}": v for (s, load), v in times.items()},
                      median_seconds={f"{s}, {load}": v for (s, load), v in med.items()})

if __name__ == "__main__":
    main()
