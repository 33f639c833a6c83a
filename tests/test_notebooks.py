"""Every notebook runs top to bottom in the smoke profile, and has the cells every chapter needs."""
import json
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import colab_cell  # noqa: E402


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == colab_cell.cell_source(), "run python scripts/colab_cell.py"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "profile = None" in params[0].source
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs before committing"
    src = "\n".join(c.source for c in code)
    assert "import vaebook as vb" in src and "vb.set_profile(profile)" in src
    if path.stem != "00_data":
        assert f'vb.record("{path.stem}"' in src, "a chapter records its key numbers"
        captions = [c for c in code if "figure" in c.metadata.get("mystnb", {})]
        assert captions, "a chapter's figures have captions"


# Kernels talk over Unix sockets in a directory of their own, not over TCP: with TCP, jupyter_client picks
# "free" ports by binding and releasing them, so two xdist workers starting kernels at the same moment can be
# handed the same port (jupyter/jupyter_client#487). Socket paths stay short (a Unix socket path is limited to
# ~100 characters), so not under tmp_path.
def kernel_config(socket_dir):
    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(socket_dir) / "kernel")}})


# Every smoke cell takes under 3 s, so a cell that needs 30 s fails, naming the cell. The limit also bounds a
# stall seen in CI: the client's asyncio poll of the kernel's reply sometimes misses its wake-up (a widget
# cell's reply, sent at once, was read only when the 120 s limit then in force ran out; the poll looks at the
# socket again at its timeout and finds it). With no limit, as before, such a cell waits forever, which fits
# the hang that failed CI in chapter 1. Now a missed wake-up costs at most 30 s, and the test still passes.
CELL_TIMEOUT_S = 30


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_in_smoke_profile(path, tmp_path):
    import papermill as pm

    env = {"VAEBOOK_CACHE": str(tmp_path / "models"), "VAEBOOK_RESULTS": str(tmp_path / "results"),
           "VAEBOOK_PROGRESS": "0"}
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory(prefix="vb-") as sockets:
        for k, v in env.items():
            mp.setenv(k, v)
        pm.execute_notebook(str(path), str(tmp_path / path.name), parameters={"profile": "smoke"},
                            cwd=str(path.parent), kernel_name="python3", progress_bar=False,
                            execution_timeout=CELL_TIMEOUT_S, config=kernel_config(sockets))
    if path.stem != "00_data":
        results = json.loads((tmp_path / "results" / f"{path.stem}.json").read_text())
        assert results and all(isinstance(v, float) for v in results.values())
