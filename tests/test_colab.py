"""Colab, played offline: a fresh virtual environment with only what Colab preinstalls, then a chapter.

The set-up cell (``scripts/colab_cell.py``) must install vaebook from the repository address and leave Colab's
own packages alone; the chapter must then run on Colab's versions, ipywidgets 7 included (Colab long shipped
7.7). The repository address is this clone, as a local git URL, so no network is needed beyond the package
index. Slow (a virtual environment with torch): marked ``notebooks``, so it runs in ``make test``.
"""
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
from scripts import colab_cell, kernels  # noqa: E402

# What a Colab runtime has before the set-up cell runs (the versions are named here, not taken from our pins,
# except torch: the one wheel this machine can install without a GPU index).
COLAB = {"torch": "2.13.0", "numpy": "2.4.6", "scipy": "1.17.1", "scikit-learn": "1.9.1", "matplotlib": "3.11.2",
         "pandas": "3.1.1", "seaborn": "0.13.2", "jinja2": "3.1.6", "pillow": "13.0.0", "tqdm": "4.70.1",
         "ipywidgets": "7.7.1", "ipykernel": "6.31.0", "pyyaml": "6.0.3"}


def test_the_set_up_cell_installs_the_release_the_buttons_open():
    """The cell pins vaebook to the ref the launch and Colab buttons open (``repository.branch`` of _config.yml), and
    that ref is this version's release tag: not ``main``, which moves on after the book is built."""
    url, ref = colab_cell.repository()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert ref == f"v{version}", f"_config.yml's repository.branch is {ref!r}, not the release tag v{version}: " \
                                 "set it, run python -m scripts.colab_cell, commit and push the tag"
    assert f"vaebook @ git+{url}@{ref}" in colab_cell.cell_source()


def _run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _head_is_committed() -> bool:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode == 0


@pytest.mark.notebooks
@pytest.mark.skipif(not _head_is_committed(), reason="the set-up cell installs a commit: needs a git checkout")
# Its own steps have their own limits (pip 1,200 s, the chapter 300 s): the suite's 300 s per test stopped it on a
# busy machine while pip was still unpacking torch (clean-clone .ci/run beside two busy processes, d22e34b).
@pytest.mark.timeout(1800)
def test_a_chapter_runs_on_colabs_packages_after_the_set_up_cell(tmp_path, monkeypatch):
    venv = tmp_path / "colab"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", *[f"{k}=={v}" for k, v in COLAB.items()]], timeout=1200)
    before = json.loads(_run([python, "-m", "pip", "list", "--format=json"]).stdout)

    # The chapter, with the set-up cell pointing at this clone (the branch that is checked out).
    branch = _run(["git", "-C", str(ROOT), "rev-parse", "--abbrev-ref", "HEAD"]).stdout.strip()
    # file://localhost/…: pip 23 (a fresh venv's) refuses "name @ git+file:///path@branch", accepts this form.
    url = f"file://localhost{ROOT}"
    monkeypatch.setattr(colab_cell, "repository", lambda: (url, "HEAD" if branch == "HEAD" else branch))
    nb = nbformat.read(ROOT / "notebooks" / "01_ood_puzzle.ipynb", as_version=4)
    nb.cells[0].source = colab_cell.cell_source()
    nbformat.write(nb, tmp_path / "chapter.ipynb")

    # A kernel that runs in the Colab environment.
    spec = tmp_path / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [str(python), "-m", "ipykernel_launcher", "-f",
                                                           "{connection_file}"], "display_name": "colab",
                                                  "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    for k, v in {"VAEBOOK_CACHE": str(tmp_path / "models"), "VAEBOOK_RESULTS": str(tmp_path / "results"),
                 "VAEBOOK_PROGRESS": "0", "OMP_NUM_THREADS": "1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("VAEBOOK_STATIC_WIDGETS", raising=False)  # live widgets, as on Colab
    kernels.papermill(tmp_path / "chapter.ipynb", tmp_path / "out.ipynb", parameters={"profile": "smoke"},
                      kernel="colab", cwd=tmp_path, timeout=300)

    after = {p["name"].lower(): p["version"] for p in json.loads(_run([python, "-m", "pip", "list", "--format=json"]).stdout)}
    assert "vaebook" in after, "the set-up cell did not install vaebook"
    changed = {p["name"]: (p["version"], after.get(p["name"].lower())) for p in before
               if after.get(p["name"].lower()) != p["version"]}
    assert not changed, f"the set-up cell replaced Colab's own packages: {changed}"
    assert (tmp_path / "results" / "01_ood_puzzle.json").exists()
