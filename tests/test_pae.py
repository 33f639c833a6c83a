"""The Probabilistic Auto-Encoder: latent flow, score terms, MAP, masked likelihood."""
import math
from functools import partial

import torch
from torch import nn
from torch.distributions import MultivariateNormal

import vaebook as vb
from vaebook.pae import PAE, Autoencoder, Standardize, pixel_sigma

K = 2


def small_pae(sigma=0.1, seed=0):
    torch.manual_seed(seed)
    ae = Autoencoder(vb.MLPEncoder((1, 28, 28), (32,), K), vb.MLPDecoder(K, (32,), (1, 28, 28)))
    flow = vb.realnvp(K, vb.StandardNormal(K), layers=2, hidden=(16,))
    return PAE(ae, flow, torch.full((1, 28, 28), sigma))


def test_flow_fitted_to_a_known_gaussian_recovers_its_density():
    torch.manual_seed(0)
    target = MultivariateNormal(torch.tensor([2.0, -1.0]), torch.tensor([[1.0, 0.6], [0.6, 0.8]]))
    z = target.sample((4000,))
    flow = vb.realnvp(2, vb.StandardNormal(2), layers=4, hidden=(32, 32))
    flow.transforms.insert(0, Standardize(z.mean(0), z.std(0)))
    vb.fit(flow.loss, flow.parameters(), z, epochs=80, batch_size=256, optimizer=partial(torch.optim.Adam, lr=3e-3),
           generator=torch.Generator().manual_seed(0))
    test = target.sample((2000,))
    with torch.no_grad():
        gap = (flow().log_prob(test) - target.log_prob(test)).abs().mean().item()
    assert gap < 0.1, gap


def test_standardize_is_a_flow_layer():
    s = Standardize(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 0.5]))
    z = torch.randn(5, 2)
    u, ladj = s(z)
    torch.testing.assert_close(s.inverse(u), z)
    torch.testing.assert_close(ladj, torch.full((5,), -math.log(2.0 * 0.5)))


def test_score_terms_add_up_and_match_their_definitions():
    pae = small_pae()
    x = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        t = pae.score_terms(x)
        z = pae.ae.encoder(x)
        rec = 0.5 * (((x - pae.ae.decoder(z)) / pae.sigma) ** 2).flatten(1).sum(1)
        torch.testing.assert_close(t["reconstruction"], rec)
        torch.testing.assert_close(t["latent"], -pae.flow().log_prob(z))
        torch.testing.assert_close(pae.score(x), t["reconstruction"] + t["latent"])
        torch.testing.assert_close(pae.score(x, reconstruction=False), t["latent"])
        # eq. 12 is ln p(x|z) + ln p(z) without the normalising constant of the likelihood
        const = -0.5 * torch.log(2 * math.pi * pae.sigma ** 2).sum()
        torch.testing.assert_close(pae.log_likelihood(x, z), -rec + const)


def test_map_decreases_the_objective_and_stays_at_the_code_of_a_clean_input():
    pae = small_pae()
    ae = pae.ae
    g = torch.Generator().manual_seed(0)  # images on a 2-D manifold, which a K = 2 autoencoder can learn
    x_train = torch.sigmoid(torch.randn(512, K, generator=g) @ (2 * torch.randn(K, 784, generator=g))).view(-1, 1, 28, 28)
    vb.fit(ae.loss, ae.parameters(), x_train, epochs=60, batch_size=64, optimizer=partial(torch.optim.Adam, lr=3e-3),
           generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        codes = ae.encoder(x_train)
    pae.flow.transforms.insert(0, Standardize(codes.mean(0), codes.std(0)))
    vb.fit(pae.flow.loss, pae.flow.parameters(), codes, epochs=30, batch_size=64, generator=torch.Generator().manual_seed(0))
    pae.sigma = pixel_sigma(ae, x_train)
    x = ae(x_train[:8]).detach()  # a noiseless input the decoder can produce exactly
    z_map, history = pae.map(x, steps=100, lr=0.01)
    assert history[-1] <= history[0] + 1e-6
    z_enc = ae.encoder(x).detach()
    assert (z_map - z_enc).norm(dim=1).mean() < 0.1 * codes.std(0).norm()
    # and the networks were not changed by the MAP
    before = [p.clone() for p in pae.parameters()]
    pae.map(x, steps=5)
    assert all(torch.equal(a, b) for a, b in zip(before, pae.parameters()))


def test_masked_likelihood_ignores_masked_pixels():
    pae = small_pae()
    x = torch.rand(3, 1, 28, 28)
    z = torch.randn(3, K)
    mask = torch.zeros(1, 28, 28)
    mask[:, :14] = 1
    y = x.clone()
    y[:, :, 14:] = torch.rand(3, 1, 14, 28)  # change only masked pixels
    with torch.no_grad():
        torch.testing.assert_close(pae.log_likelihood(x, z, mask), pae.log_likelihood(y, z, mask))
        assert not torch.allclose(pae.log_likelihood(x, z), pae.log_likelihood(y, z))


def test_pixel_sigma_is_the_rms_error():
    ae = Autoencoder(nn.Flatten(), nn.Unflatten(1, (1, 2, 2)))  # identity
    x = torch.rand(5, 1, 2, 2)
    torch.testing.assert_close(pixel_sigma(ae, x, floor=1e-3), torch.full((1, 2, 2), 1e-3))


def test_langevin_keeps_shapes_and_moves():
    pae = small_pae()
    x = torch.rand(2, 1, 28, 28)
    z0 = torch.zeros(4, K)
    z = pae.langevin(x[:1].expand(4, -1, -1, -1), None, 0.1, z0, steps=10, step_size=1e-3, generator=torch.Generator().manual_seed(0))
    assert z.shape == (4, K) and not torch.equal(z, z0) and torch.isfinite(z).all()


def test_langevin_refuses_a_step_that_would_diverge():
    """A step far too large for the posterior: unadjusted Langevin overflows, the adjusted chains stay put."""
    pae = small_pae()
    x = torch.rand(1, 1, 28, 28).expand(4, -1, -1, -1)
    z = pae.langevin(x, None, 1e-3, torch.zeros(4, K), steps=20, step_size=10.0, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(z).all()


def test_langevin_samples_a_gaussian_posterior():
    """With U(z) = ‖z‖²/2 the chains sample N(0, I): its mean and variance, from a start far away."""
    pae = small_pae()
    pae.map_objective = lambda x, z, mask, noise: (z ** 2).sum(-1) / 2
    z = pae.langevin(torch.zeros(2000, 1), None, 0.1, torch.full((2000, K), 3.0), steps=200, step_size=0.5,
                     generator=torch.Generator().manual_seed(0))
    assert z.mean().abs() < 0.05 and (z.var() - 1).abs() < 0.1
