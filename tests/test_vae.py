"""The VAE's bounds on a linear-Gaussian model whose marginal likelihood is known exactly."""
import math

import pytest
import torch
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

import vaebook as vb

D, X, SIGMA = 2, 5, 0.5


class Reshape(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, z):
        return self.net(z).view(-1, 1, 1, X)


def linear_vae():
    torch.manual_seed(1)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(X, 2 * D))
    dec = Reshape(nn.Linear(D, X))
    return vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Gaussian(sigma=SIGMA)), vb.StandardNormal(D)).double()


def exact_log_px(vae, x):
    lin = vae.decoder.net.net
    W, b = lin.weight.detach(), lin.bias.detach()
    cov = W @ W.T + SIGMA ** 2 * torch.eye(X, dtype=W.dtype)
    return MultivariateNormal(b, cov).log_prob(x.view(-1, X))


def test_elbo_below_iwae_below_exact_and_iwae_converges():
    vae = linear_vae()
    torch.manual_seed(0)
    x = (torch.randn(64, D, dtype=torch.float64) @ vae.decoder.net.net.weight.detach().T + 0.3 * torch.randn(64, X, dtype=torch.float64)).view(-1, 1, 1, X)
    exact = exact_log_px(vae, x).mean().item()
    elbo = torch.stack([vae.elbo(x) for _ in range(200)]).mean().item()
    iw = {k: vae.log_likelihood(x, k=k, chunk=7).mean().item() for k in (10, 100, 3000)}
    iw1 = torch.stack([vae.log_likelihood(x, k=1) for _ in range(200)]).mean().item()
    assert elbo == pytest.approx(iw1, abs=0.3)  # both estimate the ELBO (sd of the difference ~0.1)
    assert elbo < iw[10] < iw[100] < iw[3000] <= exact + 0.01
    assert exact - iw[3000] < 0.1 * (exact - elbo)


def test_kl_analytic_equals_monte_carlo():
    q = Independent(Normal(torch.tensor([0.3, -1.0]), torch.tensor([0.5, 2.0])), 1)
    p = Independent(Normal(torch.zeros(2), torch.ones(2)), 1)
    z = q.sample((400000,))
    assert (q.log_prob(z) - p.log_prob(z)).mean().item() == pytest.approx(kl_divergence(q, p).item(), rel=0.01)
    # a mixture prior has no analytic KL: vae.kl falls back to Monte Carlo
    vae = linear_vae().float()
    vae.prior = vb.GaussianMixture(vb.two_mode_means(D, 0.0))  # both modes at 0: equals N(0, I)
    x = torch.randn(3, 1, 1, X)
    exact = kl_divergence(vae.encoder(x), vb.StandardNormal(D)())
    torch.testing.assert_close(vae.kl(x, samples=200000), exact, rtol=0.02, atol=0.02)


def test_bits_per_dim_by_hand():
    # a discrete model giving each of 784 pixels probability 1/2 costs exactly one bit per pixel
    log_px = torch.tensor([784 * math.log(0.5)])
    assert vb.bits_per_dim(log_px, 784, discrete=True).item() == pytest.approx(1.0)
    # a uniform density on [0, 1]^D is 8 bits per pixel on the 256-level scale
    assert vb.bits_per_dim(torch.tensor([0.0]), 784, discrete=False).item() == pytest.approx(8.0)
    vae = linear_vae().float()
    x = torch.rand(4, 1, 1, X)
    torch.manual_seed(0)
    bpd = vae.bits_per_dim(x, k=5)
    torch.manual_seed(0)
    ll = vae.log_likelihood(x, k=5)
    torch.testing.assert_close(bpd, (-ll + X * math.log(256)) / (X * math.log(2)))


def test_sample_and_reconstruct_shapes():
    vae = linear_vae().float()
    assert vae.sample(6).shape == (6, 1, 1, X)
    assert vae.reconstruct(torch.rand(3, 1, 1, X)).shape == (3, 1, 1, X)
    assert vae.latent_dim == D


def test_label_assigned_training_scores_each_input_under_its_own_component():
    """vae.kl / vae.loss with labels use each input's own mode (Kamoi & Kobayashi §4): the KL equals the
    closed form against N(m_label, I); scoring under the mixture, or the other mode, would differ."""
    torch.manual_seed(0)
    enc, dec = vb.MLPNets((8,))(3, 1)
    prior = vb.GaussianMixture(vb.two_mode_means(3, 20.0))
    vae = vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), prior)
    x, labels = torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 0, 1, 1, 0])
    q = vae.encoder(x)
    mu, var = q.base_dist.loc, q.base_dist.scale ** 2
    own = prior.means[labels]
    closed = 0.5 * (var + (mu - own) ** 2 - 1 - var.log()).sum(-1)
    torch.testing.assert_close(vae.kl(x, labels), closed)
    assert (vae.kl(x, 1 - labels) - closed).abs().min() > 1  # the other mode, 20 away, gives another KL
    torch.manual_seed(1)
    with_labels = vae.loss(x, labels)
    torch.manual_seed(1)
    mixture = vae.loss(x)
    assert not torch.allclose(with_labels, mixture)


def test_decoding_in_blocks_changes_the_speed_not_the_estimate():
    vae = linear_vae().float()
    x = torch.randn(12, 1, 1, X)
    runs = {}
    for block in (1, 12, 50, 10_000):   # a sample at a time, one per call, several per call, all at once
        torch.manual_seed(0)
        runs[block] = vae.log_likelihood(x, k=9, chunk=4, decode_block=block)
    for block, ll in runs.items():
        torch.testing.assert_close(ll, runs[10_000], rtol=0, atol=1e-5)  # the same draws, decoded in other groups
