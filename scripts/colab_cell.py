"""The first cell of every notebook: installs vaebook on Colab (or wherever it is missing).

The repository's address and the version to install live in one place, ``_config.yml``: ``repository.url`` and
``repository.branch``. Jupyter Book's launch (rocket) and Colab buttons open the notebook at that ref, and this
cell installs vaebook from the same ref, so a reader runs the notebook and the library of one release. The ref
is a release tag, ``v`` + the package's version (``tests/test_colab.py`` checks), not a branch that moves on;
the pages workflow (``.github/workflows/pages.yml``) publishes the book built from that tag. To release:
set the tag in ``_config.yml`` (and the version in ``pyproject.toml``), rewrite the cells, commit, push the tag.

    python -m scripts.colab_cell          # rewrite the cell in notebooks/*.ipynb
    python -m scripts.colab_cell --check  # exit 1 if a notebook's cell is out of date
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-setup"


def repository() -> tuple[str, str]:
    """The book's repository address and the ref (release tag) its buttons open and its Colab cell installs."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return cfg["url"], cfg["branch"]


def cell_source() -> str:
    url, ref = repository()
    spec = f"vaebook @ git+{url}@{ref}"
    return ("# Set-up on Colab (or any Python without vaebook): install vaebook from the book's repository.\n"
            "# Colab's own torch, numpy, matplotlib, scikit-learn, tqdm and ipywidgets (7.x or 8.x) are kept as they are.\n"
            "import importlib.util, subprocess, sys\n"
            "if importlib.util.find_spec(\"vaebook\") is None:\n"
            f"    pip = subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"{spec}\"], capture_output=True, text=True)\n"
            "    if pip.returncode != 0:\n"
            f"        raise RuntimeError(\"Could not install vaebook from {url} (branch {ref}). pip said:\\n\" + pip.stderr[-1500:] +\n"
            "                           \"\\nCheck that this runtime reaches the address (Colab: a network connection), or install \"\n"
            f"                           \"vaebook yourself (pip install '{spec}', or pip install -e on a clone) and run this notebook again.\")")


def main(check: bool) -> int:
    stale = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0] if nb.cells else None
        if first is not None and first.cell_type == "code" and TAG in first.metadata.get("tags", []):
            if first.source == cell_source():
                continue
            first.source = cell_source()
        else:
            cell = nbformat.v4.new_code_cell(cell_source())
            cell.metadata["tags"] = [TAG, "remove-cell"]
            nb.cells.insert(0, cell)
        stale.append(path.name)
        if not check:
            nbformat.write(nb, path)
    if check and stale:
        print("Colab cell out of date in:", ", ".join(stale), "- run python -m scripts.colab_cell")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
