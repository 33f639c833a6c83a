"""The training loop and the cache of trained models."""
import pytest
import torch
from torch import nn

import vaebook as vb
from vaebook import train


def test_fit_reduces_the_loss():
    w = nn.Parameter(torch.tensor([5.0]))
    x = torch.randn(256) + 2.0
    hist = vb.fit(lambda b: ((b - w) ** 2).mean(), [w], x, epochs=30, batch_size=32,
                  make_optimizer=vb.optimizer("sgd", lr=0.1), generator=torch.Generator().manual_seed(0))
    assert hist[-1] < hist[0] and w.item() == pytest.approx(x.mean().item(), abs=0.1)


def test_nan_loss_stops_with_the_step():
    w = nn.Parameter(torch.tensor([1.0]))
    calls = []

    def loss(b):
        calls.append(1)
        return (b * w).sum() * (float("nan") if len(calls) == 4 else 1.0)

    with pytest.raises(FloatingPointError, match=r"nan at step 3 \(epoch 1\)"):
        vb.fit(loss, [w], torch.ones(10), epochs=3, batch_size=5)
    assert len(calls) == 4


def test_a_nan_checked_lazily_still_names_its_step():
    """With the flag read every 4 steps (as on a GPU, every 100), a NaN at step 1 stops training at the read
    after it (step 3), and the message names step 1."""
    w = nn.Parameter(torch.tensor([1.0]))
    calls = []

    def loss(b):
        calls.append(1)
        return (b * w).sum() * (float("nan") if len(calls) == 2 else 1.0)

    with pytest.raises(FloatingPointError, match=r"the loss became nan at step 1 \(epoch 0\)"):
        vb.fit(loss, [w], torch.ones(40), epochs=1, batch_size=5, check_every=4)
    assert len(calls) == 4


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        vb.fit(lambda a, b: a.sum(), [], (torch.ones(3), torch.ones(4)), 1, 2)
    with pytest.raises(ValueError, match="batch_size"):
        vb.fit(lambda a: a.sum(), [], torch.ones(3), 1, 0)


def _model_and_counter():
    calls = []

    def build():
        torch.manual_seed(0)
        return nn.Linear(3, 2)

    def fit_(model):
        calls.append(1)
        with torch.no_grad():
            model.weight.add_(1.0)
        return [1.0, 0.5]

    return build, fit_, calls


def test_train_or_load_trains_once_per_config():
    build, fit_, calls = _model_and_counter()
    m1, h1 = vb.train_or_load("t", {"a": 1}, build, fit_)
    m2, h2 = vb.train_or_load("t", {"a": 1}, build, fit_)
    assert len(calls) == 1 and h1 == h2 == [1.0, 0.5]
    torch.testing.assert_close(m1.weight, m2.weight)
    vb.train_or_load("t", {"a": 2}, build, fit_)
    assert len(calls) == 2
    assert train.config_key("t", {"a": 1}) != train.config_key("t", {"a": 2})
    assert not list(train.cache_dir().glob("*.part"))


def test_corrupt_checkpoint_is_retrained():
    build, fit_, calls = _model_and_counter()
    vb.train_or_load("t", {"a": 1}, build, fit_)
    (path,) = train.cache_dir().glob("t-*.pt")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.warns(UserWarning, match=r"cached model .*t-\w+\.pt could not be used .*retraining it"):
        m, _ = vb.train_or_load("t", {"a": 1}, build, fit_)
    fresh = build()
    assert len(calls) == 2 and torch.equal(m.weight, fresh.weight + 1.0)  # trained again (init + 1), and saved again
    vb.train_or_load("t", {"a": 1}, build, fit_)
    assert len(calls) == 2


def test_a_model_depends_on_its_config_only_and_leaves_the_callers_random_stream_alone():
    def build():
        return nn.Linear(3, 2)  # unseeded initialisation: train_or_load must seed it

    def fit_(model):
        with torch.no_grad():
            model.weight.add_(torch.randn(model.weight.shape))  # training draws random numbers
        return [0.0]

    torch.manual_seed(1)
    fresh, _ = vb.train_or_load("t", {"seed": 3}, build, fit_)
    after_training = torch.rand(4)
    torch.manual_seed(2)
    torch.rand(7)  # a different history before the call ...
    train.cache_dir().joinpath(f"{train.config_key('t', {'seed': 3})}.pt").unlink()
    again, _ = vb.train_or_load("t", {"seed": 3}, build, fit_)
    torch.testing.assert_close(fresh.weight, again.weight)  # ... gives the same model
    torch.manual_seed(1)
    loaded, _ = vb.train_or_load("t", {"seed": 3}, build, fit_)  # a cache hit draws nothing ...
    torch.testing.assert_close(torch.rand(4), after_training)  # ... and the caller's stream is the same either way
    torch.testing.assert_close(loaded.weight, fresh.weight)


def test_altered_weights_are_caught_by_the_checksum():
    """16 flipped bytes inside a weight tensor still load with torch.load; the stored SHA-256 catches them."""
    build, fit_, calls = _model_and_counter()
    model, _ = vb.train_or_load("t", {"a": 1}, build, fit_)
    (path,) = train.cache_dir().glob("t-*.pt")
    raw = bytearray(path.read_bytes())
    at = bytes(raw).index(model.weight.detach().numpy().tobytes())  # the weight's bytes, stored uncompressed
    raw[at:at + 16] = bytes(b ^ 0xFF for b in raw[at:at + 16])
    path.write_bytes(bytes(raw))
    assert not torch.equal(torch.load(path, weights_only=True)["state"]["weight"], model.weight)  # loads silently
    with pytest.warns(UserWarning, match="do not match the checksum saved with them"):
        again, _ = vb.train_or_load("t", {"a": 1}, build, fit_)
    assert len(calls) == 2 and torch.equal(again.weight, model.weight)


def test_an_unwritable_cache_fails_before_training(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path / "file" / "models"))
    build, fit_, calls = _model_and_counter()
    with pytest.raises(PermissionError, match=r"the model cache .*file/models is not writable.*set VAEBOOK_CACHE"):
        vb.train_or_load("t", {"a": 1}, build, fit_)
    assert calls == []  # nothing was trained only to be thrown away


def test_stale_part_files_are_removed_and_fresh_ones_kept():
    import os
    import time

    folder = train.cache_dir()
    folder.mkdir(parents=True)
    stale, fresh = folder / ".t-0.pt.abc.part", folder / ".t-1.pt.def.part"
    for p in (stale, fresh):
        p.write_bytes(b"half a checkpoint")
    old = time.time() - train.STALE_PART_S - 60
    os.utime(stale, (old, old))
    build, fit_, _ = _model_and_counter()
    vb.train_or_load("t", {"a": 1}, build, fit_)
    assert not stale.exists() and fresh.exists()  # a save in progress elsewhere is left alone
