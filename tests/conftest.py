import os

import pytest
import torch

# Unit tests never download and never touch the user's caches.
os.environ.setdefault("VAEBOOK_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path / "models"))
    monkeypatch.setenv("VAEBOOK_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("VAEBOOK_PROFILE", raising=False)
    torch.manual_seed(0)
