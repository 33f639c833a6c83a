"""Negative sampling: the negative KL term, the sources of negatives, and the adversarial scheme's gradients."""

import itertools
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import vaebook as vb
from vaebook import negative as neg

D = 3


def small_vae(likelihood=None):
    torch.manual_seed(0)
    enc, dec = vb.MLPNets((16,))(D, 1)
    return vb.VAE(vb.Encoder(enc), vb.Decoder(dec, likelihood or vb.Bernoulli()), vb.StandardNormal(D))


def test_negative_kl_is_the_closed_form_for_a_shifted_gaussian():
    vae, s = small_vae(), 8.0
    x = torch.rand(5, 1, 28, 28)
    q = vae.encoder(x)
    mu, var = q.base_dist.loc, q.base_dist.scale ** 2
    closed = 0.5 * (var + (mu - s) ** 2 - 1 - var.log()).sum(-1)
    torch.testing.assert_close(neg.negative_kl(vae, x, vb.ShiftedNormal(D, s)), closed)
    # and it is large for a posterior at the positive prior: about D·s²/2
    assert neg.negative_kl(vae, x, vb.ShiftedNormal(D, s)).min() > 0.5 * D * s ** 2 * 0.5


def _grads(loss, params):
    return torch.autograd.grad(loss, params, allow_unused=True)


def test_adversarial_gradients_route_each_term_to_one_network():
    vae, neg_prior = small_vae(), vb.ShiftedNormal(D, 8.0)
    x = torch.rand(8, 1, 28, 28)
    z = torch.randn(8, D)
    enc_p, dec_p = list(vae.encoder.parameters()), list(vae.decoder.parameters())

    def total():
        torch.manual_seed(1)  # the same ELBO sample in every evaluation
        x_gen = vae.decoder(z).mean
        return neg.adversarial_loss(vae, neg_prior)(x, x_gen=x_gen)

    def encoder_loss():  # the paper's L_enc: x̂ is a constant negative
        torch.manual_seed(1)
        x_gen = vae.decoder(z).mean.detach()
        return -vae.elbo(x).mean() + neg.negative_kl(vae, x_gen, neg_prior).mean()

    def generator_loss():  # L_gen: the extra term through x̂, with the full encoder graph
        torch.manual_seed(1)
        x_gen = vae.decoder(z).mean
        return -vae.elbo(x).mean() + vb.vae.kl(vae.encoder(x_gen), vae.prior()).mean()

    for got, want in zip(_grads(total(), enc_p), _grads(encoder_loss(), enc_p)):
        torch.testing.assert_close(got, want)
    for got, want in zip(_grads(total(), dec_p), _grads(generator_loss(), dec_p)):
        torch.testing.assert_close(got, want)
    # the generator's extra term alone: no gradient in the encoder, some in the generator
    x_gen = vae.decoder(z).mean
    g_enc = _grads(neg.generator_term(vae, x_gen).mean(), enc_p + dec_p)
    assert all(g is None for g in g_enc[:len(enc_p)])
    assert any(g is not None and g.abs().sum() > 0 for g in g_enc[len(enc_p):])
    # the encoder's negative term alone: no gradient in the generator
    g = _grads(neg.negative_kl(vae, x_gen.detach(), neg_prior).mean(), enc_p + dec_p)
    assert all(gi is None for gi in g[len(enc_p):]) and any(gi is not None for gi in g[:len(enc_p)])


def _chapter4_alternating():
    """Chapter 4's ``alternating(loss, vae)`` (cell ``ch4-turns``): the paper's updates in turn are the chapter's
    experiment, so the function lives there, visible; it is tested here."""
    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "04_negative_sampling.ipynb").read_text())
    scope = {"itertools": itertools, "neg": neg}
    exec("".join(next(c["source"] for c in nb["cells"] if c.get("id") == "ch4-turns")), scope)
    return scope["alternating"]


@pytest.mark.parametrize("spectral", [False, True])
def test_chapter_4s_updates_in_turn_move_one_network_per_step_by_the_joint_losss_gradient(spectral):
    vae, neg_prior = small_vae(), vb.ShiftedNormal(D, 8.0)
    if spectral:  # as chapter 4's adversarial models; its power iteration steps on every forward, so no gradient check
        vae.encoder.net = neg.spectral_normalize(vae.encoder.net)
    x, z = torch.rand(8, 1, 28, 28), torch.randn(8, D)
    nets = {"encoder": list(vae.encoder.parameters()), "decoder": list(vae.decoder.parameters())}
    joint = neg.adversarial_loss(vae, neg_prior)
    opt = torch.optim.Adam([p for ps in nets.values() for p in ps], lr=1e-2)
    loss = _chapter4_alternating()(lambda x: joint(x, x_gen=vae.decoder(z).mean), vae)
    for step, trained in enumerate(["encoder", "decoder", "encoder", "decoder"]):
        before = {k: [p.detach().clone() for p in ps] for k, ps in nets.items()}
        with torch.random.fork_rng():  # the same ELBO draw as the step below
            torch.manual_seed(step)
            want = None if spectral else _grads(joint(x, x_gen=vae.decoder(z).mean), nets[trained])
        torch.manual_seed(step)
        opt.zero_grad(set_to_none=True)
        loss(x).backward()
        assert all(p.grad is None for k, ps in nets.items() if k != trained for p in ps), (step, trained)
        for p, w in zip(nets[trained], want or []):
            torch.testing.assert_close(p.grad, w)
        assert all(p.grad is not None for p in nets[trained])
        opt.step()
        for k, ps in nets.items():
            moved = [not torch.equal(p, b) for p, b in zip(ps, before[k])]
            assert any(moved) if k == trained else not any(moved), (step, k)
    assert all(p.requires_grad for ps in nets.values() for p in ps)


def test_frozen_restores_requires_grad():
    lin = nn.Linear(2, 2)
    lin.bias.requires_grad_(False)
    with neg.frozen(lin):
        assert not any(p.requires_grad for p in lin.parameters())
    assert lin.weight.requires_grad and not lin.bias.requires_grad


def test_sources_give_negatives_of_the_batch_shape_in_range():
    x = torch.rand(6, 1, 28, 28)
    vae = small_vae()
    aux = torch.zeros(10, 1, 28, 28)
    for source in (neg.Auxiliary(aux), neg.UniformNoise(), neg.GaussianNoise(0.25), neg.ModelSamples(), neg.Adversarial()):
        x_neg = source(x, vae)
        assert x_neg.shape == x.shape and x_neg.min() >= 0 and x_neg.max() <= 1, repr(source)
        assert not x_neg.requires_grad
    assert (neg.GaussianNoise(0.25)(x, vae) - x).abs().max() > 0.01
    with pytest.raises(ValueError, match="empty"):
        neg.Auxiliary(aux[:0])
    with pytest.raises(ValueError, match="positive"):
        neg.GaussianNoise(0)


def test_negative_sampling_pushes_negatives_to_the_negative_prior():
    """A few steps of eq. (1) with uniform-noise negatives: their posteriors move towards s·1."""
    vae, s = small_vae(), 4.0
    x = torch.rand(256, 1, 28, 28) * 0.2
    loss = neg.training_loss(vae, neg.UniformNoise(), vb.ShiftedNormal(D, s))
    vb.fit(loss, vae.parameters(), x, epochs=30, batch_size=64, generator=torch.Generator().manual_seed(0))
    noise_mu = vae.encoder(torch.rand(64, 1, 28, 28)).mean.mean().item()
    data_mu = vae.encoder(x[:64]).mean.mean().item()
    assert noise_mu > s / 2 > data_mu


def test_spectral_normalize_bounds_all_but_the_last_layer():
    enc, _ = vb.MLPNets((32, 32))(D, 1)
    neg.spectral_normalize(enc)
    linears = [m for m in enc.modules() if isinstance(m, nn.Linear)]
    enc(torch.rand(4, 1, 28, 28))  # one power iteration per forward pass in training mode
    for _ in range(20):
        enc(torch.rand(4, 1, 28, 28))
    for m in linears[:-1]:
        assert torch.linalg.matrix_norm(m.weight, ord=2) < 1.1
    assert not nn.utils.parametrize.is_parametrized(linears[-1])


def test_training_loss_matches_the_source():
    vae, p_neg = small_vae(), vb.ShiftedNormal(D, 8.0)
    x = torch.rand(4, 1, 28, 28)
    assert neg.training_loss(vae, None, p_neg) == vae.loss
    torch.manual_seed(0)
    plain = vae.loss(x)
    torch.manual_seed(0)
    with_negatives = neg.training_loss(vae, neg.UniformNoise(), p_neg)(x)
    assert with_negatives > plain + 0.5 * D * 8.0 ** 2 * 0.5  # the negatives' KL to p̄ is large at init
    torch.manual_seed(0)
    adv = neg.training_loss(vae, neg.Adversarial(), p_neg)(x)
    assert torch.isfinite(adv) and adv > plain


def test_only_the_adversarial_source_changes_the_encoder():
    for source in (neg.Auxiliary(torch.zeros(3, 1, 28, 28)), neg.UniformNoise(), neg.GaussianNoise(), neg.ModelSamples()):
        enc, _ = vb.MLPNets((32,))(D, 1)
        assert source.prepare(enc) is enc and not any(nn.utils.parametrize.is_parametrized(m) for m in enc.modules())
    enc, _ = vb.MLPNets((32,))(D, 1)
    assert any(nn.utils.parametrize.is_parametrized(m) for m in neg.Adversarial().prepare(enc).modules())
