"""Wait for a kernel's replies in one-second slices, so that a missed wake-up costs a second, not a cell timeout.

The stall this works around (seen by CI, by the smoke tests and by ``scripts/stress_kernels.py``): a cell that
draws a widget finishes in the kernel in well under a second, yet the client reads the kernel's reply only when
the cell timeout runs out. The kernel sent the reply at once (its timestamps say so), and the socket held it: the
client's asyncio wait on the socket was never woken. ZeroMQ signals a socket's readiness on an *edge-triggered*
file descriptor, and any other use of the socket can consume that edge (pyzmq's documentation warns of it;
zeromq/pyzmq#1558 shows polls that return only at their timeout). Widget cells are where it happens because
nbclient answers an ``Output`` widget's messages by *sending* on the same shell socket it is waiting on
(``nbclient/output_widget.py``). Pinning ipykernel 6 did not remove it (two stalls in seventeen notebook runs).

When a poll times out, pyzmq asks ZeroMQ directly and finds the waiting message. So this module replaces
``AsyncZMQSocketChannel.get_msg`` by the same call repeated with at most one second per wait until the caller's
own timeout: the semantics are unchanged (a message as soon as one is seen, ``Empty`` at the caller's timeout),
and a missed wake-up now costs at most a second. It patches jupyter_client in *this* process only; call
:func:`install` before executing notebooks (``tests/test_notebooks.py``, ``scripts/execute_book.py``,
``scripts/stress_kernels.py``, ``scripts/run_full.py``).
"""
from __future__ import annotations

import time
from queue import Empty

from jupyter_client.channels import AsyncZMQSocketChannel

SLICE_S = 1.0
_original_get_msg = AsyncZMQSocketChannel.get_msg


async def _get_msg_in_slices(self, timeout: float | None = None):
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = SLICE_S if deadline is None else min(SLICE_S, max(0.0, deadline - time.monotonic()))
        try:
            return await _original_get_msg(self, timeout=left)
        except Empty:
            if deadline is not None and time.monotonic() >= deadline:
                raise


def install() -> None:
    """Make every asynchronous kernel channel of this process wait in slices of :data:`SLICE_S` seconds."""
    AsyncZMQSocketChannel.get_msg = _get_msg_in_slices
