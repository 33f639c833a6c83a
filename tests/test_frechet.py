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
