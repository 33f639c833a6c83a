"""The later OOD scores: each measures what its paper defines, on the book's orientation (higher = more OOD)."""
import copy
import math

import pytest
import torch

import vaebook as vb
from vaebook import baselines, ood

SHAPE = (1, 8, 8)


def _vae(likelihood, latent_dim=2, hidden=(32,), seed=0):
    torch.manual_seed(seed)
    enc, dec = vb.MLPNets(hidden, image_shape=SHAPE)(latent_dim, likelihood.decoder_outputs)
    return vb.VAE(vb.Encoder(enc), vb.Decoder(dec, likelihood), vb.StandardNormal(latent_dim))


def _bars(n, vertical=False, seed=0):
    """8×8 images of one bright horizontal bar (vertical: the same, transposed) on a dark background, 8-bit levels."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, *SHAPE), 20 / 255)
    rows, level = torch.randint(0, 8, (n,), generator=g), torch.randint(200, 256, (n,), generator=g) / 255
    x[torch.arange(n), 0, rows, :] = level[:, None]
    return x.transpose(-1, -2).contiguous() if vertical else x


@pytest.fixture(scope="module")
def bars_vae():
    """A Bernoulli VAE fitted to horizontal bars: the tiny synthetic set-up of the regret's tests."""
    vae = _vae(vb.Bernoulli())
    torch.manual_seed(0)
    vb.fit(vae.loss, vae.parameters(), _bars(512), epochs=60, batch_size=64,
           optimizer=lambda p: torch.optim.Adam(p, lr=3e-3))
    return vae.eval()


# ---------------------------------------------------------------------------------------------- compressors
def test_a_constant_image_costs_a_compressor_almost_nothing_and_noise_about_eight_bits():
    g = torch.Generator().manual_seed(0)
    constant, noise = torch.full((1, 1, 28, 28), 0.3), torch.rand(1, 1, 28, 28, generator=g)
    for compressor in (ood.PNG(), ood.Zlib(), ood.LZMA()):
        flat, random = compressor(torch.cat([constant, noise]))
        assert flat < 1, compressor.name            # headers only: PNG's 79 bytes are 0.81 bits/pixel of 784
        assert 7.9 < random < 9.5, compressor.name  # 8 bits/pixel cannot be compressed, plus the format's overhead
        assert flat < random / 10, compressor.name
    torch.testing.assert_close(ood.PNG()(noise), baselines.png_bits_per_dim(noise))


def test_png_refuses_colour_images():
    with pytest.raises(ValueError, match="grey images"):
        ood.PNG()(torch.rand(2, 3, 8, 8))


# ---------------------------------------------------------------------------------------------- input complexity
def test_input_complexity_is_the_model_code_length_minus_the_compressor_code_length():
    vae, x = _vae(vb.DiscretizedGaussian()), torch.randint(0, 256, (20, *SHAPE)) / 255
    for score in (ood.InputComplexity(), ood.InputComplexity(ood.Zlib(), vb.BitsPerDim(k=5))):
        torch.manual_seed(1)
        s = score(vae, x)
        torch.manual_seed(1)
        torch.testing.assert_close(s, score.bits(vae, x) - score.compressor(x), rtol=0, atol=0)
    assert ood.InputComplexity().name == "input complexity (bits/dim (ELBO) − PNG)"
    assert list(vb.ood_scores(vae, x, [ood.InputComplexity()])) == ["input complexity (bits/dim (ELBO) − PNG)"]


def test_a_model_that_knows_nothing_codes_eight_bits_per_pixel():
    """A uniform categorical over the 256 levels, the posterior equal to the prior: ELBO bits/dim = 8 exactly, so
    the score is 8 − PNG bits/dim (a density's bits/dim would be off by the 8 bits of dequantisation)."""
    vae = _vae(vb.Categorical256())
    with torch.no_grad():
        for p in vae.parameters():
            p.zero_()
        vae.encoder.net.net[-1].bias[2:] = math.log(math.expm1(1 - vae.encoder.min_scale))  # σ = 1
    x = torch.cat([torch.full((1, *SHAPE), 0.5), torch.randint(0, 256, (3, *SHAPE)) / 255])
    torch.testing.assert_close(ood.InputComplexity()(vae, x), 8 - ood.PNG()(x))


def test_input_complexity_refuses_a_likelihood_that_is_no_code_length():
    for likelihood in (vb.Bernoulli(), vb.Gaussian()):
        with pytest.raises(TypeError, match="probability of the 8-bit image"):
            ood.InputComplexity()(_vae(likelihood), torch.rand(3, *SHAPE))


# ---------------------------------------------------------------------------------------------- likelihood regret
def test_regret_is_zero_without_steps_and_not_negative_beyond_noise_with_them(bars_vae):
    x = torch.cat([_bars(32, seed=1), _bars(32, vertical=True, seed=1)])
    assert ood.LikelihoodRegret(steps=0)(bars_vae, x).abs().max() == 0  # the same draws before and after
    regret, before, after = ood.LikelihoodRegret(samples=256).fit(bars_vae, x)
    torch.testing.assert_close(regret, after - before)
    # Adam starts from the encoder's posterior: an image can lose no more than the noise of the estimate, here the
    # standard error of the ELBO over the score's default 16 draws (an inlier's posterior is already near its
    # optimum, and Adam's steps of about lr around it cost a little)
    with torch.no_grad():
        elbos = torch.stack([bars_vae.elbo(x) for _ in range(100)])                        # (100, B)
    assert (regret > -elbos.std(0) / math.sqrt(16)).all()
    assert regret[32:].median() > 0.5 and regret[32:].min() > 0


def test_regret_is_larger_for_images_unlike_the_training_data(bars_vae):
    score = ood.LikelihoodRegret()
    inliers, outliers = score(bars_vae, _bars(100, seed=2)), score(bars_vae, _bars(100, vertical=True, seed=2))
    assert vb.auroc(inliers, outliers) > 0.9 and outliers.median() > 3 * inliers.median()


def test_a_batch_gets_what_each_image_gets_alone(bars_vae):
    x, score = torch.cat([_bars(4, seed=3), _bars(4, vertical=True, seed=3)]), ood.LikelihoodRegret(steps=10)
    together = vb.ood_scores(bars_vae, x, [score], batch_size=8)[score.name]
    alone = torch.cat([score(bars_vae, x[i:i + 1]) for i in range(len(x))])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-4)


def test_regret_leaves_the_model_untouched(bars_vae):
    state = copy.deepcopy(bars_vae.state_dict())
    grads = [None if p.grad is None else p.grad.clone() for p in bars_vae.parameters()]
    ood.LikelihoodRegret(steps=3)(bars_vae, _bars(5))
    assert all(torch.equal(v, state[k]) for k, v in bars_vae.state_dict().items())
    assert all((g is None and p.grad is None) or torch.equal(g, p.grad) for g, p in zip(grads, bars_vae.parameters()))


# ---------------------------------------------------------------------------------------------- likelihood ratio
def test_perturbation_replaces_a_fraction_mu_of_pixels_by_uniform_grey_levels():
    x = torch.full((50, 1, 28, 28), 0.5)  # 127.5/255: off the grid, so every replaced pixel shows
    for mu in (0.0, 0.1, 0.3, 1.0):
        y = ood.Perturbation(mu, seed=0)(x)
        changed = y != x
        n = x.numel()
        assert abs(changed.float().mean().item() - mu) < 4 * math.sqrt(mu * (1 - mu) / n) + 1e-12
        levels = y[changed] * 255
        torch.testing.assert_close(levels, levels.round())  # 8-bit levels
        if mu == 1.0:
            assert abs(y.mean().item() - 0.5) < 0.01 and y.min() == 0 and y.max() == 1
    assert torch.equal(ood.Perturbation(0.2, seed=3)(x), ood.Perturbation(0.2, seed=3)(x))  # a fixed function
    assert not torch.equal(ood.Perturbation(0.2, seed=None)(x), ood.Perturbation(0.2, seed=None)(x))
    with pytest.raises(ValueError, match="rate must be in"):
        ood.Perturbation(1.5)


def test_likelihood_ratio_is_the_model_bits_minus_the_background_bits():
    model, background = _vae(vb.DiscretizedGaussian()), _vae(vb.DiscretizedGaussian(), seed=1)
    x, score = torch.randint(0, 256, (10, *SHAPE)) / 255, ood.LikelihoodRatio(background)
    torch.manual_seed(0)
    s = score(model, x)
    torch.manual_seed(0)
    torch.testing.assert_close(s, vb.BitsPerDim()(model, x) - vb.BitsPerDim()(background, x), rtol=0, atol=0)
    with pytest.raises(TypeError, match="must be the same"):
        ood.LikelihoodRatio(_vae(vb.Bernoulli()))(model, x)


def test_a_background_trained_on_perturbed_inliers_gives_outliers_the_higher_ratio(bars_vae):
    """On the bars: a background model fitted to the same images with 30 % of their pixels replaced, then the
    ratio ranks the vertical bars above the horizontal ones (higher = more OOD)."""
    background = _vae(vb.Bernoulli(), seed=1)
    perturb = ood.Perturbation(0.3, seed=None)
    torch.manual_seed(0)
    vb.fit(lambda x: background.loss(perturb(x)), background.parameters(), _bars(512), epochs=60, batch_size=64,
           optimizer=lambda p: torch.optim.Adam(p, lr=3e-3))
    x_in, x_out = _bars(100, seed=4), _bars(100, vertical=True, seed=4)
    score = ood.LikelihoodRatio(background.eval(), bits=vb.BitsPerDim(k=20))
    s_in, s_out = score(bars_vae, x_in), score(bars_vae, x_out)
    assert vb.auroc(s_in, s_out) > 0.9  # higher = more OOD


# ---------------------------------------------------------------------------------------------- WAIC
def test_waic_of_identical_members_is_minus_their_log_likelihood():
    vae, x = _vae(vb.Bernoulli()), torch.rand(6, *SHAPE).round()
    score = ood.WAIC([copy.deepcopy(vae), copy.deepcopy(vae)], seed=7)
    with torch.random.fork_rng():
        torch.manual_seed(7)
        elbo = vae.elbo(x).detach()
    torch.testing.assert_close(score(vae, x), -elbo)  # no disagreement: the variance is 0
    assert score.name == "−WAIC (nats, ELBO, ensemble of 3)"


def test_waic_subtracts_the_unbiased_variance_over_members():
    a, b, x = _vae(vb.Bernoulli()), _vae(vb.Bernoulli(), seed=1), torch.rand(6, *SHAPE).round()
    score = ood.WAIC([b], k=4)
    log_px = score.log_px(a, x)                                   # (2, B)
    mean, var = log_px.mean(0), (log_px[0] - log_px[1]) ** 2 / 2  # M = 2: the unbiased variance
    torch.testing.assert_close(score(a, x), var - mean)
    assert (var > 0).all()
    with pytest.raises(ValueError, match="at least one other member"):
        ood.WAIC([])


# ---------------------------------------------------------------------------------------------- the papers
def test_every_published_number_names_its_table_or_says_why_there_is_none():
    assert set(ood.PUBLISHED) == {"input complexity", "likelihood regret", "likelihood ratio", "WAIC"}
    for method, entry in ood.PUBLISHED.items():
        assert {"paper", "auroc", "table", "setup", "note"} <= set(entry), method
        if entry["auroc"] is None:
            assert entry["table"] is None and entry["note"].startswith("no published number"), method
        else:
            assert 0 <= entry["auroc"] <= 1 and "Table" in entry["table"], method
