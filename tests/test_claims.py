"""Checks of the built fast book: the chapters' recorded numbers against the papers' claims, and the HTML.

Run after ``make book`` (``make test`` does). Each claim is what the issue and
the paper say should hold in the fast profile; a claim that does not hold fails
the test, unless it is listed in KNOWN_FAILURES with the chapter's explanation.
"""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "_build" / "results"
HTML = ROOT / "_build" / "html"
pytestmark = pytest.mark.book


def _density_lead(r, k):
    """Chapter 5: latent-density AUROC minus reconstruction-error AUROC at K = k, averaged over the outlier sets."""
    sets = ("mnist", "omniglot", "hflip", "vflip")
    return sum(r[f"auroc_density_k{k}_{s}"] - r[f"auroc_recon_k{k}_{s}"] for s in sets) / len(sets)


CLAIMS = {
    "01_ood_puzzle": [
        ("Bernoulli bits/dim ranks MNIST as more typical (AUROC < 0.5; paper 0.46)", lambda r: r["auc_bpd_bernoulli"] < 0.5),
        ("Bernoulli KL ranks MNIST as less typical (AUROC > 0.5; paper 0.61)", lambda r: r["auc_kl_bernoulli"] > 0.5),
        ("Gaussian bits/dim separates better than Bernoulli (paper 0.98 vs 0.46)",
         lambda r: r["auc_bpd_gaussian"] > r["auc_bpd_bernoulli"] + 0.2),
        ("Gaussian KL is backwards (AUROC < 0.5; paper 0.26)", lambda r: r["auc_kl_gaussian"] < 0.5),
        ("a larger latent space does not fix the Bernoulli failure (Table 5: bits/dim AUROC <= 0.46 at every D)",
         lambda r: all(v < 0.5 for k, v in r.items() if k.startswith("sweep_auc_bpd_"))),
        ("with D = 50 and 100 the Bernoulli KL separates (Table 5: AUROC 0.76, 0.73 > 0.5)",
         lambda r: min(r["sweep_auc_kl_d50"], r["sweep_auc_kl_d100"]) > 0.5),
    ],
    "02_topology_mismatch": [
        ("2D unimodal prior: OOD within a few (< 6) nats of in-distribution (paper −4.87 vs −3.25)",
         lambda r: abs(r["flow2d_uni_ll_ood"] - r["flow2d_uni_ll_in"]) < 6),
        ("2D bimodal prior: OOD at least 20 nats below in-distribution (paper −40.11)",
         lambda r: r["flow2d_multi_ll_ood"] < r["flow2d_multi_ll_in"] - 20),
        ("10D unimodal prior: OOD gets a higher mean log-likelihood than in-distribution",
         lambda r: r["flow10d_uni_ll_ood"] > r["flow10d_uni_ll_in"]),
        ("10D bimodal prior: OOD gets a lower mean log-likelihood than in-distribution",
         lambda r: r["flow10d_multi_ll_ood"] < r["flow10d_multi_ll_in"]),
    ],
    "03_mixture_priors": [
        ("multi (1,7) gives MNIST at least 10% higher NLL than uni (1,7) (paper 2821.97 vs 1647.76, 1.71x; the 1.1x "
         "threshold was chosen after seeing results)",
         lambda r: r["nll_mnist_multi_17"] >= 1.1 * r["nll_mnist_uni_17"]),
        ("multi (1,7) has a higher AUROC than uni (1,7)", lambda r: r["auroc_multi_17"] > r["auroc_uni_17"]),
        ("uni (1) and uni (7) still give MNIST a lower NLL than multi (1,7) (Table 1)",
         lambda r: max(r["nll_mnist_uni_1"], r["nll_mnist_uni_7"]) < r["nll_mnist_multi_17"]),
        ("generalized-Gaussian components reach the effect at a smaller distance than Gaussian ones (Fig. 6), with a "
         "model that still fits its inliers (in-distribution NLL within 1.5x the standard normal's; our threshold)",
         lambda r: r["reach_distance_gg"] < r["reach_distance_gaussian"] and r["reach_in_ratio_gg"] <= 1.5),
        ("the generalized-Gaussian mixture at the paper's distance fits its inliers (in-distribution NLL within 1.5x "
         "uni (1,7)'s; our threshold)", lambda r: r["nll_in_multi_gg_17"] <= 1.5 * r["nll_in_uni_17"]),
        ("a bimodal prior raises MNIST's NLL under a flow too (Table 1, Glow: 2679.89 vs 1372.18), with a flow that still "
         "fits its inliers (in-distribution NLL within 1.5x the unimodal flow's; our threshold)",
         lambda r: r["glow_nll_mnist_multi_17"] > r["glow_nll_mnist_uni_17"]
         and r["glow_nll_in_multi_17"] <= 1.5 * r["glow_nll_in_uni_17"]),
        ("a flow trained on one class, either one, gives MNIST a higher NLL than the flow trained on both (Table 1, "
         "Glow: 1791.96 and 1595.10 vs 1372.18)",
         lambda r: min(r["glow_nll_mnist_uni_1"], r["glow_nll_mnist_uni_7"]) > r["glow_nll_mnist_uni_17"]),
    ],
    "04_negative_sampling": [
        ("auxiliary negatives lift AUC bits/dim above 0.9, Bernoulli (paper 1.00 vs 0.46)", lambda r: r["auc_bpd_aux_bernoulli"] > 0.9),
        ("auxiliary negatives lift AUC KL above 0.9, Bernoulli (paper 1.00 vs 0.61)", lambda r: r["auc_kl_aux_bernoulli"] > 0.9),
        ("auxiliary negatives: AUC above 0.9 on both scores, Gaussian (paper 1.00)",
         lambda r: min(r["auc_bpd_aux_gaussian"], r["auc_kl_aux_gaussian"]) > 0.9),
        ("adversarial negatives raise AUC KL above the baseline, Bernoulli (paper 0.88 vs 0.61)",
         lambda r: r["auc_kl_adv_bernoulli"] > r["auc_kl_baseline_bernoulli"]),
        ("adversarial negatives raise AUC bits/dim above the baseline, Bernoulli (paper 0.70 vs 0.46)",
         lambda r: r["auc_bpd_adv_bernoulli"] > r["auc_bpd_baseline_bernoulli"]),
        ("Gaussian-noise negatives raise AUC KL above the baseline, Bernoulli (Table 3: 0.70 vs 0.61)",
         lambda r: r["auc_kl_noise_bernoulli"] > r["auc_kl_baseline_bernoulli"]),
        ("noise negatives give an AUC KL above chance, Bernoulli (Table 3: uniform 0.56, Gaussian 0.70)",
         lambda r: min(r["auc_kl_uniform_bernoulli"], r["auc_kl_noise_bernoulli"]) > 0.5),
    ],
    "05_probabilistic_autoencoder": [
        ("latent density at K = 64 detects MNIST with AUROC >= 0.95 (paper 0.997; the threshold was set after seeing "
         "results, when the encoder changed)", lambda r: r["auroc_density_k64_mnist"] >= 0.95),
        ("reconstruction error beats latent density at small K (K = 4, MNIST)",
         lambda r: r["auroc_recon_k4_mnist"] > r["auroc_density_k4_mnist"]),
        ("latent density beats reconstruction error at large K (K = 64, MNIST)",
         lambda r: r["auroc_density_k64_mnist"] > r["auroc_recon_k64_mnist"]),
        ("the latent density gains on reconstruction error as K grows (Fig. 5; mean over the four outlier sets)",
         lambda r: _density_lead(r, 64) - _density_lead(r, 4) > 0.1),
        ("PAE samples beat the AE's (z ~ N(0, I)), the VAE's and the tuned beta-VAE's (Table 1 ordering)",
         lambda r: r["frechet_pae"] < min(r["frechet_ae"], r["frechet_vae"], r["frechet_betavae"])),
        ("the tuned beta-VAE's samples (beta = 100, C = 15) beat the VAE's (Table 1: 56.3 against 102.4)",
         lambda r: r["frechet_betavae"] < r["frechet_vae"]),
        ("the PAE reconstructs test images better than the tuned beta-VAE (Table 1: 0.077 against 0.114)",
         lambda r: r["recon_error_pae"] < r["recon_error_betavae"]),
    ],
    "06_distribution_matching": [
        # "0 <= avg KL - marginal KL <= log N" and "the marginal KL is far from zero" are gone: the first is the
        # identity of ELBO surgery, and with avg KL > log N the second follows from it (marginal KL >= avg KL - log N).
        ("the mutual information saturates: I(x; z) >= 0.9 log N, the encoder keeps the training images apart "
         "(Rosca et al. Sec. 3; our threshold)", lambda r: r["mutual_info"] >= 0.9 * r["log_n"]),
        ("the density-ratio estimate falls below the Monte Carlo marginal KL once the classifier's estimate has "
         "stopped moving (an undertrained classifier underestimates anyway)",
         lambda r: r["ratio_converged"] == 1 and r["ratio_kl_estimate"] < r["marginal_kl"]),
        ("minimising the density-ratio estimate lowers the true KL for d = 1 and 10 (App. D)",
         lambda r: r["synthetic_min_ratio_d1"] < 1 and r["synthetic_min_ratio_d10"] < 1),
        ("at d = 100 minimising the density-ratio estimate raises the true KL: learning diverges (App. D)",
         lambda r: r["synthetic_min_ratio_d100"] > 1),
        ("low-posterior samples' nearest neighbours cost more KL than uniformly drawn data",
         lambda r: r["lowpost_nn_kl"] > r["uniform_kl"]),
        ("an adversarial autoencoder uses more latents than a VAE of the same size (Fig. 5b: VAEs switch latents off)",
         lambda r: r["aae_active"] > r["vae_active"]),
        ("without the per-image KL the AAE's posteriors are narrower than the VAE's (Sec. 5.1: the variance collapses)",
         lambda r: r["aae_sigma"] < r["vae_sigma"]),
    ],
    "07_novel_examples": [
        # "median weight perplexity below 2" is gone: with D = 50 posteriors every code is far closer to its own
        # training image than to any other, so the perplexity is near 1 for any encoder (it holds by construction).
        ("deep reconstructions of unseen 9s are mostly closer to the weighted average than to the input "
         "(Bozkurt et al.: 'mostly'; > 0.5)", lambda r: r["deep_closer_to_mu_frac"] > 0.5),
        ("deep reconstructions of unseen 9s are far more often closer to the weighted average than shallow ones "
         "(our contrast; the +0.3 margin was chosen after seeing results)",
         lambda r: r["deep_closer_to_mu_frac"] > (1 - r["shallow_closer_to_x_frac"]) + 0.3),
        ("shallow reconstructions of unseen 9s mostly closer to the input", lambda r: r["shallow_closer_to_x_frac"] > 0.5),
        ("trained on all of MNIST, the deep VAE reconstructs test 9s closer to the weighted average than when the 9s "
         "were held out (Fig. 1: 'quite similar')", lambda r: r["bce_mu_ratio_all_vs_no9_deep"] < 1),
        ("trained on all of MNIST, the shallow VAE reconstructs test 9s closer to the weighted average than when the 9s "
         "were held out (Fig. 1: 'quite similar')", lambda r: r["bce_mu_ratio_all_vs_no9_shallow"] < 1),
    ],
    # Chapter 8 compares detectors; the outside papers give no numbers for these models, so each threshold is
    # chance (0.5) or a comparison between two of our detectors, chosen before the chapter first ran.
    "08_ood_benchmark": [
        ("the Bernoulli VAE's bits/dim flips on Fashion-MNIST vs MNIST, as in chapter 1 (AUROC < 0.5; paper 0.46)",
         lambda r: r["auroc_fashion_mnist_bernoulli_vae_bits_dim_mnist"] < 0.5),
        ("input complexity lifts the Bernoulli VAE's Fashion-MNIST vs MNIST AUROC above 0.5 (Serrà et al.; "
         "threshold: chance)", lambda r: r["auroc_fashion_mnist_bernoulli_vae_input_complexity_mnist"] > 0.5),
        ("the typicality test on batches separates Fashion-MNIST from MNIST better than per-image bits/dim "
         "(Nalisnick et al.; our comparison)",
         lambda r: r["auroc_fashion_mnist_bernoulli_vae_typicality_batches_of_10_mnist"]
         > r["auroc_fashion_mnist_bernoulli_vae_bits_dim_mnist"]),
        ("a classifier's maximum softmax probability detects MNIST above chance (Hendrycks & Gimpel; threshold: chance)",
         lambda r: r["auroc_fashion_mnist_classifier_max_softmax_mnist"] > 0.5),
        ("auxiliary negatives lift the Fashion-MNIST vs MNIST AUROC above the baseline's (negative-sampling paper, "
         "Table 1)", lambda r: r["auroc_fashion_mnist_negative_sampling_bits_dim_mnist"]
         > r["auroc_fashion_mnist_bernoulli_vae_bits_dim_mnist"]),
    ],
}
# (chapter, claim) -> why it does not reproduce; such a claim must keep failing (strict).
KNOWN_FAILURES: dict[tuple[str, str], str] = {
    ("03_mixture_priors", "the generalized-Gaussian mixture at the paper's distance fits its inliers (in-distribution "
                          "NLL within 1.5x uni (1,7)'s; our threshold)"):
        "degenerate in the fast profile (in-distribution NLL about 7x the unimodal model's): its training at d = 150 "
        "fails, so its AUROC is not counted; the chapter says so",
    ("05_probabilistic_autoencoder", "latent density beats reconstruction error at large K (K = 64, MNIST)"):
        "a near tie in the fast profile (0.978 against 0.984; 1 of 3 seeds): its MLP decoder cannot reconstruct digits at any K; "
        "with the conv decoder (full profile) the chapter reports 0.996 against 0.961",
    # Directions of the papers that we do not reproduce: checked, and they must keep failing until a fix shows.
    ("01_ood_puzzle", "Bernoulli KL ranks MNIST as less typical (AUROC > 0.5; paper 0.61)"):
        "against the paper (0.28): our MLP VAE trained 10 epochs with Adam puts MNIST closer to the prior; the paper "
        "trains conv nets 100 epochs with RMSProp (full profile)",
    ("01_ood_puzzle", "with D = 50 and 100 the Bernoulli KL separates (Table 5: AUROC 0.76, 0.73 > 0.5)"):
        "against the paper (0.14, 0.11): the sweep's models train 5 epochs; the paper's 100",
    ("04_negative_sampling", "adversarial negatives raise AUC bits/dim above the baseline, Bernoulli (paper 0.70 vs 0.46)"):
        "against the paper in the fast build (0.28 vs 0.36), in all 3 seeds (make seeds)",
    ("04_negative_sampling", "Gaussian-noise negatives raise AUC KL above the baseline, Bernoulli (Table 3: 0.70 vs 0.61)"):
        "fragile: a near tie, both far below 0.5 (0.17 against 0.18 in the clean build since Adam is fused; it held "
        "before, when only the rounding differed); 2 of 3 seeds (make seeds)",
    ("04_negative_sampling", "noise negatives give an AUC KL above chance, Bernoulli (Table 3: uniform 0.56, Gaussian 0.70)"):
        "against the paper (0.05, 0.17): noise negatives push noise away from the prior but pull MNIST digits "
        "towards it in our models; the chapter says so",
    ("06_distribution_matching", "the density-ratio estimate falls below the Monte Carlo marginal KL once the "
                                 "classifier's estimate has stopped moving (an undertrained classifier underestimates anyway)"):
        "not shown in the fast profile: the main model's estimate is still rising after 1,600 steps (the page's left "
        "panel); the full profile trains up to 25,000",
    ("07_novel_examples", "deep reconstructions of unseen 9s are mostly closer to the weighted average than to the input "
                          "(Bozkurt et al.: 'mostly'; > 0.5)"):
        "below 0.5 at fast scale: 0.47 in the clean build, 0 of 3 seeds above 0.5 (make seeds); the paper says 'mostly'",
}


def _results(chapter):
    path = RESULTS / f"{chapter}.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the book first (make book)")
    blob = json.loads(path.read_text())
    assert blob["meta"]["profile"] == "fast", "claims are checked on the fast build"
    assert not any(blob["meta"].get(cap) for cap in ("max_epochs", "max_batches", "max_steps")), \
        f"{chapter} was a dry run (training or step counts capped): its numbers are no result"
    return blob["values"]


def _cases():
    for chapter, claims in CLAIMS.items():
        for claim, check in claims:
            why = KNOWN_FAILURES.get((chapter, claim))
            # A known failure is still checked, and must keep failing: strict, so that a fix shows as XPASS -> fail.
            marks = [pytest.mark.xfail(reason=why, strict=True, raises=AssertionError)] if why else []
            yield pytest.param(chapter, claim, check, marks=marks, id=f"{chapter}: {claim}")


@pytest.mark.parametrize("chapter,claim,check", list(_cases()))
def test_claim(chapter, claim, check):
    r = _results(chapter)
    assert check(r), f"{chapter}: claim does not hold: {claim}\nrecorded: {r}"


def test_known_failures_name_real_claims():
    claims = {(c, t) for c, cl in CLAIMS.items() for t, _ in cl}
    assert set(KNOWN_FAILURES) <= claims, "a known failure that is no claim would never be checked"


def test_every_chapter_page_was_built_without_errors():
    pages = sorted((HTML / "notebooks").glob("*.html"))
    assert {p.stem for p in pages} >= {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for page in pages:
        text = page.read_text()
        assert 'class="output stderr' not in text, f"{page.name} shows stderr output (a warning or progress bar)"
        assert "Traceback (most recent call last)" not in text, f"{page.name} shows a traceback"
        reprs = re.findall(r"&lt;matplotlib\.[\w.]+ at 0x|Text\(\d", text)
        assert not reprs, f"{page.name} shows Python reprs as outputs: {reprs} (end the cell with ';')"
        assert str(ROOT) not in text, f"{page.name} shows a path of the build machine"
        assert not re.search(r"<td[^>]*>\s*nan\s*</td>", text, re.I), f"{page.name} shows NaN in a table (write '—')"
        found = re.sub(r"<[^>]+>", "", text[text.find('id="what-we-found"'):].split("requestKernel")[0])
        assert "**" not in found and "{glue" not in found, f"{page.name}: markup pasted as text in 'What we found'"


def test_the_benchmark_reused_chapter_1_and_5_models_in_the_book_build():
    """Chapter 8 repeats chapters 1 and 5's settings so that the book trains their models once; a setting changed
    in one place only would make it train them again (slower, and not the models the other pages show)."""
    assert _results("08_ood_benchmark")["trained_here"] == 4, "chapter 8 trained models of chapter 1 or 5 again"


def test_data_page_shows_real_images():
    text = (HTML / "notebooks" / "00_data.html").read_text()
    assert len(re.findall(r"<img[^>]+\.png", text)) >= 2


def test_the_scorecard_lists_every_recorded_number_with_a_link():
    recorded = {p.stem: json.loads(p.read_text()).get("table") or [] for p in RESULTS.glob("*.json")}
    text = (HTML / "book" / "scorecard.html").read_text()
    table = text[text.index('<table class="scorecard">'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 1 + sum(len(rows) for rows in recorded.values())  # the header, then every number
    for chapter, rows in recorded.items():
        if rows:
            assert f'href="../notebooks/{chapter}.html#reproduction-table"' in table, f"{chapter} is not on the scorecard"
        assert f'href="../notebooks/{chapter}.html#reproduction-table"' not in table or rows
    assert not re.search(r"<td[^>]*>\s*nan\s*</td>", table, re.I) and "{glue" not in text
