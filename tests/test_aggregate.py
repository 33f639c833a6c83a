"""The aggregate posterior, the Monte Carlo marginal KL, ELBO surgery and low-posterior samples."""
import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

import vaebook as vb
from vaebook.aggregate import AggregatePosterior, elbo_surgery, low_posterior, marginal_kl


def mixture(loc, scale):
    return MixtureSameFamily(Categorical(logits=torch.zeros(len(loc), dtype=loc.dtype)), Independent(Normal(loc, scale), 1))


def test_log_prob_is_the_mixture_and_chunking_does_not_matter():
    g = torch.Generator().manual_seed(0)
    loc, scale = torch.randn(37, 3, generator=g, dtype=torch.float64), 0.3 + torch.rand(37, 3, generator=g, dtype=torch.float64)
    z = torch.randn(11, 3, generator=g, dtype=torch.float64)
    ref = mixture(loc, scale).log_prob(z)
    torch.testing.assert_close(AggregatePosterior(loc, scale, chunk=5).log_prob(z), ref)
    torch.testing.assert_close(AggregatePosterior(loc, scale, chunk=10_000).log_prob(z), ref)


def test_monte_carlo_marginal_kl_recovers_a_known_value():
    """Two well-separated posteriors at ±m: q(z) is a two-component mixture whose KL to N(0, I) is
    known to high accuracy (computed here by numerical quadrature in 1-D)."""
    m, s = 3.0, 0.5
    q = AggregatePosterior(torch.tensor([[-m], [m]], dtype=torch.float64), torch.full((2, 1), s, dtype=torch.float64))
    grid = torch.linspace(-12, 12, 200_001, dtype=torch.float64)[:, None]
    log_q, log_p = q.log_prob(grid), Normal(0.0, 1.0).log_prob(grid[:, 0]).double()
    exact = torch.trapezoid(log_q.exp() * (log_q - log_p), grid[:, 0]).item()
    est, se = marginal_kl(q, Independent(Normal(torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)), 1),
                          n=40_000, generator=torch.Generator().manual_seed(1))
    assert abs(est - exact) < 4 * se + 1e-3, (est, se, exact)
    # and a single Gaussian posterior gives the closed-form Gaussian KL
    q1 = AggregatePosterior(torch.tensor([[1.0]]), torch.tensor([[0.5]]))
    est1, se1 = marginal_kl(q1, Independent(Normal(torch.zeros(1), torch.ones(1)), 1), n=40_000, generator=torch.Generator().manual_seed(2))
    closed = 0.5 * (0.25 + 1.0 - 1 - math.log(0.25))
    assert abs(est1 - closed) < 4 * se1 + 1e-3


def test_elbo_surgery_bounds_hold_on_a_small_vae():
    torch.manual_seed(0)
    enc, dec = vb.MLPNets((32,))(4, 1)
    vae = vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(4))
    x = torch.rand(300, 1, 28, 28)
    vb.fit(vae.loss, vae.parameters(), x, epochs=3, batch_size=50, generator=torch.Generator().manual_seed(0))
    r = elbo_surgery(vae, x, n=4000, generator=torch.Generator().manual_seed(0))
    tol = 4 * r["marginal_kl_se"]
    assert r["marginal_kl"] >= -tol
    assert -tol <= r["mutual_info"] <= r["log_n"] + tol
    assert r["log_n"] == pytest.approx(math.log(300))


def test_low_posterior_samples_have_the_lowest_q():
    q = AggregatePosterior(torch.zeros(5, 2), torch.full((5, 2), 0.3))
    prior = Independent(Normal(torch.zeros(2), torch.ones(2)), 1)
    torch.manual_seed(0)
    z_low, log_q_low, log_q_all = low_posterior(q, prior, num_z=500, n=10, batch=64)
    assert z_low.shape == (10, 2) and log_q_all.shape == (500,)
    assert log_q_low.max() <= log_q_all.sort().values[9] + 1e-6
    assert (z_low.norm(dim=1) > 1.5).all()  # far from where the posteriors sit


def test_flow_posterior_components_include_the_jacobian():
    flow = vb.realnvp(2, vb.StandardNormal(2), layers=2)
    for p in flow.parameters():
        torch.nn.init.normal_(p, std=0.3)
    loc, scale = torch.randn(4, 2), torch.rand(4, 2) + 0.5
    q = AggregatePosterior(loc, scale, transforms=flow.transforms)
    z = torch.randn(6, 2)
    direct = torch.stack([vb.FlowDistribution(flow.transforms, Independent(Normal(loc[i], scale[i]), 1)).log_prob(z)
                          for i in range(4)], 1)
    torch.testing.assert_close(q.component_log_prob(z), direct)
    s = q.sample((100,))
    assert s.shape == (100, 2) and torch.isfinite(q.log_prob(s)).all()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="shape"):
        AggregatePosterior(torch.zeros(3, 2), torch.ones(3, 3))
    with pytest.raises(ValueError, match="positive"):
        AggregatePosterior(torch.zeros(3, 2), torch.zeros(3, 2))
