"""Datasets of the book: where they come from, how they are loaded, how they are prepared.

Two sources serve the same :func:`load` call:

* the **bundle**, small stratified real subsets shipped inside the package
  (``vaebook/bundle/subsets.npz``, built by ``scripts/build_bundle.py`` from the
  official files), read by the ``smoke`` and ``fast`` profiles: no network;
* the **official files** under the data root (``$VAEBOOK_DATA``, default
  ``~/.cache/vaebook/data``), read by the ``full`` profile and downloaded with
  checksums when missing.

Used in: every chapter; the data page (``notebooks/00_data.ipynb``) shows them all.
"""
from __future__ import annotations

import hashlib
import json
import time
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from . import settings
from .files import atomic_path, read_json
from .formats import MAX_IDX_BYTES, DataError, read_cifar10, read_idx, read_idx_bytes, read_npz, read_omniglot_zip, read_svhn_mat
from .profiles import current_profile

__all__ = ["ImageSet", "DataError", "DATASETS", "data_root", "load", "load_optional", "download", "bundle_info",
           "to_tensor", "hflip", "vflip", "two_gaussians", "ood_gaussian"]

BUNDLE = Path(__file__).parent / "bundle" / "subsets.npz"
DATASETS = ("mnist", "fashion-mnist", "kmnist", "emnist-letters", "omniglot", "cifar10", "svhn")

_MNIST = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/")
_KMNIST = ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)
_OMNIGLOT = ("https://raw.githubusercontent.com/brendenlake/omniglot/master/python/",
             "https://github.com/brendenlake/omniglot/raw/master/python/")

# dataset -> file -> (md5 of the official file, mirrors that serve it under that name)
REMOTE: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "mnist": {"train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", _MNIST),
              "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432", _MNIST),
              "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3", _MNIST),
              "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c", _MNIST)},
    "fashion-mnist": {"train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", _FASHION),
                      "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe", _FASHION),
                      "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79", _FASHION),
                      "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310", _FASHION)},
    "kmnist": {"train-images-idx3-ubyte.gz": ("bdb82020997e1d708af4cf47b453dcf7", _KMNIST),
               "train-labels-idx1-ubyte.gz": ("e144d726b3acfaa3e44228e80efcd344", _KMNIST),
               "t10k-images-idx3-ubyte.gz": ("5c965bf0a639b31b8f53240b1b52f4d7", _KMNIST),
               "t10k-labels-idx1-ubyte.gz": ("7320c461ea6c1c855c0b718fb2a4b134", _KMNIST)},
    "emnist-letters": {"gzip.zip": ("58c8d27c78d21e728a6bc7b3cc06412e",
                                    ("https://biometrics.nist.gov/cs_links/EMNIST/",
                                     "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/"))},
    "omniglot": {"images_background.zip": ("68d2efa1b9178cc56df9314c21c6e718", _OMNIGLOT),
                 "images_evaluation.zip": ("6b91aef0f799c5bb55b94e3f2daec811", _OMNIGLOT)},
    "cifar10": {"cifar-10-python.tar.gz": ("c58f30108f718f92721af3b95e74349a",
                                           ("https://www.cs.toronto.edu/~kriz/",))},
    "svhn": {"train_32x32.mat": ("e26dedcc434d2e4c54c9b2d4a06d8373", ("http://ufldl.stanford.edu/housenumbers/",)),
             "test_32x32.mat": ("eb5a983be6a315427106f1b164d9cef3", ("http://ufldl.stanford.edu/housenumbers/",))},
}


@dataclass
class ImageSet:
    """Images ``x`` (uint8, ``(N, H, W)`` or ``(N, H, W, 3)``) with labels ``y`` (int64, ``(N,)``).

    ``source`` says where they came from (bundle or official files, and which).
    """

    name: str
    split: str
    x: np.ndarray
    y: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.x)

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise DataError(f"{self.name}/{self.split}: {len(self.x)} images but {len(self.y)} labels "
                            f"({self.source}). The files do not belong together: replace them.")

    def subset(self, labels=None, n: int | None = None) -> "ImageSet":
        """The images whose label is in ``labels`` (all when None), the first ``n`` of them."""
        keep = np.ones(len(self), bool) if labels is None else np.isin(self.y, list(labels))
        idx = np.flatnonzero(keep)[:n]
        return ImageSet(self.name, self.split, self.x[idx], self.y[idx], self.source)

    def tensor(self) -> torch.Tensor:
        """The images as float32 in [0, 1], shape ``(N, C, H, W)``."""
        return to_tensor(self.x)


def data_root() -> Path:
    """The folder with one sub-folder per dataset: the run's (:mod:`vaebook.settings`): ``$VAEBOOK_DATA``, else
    ``~/.cache/vaebook/data``."""
    return settings.current().data


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Files that are not the official bytes but hold exactly the official data, accepted by their own MD5. The
# development copies in ../shared/datasets (see its PROVENANCE.md): Omniglot zips rebuilt around the original
# PNG members, the EMNIST-Letters label files, and the parts of KMNIST and EMNIST-Letters that exist offline.
EQUIVALENT: dict[str, dict[str, str]] = {
    "omniglot": {"images_background.zip": "7472ae05249c308828a2aae95e060a31",
                 "images_evaluation.zip": "9ba60382d64314ae418c75d41393876a"},
    "kmnist": {"kmnist-train-images-PARTIAL-first6284.npz": "a1f87d9148b42b21dfd676136a21437e"},
    "emnist-letters": {"emnist-letters-test-labels-idx1-ubyte.gz": "4078991c9840e363f09b797e81537bbd",
                       "emnist-letters-train-labels-idx1-ubyte.gz": "3e588645e7e560cb25181fc851a3b470",
                       "emnist-letters-test-images-idx3-ubyte-PARTIAL-first14800.gz": "e05608f50f439f6c1d1354a2887c2dac",
                       "emnist-letters-test-labels-idx1-ubyte-PARTIAL-first14800.gz": "b82af203671389885029394a274b8711",
                       "emnist-letters-train-PARTIAL-idx85264-88799.npz": "687c136f248ee06fc4ba0c54df4144fa"},
}


def accepted_md5(name: str, filename: str) -> set[str]:
    """The MD5s under which ``name/filename`` is accepted: the official file's, and a listed equivalent's."""
    found = {REMOTE.get(name, {}).get(filename, (None,))[0], EQUIVALENT.get(name, {}).get(filename)} - {None}
    if not found:
        raise DataError(f"{name}/{filename} is not a file vaebook knows: no checksum to check it against.")
    return found


def _checks_file() -> Path:
    """Where verified files are remembered: ``data-checks.json`` in the data root, beside the data it vouches for
    (:func:`data_root`: ``$VAEBOOK_DATA``, else ``~/.cache/vaebook/data``)."""
    return data_root() / "data-checks.json"


def _checks(record: Path) -> dict:
    """The memo of checked files; a corrupt one (not JSON, or not an object) is named, and rebuilt from nothing."""
    try:
        checked = read_json(record)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        warnings.warn(f"the memo of checked data files {record} is corrupt ({e}); every file is checked by its MD5 "
                      f"again and the memo rebuilt")
        return {}
    if not isinstance(checked, dict):
        warnings.warn(f"the memo of checked data files {record} holds a {type(checked).__name__}, not an object; "
                      f"every file is checked by its MD5 again and the memo rebuilt")
        return {}
    return checked


def _stamp(path: Path) -> str:
    """A file as the memo knows it: its real path, size, modification time, inode change time and inode. The change
    time cannot be set back (``touch -d`` sets it to now), so a rewrite with its mtime restored is seen too."""
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"


def _remember(path: Path, md5: str) -> None:
    """Remember that ``path``, as it is now, has ``md5``; forget what was remembered of it before. A memo that
    cannot be written (a read-only data folder) only costs a second hash next time. A folder whose mode says
    read-only is left alone even where the user could write it anyway (root): someone made it read-only."""
    record, stamp = _checks_file(), _stamp(path)
    if record.parent.is_dir() and not record.parent.stat().st_mode & 0o222:
        return
    prefix = stamp.split("|")[0] + "|"
    checked = {k: v for k, v in _checks(record).items() if not k.startswith(prefix)}
    try:
        with atomic_path(record) as tmp:
            tmp.write_text(json.dumps({**checked, stamp: md5}, indent=0))
    except OSError:
        pass


def verify(path: Path, name: str) -> Path:
    """Check ``path`` (a file of dataset ``name``) against its MD5 before it is first used.

    A file that passed is remembered in ``data-checks.json`` in the data root (:func:`_stamp`), so that later
    loads do not hash it again. What the memo trusts: a file whose path, size, modification time, inode change
    time and inode number are all as they were when it passed. Any write to the file changes its change time,
    even one that restores its size and modification time, and so checks it again. A file with another MD5 is a
    :class:`DataError` naming the file, both checksums and the fix: nothing is read from it.
    """
    path = Path(path)
    expected = accepted_md5(name, path.name)
    remembered = _checks(_checks_file()).get(_stamp(path))
    if isinstance(remembered, str) and remembered in expected:
        return path
    got = _md5(path)
    if got not in expected:
        raise DataError(f"{path} is not the official {name} file {path.name}: its MD5 is {got}, expected "
                        f"{' or '.join(sorted(expected))}. It may be another dataset's file, a truncated download or "
                        f"a different version. Delete it (it is downloaded again), or put the official file there.")
    _remember(path, got)
    return path


def download(name: str, filename: str, root: Path | None = None, timeout: float = 60,
             deadline: float = 3600) -> Path:
    """Download one official file of dataset ``name`` into ``root/name/``, checking its MD5.

    Mirrors are tried in turn. ``timeout`` bounds each read, ``deadline`` (seconds) the whole transfer
    from one mirror, so a server that trickles bytes cannot hold the download for ever. The file is
    written to a temporary name in the same folder and renamed only once its checksum matches, so a
    failed or interrupted download never leaves a file that looks complete.
    """
    md5, mirrors = REMOTE[name][filename]
    folder = (root or data_root()) / name
    created = not folder.exists()  # removed again if nothing could be downloaded into it
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a read-only data folder (a shared copy): say where the file must go instead
        raise DataError(f"Could not download {filename} for {name}: cannot write to {folder} ({e.strerror}). Put the "
                        f"official file (MD5 {md5}) there by hand, or set VAEBOOK_DATA to a folder you can write to.") from e
    target, errors = folder / filename, []
    for mirror in mirrors:
        try:
            with atomic_path(target) as tmp:
                _fetch(mirror + filename, tmp, timeout, deadline)
                if (got := _md5(tmp)) != md5:
                    raise ValueError(f"checksum {got}, expected {md5}")
            return target
        except (OSError, ValueError) as e:
            errors.append(f"{mirror + filename}: {e}")
    if created and not any(folder.iterdir()):  # a failed download leaves no empty dataset folder behind
        folder.rmdir()
    raise DataError(f"Could not download {filename} for {name}:\n  " + "\n  ".join(errors) +
                    f"\nPut the official file (MD5 {md5}) at {target} by hand, or set VAEBOOK_DATA to a "
                    f"folder that has {name}/{filename}. Without a network, use the 'fast' profile "
                    f"(VAEBOOK_PROFILE=fast), which reads the subsets bundled with vaebook.")


def _fetch(url: str, out: Path, timeout: float, deadline: float) -> None:
    """Copy ``url`` to ``out``. Each read waits at most ``timeout`` s; after ``deadline`` s the copy stops with a
    TimeoutError, however steadily a slow server sends (``read1`` returns what has arrived instead of waiting
    for a full block)."""
    end = time.monotonic() + deadline
    with open(out, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as r:
        while block := r.read1(1 << 16):
            f.write(block)
            if time.monotonic() > end:
                raise TimeoutError(f"not finished within its deadline of {deadline:g} s (timeout={timeout:g} s "
                                   f"per read); pass a larger deadline to download() on a slow connection")


def _find(name: str, *candidates: str, fetch: str | None = None) -> Path:
    """The first of ``candidates`` present under ``data_root()/name``, checked; else download ``fetch``."""
    folder = data_root() / name
    for c in candidates:
        if (folder / c).exists():
            return verify(folder / c, name)
    if fetch is None:
        raise DataError(f"None of {list(candidates)} is in {folder}. Put the official files there "
                        f"or set VAEBOOK_DATA to the folder that holds '{name}/'.")
    return download(name, fetch)


def _load_mnist_like(name: str, split: str) -> ImageSet:
    stem = "train" if split == "train" else "t10k"
    images, labels = f"{stem}-images-idx3-ubyte.gz", f"{stem}-labels-idx1-ubyte.gz"
    y = read_idx(_find(name, labels, fetch=labels)).astype(np.int64)
    if name == "kmnist" and split == "train" and not (data_root() / name / images).exists():
        partial = data_root() / name / "kmnist-train-images-PARTIAL-first6284.npz"
        if partial.exists():  # the offline copy in ../shared: the first 6,284 official images
            x = read_npz(verify(partial, name))
            return ImageSet(name, split, x, y[: len(x)], f"official files, partial ({partial.name})")
    x = read_idx(_find(name, images, fetch=images))
    return ImageSet(name, split, x, y, f"official files ({data_root() / name})")


def _load_emnist_letters(split: str) -> ImageSet:
    """EMNIST-Letters, turned upright (the IDX files store images transposed), labels a..z -> 0..25.

    The images and labels are read straight from the official ``gzip.zip`` (checked by its MD5), so no
    extracted copy has to be trusted.
    """
    folder = data_root() / "emnist-letters"
    images, labels = (f"emnist-letters-{split}-images-idx3-ubyte.gz", f"emnist-letters-{split}-labels-idx1-ubyte.gz")
    if not (folder / "gzip.zip").exists():
        partial = {"test": "emnist-letters-test-images-idx3-ubyte-PARTIAL-first14800.gz",
                   "train": "emnist-letters-train-PARTIAL-idx85264-88799.npz"}[split]
        if (folder / partial).exists():
            warnings.warn(f"EMNIST-Letters {split}: only the partial offline copy {partial} is available.")
            if split == "test":
                x = read_idx(verify(folder / partial, "emnist-letters"))
                y = read_idx(verify(folder / "emnist-letters-test-labels-idx1-ubyte-PARTIAL-first14800.gz",
                                    "emnist-letters"))
            else:
                path = verify(folder / partial, "emnist-letters")
                x, y = read_npz(path, "x"), read_npz(path, "y")
            return ImageSet("emnist-letters", split, x.transpose(0, 2, 1).copy(), y.astype(np.int64) - 1,
                            f"official images, partial ({partial})")
    archive = _find("emnist-letters", "gzip.zip", fetch="gzip.zip")
    x, y = (read_idx_bytes(_zip_member(archive, f"gzip/{m}"), f"{archive}:gzip/{m}") for m in (images, labels))
    return ImageSet("emnist-letters", split, x.transpose(0, 2, 1).copy(), y.astype(np.int64) - 1,
                    f"official files ({archive})")


def _zip_member(archive: Path, member: str) -> bytes:
    """One member's bytes, refused unread when the archive declares it larger than any file of the book."""
    try:
        with zipfile.ZipFile(archive) as zf:
            if (size := zf.getinfo(member).file_size) > MAX_IDX_BYTES:
                raise DataError(f"{archive} declares its member {member} {size:,} bytes, more than any file of the book: "
                                f"it is not the official EMNIST archive. Delete it and download it again.")
            return zf.read(member)
    except (zipfile.BadZipFile, KeyError, OSError, zlib.error, EOFError) as e:
        raise DataError(f"{archive} is corrupt or not the official EMNIST archive: cannot read {member} ({e}). "
                        f"Delete it and download it again.") from e


def _load_official(name: str, split: str) -> ImageSet:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if name in ("mnist", "fashion-mnist", "kmnist"):
        return _load_mnist_like(name, split)
    if name == "emnist-letters":
        return _load_emnist_letters(split)
    if name == "omniglot":  # Lake's 'background' alphabets serve as train, 'evaluation' as test
        f = {"train": "images_background.zip", "test": "images_evaluation.zip"}[split]
        x, y = read_omniglot_zip(_find(name, f, fetch=f))
        return ImageSet(name, split, x, y, f"official files ({f}), resized to 28x28")
    if name == "cifar10":
        f = "cifar-10-python.tar.gz"
        return ImageSet(name, split, *read_cifar10(_find(name, f, fetch=f), split), "official files")
    if name == "svhn":
        f = f"{split}_32x32.mat"
        return ImageSet(name, split, *read_svhn_mat(_find(name, f, fetch=f)), "official files")
    raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")


@lru_cache(maxsize=1)
def _bundle() -> dict[str, np.ndarray]:
    if not BUNDLE.exists():
        raise DataError(f"The bundled subsets {BUNDLE} are missing. Rebuild them with "
                        f"`python scripts/build_bundle.py --source ../shared/datasets`, or reinstall vaebook.")
    try:
        with np.load(BUNDLE) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"The bundled subsets {BUNDLE} are empty or corrupt ({e}). Rebuild them with "
                        f"`python scripts/build_bundle.py --source ../shared/datasets`.") from e


def bundle_info() -> dict:
    """The bundle's provenance: source files with their MD5s, seed, sizes and official indices."""
    return json.loads(str(_bundle()["provenance"]))


def load(name: str, split: str = "train", n: int | None = None, profile: str | None = None) -> ImageSet:
    """Load ``n`` images (all when None) of dataset ``name`` and ``split`` for a profile.

    ``smoke`` and ``fast`` read the bundled subsets (stratified by class and
    shuffled, so every prefix is balanced); ``full`` reads the official files,
    downloading them when missing, and takes a seeded random ``n`` if asked.
    """
    profile = profile or current_profile()
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")
    if n is not None and n <= 0:
        raise ValueError(f"n must be positive, not {n}")
    if profile == "full":
        ds = _load_official(name, split)
        if n is not None and n < len(ds):
            idx = np.sort(np.random.default_rng(0).permutation(len(ds))[:n])
            ds = ImageSet(name, split, ds.x[idx], ds.y[idx], ds.source)
        return ds
    b, key = _bundle(), f"{name}__{split}"
    if f"{key}__x" not in b:
        raise DataError(f"{name}/{split} is not in the bundled subsets (colour sets are not): it is "
                        f"available in the full profile only (VAEBOOK_PROFILE=full, with a network).")
    x, y = b[f"{key}__x"], b[f"{key}__y"]
    if n is not None and n > len(x):
        raise DataError(f"{name}/{split}: {n} images asked for, the bundle has {len(x)}. Use n <= {len(x)} "
                        f"or the full profile.")
    return ImageSet(name, split, x[:n], y[:n], f"bundled subset of the official files ({BUNDLE.name})")


def load_optional(wanted: bool, sets: dict[str, tuple[str, str, int | None]],
                  profile: str | None = None) -> tuple[dict[str, ImageSet], str | None]:
    """The ``sets`` a section may do without, each ``label: (name, split, n)`` as for :func:`load`, and why not:
    ``(sets, None)``, or ``({}, reason)`` when ``wanted`` is False (the profile does not run the section) or a
    file cannot be had (:class:`DataError`: no copy here and no network). The colour experiments use it: a page
    says why its colour section did not run, and goes on."""
    profile = profile or current_profile()
    if not wanted:
        return {}, (f"the {profile} profile leaves it out (it downloads its data and trains for hours on a CPU); the "
                    f"full profile runs it, as does colour = True in the parameters cell")
    try:
        return {label: load(name, split, n, profile) for label, (name, split, n) in sets.items()}, None
    except DataError as e:
        return {}, f"its data could not be read: {str(e).splitlines()[0]}"


def to_tensor(x: np.ndarray) -> torch.Tensor:
    """uint8 images ``(N, H, W)`` or ``(N, H, W, 3)`` -> float32 in [0, 1], ``(N, C, H, W)``."""
    t = torch.from_numpy(np.ascontiguousarray(x)).float().div_(255)
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror images left-right (the PAE paper's h-flip outliers)."""
    return x.flip(-1)


def vflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror images upside-down (the PAE paper's v-flip outliers)."""
    return x.flip(-2)


def two_gaussians(n: int, dim: int = 2, shift: float = 3.5, var: tuple[float, float] = (0.5, 1.0),
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Kamoi & Kobayashi's toy data (App. C): an equal mixture of N(±shift·e₁, diag(v₁, v₂, …, v₂)).

    Returns points ``(n, dim)`` and their component (0 for −, 1 for +).
    """
    if dim < 1 or n < 1:
        raise ValueError(f"need n >= 1 and dim >= 1, got n={n}, dim={dim}")
    c = torch.randint(0, 2, (n,), generator=generator)
    std = torch.full((dim,), var[1] ** 0.5)
    std[0] = var[0] ** 0.5
    x = torch.randn(n, dim, generator=generator) * std
    x[:, 0] += shift * (2 * c - 1)
    return x, c


def ood_gaussian(n: int, dim: int = 2, var: float = 0.01, generator: torch.Generator | None = None) -> torch.Tensor:
    """Kamoi & Kobayashi's OOD points: N(0, var·I), between the two data modes."""
    return torch.randn(n, dim, generator=generator) * var ** 0.5
