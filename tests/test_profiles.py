"""Notebook parameters are checked before anything runs, and each bad value is named with the fix."""
import pytest
import torch

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


def test_a_seed_outside_numpys_range_is_refused_naming_seed():
    with pytest.raises(ParameterError, match=r"parameter seed = 4294967296: it must be an integer >= 0 <= 4294967295"):
        vb.param("seed", 2**32, int, low=0)
    with pytest.raises(ParameterError, match=r"parameter seed = -1"):
        vb.param("seed", -1, int)
    assert vb.param("seed", 2**32 - 1, int, low=0) == 2**32 - 1 and vb.param("seed", 0, int) == 0
    with pytest.raises(ParameterError, match=r"seed = 4294967296: a seed must be a whole number from 0 to 2\*\*32 - 1"):
        vb.seed_everything(2**32)


def test_a_degenerate_evaluation_size_is_refused_with_the_reason():
    why = "an AUROC needs several test images of each set, and a variance two"
    with pytest.raises(ParameterError, match=r"n_test = 1: it must be an integer >= 20 \(an AUROC needs several"):
        vb.param("n_test", 1, int, low=20, why=why, smoke=200, fast=2000, full=10000)
    assert vb.param("n_test", 20, int, low=20, why=why) == 20
    with pytest.raises(ParameterError, match=r"p = 1.5: it must be a number >= 0 <= 1"):
        vb.param("p", 1.5, float, low=0, high=1)


@pytest.mark.parametrize("variable", ["VAEBOOK_MAX_EPOCHS", "VAEBOOK_MAX_BATCHES", "VAEBOOK_MAX_STEPS"])
def test_a_cap_of_unicode_digits_is_named(monkeypatch, variable):
    monkeypatch.setenv(variable, "²")  # "²".isdigit() is True; int("²") is a ValueError without the variable's name
    with pytest.raises(ParameterError, match=f"{variable}='²': it must be a whole number >= 1"):
        vb.profiles.dry_run_note()


@pytest.mark.parametrize("value, message", [
    ("bogus", r"VAEBOOK_DEVICE='bogus' is not a device torch knows: set it to 'cpu', 'cuda'"),
    ("cuda:7", r"VAEBOOK_DEVICE='cuda:7', but this machine has no such device"),
])
def test_a_bad_device_names_the_variable(monkeypatch, value, message):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("VAEBOOK_DEVICE", value)
    with pytest.raises(ParameterError, match=message):
        vb.device()
    monkeypatch.setenv("VAEBOOK_DEVICE", "cpu")
    assert vb.device() == torch.device("cpu")


class _Shell:
    """IPython's shell as far as vb.set_profile reads it: the cells run so far."""

    def __init__(self, *cells):
        self.user_ns = {"In": ["", *cells]}


PARAMETERS = "profile = None\nn_test = None  # test images\nlatent_dim = 10\nseed = 0\n"


def _run(monkeypatch, *cells):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: _Shell(*cells))
    return vb.set_profile(None)


def test_a_papermill_parameter_the_chapter_lacks_is_named_with_the_ones_it_has(monkeypatch):
    injected = '# Parameters\nprofile = "smoke"\nlatnt_dim = 3\n'
    with pytest.raises(ParameterError, match=r"papermill parameter latnt_dim: this chapter has no such parameter.* "
                                             r"Its parameters are: latent_dim, n_test, profile, seed\."):
        _run(monkeypatch, PARAMETERS, injected)
    assert _run(monkeypatch, PARAMETERS, '# Parameters\nprofile = "smoke"\nlatent_dim = 3\n') == "fast"
    assert _run(monkeypatch, "x = 1", PARAMETERS) == "fast"  # no papermill: nothing to check


def test_every_run_records_its_parameters_and_which_are_not_the_chapters(monkeypatch):
    _run(monkeypatch, PARAMETERS, '# Parameters\nprofile = "smoke"\nlatent_dim = 3\nseed = 0\n')
    vb.param("latent_dim", 3, int)
    vb.param("seed", 0, int, low=0)
    vb.param("n_test", None, int, smoke=200, fast=2000, full=10000)
    vb.param("epochs", 4, int, smoke=1, fast=10, full=100)  # the parameters cell edited by hand
    vb.param("iw_samples", None, int, steps=True, smoke=4, fast=20, full=100)
    vb.record("ch", a=1.0)
    meta = vb.read_record("ch")["meta"]
    assert meta["parameters"] == {"latent_dim": 3, "seed": 0, "n_test": 2000, "epochs": 4, "iw_samples": 20}
    assert meta["changed"] == {"latent_dim": 3, "epochs": 4} and meta["profile"] == "fast"
    _run(monkeypatch, PARAMETERS)  # a new run forgets the last one's parameters
    vb.record("ch", a=1.0)
    assert vb.read_record("ch")["meta"]["parameters"] == {} and vb.read_record("ch")["meta"]["changed"] == {}


def test_the_text_quotes_the_settings_the_chapter_ran_with(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.__setitem__(name, value))
    monkeypatch.setenv("VAEBOOK_MAX_STEPS", "3")  # a dry run: the text quotes the cut count, the meta data the chapter's
    _run(monkeypatch, PARAMETERS)
    vb.param("sweep_dims", None, [int], smoke=[2], fast=[10, 50, 100], full=[10])
    vb.param("iw_samples", None, int, steps=True, smoke=4, fast=20, full=100)
    vb.param("beta", 4.5, float)
    vb.glue_parameters("ch9", "sweep_dims", "iw_samples", "beta")
    assert glued == {"ch9_sweep_dims": "10, 50, 100", "ch9_iw_samples": 3, "ch9_beta": 4.5}
    assert vb.run_parameters()["parameters"]["iw_samples"] == 20
    # another profile's setting, as declared (a dry run's cut is this run's, not the profile's)
    assert vb.profile_value("iw_samples", "full") == 100 and vb.profile_value("sweep_dims", "smoke") == [2]
    with pytest.raises(KeyError, match="beta declares no value for the full profile"):
        vb.profile_value("beta", "full")
    with pytest.raises(vb.ParameterError, match="unknown profile 'paper'"):
        vb.profile_value("iw_samples", "paper")
    with pytest.raises(KeyError, match=r"'epochs' is not a parameter of this run: .*\(beta, iw_samples, sweep_dims\)"):
        vb.glue_parameters("ch9", "epochs")
    _run(monkeypatch, PARAMETERS)  # a new run forgets them
    with pytest.raises(KeyError):
        vb.glue_parameters("ch9", "beta")
    with pytest.raises(KeyError):
        vb.profile_value("iw_samples", "full")


def test_an_unwritable_results_folder_is_refused_where_the_run_starts(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")  # a folder below a file cannot be made, even by root
    monkeypatch.setenv("VAEBOOK_RESULTS", str(tmp_path / "file" / "results"))
    with pytest.raises(vb.ResultsError, match=r"the results folder .*results is not writable \(Not a directory\): the "
                                              r"chapter would run and then fail to record\. Set VAEBOOK_RESULTS"):
        vb.set_profile("smoke")


def test_a_corrupt_seed_record_is_named_where_the_run_starts(tmp_path, monkeypatch):
    """The verdicts are read at a chapter's end: a corrupt record must stop it before anything is trained."""
    (tmp_path / "seeds.json").write_text("{\"format\": 2, \"chapters\": {\"05_x\": ")
    monkeypatch.setattr(vb.claims, "SEEDS_FILE", tmp_path / "seeds.json")
    with pytest.raises(ValueError, match=r"the seed record .*seeds\.json is corrupt .*: restore the committed file \(`git checkout -- "
                                         r".*seeds\.json`\), or delete it and run `make seeds`"):
        vb.set_profile("smoke")
