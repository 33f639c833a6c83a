"""The run's settings: read from the environment in one place, checked there, fixed once a run starts."""
import ast
from pathlib import Path

import pytest

import vaebook as vb
from vaebook import settings
from vaebook.settings import Settings, SettingsError


def test_the_environment_is_read_into_one_object(tmp_path):
    env = {"VAEBOOK_PROFILE": "smoke", "VAEBOOK_MAX_EPOCHS": "2", "VAEBOOK_CACHE": "~/models",
           "VAEBOOK_RESULTS": str(tmp_path / "r"), "VAEBOOK_DATA": "~/data", "VAEBOOK_PROGRESS": "0",
           "VAEBOOK_STATIC_WIDGETS": "1", "VAEBOOK_TRAINING_LOG": str(tmp_path / "log"), "VAEBOOK_LOCK_TIMEOUT": "5",
           "VAEBOOK_DEVICE": "cpu", "VAEBOOK_COMMIT": "abc"}
    s = Settings.from_environment(environ=env)
    assert s == Settings(profile="smoke", max_epochs=2, cache=Path.home() / "models", results=tmp_path / "r",
                         data=Path.home() / "data", progress=False, static_widgets=True,
                         training_log=tmp_path / "log", lock_timeout=5.0, device="cpu", commit="abc")
    assert Settings.from_environment("full", environ=env).profile == "full"  # the notebook's parameter wins
    empty = Settings.from_environment(environ={"XDG_CACHE_HOME": str(tmp_path)})
    assert empty.profile == "fast" and empty.cache == tmp_path / "vaebook" / "models" and empty.max_steps is None
    assert empty.data == tmp_path / "vaebook" / "data" and empty.progress and not empty.static_widgets


@pytest.mark.parametrize("variable, value, message", [
    ("VAEBOOK_PROFILE", "huge", "unknown profile 'huge'"),
    ("VAEBOOK_MAX_STEPS", "0", "VAEBOOK_MAX_STEPS='0': it must be a whole number >= 1"),
    ("VAEBOOK_PROGRESS", "yes", "VAEBOOK_PROGRESS='yes': it must be 1 \\(on\\) or 0 \\(off\\)"),
    ("VAEBOOK_STATIC_WIDGETS", "true", "VAEBOOK_STATIC_WIDGETS='true': it must be 1"),
    ("VAEBOOK_LOCK_TIMEOUT", "inf", "VAEBOOK_LOCK_TIMEOUT='inf': it must be a number of seconds > 0"),
    ("VAEBOOK_DEVICE", "bogus", "VAEBOOK_DEVICE='bogus' is not a device torch knows"),
])
def test_a_bad_variable_is_named_where_the_run_starts(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        vb.set_profile(None if variable == "VAEBOOK_PROFILE" else "smoke")
    assert isinstance(SettingsError(""), vb.ParameterError)


def test_a_started_run_keeps_its_settings_until_the_next_start(monkeypatch, tmp_path):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path / "a"))
    assert vb.set_profile("smoke") == "smoke"
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path / "b"))
    monkeypatch.setenv("VAEBOOK_PROFILE", "full")
    assert vb.cache.cache_dir() == tmp_path / "a" and vb.current_profile() == "smoke"
    vb.set_profile(None)
    assert vb.cache.cache_dir() == tmp_path / "b" and vb.current_profile() == "full"
    settings.stop()  # outside a run: the environment as it is now
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path / "c"))
    assert vb.cache.cache_dir() == tmp_path / "c"


def test_explicit_settings_are_used_inside_their_block_and_restored_after(tmp_path):
    with Settings(profile="full", cache=tmp_path / "m", max_steps=3).use() as s:
        assert vb.current_profile() == "full" and vb.cache.cache_dir() == tmp_path / "m" and vb.steps_cap() == 3
        assert vb.pick(None, smoke=1, fast=2, full=30, steps=True) == 3 and s.replace(max_steps=None).max_steps is None
    assert vb.current_profile() == "fast" and vb.steps_cap() is None
    with pytest.raises(SettingsError, match="max_epochs = 0: a cap is a whole number >= 1"):
        Settings(max_epochs=0)


def test_a_settings_object_checks_its_fields(tmp_path):
    assert Settings(cache=str(tmp_path)).cache == tmp_path  # a folder given as text is a path
    for field, value, message in [("progress", "0", "progress = '0': it must be True or False"),
                                  ("results", None, "results = None: it must be a path"),
                                  ("device", "bogus", "device = 'bogus' is not a device torch knows"),
                                  ("lock_timeout", True, "lock_timeout = True")]:
        with pytest.raises(SettingsError, match=message):
            Settings(**{field: value})


def test_a_refused_run_leaves_no_settings_behind(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("VAEBOOK_RESULTS", str(tmp_path / "file" / "results"))
    with pytest.raises(vb.ResultsError, match="is not writable"):
        vb.set_profile("full")
    monkeypatch.setenv("VAEBOOK_RESULTS", str(tmp_path / "ok"))
    assert vb.current_profile() == "fast" and vb.results.results_dir() == tmp_path / "ok"


def test_a_relative_folder_is_fixed_where_the_run_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAEBOOK_RESULTS", "results")
    vb.set_profile("smoke")
    monkeypatch.chdir(tmp_path.parent)
    assert vb.results.results_dir() == tmp_path / "results"


def test_the_library_reads_no_vaebook_variable_outside_the_settings_module():
    """Only vaebook.settings reads the environment (vaebook.runtime: the OpenMP variables, before torch loads)."""
    readers = set()
    for path in Path(vb.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")) or \
                    (isinstance(node, ast.ImportFrom) and node.module == "os"
                     and {a.name for a in node.names} & {"environ", "getenv", "environb"}):
                readers.add(path.stem)
    assert readers <= {"settings", "runtime"}, readers
