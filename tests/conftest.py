import os

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

# Unit tests never download and never touch the user's caches.
os.environ.setdefault("VAEBOOK_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path / "models"))
    monkeypatch.setenv("VAEBOOK_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # data checks remembered per test
    monkeypatch.delenv("VAEBOOK_PROFILE", raising=False)
    torch.manual_seed(0)
