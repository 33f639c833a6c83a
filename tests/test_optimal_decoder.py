"""Shu's optimal decoder: weights, perplexity, chunking and the weighted average."""
import pytest
import torch

import vaebook as vb
from vaebook.optimal_decoder import OptimalDecoder, perplexity


def random_decoder(n=50, d=4, chunk=4096, seed=0):
    g = torch.Generator().manual_seed(seed)
    loc, scale = torch.randn(n, d, generator=g), 0.2 + torch.rand(n, d, generator=g)
    images = torch.rand(n, 1, 5, 5, generator=g)
    return OptimalDecoder(loc.double(), scale.double(), images.double(), chunk)


def test_weights_sum_to_one_and_match_bayes_rule():
    dec = random_decoder()
    z = torch.randn(7, 4, dtype=torch.float64)
    w = dec.weights(z)
    torch.testing.assert_close(w.sum(-1), torch.ones(7, dtype=torch.float64))
    q = torch.distributions.Normal(dec.q.loc, dec.q.scale).log_prob(z[3]).sum(-1).exp()
    torch.testing.assert_close(w[3], q / q.sum())


def test_perplexity_of_one_hot_and_uniform():
    n = 10
    assert perplexity(torch.eye(n)[3]).item() == pytest.approx(1.0)
    assert perplexity(torch.full((n,), 1 / n)).item() == pytest.approx(n)
    # through the decoder: identical posteriors give uniform weights, one posterior at z a one-hot one
    same = OptimalDecoder(torch.zeros(n, 2), torch.ones(n, 2), torch.rand(n, 1, 3, 3))
    assert same(torch.randn(4, 2)).perplexity == pytest.approx(torch.full((4,), float(n)), rel=1e-5)
    loc = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2) * 10
    sharp = OptimalDecoder(loc, torch.full((n, 2), 0.1), torch.rand(n, 1, 3, 3))
    stats = sharp(loc[[2, 5]])
    assert stats.perplexity == pytest.approx(torch.ones(2), abs=1e-4)
    assert stats.top_index[:, 0].tolist() == [2, 5]


def test_chunked_equals_unchunked():
    z = torch.randn(6, 4, dtype=torch.float64)
    whole, chunked = random_decoder(chunk=10_000)(z, k=5), random_decoder(chunk=7)(z, k=5)
    for a, b in [(whole.mean, chunked.mean), (whole.perplexity, chunked.perplexity), (whole.top_weight, chunked.top_weight)]:
        torch.testing.assert_close(a, b)
    assert torch.equal(whole.top_index, chunked.top_index)
    dec = random_decoder(chunk=7)
    w = dec.weights(z)
    torch.testing.assert_close(dec(z).mean.flatten(1), w @ dec.images.flatten(1))
    torch.testing.assert_close(dec(z).perplexity, perplexity(w))
    torch.testing.assert_close(dec(z, k=3).top_weight, w.topk(3, dim=1).values)


def test_weighted_average_of_identical_images_is_that_image():
    image = torch.rand(1, 28, 28, dtype=torch.float64)
    dec = OptimalDecoder(torch.randn(30, 3, dtype=torch.float64), torch.rand(30, 3, dtype=torch.float64) + 0.1,
                         image.expand(30, -1, -1, -1), chunk=8)
    torch.testing.assert_close(dec(torch.randn(5, 3, dtype=torch.float64)).mean, image.expand(5, -1, -1, -1))


def test_from_vae_and_bad_input():
    torch.manual_seed(0)
    enc, dec = vb.MLPNets((16,))(2, 1)
    vae = vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(2))
    x = torch.rand(25, 1, 28, 28)
    od = OptimalDecoder.from_vae(vae, x, batch_size=10)
    assert od.q.loc.shape == (25, 2) and len(od) == 25
    with pytest.raises(ValueError, match="shape"):
        OptimalDecoder(torch.zeros(3, 2), torch.ones(3, 3), x[:3])
    with pytest.raises(ValueError, match="positive"):
        OptimalDecoder(torch.zeros(3, 2), torch.zeros(3, 2), x[:3])
