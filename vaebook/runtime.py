"""How the book's code shares the CPU: OpenMP threads that wait passively, as many as this process may use.

PyTorch's CPU build runs each parallel region on OpenMP threads. By default a thread that has finished its
share *spins* until the next region starts. On an idle machine that saves a few microseconds per region; on a
machine whose cores are busy with other work the spinning threads take the cores from the thread that has
real work left, and the book's small models train many times slower (one epoch of chapter 1's VAE: about 1 s
idle; beside busy processes issue 13 measured 28-44 s, and ``bench/cpu_contention.py`` 4-29 s). With
``OMP_WAIT_POLICY=PASSIVE`` a waiting thread sleeps instead.

The OpenMP runtime reads its variables once, when it starts, i.e. when ``torch`` is first imported. So
:func:`prepare` must run before that: ``vaebook/__init__.py`` calls it first, and every chapter imports
``vaebook`` before ``torch``. It only fills in variables that are not set (a reader's own choice wins), and
does nothing once ``torch`` is loaded. The Makefile, the tests and ``scripts/run_full.py`` set the same
variables for the processes they start (``environment``).

Used in: every chapter (through ``import vaebook``), the book build, the tests, ``bench/cpu_contention.py``.
"""
from __future__ import annotations

import math
import os
import re
import sys
import warnings
from pathlib import Path

__all__ = ["usable_cpus", "environment", "prepare"]


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota if there is one."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    try:  # cgroup v2: "max 100000" or "<quota> <period>"
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def environment(threads: int | None = None) -> dict[str, str]:
    """The OpenMP settings for a process that will import torch: passive waiting, ``threads`` threads
    (default: :func:`usable_cpus`)."""
    n = str(threads or usable_cpus())
    return {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def prepare() -> bool:
    """Fill in :func:`environment` for variables not already set, if torch is not loaded yet.

    Returns True when the settings can still take effect (torch not yet imported).
    """
    if "torch" in sys.modules:
        return False
    threads = os.environ.get("OMP_NUM_THREADS", "").strip()  # a reader's thread count holds for MKL too
    count = int(threads) if re.fullmatch(r"[0-9]+", threads) and int(threads) > 0 else None  # "²" passes isdigit()
    if threads and count is None:  # OpenMP would reject it too: say so once, and use the usable CPUs
        warnings.warn(f"OMP_NUM_THREADS={threads!r} is not a whole number >= 1; vaebook sets it to "
                      f"{usable_cpus()} (the CPUs this process may use). Unset it or set it to a count such as 2.",
                      stacklevel=2)
        del os.environ["OMP_NUM_THREADS"]
    for key, value in environment(count).items():
        os.environ.setdefault(key, value)
    return True
