"""How much of the chapters' code is the experiment: the same rule for every chapter, at any commit.

    python -m bench.notebook_code [--rev REV] [--json FILE]

Each code line of each chapter (blank lines and comments left out, the Colab cell left out) falls in one class:

* **set-up**: the parameters cell and the code cells that follow it before the first text (imports, ``vb.param``,
  profile values, the recipe);
* **record**: the claims cell, and the lines that glue, record or tabulate a result (``vb.glue``, ``vb.record``,
  ``vb.row``, ``vb.reproduction_table``, ``vb.tables``, ``vb.claims``, ``.present(``, an assignment to ``rows`` or
  ``repro``, the reproduction table's rows) and the lines after them that continue their call;
* **plots**: cells that draw a figure or a widget (``plot.figure``, ``plot.canvas``, ``vb.widgets.explore``);
* **experiment**: every other line: the data, the models, their training and their scores.

It also counts the cells over 25 lines (all their lines, blank and comment lines too, as a reader sees them), the
helpers (``def`` names) defined in more than one chapter, and the
profile values chosen mid-notebook (``vb.pick(None, ...)`` outside the set-up cells), which the parameters cell
cannot set. Issue 29 asks for more than 60 % experiment, no cell over 25 lines and no helper defined twice.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = re.compile(r"vb\.(glue|record|row|reproduction_table|tables\.|claims\.)|\.present\(|^\s*(rows|repro)\b.*=")
PLOT = re.compile(r"plot\.figure\(|plot\.canvas\(|vb\.widgets\.explore\(")


def _notebooks(rev: str | None) -> dict[str, dict]:
    if rev is None:
        return {p.stem: json.loads(p.read_text()) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "notebooks/"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    return {Path(n).stem: json.loads(subprocess.run(["git", "show", f"{rev}:{n}"], cwd=ROOT, capture_output=True,
                                                    text=True, check=True).stdout)
            for n in sorted(names) if re.match(r"notebooks/\d\d_.*\.ipynb$", n)}


def _lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]


def classify(nb: dict) -> tuple[Counter, list[int], set[str], int]:
    """(lines per class, the lengths of cells over 25 lines, the names of the helpers defined, mid-notebook picks)."""
    counts, long_cells, helpers, picks = Counter(), [], set(), 0
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "colab-setup" not in c["metadata"].get("tags", [])]
    every = nb["cells"]
    first = next(i for i, c in enumerate(every) if "parameters" in c["metadata"].get("tags", []))
    text = next((i for i in range(first, len(every)) if every[i]["cell_type"] == "markdown"), len(every))
    setup = {id(c) for c in every[first:text] if c["cell_type"] == "code"}  # the parameters cell and the cells after it
    for i, cell in enumerate(cells):
        source = "".join(cell["source"])
        lines = _lines(source)
        if len(source.splitlines()) > 25:
            long_cells.append(len(source.splitlines()))
        try:
            helpers |= {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
        except SyntaxError:
            pass
        if id(cell) in setup:
            counts["set-up"] += len(lines)
            continue
        picks += len(re.findall(r"vb\.pick\(None", source))
        if "claims" in cell["metadata"].get("tags", []):
            counts["record"] += len(lines)
        elif PLOT.search(source):
            counts["plots"] += len(lines)
        else:
            depth = 0  # brackets still open from a recording line: its continuation lines record too
            for line in lines:
                if depth > 0 or RECORD.search(line):
                    counts["record"] += 1
                    depth = max(0, depth + line.count("(") + line.count("[") + line.count("{")
                                - line.count(")") - line.count("]") - line.count("}"))
                else:
                    counts["experiment"] += 1
    return counts, long_cells, helpers, picks


def measure(rev: str | None = None) -> dict:
    chapters, defined = {}, Counter()
    for stem, nb in _notebooks(rev).items():
        if stem.startswith("00_"):
            continue  # the data page runs no experiment
        counts, long_cells, helpers, picks = classify(nb)
        defined.update(helpers)
        total = sum(counts.values())
        chapters[stem] = {**counts, "lines": total, "experiment share": round(counts["experiment"] / total, 3),
                          "cells over 25 lines": len(long_cells), "mid-notebook picks": picks}
    total = Counter()
    for c in chapters.values():
        total.update({k: c.get(k, 0) for k in ("set-up", "record", "plots", "experiment", "lines",
                                                 "cells over 25 lines", "mid-notebook picks")})
    return {"rev": rev or "working tree", "chapters": chapters,
            "all": {**total, "experiment share": round(total["experiment"] / total["lines"], 3)},
            "helpers defined in two or more chapters": sorted(n for n, k in defined.items() if k > 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", help="a git revision (default: the working tree)")
    ap.add_argument("--json", help="also write the measurement to this file")
    args = ap.parse_args()
    m = measure(args.rev)
    print(f"{m['rev']}: " + ", ".join(f"{k} {v}" for k, v in m["all"].items()))
    for stem, c in m["chapters"].items():
        print(f"  {stem}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    print("  helpers defined in two or more chapters:", ", ".join(m["helpers defined in two or more chapters"]) or "none")
    if args.json:
        Path(args.json).write_text(json.dumps(m, indent=1) + "\n")


if __name__ == "__main__":
    main()
