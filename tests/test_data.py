"""The bundle, the profiles and the data helpers."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import vaebook as vb
from vaebook import data

SHARED = Path(os.environ.get("VAEBOOK_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets")


def test_bundle_sets_are_balanced_real_and_small():
    assert data.BUNDLE.stat().st_size < 20e6
    info = data.bundle_info()
    for name, splits in info["sets"].items():
        for split in ("train", "test"):
            if split not in splits:
                continue
            ds = vb.load(name, split, profile="fast")
            assert ds.x.dtype == np.uint8 and ds.x.shape[1:] == (28, 28)
            counts = np.bincount(ds.y)
            counts = counts[counts > 0]
            assert counts.max() - counts.min() <= max(1, 0.02 * len(ds)), (name, split, counts)
            assert 0.05 < ds.x.mean() / 255 < 0.5  # real images, not blanks or noise
            assert len(np.unique(ds.x.reshape(len(ds), -1), axis=0)) == len(ds)  # no duplicates


def test_bundle_prefixes_stay_balanced():
    y = vb.load("fashion-mnist", "train", n=1000, profile="smoke").y
    assert np.bincount(y, minlength=10).min() >= 70


@pytest.mark.skipif(not (SHARED / "mnist").exists(), reason="needs the official files in ../shared/datasets")
def test_bundle_matches_official_files(monkeypatch):
    monkeypatch.setenv("VAEBOOK_DATA", str(SHARED))
    full = vb.load("mnist", "test", profile="full")
    bundle = data._bundle()
    idx = bundle["mnist__test__index"]
    np.testing.assert_array_equal(bundle["mnist__test__x"], full.x[idx])
    np.testing.assert_array_equal(bundle["mnist__test__y"], full.y[idx])


def test_profiles_and_errors(monkeypatch):
    assert vb.current_profile() == "fast"
    monkeypatch.setenv("VAEBOOK_PROFILE", "smoke")
    assert vb.pick(None, smoke=1, fast=2, full=3) == 1
    assert vb.pick(7, smoke=1, fast=2, full=3) == 7
    assert vb.set_profile("full") == "full" and vb.pick(None, smoke=1, fast=2, full=3) == 3
    with pytest.raises(ValueError, match="unknown profile"):
        vb.set_profile("huge")
    with pytest.raises(vb.DataError, match="full profile only"):
        vb.load("cifar10", "test", profile="fast")
    with pytest.raises(vb.DataError, match="bundle has"):
        vb.load("mnist", "test", n=10 ** 6, profile="fast")
    with pytest.raises(ValueError, match="unknown dataset"):
        vb.load("imagenet", profile="fast")


def test_missing_bundle_names_the_script(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "BUNDLE", tmp_path / "nope.npz")
    data._bundle.cache_clear()
    try:
        with pytest.raises(vb.DataError, match="build_bundle.py"):
            vb.load("mnist", "test", profile="fast")
    finally:
        data._bundle.cache_clear()


def test_transforms():
    x = vb.load("mnist", "test", n=50, profile="fast").tensor()
    assert x.shape == (50, 1, 28, 28) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(data.hflip(data.hflip(x)), x) and torch.equal(data.hflip(x)[..., 0], x[..., -1])
    assert torch.equal(data.vflip(x)[..., 0, :], x[..., -1, :])
    sub = vb.load("fashion-mnist", "test", profile="fast").subset(labels=[1, 7], n=30)
    assert len(sub) == 30 and set(sub.y) <= {1, 7}


def test_kamoi_toy_data_statistics():
    g = torch.Generator().manual_seed(0)
    x, c = data.two_gaussians(200000, dim=10, generator=g)
    for k, sign in ((0, -1), (1, 1)):
        xs = x[c == k]
        assert abs(xs[:, 0].mean() - sign * 3.5) < 0.02
        assert abs(xs[:, 0].var() - 0.5) < 0.02 and abs(xs[:, 1:].var(0).mean() - 1.0) < 0.02
    o = data.ood_gaussian(100000, 2, generator=g)
    assert abs(o.var() - 0.01) < 0.001


def test_an_optional_section_gets_its_sets_or_the_reason_it_cannot(tmp_path, monkeypatch):
    sets, why = vb.load_optional(True, {"MNIST": ("mnist", "test", 5)}, profile="fast")
    assert why is None and len(sets["MNIST"]) == 5
    assert vb.load_optional(False, {"MNIST": ("mnist", "test", 5)}, profile="fast") == (
        {}, "the fast profile leaves it out (it downloads its data and trains for hours on a CPU); the full profile "
            "runs it, as does colour = True in the parameters cell")

    def offline(name, filename, *args, **kwargs):
        raise vb.DataError(f"Could not download {filename} for {name}: no network\nPut the file there by hand")

    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    monkeypatch.setattr(vb.data, "download", offline)
    sets, why = vb.load_optional(True, {"CIFAR-10": ("cifar10", "test", None)}, profile="full")
    assert sets == {} and why == "its data could not be read: Could not download cifar-10-python.tar.gz for cifar10: no network"
