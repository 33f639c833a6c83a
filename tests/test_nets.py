"""The networks produce the shapes the VAE and each likelihood need, for every architecture the papers use."""
import pytest
import torch

import vaebook as vb

GREY, COLOUR = (1, 28, 28), (3, 32, 32)
NETS = [(vb.MLPNets((400,)), GREY), (vb.MLPNets((400, 200, 100)), GREY), (vb.ConvNets(), GREY), (vb.KamoiNets(), GREY),
        (vb.DCGANNets(), COLOUR), (vb.KamoiColourNets(), COLOUR)]


@pytest.mark.parametrize("nets, shape", NETS, ids=[repr(n) for n, _ in NETS])
@pytest.mark.parametrize("likelihood", [vb.Bernoulli(), vb.Gaussian(), vb.Categorical256(), vb.DiscretizedGaussian()],
                         ids=lambda l: type(l).__name__)
def test_vae_of_every_architecture_and_likelihood(nets, shape, likelihood):
    enc, dec = nets(10, likelihood.decoder_outputs)
    vae = vb.VAE(vb.Encoder(enc), vb.Decoder(dec, likelihood), vb.StandardNormal(10))
    x = torch.rand(4, *shape)
    assert vae.encoder(x).batch_shape == (4,) and vae.encoder(x).event_shape == (10,)
    assert vae.decoder(vae.encoder(x).rsample()).event_shape == shape  # numbers per pixel for every colour channel
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


def test_the_colour_encoders_have_the_papers_maps():
    convs = lambda enc: [m for m in enc.features if isinstance(m, torch.nn.Conv2d)]
    dcgan, _ = vb.DCGANNets()(100, 1)
    assert [c.out_channels for c in convs(dcgan)] == [32, 64, 128] and {c.kernel_size for c in convs(dcgan)} == {(4, 4)}
    kamoi, decoder = vb.KamoiColourNets()(100, 256)
    assert [c.out_channels for c in convs(kamoi)] == [8, 16, 32, 64, 64] and kamoi.head.out_features == 200
    assert decoder(torch.zeros(2, 100)).shape == (2, 3 * 256, 32, 32)
