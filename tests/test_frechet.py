"""The Fréchet distance and the feature classifier."""
import numpy as np
import pytest
import torch
from scipy import linalg

from vaebook.frechet import FeatureClassifier, frechet_distance


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 3, generator=g, dtype=torch.float64) * 2 + 1
    # N(0, I) vs N(1, 4I): |m|² = 3, tr(I + 4I − 2·2I) = 3
    assert frechet_distance(a, b) == pytest.approx(6.0, rel=0.05)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same F"):
        frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4))


def test_classifier_features_shape():
    clf = FeatureClassifier()
    x = torch.rand(7, 1, 28, 28)
    assert clf.features(x).shape == (7, 128) and clf(x).shape == (7, 10)
    assert 0 <= clf.accuracy(x, torch.zeros(7, dtype=torch.long)) <= 1


def test_agrees_with_the_matrix_square_root_and_stays_quiet_when_singular():
    import warnings

    g = torch.Generator().manual_seed(1)
    a = torch.randn(500, 4, generator=g, dtype=torch.float64) @ torch.randn(4, 4, generator=g, dtype=torch.float64)
    b = torch.randn(500, 4, generator=g, dtype=torch.float64) @ torch.randn(4, 4, generator=g, dtype=torch.float64) + 0.5
    c1, c2 = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    reference = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real)
    assert frechet_distance(a, b) == pytest.approx(reference, rel=1e-6)
    a[:, 3] = a[:, 2]  # a singular covariance, as a collapsed model's features have
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = frechet_distance(a, b)
    assert np.isfinite(d) and d > 0
