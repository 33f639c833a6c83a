"""Write the stored reference executions that nbval checks re-runs against (``tests/reference/``).

    python -m scripts.nbval_reference [--profile smoke] [chapter stems ...]

Papermill checks that a chapter *runs*; nbval checks that a re-run *reproduces* a stored execution. For each
chapter this script runs the notebook in the given profile (smoke: on any CPU, in ``make test``; full: on a
GPU, see the README) and stores a copy that keeps the chapter's code cells, papermill's injected parameters
and one added cell, marked ``NBVAL_CHECK_OUTPUT``, that prints the reproduction table's numbers to six
significant digits; ``tests/conftest.py`` has nbval compare them to a tolerance, not digit by digit. Only that cell's output is stored and compared; the rest are executed, not compared.
``tests/test_nbval.py`` checks that every chapter has a reference whose code is the chapter's current code
(rerun this script after changing a chapter) and that nbval really compares it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
from scripts import chapters  # noqa: E402

REFERENCE = ROOT / "tests" / "reference"
# nbval checks a cell whose comment line is exactly this marker (text after it on the line disables the check).
CHECK_CELL = ("# NBVAL_CHECK_OUTPUT\n# the reproduction table's numbers, compared with the stored execution\n"
              'print(repro[["quantity", "ours"]].to_string(index=False, float_format=lambda v: f"{v:.6g}"))')


def reference(chapter: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The stored copy: the executed notebook with every output removed except the check cell's."""
    ref = nbformat.v4.new_notebook(metadata=chapter.metadata)
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        keep = cell.source.startswith("# NBVAL_CHECK_OUTPUT")
        ref.cells.append(nbformat.v4.new_code_cell(cell.source, metadata={"tags": cell.metadata.get("tags", [])},
                                                   outputs=cell.outputs if keep else [],
                                                   execution_count=cell.execution_count if keep else None))
    return ref


def main() -> int:
    from scripts import kernels

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chapters", nargs="*", help="notebook stems (default: every chapter)")
    ap.add_argument("--profile", default="smoke", choices=("smoke", "fast", "full"))
    args = ap.parse_args()
    known = {c.stem: c.path for c in chapters.with_claims()}  # chapters.yml
    if unknown := sorted(set(args.chapters) - set(known)):
        ap.error(f"{', '.join(unknown)}: not a chapter with claims in chapters.yml ({', '.join(known)})")
    paths = [path for stem, path in known.items() if not args.chapters or stem in args.chapters]
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for path in paths:
        chapter = nbformat.read(path, as_version=4)
        chapter.cells.append(nbformat.v4.new_code_cell(CHECK_CELL))
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update(VAEBOOK_CACHE=f"{tmp}/models", VAEBOOK_RESULTS=f"{tmp}/results", VAEBOOK_PROGRESS="0",
                              OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
            nbformat.write(chapter, f"{tmp}/in.ipynb")
            executed = kernels.papermill(f"{tmp}/in.ipynb", f"{tmp}/out.ipynb", parameters={"profile": args.profile},
                                         cwd=path.parent)
        nbformat.write(reference(chapter, executed), REFERENCE / path.name)
        print(f"{path.stem}: reference written", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
