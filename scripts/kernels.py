"""Executing a notebook: the one way every tool of the book does it.

The book's build (through jupyter-cache), paper scale and the seed runs, the nbval references, the stress test and
the notebook tests all execute notebooks through :func:`papermill` or :func:`in_place`, so the work-arounds that
concern kernels (:mod:`scripts.workarounds`, items 1 and 5) are put in place here and nowhere else: the kernel's
replies are awaited in one-second slices, and each kernel talks over Unix sockets in a folder of its own. Two kinds
of kernel start elsewhere: nbval's (the tests' re-runs of the references, with work-around 3 in
``tests/conftest.py``) and Jupyter Book's own, which it starts only for a notebook missing from the cache that
``scripts/execute_book.py`` fills.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts import workarounds


SOCKET_FOLDER_MAX = 60  # the folder's path; jupyter_client adds "/kernel-<port>" and the kernel's own suffix


@contextmanager
def _kernel_config(slices: bool = True) -> Iterator[dict]:
    """The keyword arguments that give a kernel client its configuration: ``{"config": ...}``, or none (TCP)."""
    if slices:
        workarounds.install_kernel_reply_slices()
    # A Unix socket's path has at most about 100 characters: the folder goes under /tmp, not a long $TMPDIR, and
    # where even that is too long the kernel keeps TCP.
    with tempfile.TemporaryDirectory(prefix="vb-k-", dir="/tmp" if os.path.isdir("/tmp") else None) as sockets:
        yield {"config": workarounds.unix_socket_kernels(sockets)} if len(sockets) <= SOCKET_FOLDER_MAX else {}


def papermill(source: Path | str, target: Path | str, *, parameters: dict, cwd: Path | str,
              timeout: int | None = None, start_timeout: int = 60, kernel: str = "python3", slices: bool = True):
    """Execute ``source`` with papermill into ``target``, its ``parameters`` injected; returns the executed notebook.

    ``timeout`` bounds each cell, ``start_timeout`` the kernel's start (a busy machine starts kernels slowly);
    ``kernel`` names the kernel spec (the Colab test runs one of its own);
    ``slices=False`` leaves the kernel-reply work-around out (only ``make stress --no-slices`` wants that)."""
    import papermill as pm

    with _kernel_config(slices) as config:
        return pm.execute_notebook(str(source), str(target), parameters=parameters, cwd=str(cwd),
                                   kernel_name=kernel, progress_bar=False, execution_timeout=timeout,
                                   start_timeout=start_timeout, **config)


def in_place(nb, *, cwd: Path | str, timeout: int | None) -> str | None:
    """Execute the notebook ``nb`` in place, as jupyter-cache does for the book; the error's traceback, or None."""
    from jupyter_cache.executors.utils import single_nb_execution

    with _kernel_config() as config:
        return single_nb_execution(nb, cwd=str(cwd), timeout=timeout, allow_errors=False, **config).exc_string
