"""The outside detectors: each score is oriented like the book's (higher = more OOD) and measures what it says."""
import pytest
import torch

from vaebook import baselines


def test_png_length_orders_images_by_complexity():
    g = torch.Generator().manual_seed(0)
    flat, noise = torch.zeros(1, 1, 28, 28), torch.rand(1, 1, 28, 28, generator=g)
    stroke = torch.zeros(1, 1, 28, 28)
    stroke[..., 10:18, 12:15] = 1
    bits = baselines.png_bits_per_dim(torch.cat([flat, stroke, noise]))
    assert bits[0] < bits[1] < bits[2] and 6 < bits[2] < 10  # noise: about 8 bits/pixel plus PNG's overhead
    torch.testing.assert_close(baselines.input_complexity(torch.full((3,), 9.0), torch.cat([flat, stroke, noise])), 9.0 - bits)


def test_mahalanobis_is_zero_at_a_class_mean_and_grows_away_from_it():
    g = torch.Generator().manual_seed(0)
    f = torch.cat([torch.randn(500, 3, generator=g), torch.randn(500, 3, generator=g) + 10])
    y = torch.cat([torch.zeros(500), torch.ones(500)]).long()
    m = baselines.Mahalanobis(f, y)
    scores = m(torch.stack([f[:500].mean(0), f[500:].mean(0), torch.tensor([5.0, 5.0, 5.0]), torch.full((3,), 30.0)]))
    assert scores[:2].max() < 1e-6 and 0 < scores[2] < scores[3]


def test_max_softmax_is_minus_the_confidence():
    head = torch.nn.Linear(2, 3)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[10.0, 0], [0, 10.0], [0, 0]]))
        head.bias.zero_()
    s = baselines.max_softmax(head, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    assert s[0] < -0.99 and s[1] == pytest.approx(-1 / 3)  # confident: low score; uniform: the highest possible


def test_typicality_scores_batches_by_their_distance_from_the_entropy():
    nll = torch.cat([torch.full((50,), 5.0), torch.full((50,), 5.0)])
    out = baselines.typicality(nll + 3, reference=nll, batch_size=10, generator=torch.Generator().manual_seed(0))
    assert out.shape == (10,) and torch.allclose(out, torch.full((10,), 3.0))
    assert baselines.typicality(nll - 3, nll, 10).min() == 3.0  # too likely is atypical too
    with pytest.raises(ValueError, match="batch_size must be in"):
        baselines.typicality(nll, nll, 0)
