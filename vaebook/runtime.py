"""How the book's code uses the CPU: OpenMP threads that wait passively, as many as this process may use, and
denormal floats flushed to zero.

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

**Denormals.** A float32 smaller than about 1.2e-38 in magnitude is *denormal* (float64: 2.2e-308), and x86 CPUs
do arithmetic on such numbers many times more slowly. Training makes them: when a ReLU unit stops firing, the
gradients of its weights become zero and Adam's first moments of those weights shrink by 0.9 a step, into the
denormal range some 800 steps later. After 5 epochs of chapter 1's main model, about half of the first layer's
first moments were denormal, and its later epochs took up to 2.7 times as long as its first; over its 10 epochs
it took 1.76 times as long as with denormals flushed to zero (``bench/denormals.py``). :func:`flush_denormals`,
which ``vaebook/__init__.py`` calls once torch is loaded, sets the CPU to flush them: every denormal, whether a
result or an operand, is read and written as zero, so what is computed from one changes too (its logarithm is
-inf). The book's code never relies on numbers that small: small probabilities are kept as logarithms. On Linux a
thread inherits the setting from the thread that starts it, so torch's OpenMP threads have it too, provided they
start after ``import vaebook``. The setting is part of every model's cache key (:func:`flushes_denormals`), so a
model trained one way is never loaded for the other.

Used in: every chapter (through ``import vaebook``), the book build, the tests, ``bench/cpu_contention.py``,
``bench/denormals.py``.
"""
from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

__all__ = ["usable_cpus", "environment", "prepare", "flush_denormals", "flushes_denormals"]


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
    if threads and count is None:  # OpenMP would ignore it, and the reader would get a count they did not ask for
        from .settings import SettingsError

        raise SettingsError(f"OMP_NUM_THREADS={threads!r}: it must be a whole number >= 1, such as 2, or unset for "
                            f"the CPUs this process may use ({usable_cpus()})")
    for key, value in environment(count).items():
        os.environ.setdefault(key, value)
    return True


def flush_denormals() -> bool:
    """Make this thread, and (on Linux) the threads it starts from now on, treat denormal floats as zero (see the
    module's docstring). Returns False where the CPU cannot (torch's ``set_flush_denormal``: x86 with SSE3 and
    AArch64 can)."""
    import torch

    return torch.set_flush_denormal(True)


def flushes_denormals() -> bool:
    """Whether this thread's arithmetic flushes denormal floats to zero: part of a trained model's cache key."""
    import torch

    return (torch.tensor(1e-39) * 1.0).item() == 0.0  # 1e-39 is denormal in float32
