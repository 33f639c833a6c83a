"""Build the small real-data subsets that ship inside vaebook (``vaebook/bundle/subsets.npz``).

The ``smoke`` and ``fast`` profiles read these subsets so the book builds with
no network. Each subset is drawn from the official files, stratified by class
(an equal number per label where the source allows), seeded, then shuffled so
that every prefix stays balanced. Provenance (source files and MD5s, seed,
official indices) is stored in the bundle itself.

    python scripts/build_bundle.py --source ../shared/datasets
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import numpy as np

import vaebook.data as data  # noqa: E402
from vaebook.files import atomic_path  # noqa: E402

SEED = 20201120
# dataset -> split -> images in the bundle (the fast profile's largest size)
SIZES = {
    "fashion-mnist": {"train": 10000, "test": 2000},
    "mnist": {"train": 10000, "test": 2000},
    "kmnist": {"train": 2000, "test": 2000},
    "emnist-letters": {"train": 2000, "test": 2000},
    "omniglot": {"test": 2000},
}


def stratified(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices, as equal a share per label as the labels allow, in shuffled order."""
    labels = np.unique(y)
    per = {c: np.flatnonzero(y == c) for c in labels}
    quota = {c: 0 for c in labels}
    remaining = n
    while remaining > 0:  # hand out the quota round-robin, skipping exhausted labels
        open_ = [c for c in labels if quota[c] < len(per[c])]
        if not open_:
            raise ValueError(f"only {len(y)} images, {n} asked for")
        for c in open_[:remaining]:
            quota[c] += 1
            remaining -= 1
    idx = np.concatenate([rng.choice(per[c], quota[c], replace=False) for c in labels])
    return rng.permutation(idx)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="folder with one sub-folder per dataset (official files)")
    ap.add_argument("--out", default=str(data.BUNDLE))
    args = ap.parse_args()
    os.environ["VAEBOOK_DATA"] = str(Path(args.source).resolve())

    rng = np.random.default_rng(SEED)
    arrays, prov = {}, {"seed": SEED, "script": "scripts/build_bundle.py", "sets": {}}
    for name, splits in SIZES.items():
        folder = Path(args.source) / name
        prov["sets"][name] = {"files": {f.name: md5(f) for f in sorted(folder.iterdir())
                                        if f.is_file() and f.suffix != ".png"}}
        for split, n in splits.items():
            ds = data.load(name, split, profile="full")
            idx = stratified(ds.y, n, rng)
            arrays[f"{name}__{split}__x"] = ds.x[idx]
            arrays[f"{name}__{split}__y"] = ds.y[idx]
            arrays[f"{name}__{split}__index"] = idx.astype(np.int32)
            prov["sets"][name][split] = {"n": int(n), "of": len(ds), "source": ds.source,
                                         "labels": np.bincount(ds.y[idx]).tolist()}
            print(f"{name:15s} {split:5s} {n:6d} of {len(ds):6d}  ({ds.source})")
    arrays["provenance"] = np.array(json.dumps(prov))
    out = Path(args.out)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:  # a file object: savez would add ".npz" to a name
        np.savez_compressed(f, **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
