"""Benchmarks, each run as ``python -m bench.<name>`` from the repository's root (``make bench``); their results are in
bench/RESULTS.md and bench/results/."""


def write_results(path, benchmark: str, **fields) -> None:
    """A benchmark's results file at ``path``: ``fields`` after what every result needs to be read later (the
    benchmark, the commit, the machine, torch's version, the date), as indented JSON."""
    import datetime
    import json
    import platform
    import subprocess
    from pathlib import Path

    import torch

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    head = {"benchmark": benchmark, "commit": commit, "machine": platform.processor() or platform.machine(),
            "torch": torch.__version__, "date": datetime.date.today().isoformat()}
    Path(path).write_text(json.dumps({**head, **fields}, indent=1) + "\n")
