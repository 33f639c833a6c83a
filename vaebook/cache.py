"""The cache of trained models: where checkpoints live, and the key that says which model a checkpoint is.

A key is never written by hand. :func:`fingerprint` turns everything that decides a trained model into
text: the built (untrained) model's ``repr`` and initial tensors, the fit configuration, the training
tensors' contents, the code of the loss and of any callback (with the values they capture), and the
library's own code. Hashing that text gives the file name. So a learning-rate change, other training
images or an edited loss retrains; a renamed variable, an edited comment or docstring does not.

Checkpoints are written atomically, with the key and configuration they were trained for under a SHA-256 of
their tensors, and read with ``weights_only=True``; anything that does not check out (corrupt, altered, or the
checkpoint of another model) is retrained, never trusted. :func:`training_lock` keeps two processes from training
the same model at once.

Used in: :func:`vaebook.train_or_load`.
"""
from __future__ import annotations

import ast
import contextlib
import hashlib
import inspect
import os
import re
import tempfile
import time
import types
import warnings
from functools import lru_cache, partial
from pathlib import Path

try:
    import fcntl
except ImportError:  # not Unix: no training locks
    fcntl = None

import numpy as np
import torch
from torch import Tensor, nn

from . import settings
from .settings import LOCK_TIMEOUT_S

__all__ = ["cache_dir", "fingerprint", "code_fingerprint", "code_version", "tensor_digest", "prepare_cache", "training_lock",
           "lock_timeout", "STALE_PART_S", "LOCK_TIMEOUT_S"]

# Modules whose code decides what a trained model is: editing their code (not their comments) retrains. The
# training loop itself counts by its own compiled code (see vaebook.train.model_key), not by its module's.
MODEL_MODULES = ("distributions", "likelihoods", "nets", "vae", "flows", "pae", "negative", "frechet")
# Code from these packages is identified by its qualified name only (their versions are pinned).
_BY_NAME = ("vaebook", "torch", "numpy", "builtins", "functools", "math", "operator", "typing")

# A save takes seconds; a .part file this old was left by a process that was killed while saving.
STALE_PART_S = 600


def cache_dir() -> Path:
    """The run's model cache (:mod:`vaebook.settings`): ``$VAEBOOK_CACHE`` (``~`` expanded, as for
    ``$VAEBOOK_DATA``), else ``~/.cache/vaebook/models``."""
    return settings.current().cache


@lru_cache(maxsize=None)
def code_version(modules: tuple[str, ...] = MODEL_MODULES) -> str:
    """A hash of the code of the library's ``modules`` (by default the model modules), parsed: comments,
    docstrings and layout do not count."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in modules:
        h.update(_code_text((here / f"{name}.py").read_text()).encode())
    return h.hexdigest()[:12]


def _code_text(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            del body[0]  # a docstring
    return ast.dump(tree)


def tensor_digest(*objects) -> str:
    """SHA-256 over every tensor and number in ``objects`` (nested dicts and lists), in a fixed order."""
    h = hashlib.sha256()

    def walk(obj):
        if isinstance(obj, dict):
            for k in sorted(obj, key=str):
                h.update(str(k).encode())
                walk(obj[k])
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v)
        elif isinstance(obj, Tensor):
            t = obj.detach().cpu().contiguous().reshape(-1)
            h.update(f"{t.dtype}{tuple(obj.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes())
        else:
            h.update(repr(obj).encode())

    for obj in objects:
        walk(obj)
    return h.hexdigest()


def fingerprint(obj, _seen: set | None = None) -> str:
    """Text that changes when ``obj`` would train another model, and only then.

    Tensors and arrays by content; modules by ``repr`` and tensors; functions by their compiled code (not
    their source text, so comments do not count), the values they capture and the notebook-level values they
    read; library functions and classes by name; other objects by class and attributes.
    """
    seen = set() if _seen is None else _seen
    if isinstance(obj, (str, int, float, bool, complex, type(None), torch.dtype, torch.device)):
        return repr(obj)
    if isinstance(obj, Tensor):
        return f"tensor:{tensor_digest(obj)}"
    if isinstance(obj, np.ndarray):
        return f"array:{tensor_digest(torch.from_numpy(np.ascontiguousarray(obj)))}"
    if id(obj) in seen:
        return "<cycle>"
    seen.add(id(obj))
    try:
        return _fingerprint(obj, seen)
    finally:
        seen.discard(id(obj))


def _fingerprint(obj, seen: set) -> str:
    if isinstance(obj, (list, tuple)):
        return f"{type(obj).__name__}[{','.join(fingerprint(v, seen) for v in obj)}]"
    if isinstance(obj, dict):
        return "{" + ",".join(f"{fingerprint(k, seen)}:{fingerprint(obj[k], seen)}" for k in sorted(obj, key=repr)) + "}"
    if isinstance(obj, (set, frozenset)):
        return "{" + ",".join(sorted(fingerprint(v, seen) for v in obj)) + "}"
    if isinstance(obj, types.ModuleType):
        return f"module:{obj.__name__}"
    if isinstance(obj, nn.Module):
        return f"{obj!r}:{tensor_digest(obj.state_dict())}"
    if isinstance(obj, torch.Generator):
        return f"generator:{tensor_digest(obj.get_state())}"
    if isinstance(obj, partial):
        return f"partial({fingerprint(obj.func, seen)},{fingerprint(obj.args, seen)},{fingerprint(obj.keywords, seen)})"
    if isinstance(obj, types.MethodType):
        return f"method({fingerprint(obj.__func__, seen)})"  # of its object, fingerprinted where it is built
    if isinstance(obj, types.FunctionType):
        if _by_name(obj):
            return f"function:{obj.__module__}.{obj.__qualname__}"
        cells = [c.cell_contents for c in obj.__closure__ or () if _filled(c)]
        read = {n: obj.__globals__[n] for n in _global_names(obj.__code__) if n in obj.__globals__}
        return (f"function({_code_fingerprint(obj.__code__, obj.__doc__)},captures={fingerprint(cells, seen)},"
                f"defaults={fingerprint((obj.__defaults__, obj.__kwdefaults__), seen)},reads={fingerprint(read, seen)})")
    if isinstance(obj, type) or inspect.isroutine(obj):
        return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
    cls = type(obj)
    state = vars(obj) if hasattr(obj, "__dict__") else repr(obj)
    return f"{cls.__module__}.{cls.__qualname__}({fingerprint(state, seen)})"


def _by_name(fn) -> bool:
    return (getattr(fn, "__module__", None) or "").split(".")[0] in _BY_NAME


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # a closure variable not assigned yet
        return False
    return True


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def code_fingerprint(fn: types.FunctionType) -> str:
    """A function's own compiled code (not its docstring or comments, nor the functions it calls)."""
    return _code_fingerprint(fn.__code__, fn.__doc__)


def _code_fingerprint(code: types.CodeType, doc: str | None = None) -> str:
    """The compiled code, its constants (nested code included) and names; a docstring does not count."""
    consts = list(code.co_consts)
    if doc is not None and consts and consts[0] == doc:
        consts[0] = None  # where a function without a docstring has None
    consts = [_code_fingerprint(c) if isinstance(c, types.CodeType) else repr(c) for c in consts]
    return hashlib.sha256(repr((code.co_code, consts, code.co_names, code.co_varnames)).encode()).hexdigest()[:16]


def prepare_cache(folder: Path) -> None:
    """Create ``folder``, fail now (not after training) if it is not writable, and remove stale ``.part`` files and
    the training locks nobody holds (left by a process that was killed while it trained)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise PermissionError(f"the model cache {folder} is not writable ({e.strerror or e}): set VAEBOOK_CACHE to "
                              f"a writable folder before training") from e
    now = time.time()
    for part in folder.glob(".*.part"):
        with contextlib.suppress(OSError):  # another process may remove it first
            if now - part.stat().st_mtime > STALE_PART_S:
                part.unlink()
    if fcntl is not None:
        for lock in folder.glob(".*.lock"):
            if re.fullmatch(r"\.[0-9a-f]+\.lock", lock.name):  # ours (a model's hash), not another tool's
                _remove_if_free(lock)


def _remove_if_free(path: Path) -> None:
    """Remove the lock file ``path`` if no process holds it; a process that opened it meanwhile sees that the file is
    gone once it has the lock (:func:`training_lock`), and locks a new one."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _same_file(fd, path):
            os.unlink(path)
    except OSError:  # held (BlockingIOError), or already gone
        pass
    finally:
        os.close(fd)


def lock_timeout() -> float:
    """How long a process waits for a model that another process is training, in seconds without progress (the
    holder touches its lock after every epoch): the run's ``lock_timeout`` (``$VAEBOOK_LOCK_TIMEOUT``), else
    :data:`LOCK_TIMEOUT_S`."""
    return settings.current().lock_timeout


@contextlib.contextmanager
def training_lock(folder: Path, identity: str, timeout: float | None = None):
    """Held while the model ``identity`` (its key's hash: the name is only a label) is trained and saved in
    ``folder``: a second process that wants the same model (another job of ``scripts/run_full.py``: chapters 8 and
    4 share chapter 1's) waits here, then loads it instead of training it a second time.

    An advisory ``flock`` on ``folder/.<identity>.lock``, which holds its holder's process id. The holder calls the
    function it is given (``beat``) after each epoch; a waiter gives up with a ``TimeoutError`` naming that process
    once the lock has shown no progress for ``timeout`` seconds (:func:`lock_timeout`), so a stopped or hung
    holder cannot make it wait for ever. A lock whose holder has died is free (the system releases it); one still
    held although its recorded holder is dead (a child process inherited it) is taken over with a warning. The
    holder removes the file when it is done. Where there is no such lock (not Unix, or a file system without
    locks) each process trains on its own, which is only slower: the writes are atomic either way.
    """
    path = folder / f".{identity}.lock"
    if fcntl is None:
        yield lambda: None
        return
    timeout = lock_timeout() if timeout is None else timeout
    fd, since, told, dead = None, time.time(), False, None
    while fd is None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            fd = None
            holder = _holder(path)
            if holder is not None and not _alive(holder):
                if dead == holder:  # seen twice: not a new holder that has not written its id yet
                    warnings.warn(f"{identity}: the lock {path} is held, but its holder, process {holder}, is dead; "
                                  f"taking it over and training the model here")
                    break
                dead = holder
            if not told:
                print(f"{identity}: process {holder or '?'} is training this model; waiting for it, then loading it",
                      flush=True)
                told = True
            idle = time.time() - max(_mtime(path), since)  # since the holder's last epoch, or since we came
            if idle > timeout:
                raise TimeoutError(f"{identity}: process {holder or '?'} has held the training lock {path} for "
                                   f"{idle:.0f} s without finishing an epoch. If that process is stopped or hung, end it "
                                   f"(kill {holder or '<pid>'}) or delete the lock file, and run again; "
                                   f"VAEBOOK_LOCK_TIMEOUT sets how many seconds to wait.")
            time.sleep(min(0.5, timeout / 10))
            continue
        except OSError:  # a file system without locks
            os.close(fd)
            fd = None
            break
        if not _same_file(fd, path):  # its last holder removed it after we opened it: lock the new one
            os.close(fd)
            fd = None
            continue
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
    try:
        yield lambda: _touch(path)
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)  # while still held: a waiter then sees another file and locks that
            os.close(fd)


def _holder(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False
