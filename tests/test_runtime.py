"""OpenMP settings are in place before torch loads, and a reader's own choice wins."""
import os
import subprocess
import sys

from vaebook import runtime

PROBE = "import os, sys; {first}; import torch; print(os.environ.get('OMP_WAIT_POLICY'), torch.get_num_threads())"


def _probe(first: str, **env) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", PROBE.format(first=first)], env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_importing_vaebook_first_sets_the_passive_policy_and_the_usable_cpus():
    assert _probe("import vaebook") == ["PASSIVE", str(runtime.usable_cpus())]


def test_a_readers_own_settings_win():
    assert _probe("import vaebook", OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1") == ["ACTIVE", "1"]


def test_nothing_is_changed_once_torch_is_loaded():
    assert _probe("import torch, vaebook")[0] == "None"


def test_usable_cpus_is_within_the_machine():
    assert 1 <= runtime.usable_cpus() <= (os.cpu_count() or 1)
    assert runtime.environment(3) == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}


def test_a_thread_count_that_is_not_a_number_is_named_not_an_import_crash():
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", PROBE.format(first="import vaebook")],
                         env={**clean, "OMP_NUM_THREADS": "²"}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # "²".isdigit() is True, and int("²") raised inside `import vaebook`
    assert "OMP_NUM_THREADS='²' is not a whole number >= 1" in out.stderr
    assert out.stdout.split() == ["PASSIVE", str(runtime.usable_cpus())]
