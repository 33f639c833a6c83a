"""Notebook parameters are checked before anything runs, and each bad value is named with the fix."""
import pytest

import vaebook as vb
from vaebook.profiles import ParameterError


@pytest.mark.parametrize("name,value,kind,extra,message", [
    ("latent_dim", 0, int, {}, r"parameter latent_dim = 0: it must be an integer >= 1"),
    ("epochs", 0, int, {"smoke": 1, "fast": 10, "full": 100}, r"epochs = 0: .* the current profile's value is 10"),
    ("latent_dim", -3, int, {}, r"latent_dim = -3: it must be an integer >= 1"),
    ("latent_dim", "ten", int, {}, r"latent_dim = 'ten': it must be an integer"),
    ("n_train", "abc", int, {}, r"n_train = 'abc'"),
    ("n_train", 100.5, int, {}, r"n_train = 100.5: it must be an integer >= 1"),
    ("n_train", True, int, {}, r"n_train = True"),
    ("prior_distance", "far", float, {"low": 0}, r"prior_distance = 'far': it must be a number >= 0"),
    ("prior_distance", float("nan"), float, {"low": 0}, r"prior_distance = nan"),
    ("beta", 0.0, float, {"above": 0}, r"beta = 0.0: it must be a number > 0"),
    ("arch", "resnet", str, {"choices": ("mlp", "conv")}, r"arch = 'resnet': it must be a string in \['mlp', 'conv'\]"),
    ("sweep_dims", [], [int], {}, r"sweep_dims = \[\]: it must be a non-empty list of integers >= 1"),
    ("sweep_dims", [10, "50"], [int], {}, r"sweep_dims = \[10, '50'\]"),
    ("sweep_dims", 10, [int], {}, r"sweep_dims = 10: it must be a non-empty list"),
    ("sweep_k", [4, 64], [int], {"contains": (4, 32, 64)}, r"sweep_k = \[4, 64\]: .* that contains \[4, 32, 64\]"),
    ("held_out", 10, int, {"choices": range(10)}, r"held_out = 10"),
    ("permutations", "yes", bool, {}, r"permutations = 'yes': it must be True or False"),
])
def test_bad_parameters_are_named(name, value, kind, extra, message):
    with pytest.raises(ParameterError, match=message):
        vb.param(name, value, kind, **extra)


def test_good_parameters_and_profile_values():
    assert vb.param("n", None, int, smoke=1, fast=2, full=3) == 2
    assert vb.param("d", 3, float, low=0) == 3.0 and isinstance(vb.param("d", 3, float), float)
    assert vb.param("dims", (3,), [int]) == [3]
    assert vb.param("seed", 0, int, low=0) == 0
    # a digit is a choice, and 0 is one (the full profile's grid of held-out digits failed on it: found by make full-dry)
    assert vb.param("held_out", 0, int, choices=range(10)) == 0
    assert vb.param("grid_digits", list(range(10)), [int], choices=range(10)) == list(range(10))
    assert vb.param("flag", False, bool) is False
    with pytest.raises(ParameterError, match="parameter x is None"):
        vb.param("x", None, int)


def test_a_dry_run_cuts_step_counts_only(monkeypatch):
    monkeypatch.setenv("VAEBOOK_MAX_STEPS", "2")
    assert vb.param("iw_samples", None, int, steps=True, smoke=4, fast=20, full=100) == 2
    assert vb.param("iw_samples", 1, int, steps=True) == 1          # below the cap: as set
    assert vb.param("n_test", None, int, smoke=200, fast=2000, full=10000) == 2000  # a data size: never cut
    assert vb.pick(None, smoke=20, fast=200, full=2000, steps=True) == 2
    assert vb.pick(None, smoke=20, fast=200, full=2000) == 200
    with pytest.raises(ParameterError, match="iw_samples = 0"):       # checked before the cut
        vb.param("iw_samples", 0, int, steps=True)
    monkeypatch.setenv("VAEBOOK_MAX_STEPS", "two")
    with pytest.raises(ParameterError, match="VAEBOOK_MAX_STEPS='two'"):
        vb.param("iw_samples", None, int, steps=True, smoke=4, fast=20, full=100)
    monkeypatch.delenv("VAEBOOK_MAX_STEPS")
    assert vb.param("iw_samples", None, int, steps=True, smoke=4, fast=20, full=100) == 20
