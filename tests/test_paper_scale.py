"""The paper-scale run (vaebook.paper_scale): its smoke run goes through every experiment on the CPU, writes a results
file that is never shown as paper scale, and a run out of time skips what cannot finish and says why."""
import json

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
        assert ps.values(chapter, out) == {}  # at toy size: never shown as paper scale


def test_values_shows_a_file_at_paper_scale_and_never_a_smoke_run(tmp_path):
    record = {"status": "done", "runs": 5, "epochs": {"bernoulli": 100},
              "values": {"01_ood_puzzle": {"auc_kl_bernoulli": {"value": 0.6, "std": 0.02, "per_run": [0.6] * 5}}}}
    gpu = {"format": 1, "paper_scale": True, "experiments": {"ch4_baseline": record, "ch4_adversarial": {"status": "skipped"}},
           "provenance": {"device": "cuda", "device_name": "NVIDIA H100", "smoke": False, "torch": "2.11", "commit": "abc",
                          "date": "2026-12-05"}}
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(gpu))
    assert ps.values("01_ood_puzzle", path) == {"auc_kl_bernoulli": 0.6}
    d = ps.details("01_ood_puzzle", path)["auc_kl_bernoulli"]
    assert d["runs"] == 5 and d["device_name"] == "NVIDIA H100" and d["experiment"] == "ch4_baseline"
    assert ps.values("04_negative_sampling", path) == {}
    for change in ({"paper_scale": False}, {"provenance": {**gpu["provenance"], "smoke": True}}):
        path.write_text(json.dumps({**gpu, **change}))
        assert ps.values("01_ood_puzzle", path) == {}
    cpu = {**gpu, "provenance": {**gpu["provenance"], "device": "cpu", "device_name": "x86_64"}}
    path.write_text(json.dumps(cpu))  # at full size on a CPU: paper scale, slower
    assert ps.values("01_ood_puzzle", path) == {"auc_kl_bernoulli": 0.6}
    assert ps.details("01_ood_puzzle", path)["auc_kl_bernoulli"]["device"] == "cpu"
    assert ps.values("01_ood_puzzle", tmp_path / "absent.json") == {}


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
