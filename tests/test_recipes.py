from functools import partial

import pytest
import torch

import vaebook as vb
from vaebook import papers
from vaebook.recipes import ColourVAE, GreyVAE, PAERecipe, VAERecipe, train_classifier


def _images(n=64, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_two_chapters_calling_a_recipe_alike_get_one_model():
    # chapter 8 finds chapter 1's VAEs by calling the same recipe: another cache name, the same model, not retrained
    recipe, x = GreyVAE.of("mlp", 1), _images()
    first, h1 = recipe.train(x, vb.Bernoulli(), latent_dim=3, seed=0, name="ch1-vae")
    second, h2 = recipe.train(x, vb.Bernoulli(), latent_dim=3, seed=0, name="ch8-vae")
    assert not h1["from_cache"] and h2["from_cache"]
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    # a different setting is a different model, trained anew
    _, h3 = recipe.train(x, vb.Bernoulli(), latent_dim=3, seed=1, name="ch8-vae")
    assert not h3["from_cache"]


def test_the_pae_recipe_says_whether_it_trained_and_reuses_another_chapters_models():
    recipe, x = PAERecipe("mlp", "mlp", ae_epochs=1, flow_epochs=1, hidden=(32,), layers=2, flow_hidden=(16,)), _images(80)
    pae, trained = recipe.train(3, x[:60], x[60:], seed=0, name="ch5")
    again, trained_again = recipe.train(3, x[:60], x[60:], seed=0, name="ch8")
    assert trained and not trained_again
    torch.testing.assert_close(pae.score(x[:5]), again.score(x[:5]))


def test_the_classifier_recipe_is_shared_the_same_way():
    x, y = _images(40), torch.arange(40) % 10
    _, h1 = train_classifier(x, y, epochs=1, seed=0, name="ch5-classifier")
    _, h2 = train_classifier(x, y, epochs=1, seed=0, name="ch8-classifier")
    assert not h1["from_cache"] and h2["from_cache"]


def test_the_profiles_choose_the_papers_settings_in_full_and_a_cpu_budget_elsewhere(monkeypatch):
    monkeypatch.setenv("VAEBOOK_PROFILE", "full")
    full = GreyVAE.for_profile()
    assert isinstance(full.nets, vb.ConvNets) and full.epochs == 100 and full.batch_size == 50
    assert full.optimizer.func is torch.optim.RMSprop and full.optimizer.keywords == {"lr": 1e-4}
    assert PAERecipe.for_profile().decoder == "conv"
    monkeypatch.setenv("VAEBOOK_PROFILE", "fast")
    fast = GreyVAE.for_profile()
    assert isinstance(fast.nets, vb.MLPNets) and fast.epochs == 10 and fast.batch_size == 64
    assert PAERecipe.for_profile() == PAERecipe("conv", "mlp", 5, 15)


def test_a_recipe_refuses_nets_it_does_not_know():
    with pytest.raises(ValueError, match="arch must be one of"):
        GreyVAE.of("transformer", 1)
    with pytest.raises(ValueError, match="decoder must be 'conv' or 'mlp'"):
        PAERecipe("conv", "deconv", 1, 1)


def test_the_papers_numbers_are_aurocs_of_every_row_they_name():
    assert all(0 <= v <= 1 for v in papers.NEGATIVE_SAMPLING_T1.values())
    for row in papers.NEGATIVE_SAMPLING_T2.values():
        assert set(row) == {"baseline", "adversarial"} and all(0 <= v <= 1 for pair in row.values() for v in pair)
    for row in papers.PAE_T2.values():
        assert set(row) == {"MNIST", "Omniglot", "h-flip", "v-flip"} and all(0 <= v <= 1 for v in row.values())


def test_a_recipe_builds_the_vae_a_chapter_built_by_hand():
    # the chapters' hand-written build() closures became VAERecipe.build: the same modules and the same initial
    # weights (so the same cache key, and no model is retrained), with the default and with another posterior
    nets = vb.MLPNets((32,))
    recipe = VAERecipe(nets, partial(torch.optim.Adam, lr=1e-3), batch_size=16, epochs=1)

    def by_hand(posterior):
        enc, dec = nets(4, vb.Bernoulli.decoder_outputs)
        return vb.VAE(posterior(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(4))

    flow = lambda net, d: vb.FlowEncoder(net, vb.realnvp(d, vb.StandardNormal(d), layers=2).transforms)  # noqa: E731
    for posterior, hand in ((None, vb.Encoder), (flow, lambda enc: flow(enc, 4))):
        torch.manual_seed(0)
        a = recipe.build(vb.Bernoulli(), 4, posterior=posterior)
        torch.manual_seed(0)
        b = by_hand(hand)
        assert repr(a) == repr(b)
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_two_vaes_built_from_one_likelihood_share_no_parameter():
    # a model and the copy of it that train_or_load keeps (keep=[...]) are built twice from the same arguments
    recipe, likelihood = VAERecipe(vb.MLPNets((8,)), torch.optim.Adam, 16, 1), vb.Gaussian()
    a, b = recipe.build(likelihood, 2), recipe.build(likelihood, 2)
    with torch.no_grad():
        a.decoder.likelihood.log_sigma.fill_(3.0)
    assert b.decoder.likelihood.log_sigma.item() != 3.0 and likelihood.log_sigma.item() != 3.0


def test_the_colour_recipes_are_the_two_papers_settings():
    ns, rosca = ColourVAE.negative_sampling(7), ColourVAE.rosca(7)
    assert isinstance(ns.nets, vb.DCGANNets) and ns.batch_size == 50 and ns.optimizer.keywords == {"lr": 1e-4}
    assert rosca.batch_size == 64 and rosca.optimizer.keywords == {"lr": 1e-3, "betas": (0.5, 0.9)}
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    vae, history = ColourVAE.negative_sampling(1).train(x, vb.Bernoulli(), seed=0, name="colour")
    assert vae.prior().event_shape == (ColourVAE.LATENT_DIM,) and len(history["loss"]) == 1
