"""OpenMP settings are in place before torch loads, and a reader's own choice wins; denormal floats are flushed."""
import os
import platform
import subprocess
import sys

import pytest

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
    assert out.returncode == 1 and out.stdout == ""  # "²".isdigit() is True; int("²") used to crash `import vaebook`
    assert out.stderr.splitlines()[-1] == (f"vaebook.settings.SettingsError: OMP_NUM_THREADS='²': it must be a whole "
                                           f"number >= 1, such as 2, or unset for the CPUs this process may use "
                                           f"({runtime.usable_cpus()})")


FLUSH_PROBE = ("import vaebook, torch; from concurrent.futures import ThreadPoolExecutor; torch.set_num_threads(2); "
               "tiny = torch.ones(1 << 20, dtype=torch.int32).view(torch.float32); "  # 1.4e-45, denormal, bit-exact
               "print(vaebook.runtime.flushes_denormals(), bool((tiny * 1.0).eq(0).all()), "  # big enough for 2 threads
               "ThreadPoolExecutor(1).submit(vaebook.runtime.flushes_denormals).result())")


@pytest.mark.skipif(sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"),
                    reason="torch flushes denormals on x86 and AArch64; threads inherit it on Linux")
def test_importing_vaebook_flushes_denormals_in_its_threads_and_the_threads_they_start():
    out = subprocess.run([sys.executable, "-c", FLUSH_PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]


def test_a_model_trained_with_denormals_flushed_has_another_key_and_no_other_change():
    """The setting is part of the cache key; at normal magnitudes it changes nothing: a short run (too short for
    denormals to appear) gives the same weights both ways."""
    import torch

    import vaebook as vb

    def build():
        torch.manual_seed(0)
        enc, dec = vb.MLPNets((32,))(2, 1)
        return vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(2))

    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    config = vb.FitConfig(epochs=2, batch_size=16)
    weights, keys = {}, {}
    try:
        for flush in (False, True):
            torch.set_flush_denormal(flush)
            if runtime.flushes_denormals() != flush:
                pytest.skip("this CPU cannot flush denormals")
            model = build()
            keys[flush] = vb.train.model_key("m", model, x, config)
            vb.fit(model.loss, model.parameters(), x, epochs=2, batch_size=16, generator=torch.Generator().manual_seed(0))
            weights[flush] = model.state_dict()
    finally:
        runtime.flush_denormals()
    assert keys[False] != keys[True]
    assert all(torch.equal(weights[False][k], weights[True][k]) for k in weights[True])
