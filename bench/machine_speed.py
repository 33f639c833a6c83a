"""How fast this machine is, in the unit the book's time budget is stated in.

    python -m bench.machine_speed [--repeats 3] [--json bench/results/machine_speed.json]

The fast book's budget (notebooks in 10 minutes on 2 cores, no chapter over 3) was set on the development
machine. The same code on machines of the same name has since taken from 579 s to over three times as long
(bench/RESULTS.md), with no other work running: the CPU behind "2 cores" changes. A wall-clock time alone
therefore says as much about the machine as about the book. This benchmark measures the machine with one fixed
piece of the book's own work, and ``scripts/execute_book.py`` runs it before and after every build, so that each
build's times can be read against the machine that produced them:

* **the reference epoch**: one epoch of chapter 1's fast-profile VAE (MLP 512-256, 10,000 Fashion-MNIST images,
  batch 64, Adam), one thread, in a fresh process after a warm-up (``bench/cpu_contention.py``'s "1 thread");
* **the reference machine**: :data:`REFERENCE_SECONDS`, the reference epoch on the development machine on which the
  budget was set (derived below);
* **reference time** of a build: its seconds × REFERENCE_SECONDS / (this machine's reference epoch). A machine
  that takes twice as long for the reference epoch has its build times halved.

The scaling is exact only for a CPU like the reference one, where all of the book's work slows alike. On a
different CPU it is approximate: on a 2 GHz Zen 1 EPYC (2026-12-06) the reference epoch took 2.9 times as long as
on the reference machine, the chapters 2.2 to 3.8 times (the convolutional ones most). Read a budget from
reference times where the reference epoch is near REFERENCE_SECONDS; elsewhere they estimate it, and the
wall-clock times beside them say what the build took.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from bench import write_results

from bench.cpu_contention import epoch_seconds  # noqa: E402

# The reference epoch on the development machine when the budget was set. bench/train_throughput.py measured vb.fit
# (fused Adam, one thread) there at 8,738 images/s (commit 2661035, bench/RESULTS.md): 1.144 s per epoch of 10,000
# images. This benchmark's epoch (a fresh process, one epoch after a warm-up, median) is shorter than that one's
# (best of 2 runs of 3 epochs): on 2026-12-06, on one machine minutes apart, 3.00 s against 3.27 s, a ratio of
# 0.92. So 1.144 × 0.92. (The 1.51 s of bench/RESULTS.md, "Sharing the CPU", was measured before vb.fit's Adam was
# fused, and is not this epoch.)
REFERENCE_SECONDS = 1.05
N_IMAGES = 10_000  # chapter 1's fast profile


def reference_epoch(repeats: int = 1) -> float:
    """Seconds of the reference epoch on this machine now: the median of ``repeats`` fresh processes."""
    return statistics.median(epoch_seconds("1 thread", N_IMAGES) for _ in range(repeats))


def reference_time(seconds: float, epoch: float) -> float:
    """``seconds`` measured on a machine whose reference epoch took ``epoch`` s, on the reference machine."""
    if not epoch > 0:
        raise ValueError(f"the reference epoch must take a positive time, not {epoch!r} s")
    return seconds * REFERENCE_SECONDS / epoch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    runs = [epoch_seconds("1 thread", N_IMAGES) for _ in range(args.repeats)]
    epoch = statistics.median(runs)
    result = {"reference_epoch_s": round(epoch, 3), "runs_s": [round(r, 3) for r in runs],
              "reference_machine_s": REFERENCE_SECONDS, "speed": round(REFERENCE_SECONDS / epoch, 3)}
    print(json.dumps(result))
    if args.json:
        write_results(args.json, "bench.machine_speed", **result)
    print(f"this machine runs the book's work at {REFERENCE_SECONDS / epoch:.2f}× the reference machine's speed")


if __name__ == "__main__":
    main()
