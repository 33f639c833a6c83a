"""Benchmarks, each run as ``python -m bench.<name>`` from the repository's root (``make bench``); their results are in
bench/RESULTS.md and bench/results/."""


def machine() -> str:
    """The CPU's model name and the CPUs this process may use (Linux: /proc/cpuinfo), else what platform says."""
    import os
    import platform
    from pathlib import Path

    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
             if line.startswith("model name")]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{names[0] if names else platform.processor() or platform.machine()}, {cpus} CPUs"


def write_results(path, benchmark: str, **fields) -> None:
    """A benchmark's results file at ``path``: ``fields`` after what every result needs to be read later (the
    benchmark, the commit, the machine, torch's version, the date), as indented JSON."""
    import datetime
    import json
    import subprocess
    from pathlib import Path

    import torch

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    head = {"benchmark": benchmark, "commit": commit, "machine": machine(),
            "torch": torch.__version__, "date": datetime.date.today().isoformat()}
    Path(path).write_text(json.dumps({**head, **fields}, indent=1) + "\n")
