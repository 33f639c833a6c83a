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
        assert claims.paper_scale(chapter, out) == {}  # at toy size: never shown as paper scale


def _file(values: dict, runs: int = 3, **provenance) -> dict:
    record = {"status": "done", "runs": runs, "epochs": {"deep_no9": 200},
              "values": {"07_novel_examples": {k: {"value": sum(v) / len(v), "per_run": v} for k, v in values.items()}}}
    return {"format": 1, "paper_scale": True, "experiments": {"ch7_unseen": record, "ch7_pair": {"status": "skipped"}},
            "provenance": {"device": "cuda", "device_name": "NVIDIA H100", "smoke": False, "torch": "2.11",
                           "commit": "abc", "date": "2026-12-05T10:00:00+00:00", **provenance}}


def test_paper_scale_numbers_are_read_from_a_full_size_run_on_any_device_and_never_from_a_smoke_run(tmp_path):
    path = tmp_path / "run.json"
    gpu = _file({"deep_closer_to_mu_frac": [0.6, 0.7, 0.8]})
    path.write_text(json.dumps(gpu))
    d = claims.paper_scale("07_novel_examples", path)["deep_closer_to_mu_frac"]
    assert d["value"] == pytest.approx(0.7) and d["runs"] == 3 and d["device_name"] == "NVIDIA H100" and d["experiment"] == "ch7_unseen"
    assert claims.paper_scale("04_negative_sampling", path) == {}
    for change in ({"paper_scale": False}, {"provenance": {**gpu["provenance"], "smoke": True}}):
        path.write_text(json.dumps({**gpu, **change}))
        assert claims.paper_scale("07_novel_examples", path) == {}
    path.write_text(json.dumps(_file({"deep_closer_to_mu_frac": [0.6, 0.7, 0.8]}, device="cpu", device_name="x86_64")))
    assert claims.paper_scale("07_novel_examples", path)["deep_closer_to_mu_frac"]["device"] == "cpu"  # slower, same
    assert claims.paper_scale("07_novel_examples", tmp_path / "absent.json") == {}
    assert claims.paper_scale("07_novel_examples", tmp_path) == claims.paper_scale("07_novel_examples", path)  # a folder
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="run.json are corrupt"):
        claims.paper_scale("07_novel_examples", path)


def test_a_claims_verdict_at_the_paper_scale_follows_the_seeds_rule_and_stands_in_the_claims_table(tmp_path):
    mostly = claims.Claim("deep_mostly_mu", "most closer to the average", reads="deep_closer_to_mu_frac", op=">",
                          than=0.5, source=claims.Paper("Fig. 2"))
    other = claims.Claim("other", "not run at scale", reads="something_else", op=">", than=0.5, source=claims.Ours(False))
    path = tmp_path / "run.json"
    path.write_text(json.dumps(_file({"deep_closer_to_mu_frac": [0.61, 0.64, 0.66]}, device="cpu", device_name="x86_64")))
    at_scale = claims.paper_scale_verdicts("07_novel_examples", [mostly, other], path)
    assert set(at_scale) == {"deep_mostly_mu"} and at_scale["deep_mostly_mu"].state == claims.HOLDS
    assert at_scale["deep_mostly_mu"].state == claims.verdict(mostly, claims.paper_scale_runs("07_novel_examples", path)).state
    path.write_text(json.dumps(_file({"deep_closer_to_mu_frac": [0.45, 0.52, 0.55]})))
    assert claims.paper_scale_verdicts("07_novel_examples", [mostly], path)["deep_mostly_mu"].state == claims.UNDECIDED
    table = claims.table("07_novel_examples", [mostly, other], path=tmp_path / "no-seeds.json", paper_scale_path=path)
    html = table.to_html()
    assert "at the paper&#x27;s scale" in html or "at the paper's scale" in html
    assert "undecided (2 of 3 runs)" in html and "not run" in html and "3 runs of 200 epochs on a GPU" in html
    assert "at the paper" not in claims.table("07_novel_examples", [mostly], path=tmp_path / "no-seeds.json",
                                              paper_scale_path=tmp_path / "absent").to_html()


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


def test_a_claim_at_the_paper_scale_is_put_in_words_with_its_runs_values(tmp_path):
    mostly = claims.Claim("deep_mostly_mu", "most closer to the average", reads="deep_closer_to_mu_frac", op=">",
                          than=0.5, source=claims.Paper("Fig. 2"))
    path = tmp_path / "run.json"
    path.write_text(json.dumps(_file({"deep_closer_to_mu_frac": [0.45, 0.52, 0.55]})))
    words = claims.paper_scale_words("07_novel_examples", [mostly], "deep_mostly_mu", path=path)
    assert words == "is undecided: it holds in 2 of 3 runs at the paper's scale (0.45, 0.52, 0.55)"
    assert (claims.paper_scale_words("07_novel_examples", [mostly], "deep_mostly_mu", path=tmp_path / "absent")
            == "has not been measured at the paper's scale")
