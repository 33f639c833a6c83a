"""Execute the smoke notebooks many times in a row and count cells whose reply came late (kernel hangs).

    python -m scripts.stress_kernels [--rounds 30] [--jobs 2] [--out _build/stress.json]

Each round executes every notebook in the smoke profile with papermill, as the tests do (a fresh model
cache, kernels over Unix sockets, ``--jobs`` notebooks at a time). For every cell it compares the time
the client waited (papermill's ``duration``) with the time the kernel spent, from the kernel's own
message timestamps that nbclient records: ``iopub.execute_input`` (execution starts) to
``shell.execute_reply`` (the reply is sent). A cell whose client-side wait exceeds the kernel's time by
more than ``--stall-s`` seconds, or that hits the cell timeout, counts as **stalled**: the request or
the reply lay unread (ipykernel 7's reply hang, ipykernel issue 1554). Prints the count and writes a JSON
summary with the largest gap seen; the README quotes it. Exit status 1 if any cell stalled.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from scripts import chapters  # noqa: E402
from scripts import kernels  # noqa: E402
from vaebook import runtime  # noqa: E402
from vaebook.files import atomic_path  # noqa: E402


def _seconds(a: str, b: str) -> float:
    t = [datetime.datetime.fromisoformat(s.replace("Z", "+00:00")) for s in (a, b)]
    return (t[1] - t[0]).total_seconds()


def run_one(path: Path, cell_timeout: int, stall_s: float, sliced: bool) -> dict:
    """Execute one notebook in the smoke profile; per-cell client and kernel times, and the stalled cells."""
    with tempfile.TemporaryDirectory(prefix="vb-stress-") as tmp:
        env = {"VAEBOOK_CACHE": f"{tmp}/models", "VAEBOOK_RESULTS": f"{tmp}/results", "VAEBOOK_PROGRESS": "0"}
        os.environ.update(env)
        t0, error = time.monotonic(), None
        try:
            nb = kernels.papermill(path, f"{tmp}/{path.name}", parameters={"profile": "smoke"}, cwd=path.parent,
                                   timeout=cell_timeout, slices=sliced)
        except Exception as e:  # a cell timeout or error: read what was executed
            import nbformat

            error = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            nb = nbformat.read(f"{tmp}/{path.name}", as_version=4) if Path(f"{tmp}/{path.name}").exists() else None
    stalled, cells, worst = [], 0, 0.0
    for i, cell in enumerate(nb.cells if nb is not None else []):
        ex = cell.metadata.get("execution", {})
        client = cell.metadata.get("papermill", {}).get("duration")
        if cell.cell_type != "code" or client is None:
            continue
        cells += 1
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            gap = client - _seconds(ex["iopub.execute_input"], ex["shell.execute_reply"])
        else:  # no reply recorded: the client never read one
            gap = client
        worst = max(worst, gap)
        if gap > stall_s:
            stalled.append({"cell": i, "client_s": round(client, 2), "gap_s": round(gap, 2)})
    return {"notebook": path.stem, "seconds": round(time.monotonic() - t0, 1), "cells": cells,
            "largest_gap_s": round(worst, 3), "stalled": stalled, "error": error}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed at a time (the tests use 2)")
    ap.add_argument("--cell-timeout", type=int, default=120)
    ap.add_argument("--stall-s", type=float, default=5.0, help="client wait beyond the kernel's time that counts as a stall")
    ap.add_argument("--out", default=str(ROOT / "_build" / "stress.json"))
    ap.add_argument("--unpatched", action="store_true",
                    help="wait for replies as jupyter_client does, without scripts/workarounds.py's reply slices")
    ap.add_argument("notebooks", nargs="*")
    args = ap.parse_args()
    if args.jobs > 1:  # one OpenMP thread per notebook, as under pytest-xdist
        os.environ.update(runtime.environment(threads=1))
    paths = [Path(p).resolve() for p in args.notebooks] or [c.path for c in chapters.CHAPTERS]
    import ipykernel
    import jupyter_client
    import zmq

    runs, t0 = [], time.monotonic()
    with cf.ProcessPoolExecutor(args.jobs) as pool:
        for r in range(args.rounds):
            for res in pool.map(run_one, paths, [args.cell_timeout] * len(paths), [args.stall_s] * len(paths),
                                [not args.unpatched] * len(paths)):
                runs.append({"round": r, **res})
                flag = f"STALLED {res['stalled']}" if res["stalled"] else ("ERROR " + res["error"] if res["error"] else "ok")
                print(f"round {r + 1:2d}/{args.rounds} {res['notebook']:32s} {res['seconds']:6.1f} s  {flag}", flush=True)
    summary = {"rounds": args.rounds, "jobs": args.jobs, "sliced_waits": not args.unpatched, "notebook_runs": len(runs),
               "cells": sum(r["cells"] for r in runs), "stalled_cells": sum(len(r["stalled"]) for r in runs),
               "errors": sum(r["error"] is not None for r in runs), "stall_s": args.stall_s,
               "largest_gap_s": max((r["largest_gap_s"] for r in runs), default=0.0),
               "minutes": round((time.monotonic() - t0) / 60, 1),
               "versions": {"ipykernel": ipykernel.__version__, "jupyter_client": jupyter_client.__version__,
                            "pyzmq": zmq.__version__},
               "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                        text=True).stdout.strip(),
               "date": datetime.date.today().isoformat(), "runs": runs}
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    print(f"{summary['notebook_runs']} notebook runs, {summary['cells']} cells: {summary['stalled_cells']} stalled "
          f"(largest gap between the client's wait and the kernel's time: {summary['largest_gap_s']:.2f} s), "
          f"{summary['errors']} errors, {summary['minutes']} min (ipykernel {ipykernel.__version__}); {args.out}")
    return 1 if summary["stalled_cells"] or summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
