"""Run every notebook in the full profile (paper scale, on a GPU) and collect the results.

    python scripts/run_full.py [--out _build/full] [notebooks/01_ood_puzzle.ipynb ...]

Each notebook is executed by papermill with ``profile="full"``; the executed
notebooks and the recorded numbers (``results/*.json``) land in one folder.
Full datasets are read from ``$VAEBOOK_DATA`` and downloaded when missing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import papermill as pm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import kernel_replies  # noqa: E402
from vaebook import runtime  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "_build" / "full"))
    ap.add_argument("notebooks", nargs="*")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.update(VAEBOOK_PROFILE="full", VAEBOOK_RESULTS=str(out / "results"),
                      VAEBOOK_CACHE=os.environ.get("VAEBOOK_CACHE", str(out / "models")), VAEBOOK_PROGRESS="0")
    kernel_replies.install()
    for key, value in runtime.environment().items():  # inherited by the kernels, before they import torch
        os.environ.setdefault(key, value)
    paths = [Path(p).resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    failed = []
    for path in paths:
        t = time.time()
        try:
            pm.execute_notebook(str(path), str(out / path.name), parameters={"profile": "full"},
                                cwd=str(path.parent), kernel_name="python3")
            print(f"{path.name}: {time.time() - t:.0f} s")
        except pm.PapermillExecutionError as e:
            failed.append(path.name)
            print(f"{path.name}: FAILED after {time.time() - t:.0f} s: {e.ename}: {e.evalue}", file=sys.stderr)
    print(f"executed notebooks and results/ in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
