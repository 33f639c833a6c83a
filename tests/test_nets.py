"""The networks produce the shapes the VAE and each likelihood need, for every architecture the papers use."""
import pytest
import torch

import vaebook as vb


@pytest.mark.parametrize("nets", [vb.MLPNets((400,)), vb.MLPNets((400, 200, 100)), vb.ConvNets(), vb.KamoiNets()],
                         ids=repr)
@pytest.mark.parametrize("likelihood", [vb.Bernoulli(), vb.Gaussian(), vb.Categorical256(), vb.DiscretizedGaussian()],
                         ids=lambda l: type(l).__name__)
def test_vae_of_every_architecture_and_likelihood(nets, likelihood):
    enc, dec = nets(10, likelihood.decoder_outputs)
    vae = vb.VAE(vb.Encoder(enc), vb.Decoder(dec, likelihood), vb.StandardNormal(10))
    x = torch.rand(4, 1, 28, 28)
    assert vae.encoder(x).batch_shape == (4,) and vae.encoder(x).event_shape == (10,)
    elbo = vae.elbo(x)
    assert elbo.shape == (4,) and torch.isfinite(elbo).all()
    elbo.sum().backward()
    assert all(p.grad is not None for p in vae.encoder.parameters())


def test_rosca_encoder_maps():
    enc = vb.ConvEncoder(20)
    convs = [m for m in enc.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 64] and [c.stride[0] for c in convs] == [2, 1, 2, 1, 2]
    assert vb.ConvDecoder(10).linear.out_features == 3136
    assert vb.ConvEncoder(20).head.in_features == 64 * 4 * 4  # 28 -> 14 -> 14 -> 7 -> 7 -> 4
    assert vb.ConvEncoder(20, in_channels=3, padding=1, size=32).head.in_features == 64  # Kamoi's colour encoder: 1×1


@pytest.mark.parametrize("nets", [vb.DCGANNets(), vb.KamoiColourNets()], ids=repr)
@pytest.mark.parametrize("likelihood", [vb.Bernoulli(), vb.Gaussian(), vb.DiscretizedGaussian(), vb.Categorical256()],
                         ids=lambda l: type(l).__name__)
def test_the_colour_nets_give_each_likelihood_its_numbers_per_colour_channel(nets, likelihood):
    enc, dec = nets(100, likelihood.decoder_outputs)
    vae = vb.VAE(vb.Encoder(enc), vb.Decoder(dec, likelihood), vb.StandardNormal(100))
    x = torch.rand(4, 3, 32, 32)
    assert vae.decoder(vae.encoder(x).rsample()).event_shape == (3, 32, 32)
    elbo = vae.elbo(x)
    assert elbo.shape == (4,) and torch.isfinite(elbo).all()
    elbo.sum().backward()
    convs = [m for m in enc.features if isinstance(m, torch.nn.Conv2d)]
    maps = {"DCGANNets()": [32, 64, 128], "KamoiColourNets()": [8, 16, 32, 64, 64]}[repr(nets)]
    assert [c.out_channels for c in convs] == maps
