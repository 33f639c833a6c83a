"""The loaders read every official format, and every bad file is a clear error with no partial file left."""
import gzip
import hashlib
import io
import pickle
import tarfile
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

import vaebook.data as data
from vaebook.formats import (DataError, read_cifar10, read_idx, read_omniglot_zip, read_svhn_mat, write_cifar10, write_idx,
                             write_svhn_mat)

rng = np.random.default_rng(0)


def accept(monkeypatch, path, name):
    """Register a test file's MD5 as an accepted equivalent of the official file of that name."""
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setitem(data.EQUIVALENT, name, {**data.EQUIVALENT.get(name, {}), path.name: md5})


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
    assert not (root / "mnist").exists()  # no file, no temporary, and no empty folder left in the data root
    # the right checksum, from the second mirror after a dead first one
    monkeypatch.setitem(data.REMOTE, "mnist", {"t10k-images-idx3-ubyte.gz": (good, ("file:///nonexistent/", src.as_uri() + "/"))})
    path = data.download("mnist", "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(read_idx(path), x)
    assert [p.name for p in (root / "mnist").iterdir()] == ["t10k-images-idx3-ubyte.gz"]


def test_a_data_folder_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")  # (root writes to read-only folders; a file cannot hold one)
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path / "not-a-folder"))
    with pytest.raises(DataError, match=r"cannot write to .*not-a-folder/cifar10 .* set VAEBOOK_DATA to a folder you can"):
        data.download("cifar10", "cifar-10-python.tar.gz")


def test_mnist_like_loader_reads_official_names(tmp_path, monkeypatch):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    x, y = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.arange(6, dtype=np.uint8)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y)
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz is not the official fashion-mnist file .*MD5"):
        data.load("fashion-mnist", "test", profile="full")  # checked before use: not the official bytes
    for f in folder.iterdir():
        accept(monkeypatch, f, "fashion-mnist")
    ds = data.load("fashion-mnist", "test", profile="full")
    np.testing.assert_array_equal(ds.x, x)
    assert ds.y.dtype == np.int64 and list(ds.y) == list(range(6))


def test_mismatched_images_and_labels(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (6, 28, 28), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(5, dtype=np.uint8))
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    for f in folder.iterdir():
        accept(monkeypatch, f, "mnist")
    with pytest.raises(DataError, match="6 images but 5 labels"):
        data.load("mnist", "test", profile="full")


def test_emnist_is_transposed_upright_and_labels_start_at_zero(tmp_path, monkeypatch):
    folder = tmp_path / "emnist-letters"
    folder.mkdir()
    upright = np.zeros((2, 28, 28), np.uint8)
    upright[:, 2, :] = 255  # a horizontal bar near the top
    write_idx(tmp_path / "emnist-letters-test-images-idx3-ubyte.gz", upright.transpose(0, 2, 1).copy())
    write_idx(tmp_path / "emnist-letters-test-labels-idx1-ubyte.gz", np.array([1, 26], np.uint8))
    with zipfile.ZipFile(folder / "gzip.zip", "w") as zf:  # read from the official archive, never extracted
        for f in tmp_path.glob("emnist-*.gz"):
            zf.write(f, f"gzip/{f.name}")
    accept(monkeypatch, folder / "gzip.zip", "emnist-letters")
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    ds = data.load("emnist-letters", "test", profile="full")
    np.testing.assert_array_equal(ds.x, upright)
    assert list(ds.y) == [0, 25]
    monkeypatch.setattr(data, "MAX_IDX_BYTES", 20)  # as if the archive declared a member larger than any dataset
    with pytest.raises(DataError, match=r"gzip\.zip declares its member gzip/emnist-letters-test-images-idx3-ubyte\.gz "
                                        r"[\d,]+ bytes, more than any file of the book"):
        data.load("emnist-letters", "test", profile="full")


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


def test_an_omniglot_member_whose_deflate_stream_is_corrupt_is_named(tmp_path):
    import struct

    path = tmp_path / "images_background.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images_background/Alpha/character01/0001_01.png", _png(np.zeros((105, 105), np.uint8)))
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", raw[26:30])  # the local header's lengths; the stream follows them
    raw[30 + name_len + extra_len] = 0xFF  # a final block of type 3, which deflate does not have
    path.write_bytes(bytes(raw))
    with pytest.raises(zlib.error):  # what the zip module raises for it, and what escaped before
        zipfile.ZipFile(path).read("images_background/Alpha/character01/0001_01.png")
    with pytest.raises(DataError, match=r"images_background\.zip is corrupt or truncated \(Error -3 while decompressing "
                                        r"data: invalid block type\)\. Delete it and download it again"):
        read_omniglot_zip(path)


def _png_declaring(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header says ``width`` x ``height``: what a reader sees before decoding a pixel."""
    import struct

    raw = bytearray(_png(np.zeros((1, 1), np.uint8)))
    at = raw.index(b"IHDR")
    raw[at + 4:at + 12] = struct.pack(">II", width, height)
    raw[at + 17:at + 21] = struct.pack(">I", zlib.crc32(bytes(raw[at:at + 17])))
    return bytes(raw)


@pytest.mark.parametrize("member, content, message", [
    ("0001_01.png", None, r"holds '0001_01\.png', which is not in an alphabet's folder \(official members are "
                          r"images_background/<alphabet>/<character>/<image>\.png\)"),
    ("images_background/Alpha/character01/big.png", _png_declaring(20000, 20000),
     r"member images_background/Alpha/character01/big\.png is not an Omniglot image \(Image size \(400000000 pixels\)"),
    ("images_background/Alpha/character01/big.png", _png_declaring(3000, 3000),
     r"member images_background/Alpha/character01/big\.png is 3000 x 3000 pixels, not an Omniglot image \(105 x 105\)"),
    ("images_background/Alpha/character01/big.png", bytes(2 << 20),
     r"member images_background/Alpha/character01/big\.png declares 2,097,152 bytes, not an Omniglot image"),
])
def test_an_omniglot_zip_with_a_stray_or_huge_member_is_named(tmp_path, member, content, message):
    with zipfile.ZipFile(tmp_path / "images_background.zip", "w") as zf:
        zf.writestr(member, content if content is not None else _png(np.zeros((105, 105), np.uint8)))
    with pytest.raises(DataError, match=r"images_background\.zip:? .*" + message):
        read_omniglot_zip(tmp_path / "images_background.zip")


def test_a_gzip_that_expands_beyond_its_header_is_refused_without_decompressing_it(tmp_path):
    """A file of a few kB that would decompress to 300 MB: the header declares 6 labels, so at most 6 bytes more
    are decompressed."""
    header = bytes([0, 0, 0x08, 1]) + np.asarray([6], ">i4").tobytes()
    stream = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    bomb = stream.compress(header + bytes(6)) + b"".join(stream.compress(bytes(1 << 20)) for _ in range(300))
    (tmp_path / "bomb.gz").write_bytes(bomb + stream.flush())
    assert (tmp_path / "bomb.gz").stat().st_size < 400_000
    with pytest.raises(DataError, match=r"bomb\.gz decompresses to more than the 14 bytes its header declares for "
                                        r"shape \(6,\): it is not the official file"):
        read_idx(tmp_path / "bomb.gz")


@pytest.mark.parametrize("shape, message", [
    ((-6,), r"declares the shape \(-6,\), with a negative size"),
    ((2**31 - 1, 2**31 - 1, 4), r"declares the shape \(2147483647, 2147483647, 4\), 18,446,744,056,529,682,452 "
                               r"bytes, more than any dataset of the book"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_an_idx_header_with_a_negative_or_wrapped_size_is_named(tmp_path, shape, message, gz):
    raw = bytes([0, 0, 0x08, len(shape)]) + np.asarray(shape, ">i4").tobytes() + bytes(16)
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(DataError, match=rf"{path.name} " + message):
        read_idx(path)


def _cifar_archive(path, batches):
    """A ``cifar-10-python.tar.gz`` holding each named batch pickled, as the official archive does."""
    with tarfile.open(path, "w:gz") as tf:
        for name, d in batches.items():
            blob = pickle.dumps(d)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))


def test_cifar10_batches(tmp_path):
    batches = {name: (rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), [3, 7])
               for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]}
    write_cifar10(tmp_path / "cifar-10-python.tar.gz", batches)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz") as tf:  # the official layout: channel by channel
        raw = pickle.loads(tf.extractfile("cifar-10-batches-py/test_batch").read())
    np.testing.assert_array_equal(raw[b"data"][0, :1024], batches["test_batch"][0][0, :, :, 0].ravel())
    x, y = read_cifar10(tmp_path / "cifar-10-python.tar.gz", "test")
    assert x.shape == (2, 32, 32, 3) and list(y) == [3, 7]
    np.testing.assert_array_equal(x, batches["test_batch"][0])
    assert read_cifar10(tmp_path / "cifar-10-python.tar.gz", "train")[0].shape == (10, 32, 32, 3)


def test_svhn_mat(tmp_path):
    from scipy.io import loadmat

    x = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    write_svhn_mat(tmp_path / "test_32x32.mat", x, [0, 1, 2, 0])
    raw = loadmat(tmp_path / "test_32x32.mat")  # the official layout: (32, 32, 3, N), digit 0 as label 10
    assert raw["X"].shape == (32, 32, 3, 4) and raw["y"].ravel().tolist() == [10, 1, 2, 10]
    x_read, y = read_svhn_mat(tmp_path / "test_32x32.mat")
    assert x_read.shape == (4, 32, 32, 3) and list(y) == [0, 1, 2, 0]
    np.testing.assert_array_equal(x_read, x)
    (tmp_path / "bad.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DataError, match=r"bad.mat is corrupt or not the official SVHN file"):
        read_svhn_mat(tmp_path / "bad.mat")


def test_emnist_archive_without_letters_is_a_clear_error(tmp_path, monkeypatch):
    folder = tmp_path / "emnist-letters"
    folder.mkdir()
    with zipfile.ZipFile(folder / "gzip.zip", "w") as zf:
        zf.writestr("gzip/emnist-digits-test-images-idx3-ubyte.gz", b"x")
    accept(monkeypatch, folder / "gzip.zip", "emnist-letters")
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    with pytest.raises(DataError, match="not the official EMNIST archive"):
        data.load("emnist-letters", "test", profile="full")
    assert sorted(p.name for p in folder.iterdir()) == ["gzip.zip"]  # nothing half written


def test_gzip_corrupted_mid_stream_names_the_file(tmp_path):
    import zlib

    write_idx(tmp_path / "x.gz", rng.integers(0, 4, (200, 28, 28), dtype=np.uint8))
    raw = (tmp_path / "x.gz").read_bytes()
    for at in range(len(raw) // 2, len(raw)):  # the first damage after the middle that breaks the deflate stream
        bad = raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1:]
        try:
            gzip.decompress(bad)
        except zlib.error:
            break
        except Exception:
            continue
    (tmp_path / "x.gz").write_bytes(bad)
    with pytest.raises(DataError, match=r"x\.gz is corrupt or truncated \(error: .*\)\. Delete it"):
        read_idx(tmp_path / "x.gz")


def test_wrong_file_under_an_official_name_is_refused(tmp_path, monkeypatch):
    """Fashion-MNIST's test images placed under mnist/ are not MNIST: refused by their MD5, never loaded."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (6, 28, 28), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(6, dtype=np.uint8))
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"mnist/t10k-labels-idx1-ubyte.gz is not the official mnist file .* "
                                        r"expected ec29112dd5afa0611ce80d1b7f02629c"):
        data.load("mnist", "test", profile="full")


def test_verified_files_are_remembered_until_they_change(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))  # the memo beside this file, not in the machine's data folder
    folder = tmp_path / "mnist"
    folder.mkdir()
    path = folder / "t10k-labels-idx1-ubyte.gz"
    write_idx(path, np.arange(6, dtype=np.uint8))
    accept(monkeypatch, path, "mnist")
    hashed = []
    real = data._md5
    monkeypatch.setattr(data, "_md5", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        data.verify(path, "mnist")
    assert len(hashed) == 1  # hashed once, then remembered by path, size, times and inode
    write_idx(path, np.arange(7, dtype=np.uint8))  # same name, other bytes
    with pytest.raises(DataError, match="is not the official mnist file"):
        data.verify(path, "mnist")


def _remembered_file(tmp_path, monkeypatch):
    """An accepted file in the data root, verified once (and so remembered), and a counter of MD5 hashes after."""
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    (tmp_path / "mnist").mkdir()
    path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte"
    write_idx(path, np.arange(6, dtype=np.uint8))
    accept(monkeypatch, path, "mnist")
    data.verify(path, "mnist")
    hashed = []
    real = data._md5
    monkeypatch.setattr(data, "_md5", lambda p: hashed.append(p) or real(p))
    return path, hashed


def test_a_same_size_rewrite_with_its_mtime_restored_is_checked_again(tmp_path, monkeypatch):
    import os

    path, hashed = _remembered_file(tmp_path, monkeypatch)
    data.verify(path, "mnist")
    assert hashed == []
    st = path.stat()
    write_idx(path, np.full(6, 7, dtype=np.uint8))  # every label set to 7: same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the modification time put back
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(DataError, match="is not the official mnist file"):
        data.verify(path, "mnist")


def test_the_memo_lives_beside_the_data_it_vouches_for(tmp_path, monkeypatch):
    path, _ = _remembered_file(tmp_path, monkeypatch)
    assert data._checks_file() == tmp_path / "data-checks.json" and (tmp_path / "data-checks.json").exists()
    assert not (tmp_path / "xdg").exists()  # nothing under ~/.cache for data that lives elsewhere
    assert len(data._checks(data._checks_file())) == 1


@pytest.mark.parametrize("memo, message", [
    ('{"half": ', r"the memo of checked data files .*data-checks\.json is corrupt \(.*\); every file is checked"),
    ("[1, 2]", r"data-checks\.json holds a list, not an object; every file is checked by its MD5 again"),
    ("[" * 100_000 + "]" * 100_000, r"data-checks\.json is corrupt \(it is nested too deeply"),
], ids=["not JSON", "a list", "nested too deeply"])
def test_a_corrupt_memo_is_named_and_rebuilt(tmp_path, monkeypatch, memo, message):
    path, hashed = _remembered_file(tmp_path, monkeypatch)
    data._checks_file().write_text(memo)
    with pytest.warns(UserWarning, match=message):
        data.verify(path, "mnist")
    assert len(hashed) == 1 and isinstance(data._checks(data._checks_file()), dict)  # hashed again, memo rebuilt
    data.verify(path, "mnist")
    assert len(hashed) == 1


def test_a_memo_entry_that_is_not_a_checksum_is_not_trusted(tmp_path, monkeypatch):
    import json

    path, hashed = _remembered_file(tmp_path, monkeypatch)
    memo = data._checks_file()
    memo.write_text(json.dumps({k: [v] for k, v in json.loads(memo.read_text()).items()}))
    data.verify(path, "mnist")
    assert len(hashed) == 1


def test_a_planted_cifar_archive_runs_no_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    _cifar_archive(tmp_path / "cifar-10-python.tar.gz", {"test_batch": {b"data": Payload(), b"labels": [1]}})
    with pytest.raises(DataError, match=r"cifar-10-python.tar.gz is corrupt, truncated or not the official CIFAR-10 "
                                        r"archive \(it asks to load io.open"):
        read_cifar10(tmp_path / "cifar-10-python.tar.gz", "test")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("batch, message", [
    ([1, 2], r"member test_batch is not a CIFAR-10 batch \(TypeError"),
    ({b"labels": [1]}, r"member test_batch is not a CIFAR-10 batch \(KeyError"),
    ({b"data": np.zeros((2, 100), np.uint8), b"labels": [1, 2]}, r"member test_batch is not a CIFAR-10 batch \(ValueError"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, r"member test_batch has 2 images but 1 labels"),
])
def test_a_cifar_archive_of_another_layout_is_named(tmp_path, batch, message):
    _cifar_archive(tmp_path / "cifar-10-python.tar.gz", {"test_batch": batch})
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz: " + message):
        read_cifar10(tmp_path / "cifar-10-python.tar.gz", "test")


def test_a_planted_cifar_archive_is_refused_by_its_checksum_first(tmp_path, monkeypatch):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    (folder / "cifar-10-python.tar.gz").write_bytes(b"anything")
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"cifar-10-python.tar.gz is not the official cifar10 file"):
        data.load("cifar10", "test", profile="full")


def test_empty_bundle_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "subsets.npz").write_bytes(b"")
    monkeypatch.setattr(data, "BUNDLE", tmp_path / "subsets.npz")
    data._bundle.cache_clear()
    try:
        with pytest.raises(DataError, match=r"subsets.npz are empty or corrupt .*build_bundle.py"):
            data.load("mnist", "test", profile="fast")
    finally:
        data._bundle.cache_clear()


def test_download_has_an_overall_deadline(tmp_path, monkeypatch):
    """A server that sends one byte every 0.2 s never trips the per-read timeout; the deadline stops it."""
    import http.server
    import threading
    import time

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setitem(data.REMOTE, "mnist", {"t10k-labels-idx1-ubyte.gz": ("0" * 32, (url,))})
        t = time.monotonic()
        with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: not finished within its deadline of 1.5 s"):
            data.download("mnist", "t10k-labels-idx1-ubyte.gz", root=tmp_path, timeout=1, deadline=1.5)
        assert time.monotonic() - t < 5
        assert list((tmp_path / "mnist").glob("*")) == []  # no partial file (nor, now, the empty folder)
    finally:
        server.shutdown()


def test_a_data_folder_made_read_only_gets_no_memo_even_for_root(tmp_path, monkeypatch):
    path, hashed = _remembered_file(tmp_path, monkeypatch)
    data._checks_file().unlink()
    tmp_path.chmod(0o555)  # root could still write here: the mode says whoever set it wants no writes
    try:
        data.verify(path, "mnist")
        data.verify(path, "mnist")
        assert len(hashed) == 2 and not data._checks_file().exists()  # checked each time, nothing written
    finally:
        tmp_path.chmod(0o755)
