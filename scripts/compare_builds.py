"""Two builds of the book, the same code on different arithmetic: which numbers moved, by how much, and do the
verdicts agree?

    python -m scripts.compare_builds _build/results _build/aten-default/results [--out bench/rounding.md]

Every recorded value of every chapter is compared; the claims of each chapter are checked in both builds against
their verdicts over seeds (:func:`vaebook.claims.contradiction`). Used once per change of the verdict rule or of
the seed record, to show that a build on another CPU (``ATEN_CPU_CAPABILITY=default`` imitates one) or with
another thread count reaches the same verdicts; the result is committed under ``bench/``.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
from pathlib import Path

from vaebook import claims as vc


def compare(a: Path, b: Path) -> tuple[list[dict], list[str], int]:
    """The values that differ between the two results folders, the contradictions in either, and the count of values."""
    moved, problems, n = [], [], 0
    for path in sorted(a.glob("*.json")):
        other = b / path.name
        if not other.exists():
            problems.append(f"{path.stem}: not in {b}")
            continue
        ra, rb = json.loads(path.read_text()), json.loads(other.read_text())
        for key, va in sorted(ra["values"].items()):
            vb_ = rb["values"].get(key)
            if vb_ is None:
                continue
            n += 1
            if va != vb_:
                moved.append({"chapter": path.stem, "value": key, "a": va, "b": vb_,
                              "relative": abs(va - vb_) / max(abs(va), abs(vb_), 1e-12)})
        for label, record in (("a", ra), ("b", rb)):
            recorded = [vc.Claim.from_dict(c) for c in record.get("claims") or []]
            for v in vc.verdicts(path.stem, recorded):
                if why := vc.contradiction(v, v.claim.margin(record["values"])):
                    problems.append(f"build {label}: {why}")
    return moved, problems, n


def markdown(a: Path, b: Path, moved: list[dict], problems: list[str], n: int) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = ["# Rounding between two builds\n",
             f"Build a: `{a}`; build b: `{b}`; code at {commit}; machine: {platform.machine()}, "
             f"{platform.processor() or 'unknown CPU'}, Python {platform.python_version()}.\n",
             f"{len(moved)} of {n} recorded values differ. Contradictions of a decided verdict: "
             f"{len(problems) or 'none'}.\n"]
    bands = [(0, 1e-6), (1e-6, 1e-3), (1e-3, 1e-2), (1e-2, 0.1), (0.1, math.inf)]
    lines += ["| relative change | values |", "| --- | --- |"]
    lines += [f"| {lo:g} – {hi:g} | {sum(lo < m['relative'] <= hi for m in moved)} |" for lo, hi in bands]
    lines += ["", "The values that moved by more than 1 %:", "", "| chapter | value | build a | build b | relative |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {m['chapter']} | {m['value']} | {m['a']:.4g} | {m['b']:.4g} | {m['relative']:.1%} |"
              for m in sorted(moved, key=lambda m: -m["relative"]) if m["relative"] > 0.01]
    lines += ["", *[f"- {p}" for p in problems]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    moved, problems, n = compare(args.a, args.b)
    text = markdown(args.a, args.b, moved, problems, n)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
