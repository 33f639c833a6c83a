"""Writing files so that a reader never sees half of one, and reading JSON so that a bad file is named.

Files are created with the permissions of the user's umask (``0644`` for the usual ``022``), as ``open`` would
create them, so that a cache or data folder shared by the users of a lab machine stays readable to them. A write
that fails (a full disk, a read-only folder) names the file and the cause, and says how many bytes were needed.

Used in: downloads and extraction (:mod:`vaebook.data`), checkpoints (:mod:`vaebook.train`),
recorded numbers (:mod:`vaebook.results`), ``scripts/build_bundle.py``.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "write_atomic", "read_json", "WriteError", "umask"]


class WriteError(OSError):
    """A file could not be written. The message names the file, the cause and the fix."""


def umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``: renamed onto ``path`` if the block succeeds, removed if it raises.

    The file gets the mode a plain ``open`` would give it (``0666`` less the umask), not ``mkstemp``'s ``0600``.

    >>> with atomic_path("out.json") as tmp:
    ...     tmp.write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, 0o666 & ~umask())
    finally:
        os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_atomic(path: str | Path, data: bytes | str, *, what: str = "file", fix: str = "") -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`). A failure is a :class:`WriteError` that names
    ``what`` and ``path``, the cause, and on a full disk the size needed and free: "no space left on device: 1.6 MB
    needed, 0.2 MB free". ``fix`` is appended (e.g. "set VAEBOOK_CACHE to another folder")."""
    path = Path(path)
    data = data.encode() if isinstance(data, str) else data
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    except OSError as e:
        error = WriteError(f"could not write the {what} {path}: {describe_write_error(e, path, len(data))}"
                           + (f". {fix}" if fix else ""))
        error.errno = e.errno  # the message stays readable ("[Errno 28] ..." would lead it)
        raise error from e


def describe_write_error(e: BaseException, path: Path, needed: int) -> str:
    """The cause of a failed write in words, with sizes when the disk is full (or the cause is unclear and it is)."""
    free = _free_bytes(Path(path).parent)
    full = getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or (free is not None and free < needed)
    if full:
        return (f"no space left on device: {_mb(needed)} needed" + (f", {_mb(free)} free" if free is not None else "")
                + f" in {Path(path).parent}")
    return getattr(e, "strerror", None) or f"{type(e).__name__}: {e}"


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def read_json(path: str | Path):
    """The JSON value in ``path``. A file that is not JSON, not UTF-8, or nested too deeply to parse raises
    ``ValueError`` saying which (the caller names the file and the fix); a missing file raises ``OSError``."""
    text = Path(path).read_bytes()
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("it is nested too deeply to be a file of this project") from None
