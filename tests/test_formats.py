"""The loaders read every official format, and every bad file is a clear error with no partial file left."""
import gzip
import hashlib
import io
import pickle
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

import vaebook.data as data
from vaebook.formats import DataError, read_cifar10, read_idx, read_omniglot_zip, read_svhn_mat, write_idx

rng = np.random.default_rng(0)


def test_idx_roundtrip_gz_and_raw(tmp_path):
    x = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    for name in ("a.gz", "a"):
        write_idx(tmp_path / name, x)
        np.testing.assert_array_equal(read_idx(tmp_path / name), x)
    y = rng.integers(0, 10, 7).astype(np.uint8)
    write_idx(tmp_path / "y.gz", y)
    np.testing.assert_array_equal(read_idx(tmp_path / "y.gz"), y)


@pytest.mark.parametrize("cut", [1, 100, 700])
def test_idx_truncated_is_a_clear_error(tmp_path, cut):
    write_idx(tmp_path / "x", rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))
    raw = (tmp_path / "x").read_bytes()
    (tmp_path / "t").write_bytes(raw[:-cut])
    with pytest.raises(DataError, match="truncated|not an IDX"):
        read_idx(tmp_path / "t")


def test_idx_truncated_gzip_and_bad_magic(tmp_path):
    write_idx(tmp_path / "x.gz", rng.integers(0, 256, (50, 28, 28), dtype=np.uint8))
    raw = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "t.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="corrupt or truncated|truncated"):
        read_idx(tmp_path / "t.gz")
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04" + bytes(100))
    with pytest.raises(DataError, match="not an IDX"):
        read_idx(tmp_path / "bad")


def test_missing_file_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    monkeypatch.setattr(data, "REMOTE", {"mnist": {k: (v[0], ("file:///nonexistent/",)) for k, v in data.REMOTE["mnist"].items()}})
    with pytest.raises(DataError, match="by hand|VAEBOOK_DATA"):
        data.load("mnist", "test", profile="full")
    assert not any(p.suffix == ".part" for p in tmp_path.rglob("*"))


def test_download_checks_md5_and_writes_atomically(tmp_path, monkeypatch):
    src = tmp_path / "mirror"
    src.mkdir()
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_idx(src / "t10k-images-idx3-ubyte.gz", x)
    good = hashlib.md5((src / "t10k-images-idx3-ubyte.gz").read_bytes()).hexdigest()
    root = tmp_path / "root"
    monkeypatch.setenv("VAEBOOK_DATA", str(root))
    # wrong checksum: an error, and neither the file nor a temporary is left
    monkeypatch.setitem(data.REMOTE, "mnist", {"t10k-images-idx3-ubyte.gz": ("0" * 32, (src.as_uri() + "/",))})
    with pytest.raises(DataError, match="checksum"):
        data.download("mnist", "t10k-images-idx3-ubyte.gz")
    assert list((root / "mnist").iterdir()) == []
    # the right checksum, from the second mirror after a dead first one
    monkeypatch.setitem(data.REMOTE, "mnist", {"t10k-images-idx3-ubyte.gz": (good, ("file:///nonexistent/", src.as_uri() + "/"))})
    path = data.download("mnist", "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(read_idx(path), x)
    assert [p.name for p in (root / "mnist").iterdir()] == ["t10k-images-idx3-ubyte.gz"]


def test_mnist_like_loader_reads_official_names(tmp_path, monkeypatch):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    x, y = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.arange(6, dtype=np.uint8)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y)
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    ds = data.load("fashion-mnist", "test", profile="full")
    np.testing.assert_array_equal(ds.x, x)
    assert ds.y.dtype == np.int64 and list(ds.y) == list(range(6))


def test_mismatched_images_and_labels(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (6, 28, 28), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(5, dtype=np.uint8))
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    with pytest.raises(DataError, match="6 images but 5 labels"):
        data.load("mnist", "test", profile="full")


def test_emnist_is_transposed_upright_and_labels_start_at_zero(tmp_path, monkeypatch):
    folder = tmp_path / "emnist-letters"
    folder.mkdir()
    upright = np.zeros((2, 28, 28), np.uint8)
    upright[:, 2, :] = 255  # a horizontal bar near the top
    write_idx(folder / "emnist-letters-test-images-idx3-ubyte.gz", upright.transpose(0, 2, 1).copy())
    write_idx(folder / "emnist-letters-test-labels-idx1-ubyte.gz", np.array([1, 26], np.uint8))
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    ds = data.load("emnist-letters", "test", profile="full")
    np.testing.assert_array_equal(ds.x, upright)
    assert list(ds.y) == [0, 25]


def _png(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_omniglot_zip(tmp_path):
    img = np.full((105, 105), 255, np.uint8)
    img[40:60, 40:60] = 0  # a black stroke on white
    with zipfile.ZipFile(tmp_path / "images_evaluation.zip", "w") as zf:
        for alpha in ("Beta", "Alpha"):
            zf.writestr(f"images_evaluation/{alpha}/character01/0001_01.png", _png(img))
    x, y = read_omniglot_zip(tmp_path / "images_evaluation.zip")
    assert x.shape == (2, 28, 28) and x.dtype == np.uint8
    assert x[0, 14, 14] == 255 and x[0, 0, 0] == 0  # inverted: white stroke on black
    assert sorted(y) == [0, 1]
    (tmp_path / "broken.zip").write_bytes((tmp_path / "images_evaluation.zip").read_bytes()[:50])
    with pytest.raises(DataError, match="corrupt"):
        read_omniglot_zip(tmp_path / "broken.zip")


def test_cifar10_batches(tmp_path):
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [3, 7]}
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tf:
        for name, d in batches.items():
            blob = pickle.dumps(d)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    x, y = read_cifar10(tmp_path / "cifar-10-python.tar.gz", "test")
    assert x.shape == (2, 32, 32, 3) and list(y) == [3, 7]
    np.testing.assert_array_equal(x[0, :, :, 0].ravel(), batches["test_batch"][b"data"][0, :1024])
    assert read_cifar10(tmp_path / "cifar-10-python.tar.gz", "train")[0].shape == (10, 32, 32, 3)


def test_svhn_mat(tmp_path):
    from scipy.io import savemat

    X = rng.integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    savemat(tmp_path / "test_32x32.mat", {"X": X, "y": np.array([[10], [1], [2], [10]], np.uint8)})
    x, y = read_svhn_mat(tmp_path / "test_32x32.mat")
    assert x.shape == (4, 32, 32, 3) and list(y) == [0, 1, 2, 0]
    np.testing.assert_array_equal(x[1], X[..., 1])
    (tmp_path / "bad.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DataError):
        read_svhn_mat(tmp_path / "bad.mat")


def test_emnist_archive_without_letters_is_a_clear_error(tmp_path, monkeypatch):
    folder = tmp_path / "emnist-letters"
    folder.mkdir()
    with zipfile.ZipFile(folder / "gzip.zip", "w") as zf:
        zf.writestr("gzip/emnist-digits-test-images-idx3-ubyte.gz", b"x")
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    with pytest.raises(DataError, match="not the official EMNIST archive"):
        data.load("emnist-letters", "test", profile="full")
    assert sorted(p.name for p in folder.iterdir()) == ["gzip.zip"]  # nothing half written
