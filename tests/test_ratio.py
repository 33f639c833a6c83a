"""The density-ratio trick and the synthetic Gaussians of Rosca et al. App. D."""
import torch
from torch.distributions import Normal, kl_divergence

import vaebook as vb
from vaebook import ratio as vb_ratio
from vaebook.ratio import AffineGaussian, random_gaussian, ratio_kl, ratio_minimise


def test_closed_form_kl_of_the_synthetic_gaussians_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    for d in (1, 5):
        q, p = random_gaussian(d, g), random_gaussian(d, g)
        assert q.covariance_matrix.shape == (d, d)
        torch.manual_seed(1)
        x = q.sample((200_000,))
        mc = (q.log_prob(x) - p.log_prob(x))
        closed = kl_divergence(q, p).item()
        assert abs(mc.mean().item() - closed) < 4 * mc.std().item() / 200_000 ** 0.5 + 1e-3


def test_ratio_trick_recovers_an_easy_kl_in_one_dimension():
    q, p = Normal(1.0, 1.0), Normal(0.0, 1.0)   # KL = 0.5
    est = ratio_kl(lambda n: q.sample((n, 1)), lambda n: p.sample((n, 1)), dim=1, hidden=(32,), max_steps=600).kl
    assert abs(est - 0.5) < 0.15, est


def test_flow_encoder_gives_a_proper_posterior():
    torch.manual_seed(0)
    enc, dec = vb.MLPNets((16,))(2, 1)
    flow = vb.realnvp(2, vb.StandardNormal(2), layers=2, hidden=(8,))
    vae = vb.VAE(vb.FlowEncoder(enc, flow.transforms), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(2))
    x = torch.rand(8, 1, 28, 28)
    q = vae.encoder(x)
    z = q.rsample()
    assert z.shape == (8, 2) and torch.isfinite(q.log_prob(z)).all()
    loss = vae.loss(x)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in vae.encoder.transforms.parameters())
    assert torch.isfinite(vae.kl(x)).all()


def test_ratio_trick_stops_once_its_estimate_stops_moving_and_says_when_it_did_not():
    q, p = Normal(1.0, 1.0), Normal(0.0, 1.0)
    est = ratio_kl(lambda n: q.sample((n, 1)), lambda n: p.sample((n, 1)), dim=1, hidden=(32,), max_steps=6400,
                   rtol=0.1, atol=0.05)
    assert est.converged and est.steps < 6400 and abs(est.kl - 0.5) < 0.15
    steps = [s for s, _ in est.trace]
    assert steps == [100 * 2 ** i for i in range(len(steps))] and est.kl == est.trace[-1][1]
    # the rule it stopped by is the one it reports: its last two doublings each moved it by at most its tolerance
    assert (est.rtol, est.atol) == (0.1, 0.05) and est.tolerance == max(0.1 * abs(est.kl), 0.05)
    moves = [abs(b - a) for (_, a), (_, b) in zip(est.trace, est.trace[1:])]
    assert est.last_move == moves[-1] and max(moves[-2:]) <= est.tolerance
    short = ratio_kl(lambda n: q.sample((n, 1)), lambda n: p.sample((n, 1)), dim=1, hidden=(32,), max_steps=150)
    assert not short.converged and short.steps == 150, "a budget that ends first must not be reported as converged"
    assert (short.rtol, short.atol) == (vb_ratio.RTOL, vb_ratio.ATOL)


def test_minimising_the_ratio_estimate_moves_a_gaussian_towards_its_target():
    g = torch.Generator().manual_seed(0)
    target, learned = random_gaussian(1, g), AffineGaussian(1, g)
    trace = ratio_minimise(target, learned, steps=600, check_every=200, hidden=(64,), lr_classifier=1e-3, lr_gaussian=3e-3)
    assert trace["step"] == [0, 200, 400, 600]
    assert trace["true_kl"][-1] < 0.5 * trace["true_kl"][0]
    assert learned.w.grad is not None, "the Gaussian's W and b are what is learned"


def test_synthetic_gaussian_draws_what_torchs_multivariate_normal_draws():
    g = torch.Generator().manual_seed(0)
    for d in (1, 7, 100):
        q = random_gaussian(d, g)
        torch.manual_seed(3)
        ours = q.sample((300,))
        torch.manual_seed(3)
        theirs = torch.distributions.MultivariateNormal(q.loc, scale_tril=q.scale_tril).sample((300,))
        assert ours.shape == theirs.shape == (300, d)
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    assert isinstance(kl_divergence(q, q), torch.Tensor) and kl_divergence(q, q).abs().item() < 1e-9
