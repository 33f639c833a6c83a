import os
import subprocess
import sys
from pathlib import Path

import pytest

# Under pytest-xdist two workers (and the notebook kernels they start, which inherit this environment)
# share the machine's cores. With torch's default of one OpenMP thread per core each, the threads of the
# two processes spin against each other: a 5 s test was measured at 84 s, and on a loaded CI machine the
# suite did not finish in 90 minutes. One thread per worker keeps the cores busy without contention.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
# vaebook sets the passive OpenMP wait policy (and the thread count, unless set above) before torch loads.
import vaebook  # noqa: E402,F401
import torch  # noqa: E402

# nbval's kernels start up to three times: one dies at its start when another process takes one of its ports
# (scripts/workarounds.py, with the upstream issue).
from scripts import workarounds  # noqa: E402

workarounds.retry_nbval_kernel_starts()

# Unit tests never download and never touch the user's caches.
os.environ.setdefault("VAEBOOK_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path / "models"))
    monkeypatch.setenv("VAEBOOK_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # data checks remembered per test
    monkeypatch.delenv("VAEBOOK_PROFILE", raising=False)
    vaebook.settings.stop()  # a run started by an earlier test (vb.set_profile) would keep its settings
    torch.manual_seed(0)
    yield
    vaebook.settings.stop()


# nbval compares a re-run's output with the stored one character by character; the stored cell prints numbers, and
# another CPU's rounding (or another thread count) moves their last digits. A re-run reproduces the stored execution
# when its text is the same apart from its numbers, and each number lies within NBVAL_RTOL (relative) plus
# NBVAL_ATOL (absolute) of the stored one: far larger than rounding, far smaller than any effect a chapter claims.
import copy  # noqa: E402
import re  # noqa: E402

import nbval.plugin  # noqa: E402

NBVAL_RTOL, NBVAL_ATOL = 1e-2, 5e-3
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def numbers_close(stored: str, rerun: str) -> bool:
    """The same text but for its numbers, and every number within tolerance of the stored one."""
    def skeleton(text):
        return re.sub(r"\s+", " ", _NUMBER.sub("#", text)).strip()

    if skeleton(stored) != skeleton(rerun):
        return False
    pairs = zip(_NUMBER.findall(stored), _NUMBER.findall(rerun))
    return all(abs(a - b) <= NBVAL_ATOL + NBVAL_RTOL * max(abs(a), abs(b))
               for a, b in ((float(x.replace(",", "")), float(y.replace(",", ""))) for x, y in pairs))


_compare_outputs = nbval.plugin.IPyNbCell.compare_outputs


def _compare_outputs_to_a_tolerance(self, test, ref, skip_compare=None):
    test = [copy.copy(t) for t in test]  # NotebookNodes (nbval reads their attributes), changed copies only
    for t, r in zip(test, ref):
        if t.get("output_type") == r.get("output_type") == "stream":
            rerun, stored = "".join(t.get("text", "")), "".join(r.get("text", ""))
            if rerun != stored and numbers_close(stored, rerun):
                t["text"] = r["text"]
    return _compare_outputs(self, test, ref, skip_compare)


nbval.plugin.IPyNbCell.compare_outputs = _compare_outputs_to_a_tolerance


def nbval_run(path, tmp_path, *options):
    """``pytest --nbval-lax`` on one stored execution, in a process of its own, with tmp_path's cache and results, and
    this file's tolerance (``-p conftest`` also where ``path`` lies outside ``tests/``)."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # not the xdist worker's settings
    env.update({"VAEBOOK_CACHE": str(tmp_path / "models"), "VAEBOOK_RESULTS": str(tmp_path / "results"),
                "VAEBOOK_PROGRESS": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    inside = Path(path).resolve().is_relative_to(root / "tests")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           *([] if inside else ["-p", "conftest"]), "--rootdir", str(root), "--nbval-lax",
                           "--nbval-current-env", *options, str(path)],
                          env={**env, "PYTHONPATH": os.pathsep.join([str(root / "tests"), str(root)])},
                          capture_output=True, text=True, timeout=600, cwd=root)
