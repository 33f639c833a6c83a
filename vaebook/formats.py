"""Readers for the official file formats of the book's datasets.

Every reader returns ``uint8`` images, ``(N, H, W)`` for grey sets and
``(N, H, W, 3)`` for colour sets, and ``int64`` labels ``(N,)``. A file that is
missing, truncated or not in the expected format raises :class:`DataError`
with a message that names the file and the fix.

Used in: every chapter, through :mod:`vaebook.data`.
"""
from __future__ import annotations

import gzip
import io
import math
import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["DataError", "read_idx", "read_idx_bytes", "write_idx", "read_omniglot_zip", "read_cifar10", "write_cifar10",
           "read_svhn_mat", "write_svhn_mat", "read_npz"]


class DataError(RuntimeError):
    """A data file is missing, corrupt or of the wrong format. The message says how to fix it."""


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"{path} cannot be read ({e}).") from e


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), gzipped or not.

    The header is two zero bytes, a type code, the number of dimensions and one
    big-endian ``int32`` per dimension; the data follow in row-major order.
    EMNIST stores its images transposed: :func:`vaebook.data.load` undoes that.
    """
    path = Path(path)
    return read_idx_bytes(_read(path), str(path))


def read_idx_bytes(raw: bytes, name: str) -> np.ndarray:
    """:func:`read_idx` of a file's bytes (gunzipped when they start with gzip's magic); ``name`` is for errors.

    A gzipped file is decompressed only as far as its header declares: a small file that would expand to far more
    (a "zip bomb") is refused after the declared size, not read into memory whole.
    """
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip_idx(raw, name)
    header, dtype, shape = _idx_header(raw, name)
    expected = header + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"{name} is truncated or padded: expected {expected} bytes for shape {shape}, "
                        f"found {len(raw)}. Delete it and download it again.")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


# The largest IDX file a dataset of the book has is EMNIST's, about 0.7 GB; a header declaring more is not one.
MAX_IDX_BYTES = 4 << 30


def _idx_header(raw: bytes, name: str) -> tuple[int, np.dtype, tuple[int, ...]]:
    """``(header length, dtype, shape)`` of an IDX file's first bytes, checked: the shape's sizes are
    non-negative and what they declare is no more than :data:`MAX_IDX_BYTES`."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DataError(f"{name} is not an IDX file (bad magic number). Replace it with the official file.")
    ndim, dtype = raw[3], np.dtype(_IDX_DTYPES[raw[2]])
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name} is truncated: its header declares {ndim} dimensions, but the file ends at byte "
                        f"{len(raw)}. Delete it and download it again.")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    if min(shape) < 0:
        raise DataError(f"{name} declares the shape {shape}, with a negative size: it is corrupt or not an IDX file. "
                        f"Replace it with the official file.")
    if (size := header + math.prod(shape) * dtype.itemsize) > MAX_IDX_BYTES:
        raise DataError(f"{name} declares the shape {shape}, {size:,} bytes, more than any dataset of the book "
                        f"({MAX_IDX_BYTES:,}): it is corrupt or not an IDX file. Replace it with the official file.")
    return header, dtype, shape


def _gunzip_idx(raw: bytes, name: str) -> bytes:
    """Decompress a gzipped IDX file up to the size its header declares, and one byte more to see whether it
    holds more than it declares (refused without decompressing the rest)."""
    stream, out, tail = zlib.decompressobj(zlib.MAX_WBITS | 16), bytearray(), raw

    def fill(n: int) -> None:
        nonlocal tail
        while len(out) < n and not stream.eof:
            chunk = stream.decompress(tail, n - len(out))
            tail = stream.unconsumed_tail
            out.extend(chunk)
            if not chunk and not tail:
                break

    try:
        fill(4)
        fill(4 + 4 * out[3] if len(out) >= 4 else 4)
        header, dtype, shape = _idx_header(bytes(out), name)
        size = header + math.prod(shape) * dtype.itemsize
        fill(size + 1)
    except zlib.error as e:  # a stream corrupted mid-way
        raise DataError(f"{name} is corrupt or truncated ({type(e).__name__}: {e}). Delete it and download it again.") from e
    if len(out) > size:
        raise DataError(f"{name} decompresses to more than the {size:,} bytes its header declares for shape {shape}: "
                        f"it is not the official file. Delete it and download it again.")
    if not stream.eof:
        raise DataError(f"{name} is corrupt or truncated (the compressed stream ends early). Delete it and download "
                        f"it again.")
    return bytes(out)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when the name ends in ``.gz``). Used by the tests."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">i4").tobytes()
    body = header + np.ascontiguousarray(array).astype(array.dtype.newbyteorder(">")).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(body)
    else:
        path.write_bytes(body)


def read_omniglot_zip(path: str | Path, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Read Omniglot's ``images_background.zip`` or ``images_evaluation.zip``.

    The official images are 105×105 black strokes on white. We invert them to
    white on black (as MNIST) and resize them to ``size``×``size`` with a box
    filter, the usual preparation for 28×28 OOD experiments. Labels are the
    alphabet index (alphabets sorted by name).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    try:
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist() if n.endswith(".png"))
            if not names:
                raise DataError(f"{path} holds no PNG images: is it the official Omniglot zip?")
            if stray := [n for n in names if n.count("/") < 2]:
                raise DataError(f"{path} holds {stray[0]!r}, which is not in an alphabet's folder (official members are "
                                f"images_background/<alphabet>/<character>/<image>.png): is it the official Omniglot zip?")
            alphabets = sorted({n.split("/")[1] for n in names})
            index = {a: i for i, a in enumerate(alphabets)}
            x = np.empty((len(names), size, size), np.uint8)
            y = np.empty(len(names), np.int64)
            for i, name in enumerate(names):
                x[i] = 255 - _omniglot_image(zf, name, path, size)
                y[i] = index[name.split("/")[1]]
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:  # zlib.error: a member's deflate stream is corrupt
        raise DataError(f"{path} is corrupt or truncated ({e}). Delete it and download it again.") from e
    return x, y


# Omniglot's images are 105 x 105; an image with more pixels than this is not one, and is not decoded.
MAX_OMNIGLOT_PIXELS = 1024 * 1024
MAX_OMNIGLOT_BYTES = 1 << 20  # an official member is a 105 x 105 PNG of a few kB


def _omniglot_image(zf: zipfile.ZipFile, name: str, path: Path, size: int) -> np.ndarray:
    """One member's image, grey, resized to ``size`` x ``size``; its dimensions are read (from the PNG header) and
    checked before a single pixel is decoded."""
    from PIL import Image

    if (declared := zf.getinfo(name).file_size) > MAX_OMNIGLOT_BYTES:  # checked before a byte is decompressed
        raise DataError(f"{path}: member {name} declares {declared:,} bytes, not an Omniglot image (a few kB). Is it the "
                        "official Omniglot zip?")
    try:
        img = Image.open(io.BytesIO(zf.read(name)))
    except Image.DecompressionBombError as e:
        raise DataError(f"{path}: member {name} is not an Omniglot image ({e}). Is it the official Omniglot zip?") from e
    if img.width * img.height > MAX_OMNIGLOT_PIXELS:
        raise DataError(f"{path}: member {name} is {img.width} x {img.height} pixels, not an Omniglot image (105 x 105). "
                        f"Is it the official Omniglot zip?")
    img = img.convert("L")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BOX)
    return np.asarray(img, np.uint8)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only what CIFAR-10's batches hold: dicts, lists, bytes, numbers and NumPy arrays.

    ``pickle.load`` runs whatever code a pickle names; a file planted in the data folder must not.
    """

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it asks to load {module}.{name}, which a CIFAR-10 batch never holds")
        if module.startswith("numpy.core"):  # NumPy 2 moved numpy.core to numpy._core
            module = module.replace("numpy.core", "numpy._core")
        return super().find_class(module, name)


def read_cifar10(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR-10's python batches from ``cifar-10-python.tar.gz`` (``split``: train or test)."""
    path = Path(path)
    wanted = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    xs, ys = [], []
    try:
        with tarfile.open(path) as tf:
            members = {Path(m.name).name: m for m in tf.getmembers()}
            for name in wanted:
                if name not in members:
                    raise DataError(f"{path} has no member {name}: is it the official CIFAR-10 archive?")
                d = _ArrayUnpickler(tf.extractfile(members[name]), encoding="bytes").load()
                try:  # a batch of another layout: not a dict, no data or labels, a size not of 32 x 32 x 3 images
                    xs.append(np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
                    ys.append(np.asarray(d[b"labels"], np.int64))
                except (TypeError, KeyError, ValueError, IndexError) as e:
                    raise DataError(f"{path}: member {name} is not a CIFAR-10 batch ({type(e).__name__}: {e}). Is it the "
                                    "official CIFAR-10 archive? Delete it and download it again.") from e
                if len(xs[-1]) != len(ys[-1]):
                    raise DataError(f"{path}: member {name} has {len(xs[-1])} images but {len(ys[-1])} labels. Is it the "
                                    "official CIFAR-10 archive? Delete it and download it again.")
    except (tarfile.TarError, OSError, EOFError, zlib.error, pickle.UnpicklingError) as e:
        raise DataError(f"{path} is corrupt, truncated or not the official CIFAR-10 archive ({e}). Delete it and download it again.") from e
    return np.concatenate(xs), np.concatenate(ys)


def write_cifar10(path: str | Path, batches: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Write a ``cifar-10-python.tar.gz`` as the official one is laid out: one pickled dict per batch
    (``data``: ``(N, 3072)`` uint8, channel by channel; ``labels``: a list) under ``cifar-10-batches-py/``.
    ``batches`` maps a batch's name (``data_batch_1`` … ``data_batch_5``, ``test_batch``) to images
    ``(N, 32, 32, 3)`` and labels. Used by the tests."""
    with tarfile.open(path, "w:gz") as tf:
        for name, (x, y) in batches.items():
            data = np.ascontiguousarray(np.asarray(x, np.uint8).transpose(0, 3, 1, 2)).reshape(len(x), -1)
            blob = pickle.dumps({b"data": data, b"labels": [int(v) for v in y]})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))


def write_svhn_mat(path: str | Path, x: np.ndarray, y: np.ndarray) -> None:
    """Write SVHN's cropped-digit ``.mat`` layout: ``X`` ``(32, 32, 3, N)`` uint8, ``y`` ``(N, 1)`` with digit 0
    as label 10. Used by the tests."""
    from scipy.io import savemat

    labels = np.where(np.asarray(y) == 0, 10, y).astype(np.uint8).reshape(-1, 1)
    savemat(path, {"X": np.asarray(x, np.uint8).transpose(1, 2, 3, 0), "y": labels})


def read_svhn_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read SVHN's cropped-digit ``.mat`` file; label 10 (digit 0) becomes 0."""
    from scipy.io import loadmat

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    try:
        d = loadmat(path)
        x = np.asarray(d["X"], np.uint8).transpose(3, 0, 1, 2)  # (32, 32, 3, N) -> (N, 32, 32, 3)
        y = np.asarray(d["y"], np.int64).ravel() % 10
    except (ValueError, KeyError, OSError, TypeError, IndexError, NotImplementedError) as e:
        raise DataError(f"{path} is corrupt or not the official SVHN file ({e}). Delete it and download it again.") from e
    return x, y


def read_npz(path: str | Path, key: str = "x") -> np.ndarray:
    """Read one array from a ``.npz`` file (the partial KMNIST/EMNIST copies in ``../shared``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    try:
        with np.load(path) as f:
            return np.asarray(f[key])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path} is corrupt or lacks '{key}' ({e}).") from e
