"""Flows: invertible, exact log-determinants, normalised, and sampling agrees with log_prob."""
import math
from functools import partial

import pytest
import torch
from torch.autograd.functional import jacobian

import vaebook as vb
from vaebook import flows


def trained_like(flow, seed=0):
    """Random non-trivial weights (a fresh coupling is the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return flow.double()


TRANSFORMS = [flows.AffineCoupling(5), flows.AffineCoupling(4, (8,)), flows.Reverse(5),
              flows.Permutation.random(5, torch.Generator().manual_seed(0)), flows.ActNorm(5),
              flows.ConvCoupling((1, 4, 4), hidden=4), flows.ConvCoupling((1, 4, 6), hidden=4, flip=True),
              flows.ChannelMix((1, 4, 4), torch.Generator().manual_seed(0))]


def _dim(t):
    if isinstance(t, flows.AffineCoupling):
        return t.dim
    if isinstance(t, (flows.ConvCoupling, flows.ChannelMix)):
        return int(torch.tensor(t.shape).prod())
    return len(t.loc) if isinstance(t, flows.ActNorm) else len(t.perm)


@pytest.mark.parametrize("t", TRANSFORMS, ids=lambda t: type(t).__name__)
def test_transform_inverts_and_ladj_is_log_abs_det_jacobian(t):
    t = trained_like(t)
    dim = _dim(t)
    x = torch.randn(6, dim, dtype=torch.float64)
    y, ladj = t(x)
    torch.testing.assert_close(t.inverse(y), x)
    assert ladj.shape == (6,)
    for i in range(6):
        J = jacobian(lambda v: t(v[None])[0][0], x[i])
        torch.testing.assert_close(ladj[i], torch.linalg.slogdet(J)[1])


@pytest.mark.parametrize("base", [vb.StandardNormal(2), vb.GaussianMixture(vb.two_mode_means(2, 7.0)),
                                  vb.GeneralizedGaussianMixture(vb.two_mode_means(2, 7.0), beta=4.0)],
                         ids=["normal", "mixture", "gen-mixture"])
def test_flow_density_integrates_to_one_in_2d(base):
    flow = trained_like(vb.realnvp(2, base, layers=4, hidden=(16,)))
    g = torch.linspace(-15, 15, 601, dtype=torch.float64)
    xx = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        p = flow().log_prob(xx).exp().reshape(601, 601)
    assert torch.trapezoid(torch.trapezoid(p, g), g).item() == pytest.approx(1.0, abs=0.01)


def test_samples_agree_with_log_prob():
    flow = trained_like(vb.realnvp(2, vb.GaussianMixture(vb.two_mode_means(2, 7.0)), layers=4, hidden=(16,)))
    torch.manual_seed(0)
    x = flow().sample((200000,))
    # histogram of samples against the density integrated over the same cells
    edges = torch.linspace(-10, 10, 41, dtype=torch.float64)
    hist = torch.histogramdd(x, bins=[edges, edges]).hist / len(x)
    centres = (edges[1:] + edges[:-1]) / 2
    cc = torch.stack(torch.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        prob = flow().log_prob(cc).exp().reshape(40, 40) * 0.5 ** 2
    assert (hist - prob).abs().sum().item() < 0.05  # total-variation-like distance of the two histograms
    # rsample exists when the base can reparameterise, and carries gradients
    nflow = trained_like(vb.realnvp(3, vb.StandardNormal(3), layers=2, hidden=(8,)))
    xs = nflow().rsample((5,))
    xs.sum().backward()
    assert any(p.grad is not None for p in nflow.parameters())


def test_flow_learns_a_gaussian():
    torch.manual_seed(0)
    x = torch.randn(4000, 2) * torch.tensor([2.0, 0.5]) + torch.tensor([1.0, -1.0])
    flow = vb.realnvp(2, vb.StandardNormal(2), layers=4, hidden=(32,))
    vb.fit(flow.loss, flow.parameters(), x, epochs=40, batch_size=256, optimizer=partial(torch.optim.Adam, lr=1e-2))
    exact = torch.distributions.Independent(torch.distributions.Normal(torch.tensor([1.0, -1.0]), torch.tensor([2.0, 0.5])), 1)
    with torch.no_grad():
        assert flow().log_prob(x).mean().item() == pytest.approx(exact.log_prob(x).mean().item(), abs=0.05)


def test_squeeze_turns_each_2x2_patch_into_four_channels():
    x = torch.arange(2 * 16.0).view(2, 16)  # two 1×4×4 images, pixel (i, j) of image b holds 16·b + 4·i + j
    h = flows.squeeze(x, (1, 4, 4))
    assert h.shape == (2, 4, 2, 2)
    for k in range(4):  # channel k of patch (i, j) is pixel (2i + k // 2, 2j + k % 2)
        for i in range(2):
            for j in range(2):
                assert h[1, k, i, j] == 16 + 4 * (2 * i + k // 2) + (2 * j + k % 2)
    torch.testing.assert_close(flows.unsqueeze(h, (1, 4, 4)), x)


def test_flow_scores_each_example_under_its_own_component():
    prior = vb.GaussianMixture(vb.two_mode_means(4, 10.0))
    flow = trained_like(vb.realnvp(4, prior, layers=2, hidden=(8,)))
    x, c = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    with torch.no_grad():
        z, ladj = flow().to_latent(x)
        torch.testing.assert_close(flow(c).log_prob(x), prior(c).log_prob(z) + ladj)
        assert not torch.allclose(flow(c).log_prob(x), flow().log_prob(x))
        torch.testing.assert_close(flow.loss(x, c), -flow(c).log_prob(x).mean())


def test_image_flow_gives_the_discrete_log_likelihood_in_nats():
    images = torch.randint(0, 256, (6, 1, 4, 4)).float() / 255
    flow = vb.ImageFlow.glow(images, vb.StandardNormal(16), steps=2, hidden=4,
                             generator=torch.Generator().manual_seed(0))
    norm = flow.flow.transforms[0]  # the ActNorm, started at the images' overall mean and spread
    torch.testing.assert_close(norm.loc, torch.full((16,), (images - 0.5).mean().item()))
    torch.manual_seed(1)
    got = flow.log_likelihood(images)
    torch.manual_seed(1)
    x_t = vb.dequantize(images).flatten(1) - 0.5
    want = flow.flow().log_prob(x_t) - 16 * math.log(256)
    torch.testing.assert_close(got, want)
    # dequantizing keeps each value in its own bin: floor(256·x̃) is the 8-bit level
    assert ((vb.dequantize(images) * 256).floor() == (images * 255).round()).all()
    with pytest.raises(ValueError, match="even"):
        flows.ConvCoupling((1, 5, 4))


def test_a_glow_starts_the_same_whatever_the_thread_count():
    """ActNorm starts at the images' overall mean and spread: a reduction over a million values, which torch splits
    between its threads. Summed in float32, the start (and so the model's cache key and its training) moved in the
    last bit between one and two threads; summed in float64, it does not."""
    x = vb.load("fashion-mnist", "train", 10_000).subset([1, 7]).tensor().flatten(1) - 0.5
    before, starts = torch.get_num_threads(), []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            norm = flows.ActNorm.from_data(x)
            starts.append(torch.cat([norm.loc.detach().flatten(), norm.log_scale.detach().flatten()]))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(starts[0], starts[1])
