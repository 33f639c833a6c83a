"""Every density against scipy or a closed form; mixtures integrate to one; label-assigned components."""
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Normal

import vaebook as vb


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.mark.parametrize("beta", [0.8, 2.0, 4.0, 8.0])
def test_generalized_normal_matches_scipy_and_has_unit_variance(beta):
    d = vb.GeneralizedNormal.unit_variance(torch.tensor(0.3), beta)
    x = torch.linspace(-4, 4, 101)
    ref = stats.gennorm.logpdf(x.numpy(), beta, loc=0.3, scale=d.scale.item())
    np.testing.assert_allclose(d.log_prob(x).numpy(), ref, rtol=1e-6, atol=1e-8)
    assert d.variance.item() == pytest.approx(1.0, rel=1e-6)
    assert stats.gennorm.var(beta, scale=d.scale.item()) == pytest.approx(1.0, rel=1e-6)
    s = d.sample((200000,))
    assert s.var().item() == pytest.approx(1.0, rel=0.03) and s.mean().item() == pytest.approx(0.3, abs=0.01)
    grid = torch.linspace(-12, 12, 20001)
    assert torch.trapezoid(d.log_prob(grid).exp(), grid).item() == pytest.approx(1.0, abs=1e-4)


def test_generalized_normal_beta2_is_gaussian():
    d = vb.GeneralizedNormal(torch.tensor(1.0), torch.tensor(math.sqrt(2) * 0.7), torch.tensor(2.0))
    x = torch.randn(50)
    torch.testing.assert_close(d.log_prob(x), Normal(1.0, 0.7).log_prob(x))


@pytest.mark.parametrize("prior", [vb.GaussianMixture(vb.two_mode_means(2, 5.0)),
                                   vb.GeneralizedGaussianMixture(vb.two_mode_means(2, 5.0), beta=4.0),
                                   vb.GaussianMixture(torch.tensor([[0.0, 0.0], [1.0, -2.0], [-3.0, 1.0]]))])
def test_mixtures_integrate_to_one_in_2d(prior):
    g = torch.linspace(-10, 10, 401)
    zz = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    p = prior().log_prob(zz).exp().reshape(401, 401)
    assert torch.trapezoid(torch.trapezoid(p, g), g).item() == pytest.approx(1.0, abs=1e-3)


def test_mixture_log_prob_is_direct_logsumexp():
    means = torch.tensor([[-2.0, 0.0, 1.0], [2.0, 1.0, 0.0]])
    z = torch.randn(20, 3)
    for prior in (vb.GaussianMixture(means), vb.GeneralizedGaussianMixture(means, beta=4.0)):
        comps = torch.stack([prior(torch.full((20,), k)).log_prob(z) for k in range(2)])
        torch.testing.assert_close(prior().log_prob(z), torch.logsumexp(comps, 0) - math.log(2))


def test_label_assigned_component_is_not_the_mixture():
    prior = vb.GaussianMixture(vb.two_mode_means(4, 10.0))
    z = prior.means[torch.tensor([0, 1])]  # each point at its own mode
    own = prior(torch.tensor([0, 1])).log_prob(z)
    other = prior(torch.tensor([1, 0])).log_prob(z)
    torch.testing.assert_close(own, torch.full((2,), -2 * math.log(2 * math.pi)))
    assert (other < own - 40).all()
    assert not torch.allclose(prior().log_prob(z), own)
    # a unimodal prior ignores labels
    sn = vb.StandardNormal(4)
    torch.testing.assert_close(sn(torch.tensor([0, 1])).log_prob(z), sn().log_prob(z))


def test_shifted_normal_and_two_mode_means():
    assert torch.equal(vb.ShiftedNormal(3, 8.0)().mean, torch.full((3,), 8.0))
    assert vb.two_mode_means(5, 150.0)[:, 0].tolist() == [-75.0, 75.0]


def test_bernoulli_and_gaussian_likelihoods_match_scipy():
    h = torch.randn(2, 1, 3, 3)
    x = torch.randint(0, 2, (2, 1, 3, 3)).double()
    ref = stats.bernoulli.logpmf(x.numpy(), 1 / (1 + np.exp(-h.numpy()))).reshape(2, -1).sum(1)
    np.testing.assert_allclose(vb.Bernoulli()(h).log_prob(x).numpy(), ref, rtol=1e-8)
    g = vb.Gaussian(sigma=0.3)
    x = torch.rand(2, 1, 3, 3)
    ref = stats.norm.logpdf(x.numpy(), h.numpy(), 0.3).reshape(2, -1).sum(1)
    np.testing.assert_allclose(g(h).log_prob(x).numpy(), ref, rtol=1e-8)
    learned = vb.Gaussian()
    assert learned.sigma().item() == pytest.approx(1.0) and learned.log_sigma.requires_grad


@pytest.mark.parametrize("loc,scale", [(0.5, 0.1), (0.0, 0.02), (1.2, 0.5), (-3.0, 0.01), (0.7, 1e-3)])
def test_quantized_normal_is_a_distribution_over_256_levels(loc, scale):
    levels = torch.arange(256) / 255
    d = vb.QuantizedNormal(torch.full((256,), loc), torch.full((256,), scale))
    lp = d.log_prob(levels)
    assert torch.isfinite(lp).all()
    assert lp.exp().sum().item() == pytest.approx(1.0, abs=1e-6)
    k = 100
    ref = stats.norm.cdf((k + 0.5) / 255, loc, scale) - stats.norm.cdf((k - 0.5) / 255, loc, scale)
    if ref > 1e-12:
        assert lp[k].exp().item() == pytest.approx(ref, rel=1e-5)


def test_categorical256_is_a_distribution_over_levels():
    h = torch.randn(1, 256, 2, 2)
    p_x = vb.Categorical256()(h)
    levels = torch.arange(256) / 255
    total = sum(p_x.base_dist.log_prob(torch.full((1, 1, 2, 2), v)).exp() for v in levels)
    torch.testing.assert_close(total, torch.ones(1, 1, 2, 2))
    assert p_x.event_shape == (1, 2, 2)
    d = vb.DiscretizedGaussian()(torch.randn(3, 2, 4, 4))
    assert d.log_prob(torch.rand(3, 1, 4, 4)).shape == (3,)


def test_reprs_name_every_setting_so_cache_keys_differ():
    settings = [vb.Gaussian(), vb.Gaussian(sigma=0.1), vb.StandardNormal(3), vb.ShiftedNormal(3, 8.0),
                vb.GaussianMixture(vb.two_mode_means(2, 7.0)), vb.GaussianMixture(vb.two_mode_means(2, 20.0)),
                vb.GeneralizedGaussianMixture(vb.two_mode_means(2, 7.0), beta=4.0),
                vb.GeneralizedGaussianMixture(vb.two_mode_means(2, 7.0), beta=2.0)]
    keys = {vb.cache.fingerprint(m) for m in settings}
    assert len(keys) == len(settings)


@pytest.mark.parametrize("beta", [2.0, 4.0, 6.0])
def test_the_closed_form_kl_to_a_generalized_normal_is_the_integral(beta):
    from torch.distributions import kl_divergence

    q = Normal(torch.tensor([0.3, -1.0, 70.0], dtype=torch.float64), torch.tensor([0.5, 2.0, 0.8], dtype=torch.float64))
    p = vb.GeneralizedNormal.unit_variance(torch.tensor([0.0, 0.5, 75.0], dtype=torch.float64), beta)
    exact = kl_divergence(q, p)
    for i in range(3):  # the integral of q log(q / p), by quadrature
        m, s = q.loc[i].item(), q.scale[i].item()
        integrand = lambda z: stats.norm.pdf(z, m, s) * (stats.norm.logpdf(z, m, s) - p.log_prob(
            torch.tensor(z, dtype=torch.float64))[i].item())
        from scipy.integrate import quad
        assert exact[i].item() == pytest.approx(quad(integrand, m - 12 * s, m + 12 * s, limit=200)[0], rel=1e-8, abs=1e-8)
    if beta == 2.0:  # a generalized normal with β = 2 is the normal of the same variance
        torch.testing.assert_close(exact, kl_divergence(q, Normal(p.loc, torch.ones_like(p.loc, dtype=torch.float64))))


def test_an_odd_or_fractional_beta_falls_back_to_monte_carlo():
    q = torch.distributions.Independent(Normal(torch.zeros(4, 2), torch.ones(4, 2)), 1)
    p = torch.distributions.Independent(vb.GeneralizedNormal.unit_variance(torch.zeros(4, 2), 3.0), 1)
    with pytest.raises(NotImplementedError):
        torch.distributions.kl_divergence(q, p)
    torch.manual_seed(0)
    assert vb.kl(q, p, samples=20000).shape == (4,)  # vaebook's kl: Monte Carlo where torch has no closed form
