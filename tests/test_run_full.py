"""The full-profile runner (scripts/run_full.py and scripts/full/): jobs fanned out through submitit, gathered into mean ± std.

The fan-out runs two tiny jobs and one that fails in local processes; the failing job is named and the others
are kept. A smoke-sized piece of the full profile (chapter 1's full code path: conv nets, the full official
files, every outlier set) runs with training capped at one epoch and tiny sizes.
"""
import json
import math
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
from scripts import chapters, run_full  # noqa: E402
from scripts.full import cost, gather, submit  # noqa: E402
from scripts.full.jobs import LONGEST_FIRST, PAPER_RUNS, notebook_parameters, plan  # noqa: E402

pytestmark = pytest.mark.notebooks

TINY = '''
import vaebook as vb
vb.set_profile(profile)
if seed == 2:
    raise RuntimeError("a planted failure")
row = vb.row("planted value", 10.0 + seed, paper=10.5, unit="nats", estimator="exact", claim="none")
vb.record("tiny", table=vb.reproduction_table([row], model="none", data="none"), value=2.0 * seed)
'''


def _notebook(path: Path, code: str = TINY) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("profile = None\nseed = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_fan_out_keeps_the_jobs_that_ran_and_names_the_one_that_failed(tmp_path, capsys):
    before = dict(os.environ)
    pytest.importorskip("submitit")
    nb = _notebook(tmp_path / "tiny.ipynb")
    out = tmp_path / "full"
    rc = run_full.main([str(nb), "--out", str(out), "--profile", "smoke", "--seeds", "0", "1", "2",
                        "--parallel", "2"])
    assert rc == 1, "a failed job must fail the run"
    summary = json.loads((out / "summary.json").read_text())
    (failed,) = summary["failed"]
    assert failed.startswith("tiny seed 2: RuntimeError: a planted failure"), failed
    assert "FAILED tiny seed 2" in capsys.readouterr().err
    chapter = summary["chapters"]["tiny"]
    assert chapter["seeds"] == [0, 1]
    (row,) = chapter["rows"]
    assert row["runs"] == 2 and row["ours"] == pytest.approx(10.5) and row["ours_std"] == pytest.approx(0.5 ** 0.5)
    assert chapter["values"]["value"] == {"mean": 1.0, "std": pytest.approx(2 ** 0.5), "runs": 2}
    for seed in (0, 1, 2):  # every job reports, each into its own folder
        report = json.loads((out / "jobs" / "tiny" / f"seed{seed}" / "job.json").read_text())
        assert report["status"] == ("failed" if seed == 2 else "ok") and report["peak_rss_mb"] > 0
    assert (out / "jobs" / "tiny" / "seed0" / "tiny.ipynb").exists()
    assert not (out / "jobs" / "tiny" / "seed2" / "tiny.ipynb").exists(), "a failed run leaves no notebook behind"
    assert not list(out.rglob("*.part")) and not list(out.glob("jobs/**/.*")), "half-written files were left behind"
    assert "10.5 ± 0.71 | 2 |" in (out / "summary.md").read_text()
    assert dict(os.environ) == before, "running jobs changed the caller's environment"


def test_a_parameter_goes_only_to_the_chapters_that_have_it_and_a_typo_is_refused(tmp_path, capsys):
    nb = _notebook(tmp_path / "tiny.ipynb")
    assert notebook_parameters(nb) == {"profile", "seed"}
    assert "seed" not in notebook_parameters(ROOT / "notebooks" / "00_data.ipynb")  # not passed to it
    with pytest.raises(SystemExit):
        run_full.main([str(nb), "--out", str(tmp_path / "full"), "-p", "sed", "1"])
    assert "-p sed: none of the notebooks has such a parameter (they have: profile, seed)" in capsys.readouterr().err
    assert not (tmp_path / "full").exists()


def test_gather_names_a_job_that_never_reported(tmp_path):
    nb = _notebook(tmp_path / "tiny.ipynb")
    out = tmp_path / "full"
    jobs = plan([nb], out=out, profile="smoke", seeds=[0], runs=None, parameters={}, max_epochs=None)
    out.mkdir()
    (out / "jobs.json").write_text(json.dumps([{"name": j.name} for j in jobs]))
    summary = gather.gather(out)
    assert summary["failed"] == ["tiny seed 0: no report (the job was killed, timed out, or never ran)"]


def test_a_job_that_dies_before_it_starts_leaves_no_earlier_report_to_gather(tmp_path):
    # a submitit worker that dies at start writes no job.json: the one of an earlier run of the same job, with that
    # run's results beside it, must not be gathered as this run's
    nb = _notebook(tmp_path / "tiny.ipynb")
    out = tmp_path / "full"
    jobs = plan([nb], out=out, profile="smoke", seeds=[0], runs=None, parameters={}, max_epochs=None)
    old = Path(jobs[0].folder) / "job.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"status": "ok", "seed": 0, "commit": "earlier"}))
    submit.forget_old_reports(jobs)
    assert not old.exists()
    (out / "jobs.json").write_text(json.dumps([{"name": j.name} for j in jobs]))
    assert gather.gather(out)["failed"] == ["tiny seed 0: no report (the job was killed, timed out, or never ran)"]


def test_the_paper_runs_name_every_chapter():
    assert set(PAPER_RUNS) == {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    jobs = plan([ROOT / "notebooks" / "04_negative_sampling.ipynb"], out=Path("x"), profile="full",
                         seeds=None, runs=None, parameters={}, max_epochs=1)
    assert [j.seed for j in jobs] == [0, 1, 2, 3, 4]  # the negative-sampling paper averages 5 runs


def test_the_longest_chapters_start_first():
    assert set(LONGEST_FIRST) == {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    names = ["00_data", "02_topology_mismatch", "03_mixture_priors", "06_distribution_matching"]
    jobs = plan([ROOT / "notebooks" / f"{n}.ipynb" for n in names], out=Path("x"), profile="full", seeds=None,
                         runs=1, parameters={}, max_epochs=1)
    assert [Path(j.notebook).stem for j in jobs] == ["03_mixture_priors", "06_distribution_matching",
                                                       "02_topology_mismatch", "00_data"]  # by the dry run's seconds


FULL_DATA = os.environ.get("VAEBOOK_DATA")


def _official_format_colour_files(root: Path, n: int = 40) -> None:
    """Small CIFAR-10 and SVHN files in their official formats under ``root`` (the data root), remembered there as
    checked, as vaebook remembers an official file that passed its MD5 check (these cannot pass it: they are not the
    official bytes). The colour sets have no offline copy; this is how their code path is tested."""
    import vaebook.data as data
    from vaebook.formats import write_cifar10, write_svhn_mat

    rng = np.random.default_rng(0)
    images = lambda k: rng.integers(0, 256, (k, 32, 32, 3), dtype=np.uint8)
    (root / "cifar10").mkdir(parents=True)
    (root / "svhn").mkdir()
    write_cifar10(root / "cifar10" / "cifar-10-python.tar.gz",
                  {name: (images(n), np.resize([0, 4], n)) for name in [f"data_batch_{i}" for i in range(1, 6)]
                   + ["test_batch"]})  # labels 0 and 4 only: chapter 3 trains on k-means clusters of these two
    for split, k in (("train", 5 * n), ("test", n)):
        write_svhn_mat(root / "svhn" / f"{split}_32x32.mat", images(k), rng.integers(0, 10, k))
    for path in [*root.glob("cifar10/*"), *root.glob("svhn/*")]:
        data._remember(path, data.REMOTE[path.parent.name][path.name][0])


# The colour rows each chapter records: the negative-sampling paper's Table 2 (5 pairs × 2 scores, × 2 sources in
# chapter 4: AUROCs), Kamoi & Kobayashi's Fig. 9 (NLL ratios of a VAE and a Glow), Rosca et al.'s §3 (marginal KLs),
# and some of the values recorded.
COLOUR_ROWS = {"01_ood_puzzle": ("(Table 2)", 10, "DCGANNets", {"colour_auc_bpd_cifar10_svhn_qgaussian",
                                                               "colour_auc_kl_svhn_cifar10_gaussian"}),
               "03_mixture_priors": ("(Fig. 9)", 2, "KamoiColourNets", {"colour_nll_svhn_vae_multi", "colour_nll_in_glow_uni"}),
               "04_negative_sampling": ("(Table 2)", 20, "DCGANNets", {"colour_auc_bpd_adv_cifar10_svhn_qgaussian",
                                                                      "colour_auc_kl_baseline_svhn_cifar10_gaussian"}),
               "06_distribution_matching": ("(§3)", 3, "DCGANNets", {"colour_marginal_kl_bernoulli",
                                                                    "colour_marginal_kl_quantized_normal"})}


@pytest.mark.skipif(not FULL_DATA or not Path(FULL_DATA, "mnist").is_dir(),
                    reason="the full official files are not here (set VAEBOOK_DATA; make does with ../shared)")
# Every chapter's full-profile code path with its manifest's tiny sizes (chapters.yml: tiny_full), the counts of
# repetitions capped as in make full-dry.
@pytest.mark.parametrize("chapter", [c.stem for c in chapters.CHAPTERS])
@pytest.mark.timeout(1200)  # chapter 3's 256-way categorical conv nets take about 4 minutes even at these sizes
def test_a_smoke_sized_full_profile_run(chapter, tmp_path, monkeypatch):
    """The full profile's code paths with tiny sizes, as ``make full-dry`` runs them at full size; the colour
    sections too, on tiny official-format CIFAR-10 and SVHN files beside the real grey sets."""
    root, cache, out = tmp_path / "data", tmp_path / "cache", tmp_path / "full"
    root.mkdir()
    for folder in Path(FULL_DATA).iterdir():
        if folder.is_dir() and folder.name not in ("cifar10", "svhn"):  # the colour sets: the tiny files below
            (root / folder.name).symlink_to(folder.resolve())
    monkeypatch.setenv("VAEBOOK_DATA", str(root))
    _official_format_colour_files(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    parameters = [arg for name, value in chapters.BY_STEM[chapter].tiny_full.items() for arg in ("-p", name, json.dumps(value))]
    rc = run_full.main([str(ROOT / "notebooks" / f"{chapter}.ipynb"), "--out", str(out), "--seeds", "0",
                        "--max-epochs", "1", "--max-batches", "20", "--max-steps", "2", *parameters])
    summary = json.loads((out / "summary.json").read_text())
    assert rc == 0, summary["failed"]
    executed = nbformat.read(out / "jobs" / chapter / "seed0" / f"{chapter}.ipynb", as_version=4)
    text = json.dumps([c.get("outputs") for c in executed.cells])
    assert "dry run" in text.lower(), "the page must say that it is a capped run"
    if chapter != "00_data":
        record = summary["chapters"][chapter]
        assert record["profile"] == "full" and record["max_epochs"] == 1 and record["max_steps"] == 2
        assert record["max_batches"] == 20
        assert all(row["profile"] == "full" for row in record["rows"])
    if chapter in COLOUR_ROWS:
        suffix, n_rows, nets, keys = COLOUR_ROWS[chapter]
        rows = [r for r in summary["chapters"][chapter]["rows"] if r["quantity"].endswith(suffix)]
        assert len(rows) == n_rows and all(" train" in r["data"] for r in rows)
        assert nets in rows[0]["model"] and all(0 <= r["ours"] <= 1 for r in rows if r["unit"] == "AUROC")
        assert all(math.isfinite(r["ours"]) for r in rows)
        if suffix == "(Table 2)":
            assert {r["paper"] for r in rows} >= {0.59, 0.25, 0.92} and "60 CIFAR-10 train" in rows[0]["data"]
        assert keys <= set(summary["chapters"][chapter]["values"])


def test_seeds_gathers_the_seeds_that_ran_and_only_those_asked_for(tmp_path, monkeypatch):
    from scripts import seeds

    import vaebook as vb

    out = tmp_path / "seeds"
    fracs = {0: 0.6, 1: 0.4, 2: None, 3: 0.9}  # seed 2 failed: not gathered; seed 3 is beyond --runs 3
    for seed, f in fracs.items():
        folder = out / "jobs" / "07_novel_examples" / f"seed{seed}"
        (folder / "results").mkdir(parents=True)
        (folder / "job.json").write_text(json.dumps({"seed": seed, "status": "ok" if f else "failed", "commit": "abc"}))
        if f:
            monkeypatch.setenv("VAEBOOK_RESULTS", str(folder / "results"))
            vb.record("07_novel_examples", deep_closer_to_mu_frac=f,
                      table=vb.reproduction_table([vb.row("q", f, unit="u", estimator="e", claim="c")], model="m", data="d"))
    values, tables, commits, parameters, ran_with = seeds.gather(out, "07_novel_examples", 3)
    assert [v["deep_closer_to_mu_frac"] for v in values] == [0.6, 0.4] and tables == [{"q": 0.6}, {"q": 0.4}]
    assert commits == {"abc"} and ran_with == {None}  # these jobs did not record the code they ran
    assert len(parameters) == 2 and all("seed" not in p for p in parameters)  # the experiment, whatever the seed


def test_seeds_records_a_variant_apart_and_only_with_its_parameters(tmp_path, monkeypatch):
    """A variant's seed runs (the chapter run with other parameters) are recorded under its own name, and only when the
    jobs ran with the variant's parameters."""
    from scripts import seeds

    import vaebook as vb
    from vaebook import claims as vc

    nb, write = ROOT / "notebooks" / "05_probabilistic_autoencoder.ipynb", tmp_path / "seeds.json"
    variant = "decoder=conv"
    assert variant in seeds.variants(nb)
    for decoder, recorded in (("mlp", False), ("conv", True)):
        out = tmp_path / decoder
        for seed in range(3):
            folder = out / "variant-decoder_conv" / "jobs" / nb.stem / f"seed{seed}"
            (folder / "results").mkdir(parents=True)
            (folder / "job.json").write_text(json.dumps({"seed": seed, "status": "ok", "commit": "abc"}))
            for name in ("_PARAMETERS", "_USED", "_DECLARED"):  # this job's parameters only
                monkeypatch.setattr(vb.profiles, name, {})
            monkeypatch.setenv("VAEBOOK_RESULTS", str(folder / "results"))
            vb.param("decoder", decoder, str)
            vb.record(nb.stem, auroc_density_k64_mnist=0.9 + seed / 100)
        rc = seeds.main([str(nb), "--out", str(out), "--gather-only", "--write", str(write), "--variant", variant])
        record = vc.seed_record(vc.record_name(nb.stem, variant), write)
        assert (rc == 0) == recorded and bool(record) == recorded
    assert [v["auroc_density_k64_mnist"] for v in record["values"]] == [0.9, 0.91, 0.92]
    assert record["parameters"] == {"decoder": "conv"} and not vc.seed_record(nb.stem, write)


def test_seeds_runs_a_variant_with_its_parameters_in_its_own_folder_and_refuses_one_no_claim_names(tmp_path, monkeypatch):
    from scripts import seeds

    nb, calls = ROOT / "notebooks" / "05_probabilistic_autoencoder.ipynb", []
    monkeypatch.setattr(seeds.run_full, "main", lambda argv: calls.append(argv) or 0)
    write = tmp_path / "seeds.json"
    seeds.main([str(nb), "--out", str(tmp_path / "out"), "--write", str(write), "--variant", "decoder = conv"])
    (argv,) = calls  # the variant alone, spelt its one way
    assert argv[argv.index("--out") + 1] == str(tmp_path / "out" / "variant-decoder_conv")
    assert ["-p", "decoder", '"conv"'] == argv[argv.index("-p"):argv.index("-p") + 3] and "fast" in argv
    assert seeds.main([str(nb), "--out", str(tmp_path / "out"), "--write", str(write), "--variant", "decoder=gan"]) == 1
    assert len(calls) == 1, "a variant no claim names runs nothing"


def test_the_cost_of_an_epoch_cut_to_a_few_minibatches_is_scaled_to_a_whole_one():
    whole = {"epochs_run": 1, "epochs_asked": 100, "seconds": 50.0}                        # logs before the cut
    cut = {"epochs_run": 1, "epochs_asked": 100, "seconds": 2.0, "batches_run": 20, "batches_per_epoch": 500}
    c = cost.cost({0: [whole, cut]})
    assert c["seconds_per_epoch"] == pytest.approx(50.0 + 50.0) and c["train_seconds"] == pytest.approx(100 * 100.0)


def test_least_busy_spreads_local_jobs_over_the_gpus():
    assert submit.least_busy([], [None, None]) is None
    assert submit.least_busy([0, 1], []) == 0
    assert submit.least_busy([0, 1], [0]) == 1
    assert submit.least_busy([0, 1], [0, 1, 1]) == 0
    assert submit.least_busy([2, 3], [2]) == 3  # the ids of $CUDA_VISIBLE_DEVICES, not positions


def test_local_jobs_see_a_gpu_each(tmp_path, monkeypatch):
    # submitit starts a local worker with CUDA_VISIBLE_DEVICES="" (no GPU): on an H100 the full-profile jobs ran on
    # its CPU until each job named its own GPU. Two GPUs are pretended here; each notebook records what it saw.
    pytest.importorskip("submitit")
    monkeypatch.setattr(submit, "local_gpus", lambda: [0, 1])
    nb = tmp_path / "gpu.ipynb"
    _notebook(nb, '''
import os
import vaebook as vb
vb.set_profile(profile)
vb.record("gpu", gpu=float(os.environ["CUDA_VISIBLE_DEVICES"] or -1))
''')
    out = tmp_path / "full"
    assert run_full.main([str(nb), "--out", str(out), "--profile", "smoke", "--seeds", "0", "1", "--parallel", "2"]) == 0
    seen = sorted(json.loads((out / "jobs" / "gpu" / f"seed{s}" / "results" / "gpu.json").read_text())["values"]["gpu"]
                  for s in (0, 1))
    assert seen == [0.0, 1.0], f"two jobs at once should each have had a GPU of their own, saw {seen}"
    assert {json.loads((out / "jobs" / "gpu" / f"seed{s}" / "job.json").read_text())["gpu"] for s in (0, 1)} == {0, 1}


def test_the_cost_table_takes_gpu_seconds_as_they_are_and_scales_cpu_seconds():
    epoch = {"epochs_run": 1, "epochs_asked": 100, "seconds": 36.0}
    summary = {"chapters": {"on_gpu": {"cost": cost.cost({0: [{**epoch, "device": "cuda:0"}]})},
                            "on_cpu": {"cost": cost.cost({0: [epoch]})},  # an old log: no device, a CPU's
                            "on_both": {"cost": cost.cost({0: [{**epoch, "device": "cuda:0"}, {**epoch, "device": "cpu"}]})}}}
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in cost.cost_table(summary, {}, 20.0)
            if line.startswith("| on_")}
    assert rows["on_gpu"][2] == "cuda" and rows["on_cpu"][2] == "cpu" and rows["on_both"][2] == "mixed"
    # 100 epochs of 36 s = 1 h per run, 3 runs: 3 GPU hours measured, 3 CPU hours = 0.15 GPU hours at 20×; both: 3.15
    assert rows["on_gpu"][-1] == "3.00 |" and rows["on_cpu"][-1] == "0.15 |" and rows["on_both"][-1] == "3.15 |"


def test_the_summary_says_when_a_chapter_ran_with_other_parameters_than_its_own():
    from scripts.full.report import summary_markdown

    chapter = {"seeds": [0, 1], "profile": "full", "max_epochs": None, "max_steps": None, "max_batches": None,
               "rows": [], "values": {}, "cost": {}}
    summary = {"out": "x", "jobs": [], "failed": [], "chapters": {"ch": chapter}}
    assert "other parameters" not in summary_markdown(summary)
    summary["chapters"]["ch"] = {**chapter, "changed": {"n_test": 40}}
    assert "**other parameters than the chapter's own: n_test = 40**" in summary_markdown(summary)
