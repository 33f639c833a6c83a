"""The training loop and the cache of trained models."""
from functools import partial

import pytest
import torch
from torch import nn

import vaebook as vb
from vaebook import cache


def test_fit_reduces_the_loss():
    w = nn.Parameter(torch.tensor([5.0]))
    x = torch.randn(256) + 2.0
    hist = vb.fit(lambda b: ((b - w) ** 2).mean(), [w], x, epochs=30, batch_size=32,
                  optimizer=partial(torch.optim.SGD, lr=0.1), generator=torch.Generator().manual_seed(0))
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
        vb.fit(lambda a, b: a.sum(), [], (torch.ones(3), torch.ones(4)), epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        vb.fit(lambda a: a.sum(), [], torch.ones(3), epochs=1, batch_size=0)


class Shift(nn.Module):
    """y = x + b: the smallest model with a ``loss``; training counts its calls."""

    calls = 0

    def __init__(self, dim: int = 3):
        super().__init__()
        self.b = nn.Parameter(torch.randn(dim))

    def loss(self, x):
        Shift.calls += 1
        return ((x - self.b) ** 2).mean()


X = torch.arange(12.0).reshape(4, 3)
CONFIG = vb.FitConfig(epochs=2, batch_size=2)


def trainings(*calls) -> int:
    """How many of the ``train_or_load`` calls trained (the others loaded)."""
    trained = 0
    for args, kwargs in calls:
        before = Shift.calls
        vb.train_or_load("t", *args, **kwargs)
        trained += Shift.calls > before
    return trained


def test_train_or_load_trains_once_and_loads_the_same_model():
    m1, h1 = vb.train_or_load("t", Shift, X, CONFIG)
    before = Shift.calls
    m2, h2 = vb.train_or_load("t", Shift, X, CONFIG)
    assert Shift.calls == before and h1["loss"] == h2["loss"] and len(h1["loss"]) == 2
    assert not h1["from_cache"] and h2["from_cache"]
    torch.testing.assert_close(m1.b, m2.b)
    assert not torch.equal(m1.b, Shift().b)  # it was trained
    assert not list(cache.cache_dir().glob("*.part"))


@pytest.mark.parametrize("change", [
    ((lambda: Shift(4), X[:, :1].repeat(1, 4), CONFIG), {}),           # another model
    ((Shift, X + 1, CONFIG), {}),                                        # other data, same shape
    ((Shift, X, vb.FitConfig(epochs=3, batch_size=2)), {}),              # epochs
    ((Shift, X, vb.FitConfig(epochs=2, batch_size=4)), {}),              # batch size
    ((Shift, X, vb.FitConfig(epochs=2, batch_size=2, optimizer=partial(torch.optim.Adam, lr=1e-2))), {}),
    ((Shift, X, vb.FitConfig(epochs=2, batch_size=2, optimizer=partial(torch.optim.SGD, lr=1e-3))), {}),
    ((Shift, X, vb.FitConfig(epochs=2, batch_size=2, seed=1)), {}),      # seed
    ((Shift, X, CONFIG), {"loss": lambda m: lambda x: 2 * m.loss(x)}),   # the loss
])
def test_everything_that_defines_a_model_is_in_its_key(change):
    assert trainings(((Shift, X, CONFIG), {}), change, change) == 2


def test_the_values_a_loss_captures_are_in_its_key():
    def weighted(w):
        return lambda m: lambda x: w * m.loss(x)

    assert trainings(((Shift, X, CONFIG), {"loss": weighted(2.0)}), ((Shift, X, CONFIG), {"loss": weighted(3.0)}),
                     ((Shift, X, CONFIG), {"loss": weighted(2.0)})) == 2


def test_comments_docstrings_and_names_of_the_call_are_not_in_the_key():
    first = "def loss(m):\n    return lambda x: 2 * m.loss(x)\n"
    second = ('def loss(m):\n    """Twice the loss."""\n    # a comment, and a blank line\n\n'
              '    return lambda x: 2 * m.loss(x)  # another\n')
    fns = []
    for source in (first, second):
        scope = {}
        exec(compile(source, "<cell>", "exec"), scope)
        fns.append(scope["loss"])
    assert cache.fingerprint(fns[0]) == cache.fingerprint(fns[1])
    assert trainings(((Shift, X, CONFIG), {"loss": fns[0]}), ((Shift, X, CONFIG), {"loss": fns[1]})) == 1
    # a docstring or comment in the library's code does not change its version; code does
    code = "def f(x):\n    return x + 1\n"
    assert cache._code_text(code) == cache._code_text('def f(x):\n    """Add one."""\n    # one\n    return x + 1\n')
    assert cache._code_text(code) != cache._code_text("def f(x):\n    return x + 2\n")


def test_on_epoch_records_are_kept_with_the_model():
    def means(model, epoch):
        return {"b": model.b.detach().clone()} if epoch % 2 == 0 else None

    _, trained = vb.train_or_load("t", Shift, X, CONFIG, on_epoch=means)
    _, loaded = vb.train_or_load("t", Shift, X, CONFIG, on_epoch=means)
    assert list(trained["recorded"]) == [2] and list(loaded["recorded"]) == [2]
    torch.testing.assert_close(trained["recorded"][2]["b"], loaded["recorded"][2]["b"])


def test_a_kept_copy_is_the_model_trained_for_that_many_epochs():
    long_config = vb.FitConfig(epochs=5, batch_size=2, seed=3)
    short, _ = vb.train_or_load("t", Shift, X, vb.FitConfig(epochs=2, batch_size=2, seed=3))
    long, trained = vb.train_or_load("t", Shift, X, long_config, keep=[2, 5])
    _, loaded = vb.train_or_load("t", Shift, X, long_config, keep=[2, 5])
    assert not trained["from_cache"] and loaded["from_cache"] and list(loaded["kept"]) == [2, 5]
    for history in (trained, loaded):
        assert torch.equal(history["kept"][2].b, short.b)  # bit for bit: the same steps, not a close model
        assert torch.equal(history["kept"][5].b, long.b) and not history["kept"][2].training
    assert not torch.equal(short.b, long.b)
    assert trainings(((Shift, X, long_config), {}),) == 1  # the same model without copies is not taken for it
    with pytest.raises(ValueError, match=r"keep=\[0\] must be epochs from 1 to the config's epochs=5"):
        vb.train_or_load("t", Shift, X, long_config, keep=[0])


def test_a_dry_run_keeps_every_epoch_asked_for(monkeypatch):
    monkeypatch.setenv("VAEBOOK_MAX_EPOCHS", "1")
    model, history = vb.train_or_load("t", Shift, X, vb.FitConfig(epochs=5, batch_size=2), keep=[2, 5])
    assert list(history["kept"]) == [2, 5]  # both cut to the one epoch the dry run trains
    assert torch.equal(history["kept"][2].b, model.b) and torch.equal(history["kept"][5].b, model.b)


def test_bad_arguments_name_the_fix():
    with pytest.raises(TypeError, match="config must be a vb.FitConfig"):
        vb.train_or_load("t", Shift, X, {"epochs": 2})
    with pytest.raises(ValueError, match="name '../t' must be a plain file name"):
        vb.train_or_load("../t", Shift, X, CONFIG)
    with pytest.raises(ValueError, match=r"FitConfig\(batch_size=0\)"):
        vb.FitConfig(epochs=1, batch_size=0)
    with pytest.raises(TypeError, match="partial\\(torch.optim.Adam"):
        vb.FitConfig(epochs=1, batch_size=1, optimizer="adam")


def _checkpoint():
    (path,) = cache.cache_dir().glob("t-*.pt")
    return path


def test_corrupt_checkpoint_is_retrained():
    model, _ = vb.train_or_load("t", Shift, X, CONFIG)
    path = _checkpoint()
    path.write_bytes(path.read_bytes()[:40])
    with pytest.warns(UserWarning, match=r"cached model .*t-\w+\.pt could not be used .*retraining it"):
        again, _ = vb.train_or_load("t", Shift, X, CONFIG)
    torch.testing.assert_close(again.b, model.b)  # trained again to the same weights, and saved again
    assert trainings(((Shift, X, CONFIG), {})) == 0


def test_a_model_depends_on_its_definition_only_and_leaves_the_callers_random_stream_alone():
    torch.manual_seed(1)
    fresh, _ = vb.train_or_load("t", Shift, X, CONFIG)  # Shift() draws its initial b: train_or_load seeds it
    after_training = torch.rand(4)
    torch.manual_seed(2)
    torch.rand(7)  # a different history before the call ...
    _checkpoint().unlink()
    again, _ = vb.train_or_load("t", Shift, X, CONFIG)
    torch.testing.assert_close(fresh.b, again.b)  # ... gives the same model
    torch.manual_seed(1)
    loaded, _ = vb.train_or_load("t", Shift, X, CONFIG)  # a cache hit draws nothing ...
    torch.testing.assert_close(torch.rand(4), after_training)  # ... and the caller's stream is the same either way
    torch.testing.assert_close(loaded.b, fresh.b)


def test_altered_weights_are_caught_by_the_checksum():
    """Flipped bytes inside a weight tensor still load with torch.load; the stored SHA-256 catches them."""
    model, _ = vb.train_or_load("t", Shift, X, CONFIG)
    path = _checkpoint()
    raw = bytearray(path.read_bytes())
    at = bytes(raw).index(model.b.detach().numpy().tobytes())  # the weight's bytes, stored uncompressed
    raw[at:at + 8] = bytes(b ^ 0xFF for b in raw[at:at + 8])
    path.write_bytes(bytes(raw))
    assert not torch.equal(torch.load(path, weights_only=True)["state"]["b"], model.b)  # loads silently
    with pytest.warns(UserWarning, match="do not match the checksum saved with them"):
        again, _ = vb.train_or_load("t", Shift, X, CONFIG)
    assert torch.equal(again.b, model.b)


def test_an_unwritable_cache_fails_before_training(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path / "file" / "models"))
    before = Shift.calls
    with pytest.raises(PermissionError, match=r"the model cache .*file/models is not writable.*set VAEBOOK_CACHE"):
        vb.train_or_load("t", Shift, X, CONFIG)
    assert Shift.calls == before  # nothing was trained only to be thrown away


def test_stale_part_files_are_removed_and_fresh_ones_kept():
    import os
    import time

    folder = cache.cache_dir()
    folder.mkdir(parents=True)
    stale, fresh = folder / ".t-0.pt.abc.part", folder / ".t-1.pt.def.part"
    for p in (stale, fresh):
        p.write_bytes(b"half a checkpoint")
    old = time.time() - cache.STALE_PART_S - 60
    os.utime(stale, (old, old))
    vb.train_or_load("t", Shift, X, CONFIG)
    assert not stale.exists() and fresh.exists()  # a save in progress elsewhere is left alone


def test_a_model_trained_under_one_name_is_found_under_another():
    """The name labels the file; the derived key identifies the model, so a later chapter re-uses an earlier one's."""
    assert trainings(((Shift, X, CONFIG), {})) == 1
    before = Shift.calls
    vb.train_or_load("another-chapter", Shift, X, CONFIG)
    assert Shift.calls == before and len(list(cache.cache_dir().glob("*.pt"))) == 1


def test_an_epochs_cap_trains_less_under_its_own_key_and_logs_the_cost(tmp_path, monkeypatch):
    config = vb.FitConfig(epochs=3, batch_size=2)
    full, h_full = vb.train_or_load("t", Shift, X, config)
    log = tmp_path / "training.jsonl"
    monkeypatch.setenv("VAEBOOK_MAX_EPOCHS", "1")
    monkeypatch.setenv("VAEBOOK_TRAINING_LOG", str(log))
    capped, h_capped = vb.train_or_load("t", Shift, X, config)
    assert not h_capped["from_cache"], "a capped run must never load the full model (nor the full run a capped one)"
    assert len(h_full["loss"]) == 3 and len(h_capped["loss"]) == 1
    (entry,) = [__import__("json").loads(line) for line in log.read_text().splitlines()]
    assert entry["epochs_asked"] == 3 and entry["epochs_run"] == 1 and entry["examples"] == len(X) and entry["seconds"] >= 0
    monkeypatch.delenv("VAEBOOK_MAX_EPOCHS")
    assert vb.train_or_load("t", Shift, X, config)[1]["from_cache"]  # the full model is still there, as it was


@pytest.mark.parametrize("value", ["0", "-1", "one", "1.5"])
def test_a_bad_epochs_cap_is_named(monkeypatch, value):
    monkeypatch.setenv("VAEBOOK_MAX_EPOCHS", value)
    with pytest.raises(vb.ParameterError, match="VAEBOOK_MAX_EPOCHS"):
        vb.train_or_load("t", Shift, X, CONFIG)


def test_a_batches_cap_cuts_every_epoch_under_its_own_key_and_logs_the_fraction(tmp_path, monkeypatch):
    seen, w = [], nn.Parameter(torch.zeros(1))
    vb.fit(lambda x: (seen.append(len(x)), (w * x).sum())[1], [w], torch.ones(10, 1),
           epochs=2, batch_size=3, max_batches=2, optimizer=partial(torch.optim.SGD, lr=0.1))
    assert seen == [3, 3, 3, 3], "two epochs of two minibatches each"
    config = vb.FitConfig(epochs=1, batch_size=1)
    vb.train_or_load("t", Shift, X, config)
    log = tmp_path / "training.jsonl"
    monkeypatch.setenv("VAEBOOK_MAX_BATCHES", "2")
    monkeypatch.setenv("VAEBOOK_TRAINING_LOG", str(log))
    before = Shift.calls
    _, history = vb.train_or_load("t", Shift, X, config)
    assert not history["from_cache"] and Shift.calls - before == 2, "a cut epoch is never the whole one, nor loaded as it"
    (entry,) = [__import__("json").loads(line) for line in log.read_text().splitlines()]
    assert entry["batches_run"] == 2 and entry["batches_per_epoch"] == len(X)
    monkeypatch.setenv("VAEBOOK_MAX_BATCHES", "none")
    with pytest.raises(vb.ParameterError, match="VAEBOOK_MAX_BATCHES"):
        vb.train_or_load("t", Shift, X, config)


SLOW_TRAINING = """
import os, sys, time, torch, vaebook as vb
class Slow(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.b = torch.nn.Parameter(torch.zeros(1))
    def loss(self, x):
        while not os.path.exists(sys.argv[1]):  # training goes on only once the test says so
            time.sleep(0.02)
        return ((x - self.b) ** 2).mean()
_, history = vb.train_or_load("slow", Slow, torch.arange(4.0)[:, None], vb.FitConfig(epochs=1, batch_size=1))
print("loaded" if history["from_cache"] else "trained", flush=True)
"""


def test_a_second_process_waits_for_the_model_another_is_training_and_loads_it(tmp_path):
    import os
    import subprocess
    import sys
    import threading

    go = tmp_path / "go"
    env = {**os.environ, "VAEBOOK_CACHE": str(tmp_path / "models"), "VAEBOOK_TRAINING_LOG": str(tmp_path / "log.jsonl"),
           "VAEBOOK_PROGRESS": "0"}
    run = lambda: subprocess.Popen([sys.executable, "-c", SLOW_TRAINING, str(go)], env=env, stdout=subprocess.PIPE, text=True)
    first = run()
    while not list((tmp_path / "models").glob(".*.lock")) and first.poll() is None:  # it holds the lock, training
        threading.Event().wait(0.05)
    second, said = run(), []
    reader = threading.Thread(target=lambda: said.append(second.stdout.readline()))  # its first line: it waits
    reader.start()
    reader.join(timeout=120)
    go.touch()  # let the first finish training
    outputs = [first.communicate(timeout=120)[0], said[0] + second.communicate(timeout=120)[0]] if said else ["", ""]
    assert f"process {first.pid} is training this model; waiting for it" in outputs[1]  # the holder, by its id
    assert outputs[0].strip() == "trained" and outputs[1].strip().endswith("loaded")
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 1  # one of them trained it
    assert not list((tmp_path / "models").glob(".*.lock"))  # and removed its lock


def test_fit_makes_adam_fused_and_leaves_every_other_choice_alone():
    from vaebook.train import _fused
    cpu = torch.device("cpu")
    adam = _fused(partial(torch.optim.Adam, lr=1e-3, betas=(0.5, 0.9)), cpu)
    assert adam.keywords == {"lr": 1e-3, "betas": (0.5, 0.9), "fused": True}
    assert _fused(partial(torch.optim.AdamW, lr=1e-3), cpu).keywords["fused"] is True
    for kept in [partial(torch.optim.Adam, lr=1e-3, foreach=False), partial(torch.optim.Adam, fused=False),
                 partial(torch.optim.RMSprop, lr=1e-4), torch.optim.Adam]:
        assert _fused(kept, cpu) is kept, "an explicit implementation, another optimiser or a bare class is not changed"
    assert _fused(partial(torch.optim.Adam), torch.device("meta")).keywords == {}
    w = torch.nn.Parameter(torch.ones(3))
    assert adam([w]).defaults["fused"] is True


def test_a_checkpoint_copied_over_another_models_key_is_retrained_saying_what_differs():
    """A 5-epoch model's file copied onto the 2-epoch model's name: same nets, valid checksum, wrong model."""
    vb.train_or_load("t", Shift, X, CONFIG)
    (two,) = cache.cache_dir().glob("t-*.pt")
    vb.train_or_load("five", Shift, X, vb.FitConfig(epochs=5, batch_size=2))
    (five,) = cache.cache_dir().glob("five-*.pt")
    two.write_bytes(five.read_bytes())
    with pytest.warns(UserWarning, match=rf"cached model .*{two.name} could not be used \(ValueError: it is the model of "
                                         rf"key {five.stem}, not {two.stem}: its config differs \(epochs 5, not 2\)\); "
                                         r"retraining it"):
        model, history = vb.train_or_load("t", Shift, X, CONFIG)
    assert not history["from_cache"] and len(history["loss"]) == 2
    assert vb.train_or_load("t", Shift, X, CONFIG)[1]["from_cache"]  # the right model is saved in its place


def test_a_model_whose_optimiser_repr_changes_between_runs_still_loads():
    """A lambda's repr holds its address, which differs in every process; its code (the key) does not."""
    def config():
        return vb.FitConfig(epochs=1, batch_size=2, optimizer=lambda p: torch.optim.SGD(p, lr=0.1))

    first, second = config(), config()
    assert repr(first.optimizer) != repr(second.optimizer)
    vb.train_or_load("t", Shift, X, first)
    assert vb.train_or_load("t", Shift, X, second)[1]["from_cache"]


def test_forged_weights_with_a_recomputed_checksum_are_retrained():
    model, _ = vb.train_or_load("t", Shift, X, CONFIG)
    path = _checkpoint()
    ckpt = torch.load(path, weights_only=True)
    ckpt["state"]["b"] = torch.full_like(ckpt["state"]["b"], 7.0)
    ckpt["sha256"] = cache.tensor_digest(ckpt["state"], ckpt["history"])  # the checksum as it covered only the tensors
    torch.save(ckpt, path)
    with pytest.warns(UserWarning, match="do not match the checksum saved with them"):
        again, _ = vb.train_or_load("t", Shift, X, CONFIG)
    torch.testing.assert_close(again.b, model.b)
    ckpt.pop("trained_for")  # a checkpoint that does not say what it was trained for is never trusted
    torch.save(ckpt, path)
    with pytest.warns(UserWarning, match="it was saved without the key and configuration it was trained for"):
        again, _ = vb.train_or_load("t", Shift, X, CONFIG)
    torch.testing.assert_close(again.b, model.b)


def test_a_read_only_cache_that_holds_the_model_loads_it(monkeypatch):
    vb.train_or_load("t", Shift, X, CONFIG)
    files = sorted(cache.cache_dir().iterdir())

    def read_only(folder):
        raise PermissionError(f"the model cache {folder} is not writable")

    monkeypatch.setattr(vb.train, "prepare_cache", read_only)  # what prepare_cache does with a read-only folder
    assert vb.train_or_load("t", Shift, X, CONFIG)[1]["from_cache"]
    assert sorted(cache.cache_dir().iterdir()) == files  # nothing written: no lock either
    with pytest.raises(PermissionError, match="not writable"):  # a model that must be trained: refused before
        vb.train_or_load("t", Shift, X, vb.FitConfig(epochs=3, batch_size=2))


def test_a_full_disk_names_the_checkpoint_and_keeps_the_trained_model(monkeypatch):
    import errno
    from pathlib import Path

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    before = Shift.calls
    with pytest.warns(UserWarning, match=r"could not write the trained model .*/t-\w+\.pt: no space left on device: "
                                         r"[\d.]+ kB needed, .* free in .*models\. Free some space there or set "
                                         r"VAEBOOK_CACHE .*This session goes on with the model it trained"):
        model, history = vb.train_or_load("t", Shift, X, CONFIG)
    assert Shift.calls > before and not history["from_cache"] and not torch.equal(model.b, Shift().b)
    assert not list(cache.cache_dir().glob("*.pt*")) and not list(cache.cache_dir().glob(".*.part"))


def test_the_model_is_saved_before_the_training_log_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_TRAINING_LOG", str(tmp_path))  # a folder: cannot be appended to
    with pytest.warns(UserWarning, match=r"the training log .* \(VAEBOOK_TRAINING_LOG\) could not be written "
                                         r"\(Is a directory\); the trained model is saved"):
        vb.train_or_load("t", Shift, X, CONFIG)
    assert vb.train_or_load("t", Shift, X, CONFIG)[1]["from_cache"]


def test_a_lock_held_without_progress_times_out_naming_its_holder(tmp_path):
    import os

    with cache.training_lock(tmp_path, "abc") as beat:
        assert (tmp_path / ".abc.lock").read_text() == str(os.getpid())  # the holder's process id, for the waiters
        beat()
        with pytest.raises(TimeoutError, match=rf"abc: process {os.getpid()} has held the training lock .*\.abc\.lock "
                                               rf"for \d+ s without finishing an epoch\. .*kill {os.getpid()}.*"
                                               r"VAEBOOK_LOCK_TIMEOUT"):
            with cache.training_lock(tmp_path, "abc", timeout=0.3):  # another open file: flock refuses it
                pass
    assert not list(tmp_path.iterdir())  # the lock file is removed when released


def test_a_lock_whose_recorded_holder_is_dead_is_taken_over(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with cache.training_lock(tmp_path, "abc"):
        (tmp_path / ".abc.lock").write_text(dead.stdout.strip())  # as if a child had inherited the lock of a dead parent
        with pytest.warns(UserWarning, match=rf"held, but its holder, process {dead.stdout.strip()}, is dead; taking"):
            with cache.training_lock(tmp_path, "abc", timeout=5):
                pass


def test_a_lock_left_by_a_killed_holder_is_removed_and_a_held_one_kept(tmp_path):
    import subprocess
    import sys

    holder = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
              "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode()); print('held', flush=True); "
              "time.sleep(60)")
    killed = subprocess.Popen([sys.executable, "-c", holder, str(tmp_path / ".5b3b57a1.lock")], stdout=subprocess.PIPE, text=True)
    alive = subprocess.Popen([sys.executable, "-c", holder, str(tmp_path / ".7c0260ff.lock")], stdout=subprocess.PIPE, text=True)
    (tmp_path / ".another-tool.lock").write_text("")  # not a training lock of ours: left alone
    try:
        assert killed.stdout.readline() == alive.stdout.readline() == "held\n"
        killed.kill()
        killed.wait()  # killed while it trained: its lock file stays, held by nobody
        cache.prepare_cache(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == [".7c0260ff.lock", ".another-tool.lock"]  # held: stays
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan"])
def test_a_bad_lock_timeout_is_named(monkeypatch, value):
    monkeypatch.setenv("VAEBOOK_LOCK_TIMEOUT", value)
    with pytest.raises(ValueError, match=rf"VAEBOOK_LOCK_TIMEOUT='{value}': it must be a number of seconds > 0"):
        cache.lock_timeout()


def test_the_cache_folder_expands_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("VAEBOOK_CACHE", "~/models")
    assert cache.cache_dir() == tmp_path / "models"


class NormalisedShift(Shift):
    """Shift with a spectrally normalised layer and a start computed from a large tensor: both come out of reductions
    that torch splits between its threads."""

    def __init__(self):
        super().__init__()
        self.layer = nn.utils.parametrizations.spectral_norm(nn.Linear(784, 512))
        self.register_buffer("start", torch.full((1,), torch.linspace(0, 1, 1_500_000).sin().mean().item()))


def test_a_model_is_built_on_one_thread_so_its_key_is_the_same_whatever_the_thread_count():
    """Spectral normalisation's power iteration and a data-dependent start gave other bits with two threads than with
    one, so a chapter run with two threads (a reader's Jupyter) found none of the book's models. Models are built on
    one thread: the same start and the same key whatever the caller's thread count, which is given back after."""
    seen, before = [], torch.get_num_threads()

    def build():
        seen.append(torch.get_num_threads())
        return NormalisedShift()

    try:
        trained = []
        for threads in (2, 1):
            torch.set_num_threads(threads)
            calls = Shift.calls
            vb.train_or_load("t", build, X, CONFIG)
            trained.append(Shift.calls > calls)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 1] and trained == [True, False]
