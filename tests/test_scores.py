"""Per-example OOD scores: named by their estimator, one value per example, and the bounds in order."""
import pytest
import torch

import vaebook as vb
from vaebook.pae import PAE, Autoencoder


def _vae(latent_dim=2):
    torch.manual_seed(0)
    enc, dec = vb.MLPNets((16,))(latent_dim, 1)
    return vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(latent_dim))


def test_scores_are_a_named_mapping_of_per_example_values():
    vae, x = _vae(), torch.rand(70, 1, 28, 28)
    s = vb.ood_scores(vae, x, [vb.BitsPerDim(), vb.BitsPerDim(k=20), vb.KL(), vb.NegativeLogLikelihood(k=5)],
                      batch_size=32)
    assert list(s) == ["bits/dim (ELBO)", "bits/dim (IWAE, k = 20)", "KL (nats)", "NLL (nats, IWAE, k = 5)"]
    assert all(v.shape == (70,) and v.device.type == "cpu" for v in s.values())
    torch.testing.assert_close(s["KL (nats)"], vae.kl(x).detach())  # analytic: no randomness


def test_the_iwae_bound_is_tighter_than_the_elbo():
    """log p(x) ≥ IWAE_k ≥ ELBO, so bits/dim by IWAE is lower on average (Burda et al., Thm 1)."""
    vae, x = _vae(), torch.rand(200, 1, 28, 28).round()
    torch.manual_seed(1)
    s = vb.ood_scores(vae, x, [vb.BitsPerDim(), vb.BitsPerDim(k=50)])
    assert s["bits/dim (IWAE, k = 50)"].mean() < s["bits/dim (ELBO)"].mean()


def test_two_scores_with_one_name_are_refused():
    with pytest.raises(ValueError, match="two scores share a name"):
        vb.ood_scores(_vae(), torch.rand(3, 1, 28, 28), [vb.KL(), vb.Score("KL (nats)", lambda m, x: x.sum((1, 2, 3)))])


def test_the_pae_scores_of_one_pass_are_the_numbers_each_method_gives_alone():
    """PAEScores encodes once; each of its scores must be bit for bit what the PAE's own method computes, so that
    chapters 5 and 8 give the same tables as when they called the three methods one by one."""
    torch.manual_seed(0)
    k = 3  # chapter 5's fast nets: a convolutional encoder, an MLP decoder
    ae = Autoencoder(vb.ConvEncoder(k), vb.MLPDecoder(k, (32,), (1, 28, 28)))
    pae, x = PAE(ae, vb.realnvp(k, vb.StandardNormal(k), layers=2, hidden=(16,)), torch.rand(1, 28, 28) / 5 + 0.05), torch.rand(70, 1, 28, 28)
    s = vb.ood_scores(pae, x, [vb.PAEScores()], batch_size=32)
    assert list(s) == ["reconstruction error", "latent density", "eq. 12"]
    with torch.no_grad():
        alone = {"reconstruction error": vb.batched(pae.ae.reconstruction_error, x, 32),
                 "latent density": vb.batched(lambda b: pae.score(b, reconstruction=False), x, 32),
                 "eq. 12": vb.batched(pae.score, x, 32)}
    for name, value in alone.items():
        assert torch.equal(s[name], value), name
    with pytest.raises(ValueError, match="two scores share a name"):
        vb.ood_scores(pae, x, [vb.PAEScores(), vb.Score("eq. 12", lambda m, b: b.sum((1, 2, 3)))])
