import numpy as np
import pytest
import torch

import vaebook as vb


def test_auroc_convention_higher_score_is_ood():
    assert vb.auroc([0.0, 0.1, 0.2], [1.0, 2.0]) == 1.0
    assert vb.auroc([1.0, 2.0], [0.0, 0.1]) == 0.0
    assert vb.auroc(torch.zeros(5), torch.zeros(5)) == 0.5
    with pytest.raises(ValueError, match="NaN"):
        vb.auroc([0.0, float("nan")], [1.0])


def test_logsumexp_chunked_equals_unchunked():
    a = torch.randn(7, 10001) * 30
    for chunk in (1, 999, 4096, 20000):
        torch.testing.assert_close(vb.logsumexp_chunked(lambda s: a[:, s], a.shape[1], chunk), torch.logsumexp(a, -1))


def test_batched_equals_one_call():
    x = torch.randn(1234, 3)
    torch.testing.assert_close(vb.batched(lambda b: b.sum(1), x, 100), x.sum(1))


def test_aupr_and_fpr95_follow_the_same_convention():
    s_in, s_out = torch.arange(100.0), torch.arange(100.0) + 1000  # perfectly separated, outliers higher
    assert vb.metrics.aupr(s_in, s_out) == 1.0 and vb.metrics.fpr_at_tpr(s_in, s_out) == 0.0
    assert vb.metrics.fpr_at_tpr(s_out, s_in) == 1.0  # the wrong way round: every outlier accepted
    g = torch.Generator().manual_seed(0)
    same_in, same_out = torch.randn(20000, generator=g), torch.randn(20000, generator=g)
    assert abs(vb.metrics.fpr_at_tpr(same_in, same_out) - 0.95) < 0.01  # no information: accepts as many as inliers
    assert abs(vb.metrics.aupr(same_in, same_out) - 0.5) < 0.01       # the outliers' share


def test_bootstrap_interval_covers_the_estimate_and_shrinks_with_more_data():
    g = torch.Generator().manual_seed(0)
    small = (torch.randn(100, generator=g), torch.randn(100, generator=g) + 1)
    large = (torch.randn(4000, generator=g), torch.randn(4000, generator=g) + 1)
    lo_s, hi_s = vb.metrics.bootstrap_ci(vb.auroc, *small, n_boot=100)
    lo_l, hi_l = vb.metrics.bootstrap_ci(vb.auroc, *large, n_boot=100)
    assert lo_s < vb.auroc(*small) < hi_s and lo_l < vb.auroc(*large) < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3  # about 1/sqrt(40) as wide


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("metric", [vb.auroc, vb.metrics.aupr, vb.metrics.fpr_at_tpr])
def test_bootstrap_scores_all_resamples_at_once_as_one_call_per_resample_would(metric, ties):
    # bootstrap_ci computes AUROC, AUPR and FPR95 for every resample in one array; without that shortcut it calls the
    # metric itself (sklearn) once per resample, on the same resamples. Ties (rounded scores) test the shared ranks.
    rng = np.random.default_rng(1)
    s_in, s_out = rng.normal(size=300), rng.normal(size=170) + 0.4
    if ties:
        s_in, s_out = s_in.round(1), s_out.round(1)
    fast = vb.metrics.bootstrap_ci(metric, s_in, s_out, n_boot=40, seed=3)
    slow = vb.metrics.bootstrap_ci(lambda a, b: metric(a, b), s_in, s_out, n_boot=40, seed=3)  # not in _MANY
    assert fast == pytest.approx(slow, abs=1e-12)
    # and the resamples are those rng.choice draws, as the bootstrap drew them before it kept indices
    g = np.random.default_rng(3)
    values = [metric(g.choice(s_in, len(s_in)), g.choice(s_out, len(s_out))) for _ in range(40)]
    assert fast == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])), abs=1e-12)


@pytest.mark.parametrize("case", ["continuous", "three values", "all equal", "one of each"])
def test_each_resamples_auroc_and_aupr_from_counts_are_sklearns(case):
    """bootstrap_ci scores the resamples from how often each drew each distinct score; for every single resample that
    must be sklearn's AUROC and average precision, and the AUROC exactly the rank-sum (Mann-Whitney) value."""
    from scipy.stats import rankdata
    from sklearn.metrics import average_precision_score, roc_auc_score

    from vaebook.metrics import _aupr_many, _auroc_many

    rng = np.random.default_rng(0)
    n_in, n_out = (1, 1) if case == "one of each" else (60, 45)
    s_in, s_out = rng.normal(size=n_in), rng.normal(size=n_out) + 0.5
    if case == "three values":
        s_in, s_out = s_in.round().clip(-1, 1), s_out.round().clip(-1, 1)
    if case == "all equal":
        s_in, s_out = np.zeros(n_in), np.zeros(n_out)
    i, o = rng.integers(0, n_in, (30, n_in)), rng.integers(0, n_out, (30, n_out))
    auroc, aupr = _auroc_many(s_in, s_out, i, o), _aupr_many(s_in, s_out, i, o)
    for r in range(30):
        a, b = s_in[i[r]], s_out[o[r]]
        labels, scores = np.r_[np.zeros(n_in), np.ones(n_out)], np.r_[a, b]
        if case != "one of each" or a[0] != b[0]:
            assert auroc[r] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        ranks = rankdata(scores)
        assert auroc[r] == (ranks[n_in:].sum() - n_out * (n_out + 1) / 2) / (n_in * n_out)
        assert aupr[r] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
