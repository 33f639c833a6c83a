"""The first cell of every notebook: installs vaebook on Colab (or wherever it is missing).

The repository address lives in one place, ``_config.yml`` (``repository.url``);
this script writes the cell from it into every notebook:

    python scripts/colab_cell.py          # rewrite the cell in notebooks/*.ipynb
    python scripts/colab_cell.py --check  # exit 1 if a notebook's cell is out of date
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-setup"


def repository() -> tuple[str, str]:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return cfg["url"], cfg.get("branch", "main")


def cell_source() -> str:
    url, branch = repository()
    return ("# Set-up on Colab (or any Python without vaebook): install vaebook from the book's repository.\n"
            "# Colab already has torch, numpy, matplotlib, scikit-learn, tqdm and ipywidgets: nothing else is installed.\n"
            "import importlib.util, subprocess, sys\n"
            "if importlib.util.find_spec(\"vaebook\") is None:\n"
            f"    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"vaebook @ git+{url}@{branch}\"], check=True)")


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
        print("Colab cell out of date in:", ", ".join(stale), "- run python scripts/colab_cell.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
