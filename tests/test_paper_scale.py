"""The paper-scale run (vaebook.paper_scale): its smoke run goes through every experiment on the CPU, writes a results
file that is never shown as paper scale, and a run out of time skips what cannot finish and says why."""
import json

import pytest

import vaebook.claims as claims
import vaebook.paper_scale as ps

# Names the chapters record (vb.record in their notebooks) that the paper-scale run must report under the same name.
RECORDED = {"01_ood_puzzle": {"auc_bpd_bernoulli", "auc_kl_bernoulli", "auc_bpd_gaussian", "auc_kl_gaussian",
                              "sweep_auc_kl_d50", "sweep_auc_kl_d100"},
            "04_negative_sampling": {f"auc_{s}_{k}_{lik}" for s in ("bpd", "kl") for k in ("baseline", "aux", "adv")
                                     for lik in ("bernoulli", "gaussian")} | {"auc_kl_uniform_bernoulli",
                                                                               "auc_kl_noise_bernoulli"},
            "06_distribution_matching": {"marginal_kl", "ratio_kl_estimate", "ratio_converged", "mutual_info", "log_n"},
            "07_novel_examples": {"deep_closer_to_mu_frac", "shallow_closer_to_x_frac", "bce_mu_ratio_all_vs_no9_deep",
                                  "bce_mu_ratio_all_vs_no9_shallow", "perplexity_median_deep"}}


def test_the_smoke_run_goes_through_every_experiment_and_is_never_shown_as_paper_scale(tmp_path):
    out = tmp_path / "paper_scale.json"
    results = ps.main(["--smoke", "--budget-s", "600", "--out", str(out), "--probe", "2"])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results, default=str))
    assert [n for n, r in results["experiments"].items() if r["status"] == "done"] == list(ps.EXPERIMENTS)
    prov = results["provenance"]
    assert results["paper_scale"] is False and prov["device"] == "cpu" and prov["smoke"] is True
    assert {"torch", "commit", "code", "date", "device_name"} <= prov.keys()
    for record in results["experiments"].values():
        assert record["runs"] == 2 and record["seconds"] > 0 and all(e == 1 for e in record["epochs"].values())
    reported = {}
    for record in results["experiments"].values():
        for chapter, named in record["values"].items():
            reported.setdefault(chapter, set()).update(named)
            for v in named.values():
                assert len(v["per_run"]) == 2 and v["value"] == sum(v["per_run"]) / 2
    for chapter, names in RECORDED.items():
        assert names <= reported[chapter], names - reported[chapter]
        assert claims.paper_scale_runs(chapter, out) == []  # at toy size: never shown as paper scale


def _file(values: dict, runs: int = 3, experiment: str = "ch7_unseen", date: str = "2026-12-05T10:00:00+00:00",
          **provenance) -> dict:
    record = {"status": "done", "runs": runs, "epochs": {"deep_no9": 200},
              "values": {"07_novel_examples": {k: {"value": sum(v) / len(v), "per_run": v} for k, v in values.items()}}}
    return {"format": 1, "paper_scale": True, "experiments": {experiment: record, "ch6_ratio": {"status": "skipped"}},
            "provenance": {"device": "cuda", "device_name": "NVIDIA H100", "smoke": False, "torch": "2.11",
                           "commit": "abc", "date": date, **provenance}}


def _write(path, blob):
    path.write_text(json.dumps(blob))
    return path


MOSTLY = claims.Claim("deep_mostly_mu", "most closer to the average", reads="deep_closer_to_mu_frac", op=">",
                      than=0.5, source=claims.Paper("Fig. 2"))
VS = claims.Claim("deep_vs_shallow", "deep more often than shallow", reads="deep_closer_to_mu_frac", op=">",
                  than="shallow_closer_to_mu_frac", source=claims.Ours(True))


def test_paper_scale_runs_are_read_from_a_full_size_run_on_any_device_and_never_from_a_smoke_run(tmp_path):
    path = _write(tmp_path / "run.json", _file({"deep_closer_to_mu_frac": [0.6, 0.7, 0.8]}))
    (g,) = claims.paper_scale_runs("07_novel_examples", path)
    assert g.runs == [{"deep_closer_to_mu_frac": v} for v in (0.6, 0.7, 0.8)] and g.experiment == "ch7_unseen"
    assert g.words() == "3 runs of 200 epochs, on a GPU (NVIDIA H100), torch 2.11, 2026-12-05"  # no commit on a page
    assert claims.paper_scale_runs("04_negative_sampling", path) == []
    gpu = _file({"deep_closer_to_mu_frac": [0.6, 0.7, 0.8]})
    for change in ({"paper_scale": False}, {"provenance": {**gpu["provenance"], "smoke": True}}):
        assert claims.paper_scale_runs("07_novel_examples", _write(path, {**gpu, **change})) == []
    _write(path, _file({"deep_closer_to_mu_frac": [0.6, 0.7, 0.8]}, device="cpu", device_name="x86_64"))
    (g,) = claims.paper_scale_runs("07_novel_examples", path)  # at full size on a CPU: paper scale, slower
    assert "on a CPU (x86_64)" in g.words()
    assert claims.paper_scale_runs("07_novel_examples", tmp_path / "absent.json") == []
    assert claims.paper_scale_runs("07_novel_examples", tmp_path) == claims.paper_scale_runs("07_novel_examples", path)
    cut = _file({"deep_closer_to_mu_frac": [0.6, 0.7, 0.8]})
    cut["experiments"]["ch7_unseen"]["status"] = "cut"
    assert claims.paper_scale_runs("07_novel_examples", _write(path, cut)) == []


@pytest.mark.parametrize("corrupt", ["[1, 2]", '{"format": 2}', '{"format": 1, "experiments": {}}', "partial", "uneven"])
def test_a_corrupt_paper_scale_file_is_named_with_what_is_wrong(tmp_path, corrupt):
    path = tmp_path / "run.json"
    if corrupt == "partial":  # a finished experiment without its runs
        blob = _file({"deep_closer_to_mu_frac": [0.6, 0.7, 0.8]})
        del blob["experiments"]["ch7_unseen"]["runs"]
        corrupt = json.dumps(blob)
    elif corrupt == "uneven":  # a value with fewer runs than its experiment
        corrupt = json.dumps(_file({"deep_closer_to_mu_frac": [0.6, 0.7]}))
    path.write_text(corrupt)
    with pytest.raises(ValueError, match="run.json are corrupt"):
        claims.paper_scale_runs("07_novel_examples", path)


def test_a_claim_at_the_paper_scale_is_decided_by_the_seeds_rule_from_one_experiments_runs_the_newest(tmp_path):
    other = claims.Claim("other", "not run at scale", reads="something_else", op=">", than=0.5, source=claims.Ours(False))
    _write(tmp_path / "a.json", _file({"deep_closer_to_mu_frac": [0.61, 0.64, 0.66],
                                       "shallow_closer_to_mu_frac": [0.1, 0.12, 0.11]}, device="cpu", device_name="x86"))
    v = claims.paper_scale_verdicts("07_novel_examples", [MOSTLY, VS, other], tmp_path)
    assert set(v) == {"deep_mostly_mu", "deep_vs_shallow"} and v["deep_mostly_mu"].state == claims.HOLDS
    assert v["deep_mostly_mu"].words() == "holds in all 3 runs"
    # a newer run of another experiment measures only the deep model, over 5 runs: the claim on it alone follows the
    # newer run; the comparison with the shallow model keeps the older one's own runs, never a mix of the two
    _write(tmp_path / "b.json", _file({"deep_closer_to_mu_frac": [0.45, 0.52, 0.55, 0.4, 0.6]}, runs=5,
                                      experiment="ch7_pair", date="2026-12-09T10:00:00+00:00"))
    v = claims.paper_scale_verdicts("07_novel_examples", [MOSTLY, VS], tmp_path)
    assert v["deep_mostly_mu"].state == claims.UNDECIDED and len(v["deep_mostly_mu"].margins) == 5
    assert v["deep_vs_shallow"].state == claims.HOLDS and len(v["deep_vs_shallow"].margins) == 3
    assert (claims.paper_scale_words("07_novel_examples", [MOSTLY], "deep_mostly_mu", path=tmp_path)
            == "is undecided: it holds in 3 of 5 runs (0.45, 0.52, 0.55, 0.40, 0.60)")
    assert (claims.paper_scale_words("07_novel_examples", [VS], "deep_vs_shallow", path=tmp_path)
            == "holds in all 3 runs (0.61 against 0.10, 0.64 against 0.12, 0.66 against 0.11)")
    about = claims.paper_scale_about("07_novel_examples", [MOSTLY, VS], tmp_path)
    assert "5 runs of 200 epochs, on a GPU" in about and "3 runs of 200 epochs, on a CPU (x86)" in about
    assert claims.paper_scale_about("07_novel_examples", [other], tmp_path) == ""
    assert (claims.paper_scale_words("07_novel_examples", [other], "other", path=tmp_path)
            == "has not been measured at the paper's scale")


def test_the_claims_table_gives_the_verdict_at_the_paper_scale_in_its_own_column(tmp_path):
    other = claims.Claim("other", "not run at scale", reads="something_else", op=">", than=0.5, source=claims.Ours(False))
    path = _write(tmp_path / "run.json", _file({"deep_closer_to_mu_frac": [0.45, 0.52, 0.55]}))
    html = claims.table("07_novel_examples", [MOSTLY, other], path=tmp_path / "no-seeds.json",
                        paper_scale_path=path).to_html()
    assert "at the paper&#x27;s scale" in html or "at the paper's scale" in html
    assert "undecided (2 of 3 runs)" in html and "not run" in html and "3 runs of 200 epochs, on a GPU" in html
    assert "python -m" not in html and "commit" not in html  # no build machinery on a page
    assert "at the paper" not in claims.table("07_novel_examples", [MOSTLY], path=tmp_path / "no-seeds.json",
                                              paper_scale_path=tmp_path / "absent").to_html()


def test_the_part_ch7_unseen_trains_only_the_pair_without_the_held_out_digit(tmp_path):
    results = ps.run(tmp_path / "part.json", budget_s=300, device=ps.torch.device("cpu"), smoke=True,
                     only=["ch7_unseen"], probe=2)
    record = results["experiments"]["ch7_unseen"]
    assert list(results["experiments"]) == ["ch7_unseen"] and record["status"] == "done"
    assert set(record["epochs"]) == {"shallow_no9", "deep_no9"}
    assert {"deep_closer_to_mu_frac", "shallow_closer_to_x_frac"} <= set(record["values"]["07_novel_examples"])
    assert not any(k.endswith("_all") or "_all_" in k for k in record["values"]["07_novel_examples"])
    with pytest.raises(SystemExit, match="unknown experiments"):
        ps.run(tmp_path / "x.json", budget_s=10, device=ps.torch.device("cpu"), smoke=True, only=["ch7_nothing"])


def test_an_experiment_that_cannot_finish_in_the_budget_is_skipped_with_its_estimate(tmp_path):
    out = tmp_path / "cut.json"
    results = ps.run(out, budget_s=1.0, device=ps.torch.device("cpu"), smoke=True, only=["ch7_pair"], probe=2)
    record = json.loads(out.read_text())["experiments"]["ch7_pair"]
    assert record == json.loads(json.dumps(results["experiments"]["ch7_pair"]))
    assert record["status"] == "skipped" and record["estimated_s"] > 0 and "left" in record["reason"]
    assert set(record["step_ms"]) >= {"shallow_no9", "deep_all"}


def test_the_cuda_graph_check_compares_two_trainings_and_fails_where_no_graph_ran():
    check = ps.check_graphs(ps.torch.device("cpu"), steps=2)
    assert check["loss_diff"] == 0 and check["weight_diff"] == 0  # the plain step twice: the same training
    assert check["ok"] is False and check["settings"]["graphs_why_not"] == "CUDA only"


def test_the_committed_runs_at_the_paper_scale_are_read_and_measure_chapter_7s_fig_2_claims():
    """vaebook/bundle/paper_scale/ ships with the book: chapter 7's page quotes its verdicts (whatever they are)."""
    from pathlib import Path

    (group, *_) = claims.paper_scale_runs("07_novel_examples")
    assert group.experiment == "ch7_unseen" and len(group.runs) == 3 and set(group.epochs.values()) == {200}
    assert "on 54,051 training images" in group.words()  # all of MNIST's training images but the 9s
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "07_novel_examples.ipynb"
    measured = claims.paper_scale_verdicts("07_novel_examples", claims.from_notebook(notebook))
    assert {"deep_mostly_mu", "shallow_mostly_x", "deep_vs_shallow"} <= set(measured)
