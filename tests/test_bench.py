"""The benchmarks run: the throughput loops train the same model the same way, the quadratic-memory and GPU-step
benchmarks run and report."""
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench import train_throughput as bench  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_bare_and_vaebook_loops_give_the_same_model():
    x = torch.rand(128, 1, 28, 28)
    models = {}
    for name, loop in [("bare", bench.bare_loop), ("bare, fused", lambda *a, **k: bench.bare_loop(*a, **k, fused=True)),
                       ("vaebook", bench.vaebook_loop)]:
        models[name] = bench.model()
        torch.manual_seed(1)  # the reparameterisation noise comes from the global generator
        loop(models[name], x, epochs=1, batch_size=64)
    for p, q, r in zip(*(m.parameters() for m in models.values())):
        torch.testing.assert_close(q, r, rtol=0, atol=0)  # same seed, order and optimiser: the loops do the same work
        torch.testing.assert_close(p, r)                  # torch's default Adam: the same update, rounded otherwise


def test_the_quadratic_memory_benchmark_runs_and_reports_both_metrics(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bench.quadratic_memory", "--n", "600", "--m", "1500", "--dim", "4",
                          "--json", str(tmp_path / "q.json")], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "marginal_kl" in out and "optimal_decoder" in out and out.count("below the 4 GB target") == 2
    result = json.loads((tmp_path / "q.json").read_text())
    assert result["commit"] and result["machine"] and result["marginal_kl"]["peak_mb"] > 0


def test_every_benchmark_of_make_bench_writes_its_results_file():
    recipe = re.search(r"^bench: .*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    lines = [line.strip() for line in recipe.splitlines()]
    names = [re.search(r"-m bench\.(\w+)", line).group(1) for line in lines]
    assert sorted(names) == sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__")
    for line in lines:
        assert re.search(r"--(json|out) bench/results/\S+\.json", line), f"write the results file: {line}"


def test_the_throughput_benchmark_writes_what_it_measured(tmp_path):
    out = tmp_path / "t.json"
    subprocess.run([sys.executable, "-m", "bench.train_throughput", "--epochs", "1", "--n", "256", "--repeats", "1",
                    "--json", str(out)], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(out.read_text())
    assert result["benchmark"] == "bench.train_throughput" and result["commit"] and result["machine"]
    assert set(result["images_per_s"]) >= {"bare", "vaebook"} and result["ratio_vaebook_to_bare"] > 0


def test_the_gpu_step_benchmark_builds_every_model_and_restores_the_settings():
    from bench import gpu_step

    before = (torch.distributions.Distribution._validate_args, torch.backends.cudnn.benchmark)
    with gpu_step.variant("no-validate"):
        assert not torch.distributions.Distribution._validate_args and not torch.backends.cudnn.benchmark
    with gpu_step.variant("cudnn-benchmark"):
        assert torch.backends.cudnn.benchmark and torch.distributions.Distribution._validate_args
    assert (torch.distributions.Distribution._validate_args, torch.backends.cudnn.benchmark) == before
    cpu = torch.device("cpu")
    for name, (build, data, batch_size) in gpu_step.models(cpu).items():
        loss = build().loss(*(d[:2] for d in data))  # every kind of model the full profile trains, one tiny batch
        assert loss.shape == () and torch.isfinite(loss), name
    build, data, batch_size = gpu_step.models(cpu)["ch7 MLP"]
    assert gpu_step.ms_per_step(build, data, batch_size, 2, 1, gpu_step.with_fit, cpu) > 0
    assert gpu_step.syncs_per_step(build, data, batch_size, cpu) is None  # counted on CUDA only


def test_the_notebook_code_measure_puts_each_line_in_one_class():
    from bench import notebook_code

    def cell(source, tags=()):
        return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source}

    nb = {"cells": [cell("pip install", ["colab-setup"]), cell("n = None\n# a comment\n", ["parameters"]),
                    cell("import vaebook as vb\nn = vb.param('n', n, int)"), cell("recipe = Recipe(n)"),
                    {"cell_type": "markdown", "metadata": {}, "source": "## The experiment"},  # the set-up ends here
                    cell("x = load()\nmodel = train(x)\nvb.glue('a', f(\n    x))\nvb.pick(None, smoke=1, fast=2, full=3)"),
                    cell("fig, ax = plot.figure()\nax.plot(x)"), cell("CLAIMS = []", ["claims"])]}
    counts, long_cells, helpers, picks = notebook_code.classify(nb)
    assert counts == {"set-up": 4, "experiment": 3, "record": 3, "plots": 2} and picks == 1 and not long_cells
    # the committed measurement of the commit before the recipes is what the script measures there today
    results = ROOT / "bench" / "results"
    try:
        again = notebook_code.measure("b902384")
    except subprocess.CalledProcessError:
        pytest.skip("commit b902384 is not in this clone's history")
    assert again == json.loads((results / "notebook_code-b902384.json").read_text())


def test_the_bootstrap_benchmark_compares_the_two_paths(tmp_path):
    import subprocess

    out = tmp_path / "b.json"
    subprocess.run([sys.executable, "-m", "bench.bootstrap_speed", "--n", "200", "--n-boot", "10", "--repeats", "2",
                    "--json", str(out)], cwd=ROOT, capture_output=True, text=True, check=True)
    import json
    result = json.loads(out.read_text())
    for kind in ("without ties", "with ties (scores rounded to 2 decimals)"):
        assert result[kind]["auroc"]["largest difference of the interval ends"] < 1e-12
        assert result[kind]["aupr"]["largest difference of the interval ends"] < 1e-12


def test_the_pae_scores_benchmark_finds_one_pass_the_same_numbers(tmp_path):
    out = tmp_path / "p.json"
    subprocess.run([sys.executable, "-m", "bench.pae_scores", "--n", "300", "--repeats", "1", "--json", str(out)],
                   cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(out.read_text())
    assert all(result[k]["bit for bit the same"] for k in ("K = 4", "K = 64"))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"), reason="torch flushes denormals on x86 and AArch64")
def test_the_denormals_benchmark_times_both_ways(tmp_path):
    out = tmp_path / "d.json"
    subprocess.run([sys.executable, "-m", "bench.denormals", "--epochs", "2", "--n", "300", "--json", str(out)],
                   cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(out.read_text())
    assert {k: len(v) for k, v in result["seconds_per_epoch"].items()} == {"kept": 2, "flushed": 2}
    assert result["speedup"] > 0 and result["commit"]


def test_the_chapters_keep_short_cells_no_copied_helper_and_every_setting_in_the_parameters_cell():
    # issue 29's structure, kept: a reader studies cells of at most 25 lines; what two chapters share lives in the
    # library (a helper defined in two chapters is a copy); every profile value can be set from the parameters cell
    from bench import notebook_code

    m = notebook_code.measure()
    assert {s: c["cells over 25 lines"] for s, c in m["chapters"].items() if c["cells over 25 lines"]} == {}
    assert m["helpers defined in two or more chapters"] == []
    assert {s: c["mid-notebook picks"] for s, c in m["chapters"].items() if c["mid-notebook picks"]} == {}
