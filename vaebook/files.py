"""Writing files so that a reader never sees half of one.

Used in: downloads and extraction (:mod:`vaebook.data`), checkpoints (:mod:`vaebook.train`),
recorded numbers (:mod:`vaebook.results`), ``scripts/build_bundle.py``.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path"]


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``: renamed onto ``path`` if the block succeeds, removed if it raises.

    >>> with atomic_path("out.json") as tmp:
    ...     tmp.write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
