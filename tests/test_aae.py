"""The adversarial autoencoder: each loss term reaches only its own network, and the discriminator's KL estimate."""
import pytest
import torch
from torch.nn.functional import binary_cross_entropy_with_logits as logistic

import vaebook as vb
from vaebook.aae import AdversarialAutoencoder

D = 3


def small_aae():
    torch.manual_seed(0)
    enc, dec = vb.MLPNets((16,))(D, 1)
    return AdversarialAutoencoder(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(D), hidden=(8,))


def _grads(loss, module):
    return [g if g is not None else torch.zeros_like(p)
            for p, g in zip(module.parameters(), torch.autograd.grad(loss, list(module.parameters()), allow_unused=True,
                                                                     retain_graph=True))]


def test_each_term_reaches_only_its_network():
    aae, x = small_aae(), torch.rand(8, 1, 28, 28)
    torch.manual_seed(1)
    total = aae.loss(x)
    # the same draws, term by term: the reparameterised code first, then the prior draws (the loss's order)
    torch.manual_seed(1)
    z = aae.encoder(x).rsample()
    z_p = aae.prior().sample((len(x),))
    reconstruction = -aae.decoder(z).log_prob(x).mean()
    h_p, h_q = aae.discriminator(z_p).squeeze(-1), aae.discriminator(z.detach()).squeeze(-1)
    discriminator = logistic(h_p, torch.ones_like(h_p)) + logistic(h_q, torch.zeros_like(h_q))
    h = aae.discriminator(z).squeeze(-1)
    encoder = logistic(h, torch.ones_like(h))
    torch.testing.assert_close(total, reconstruction + discriminator + encoder)
    # the discriminator learns only from its own logistic loss, not from the encoder's generator loss
    for got, want in zip(_grads(total, aae.discriminator), _grads(discriminator, aae.discriminator)):
        torch.testing.assert_close(got, want)
    # the encoder learns from the reconstruction and the generator loss, never from the discriminator's loss
    for got, want in zip(_grads(total, aae.encoder), _grads(reconstruction + encoder, aae.encoder)):
        torch.testing.assert_close(got, want)
    assert any(g.abs().sum() > 0 for g in _grads(encoder, aae.encoder))


def test_no_per_image_kl_to_weight():
    aae, x = small_aae(), torch.rand(4, 1, 28, 28)
    with pytest.raises(ValueError, match="beta"):
        aae.loss(x, beta=0.5)
    with pytest.raises(ValueError, match="component"):
        aae.loss(x, torch.zeros(4, dtype=torch.long))


def test_ratio_kl_reads_the_discriminators_logit():
    aae, x = small_aae(), torch.rand(6, 1, 28, 28)
    last = aae.discriminator[-1]
    with torch.no_grad():  # h(z) = −2 everywhere: the estimate E_q[−h] is 2
        for p in aae.discriminator.parameters():
            p.zero_()
        last.bias.fill_(-2.0)
    assert aae.ratio_kl(x, batch_size=4) == pytest.approx(2.0)


def test_training_spreads_codes_and_shrinks_the_posterior():
    """A few hundred steps on random binary images: without a per-image KL the posterior scales fall
    below the VAE's, trained the same way (Rosca et al. §5.1)."""
    x = (torch.rand(256, 1, 28, 28) > 0.5).float()
    scales = {}
    for name, cls in [("vae", vb.VAE), ("aae", AdversarialAutoencoder)]:
        torch.manual_seed(0)
        enc, dec = vb.MLPNets((64,))(D, 1)
        model = cls(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(D))
        vb.fit(model.loss, model.parameters(), x, epochs=30, batch_size=64)
        with torch.no_grad():
            scales[name] = model.encoder(x).base_dist.scale.median().item()
    assert scales["aae"] < scales["vae"]
