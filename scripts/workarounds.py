"""Every work-around for an upstream bug, in one place.

Each entry of :data:`WORKAROUNDS` names the upstream issue it answers, where it acts, the versions it was checked
against, and when it can go. ``tests/test_workarounds.py`` fails when an installed version differs from those:
then check whether the work-around is still needed, and update ``checked_with`` or remove it. ``requirements.txt``
pins every package named here, so that versions change only on purpose.

1. **Kernel replies** (:func:`install_kernel_reply_slices`). A cell that draws a widget finishes in the kernel in
   well under a second, yet the client reads the kernel's reply only when the cell timeout runs out. The kernel
   sent the reply at once (its timestamps say so), and the socket held it: the client's asyncio wait on the socket
   was never woken. ZeroMQ signals a socket's readiness on an *edge-triggered* file descriptor, and any other use
   of the socket can consume that edge (zeromq/pyzmq#1558 shows polls that return only at their timeout). Widget
   cells are where it happens because nbclient answers an ``Output`` widget's messages by *sending* on the same
   shell socket it is waiting on (``nbclient/output_widget.py``). When a poll times out, pyzmq asks ZeroMQ
   directly and finds the waiting message; so ``AsyncZMQSocketChannel.get_msg`` is replaced by the same call
   repeated with at most one second per wait until the caller's own timeout. The semantics are unchanged (a
   message as soon as one is seen, ``Empty`` at the caller's timeout), and a missed wake-up costs at most a
   second. :mod:`scripts.kernels` installs it before it executes a notebook.
2. **ipykernel below 7** (``requirements.txt``). Since 7.0 the kernel sends shell replies raw on the ROUTER
   socket while a ZMQStream reads requests from it; a request or reply can go unnoticed (ipykernel#1554).
3. **nbval's kernels start up to three times** (:func:`retry_nbval_kernel_starts`, called by
   ``tests/conftest.py``). A kernel dies at its start when another process takes one of its ports between
   jupyter_client choosing them and the kernel binding them ("Kernel died before replying to kernel_info",
   jupyter/jupyter_client#154). A new kernel gets new ports.
4. **No script included twice** (:func:`drop_duplicate_scripts`, a Sphinx extension of the book: ``_config.yml``,
   ``local_extensions``). Sphinx 7 puts an inline script that an extension adds after the builder started on every
   page twice, once with the filename ``None`` and once with ``''``; sphinx-thebe's ``const THEBE_JS_URL`` then
   throws "Identifier 'THEBE_JS_URL' has already been declared" on every page (sphinx-doc/sphinx#13402, fixed in
   Sphinx 8.2, which Jupyter Book 1 does not get).
5. **Kernels over Unix sockets** (:func:`unix_socket_kernels`). Over TCP, jupyter_client picks "free" ports by
   binding and releasing them, so two processes starting kernels at the same moment (the book's two executors,
   pytest's two workers) can be handed the same port and one kernel dies at its start
   (jupyter/jupyter_client#487). A kernel that talks over Unix sockets in a folder of its own cannot collide.

Items 1 and 5 are put in place by :mod:`scripts.kernels`, through which every tool of the book executes notebooks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from queue import Empty


@dataclass(frozen=True)
class Workaround:
    name: str
    upstream: str                  # the upstream issue or pull request
    where: str                     # what it patches or pins
    checked_with: dict[str, str]   # the installed versions it was last checked against
    remove_when: str


WORKAROUNDS = (
    Workaround("kernel replies in one-second slices", "zeromq/pyzmq#1558",
               "jupyter_client.channels.AsyncZMQSocketChannel.get_msg (install_kernel_reply_slices)",
               {"jupyter_client": "8.10.0", "pyzmq": "27.3.0", "nbclient": "0.11.0"},
               "`make stress` without it (--no-slices) counts no late reply"),
    Workaround("ipykernel below 7", "ipython/ipykernel#1554", "requirements.txt: ipykernel==6.31.0",
               {"ipykernel": "6.31.0"}, "the issue is closed and `make stress` with ipykernel 7 counts no late reply"),
    Workaround("nbval's kernels start up to three times", "jupyter/jupyter_client#154",
               "nbval.kernel.start_new_kernel (retry_nbval_kernel_starts)",
               {"nbval": "0.11.0", "jupyter_client": "8.10.0"}, "jupyter_client binds its kernels' ports itself"),
    Workaround("no script included twice", "sphinx-doc/sphinx#13402",
               "the html-page-context event of the book's Sphinx build (drop_duplicate_scripts)",
               {"sphinx": "7.4.7", "jupyter-book": "1.0.4.post1"}, "the book builds with Sphinx 8.2 or later"),
    Workaround("kernels over Unix sockets", "jupyter/jupyter_client#487",
               "the KernelManager's transport and address (unix_socket_kernels, used by scripts/kernels.py)",
               {"jupyter_client": "8.10.0"}, "jupyter_client binds its kernels' ports itself"),
)


# 1. Kernel replies --------------------------------------------------------------------------------------------------
SLICE_S = 1.0
_original_get_msg = None


async def _get_msg_in_slices(self, timeout: float | None = None):
    """``get_msg`` with at most :data:`SLICE_S` seconds per wait, until the caller's ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = SLICE_S if deadline is None else min(SLICE_S, max(0.0, deadline - time.monotonic()))
        try:
            return await _original_get_msg(self, timeout=left)
        except Empty:
            if deadline is not None and time.monotonic() >= deadline:
                raise


def install_kernel_reply_slices() -> None:
    """Make every asynchronous kernel channel of this process wait in slices of :data:`SLICE_S` seconds."""
    global _original_get_msg
    from jupyter_client.channels import AsyncZMQSocketChannel

    current = AsyncZMQSocketChannel.get_msg
    # jupyter_client's own, also when this module (or an earlier copy of it, before a reload) installed the slices
    _original_get_msg = getattr(current, "__wrapped__", current)
    _get_msg_in_slices.__wrapped__ = _original_get_msg
    AsyncZMQSocketChannel.get_msg = _get_msg_in_slices


# 3. nbval's kernel starts ------------------------------------------------------------------------------------------
def retry_nbval_kernel_starts(attempts: int = 3) -> None:
    """Start each of nbval's kernels up to ``attempts`` times (a kernel that dies at its start raises RuntimeError)."""
    import nbval.kernel

    start = getattr(nbval.kernel.start_new_kernel, "__wrapped__", nbval.kernel.start_new_kernel)

    def start_with_retries(*args, **kwargs):
        for attempt in range(attempts):
            try:
                return start(*args, **kwargs)
            except RuntimeError:
                if attempt == attempts - 1:
                    raise

    start_with_retries.__wrapped__ = start
    nbval.kernel.start_new_kernel = start_with_retries


# 4. Scripts included twice ----------------------------------------------------------------------------------------
def drop_duplicate_scripts(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Keep one of each script on a page (the same inline script comes with filename None and '')."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (js.filename or "", js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique  # the builder's own list: Sphinx restores it after each page


# 5. Kernels over Unix sockets --------------------------------------------------------------------------------------
def unix_socket_kernels(folder: str):
    """A kernel configuration whose sockets are files in ``folder`` (keep its path short: a Unix socket's path is
    limited to about 100 characters)."""
    from pathlib import Path

    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(folder) / "kernel")}})


def setup(app) -> dict:
    """As a Sphinx extension (``_config.yml``): the work-arounds of the book's build."""
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
