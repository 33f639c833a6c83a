"""Plain ``nn.Module`` networks for 28×28 grey images, and for 32×32 colour ones (:class:`DCGANNets`,
:class:`KamoiColourNets`). They map tensors to tensors; what the numbers mean
(posterior parameters, likelihood parameters) is decided by :mod:`vaebook.vae`.

Used in: every chapter that trains a VAE or an autoencoder.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

__all__ = ["MLP", "MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder", "MLPNets", "ConvNets", "KamoiDecoder", "KamoiNets",
           "DCGANEncoder", "DCGANDecoder", "DCGANNets",
           "KamoiColourDecoder", "KamoiColourNets"]


class MLP(nn.Sequential):
    """Linear layers of ``sizes`` with ``activation`` between them (none after the last)."""

    def __init__(self, sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU):
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(activation())
        super().__init__(*layers)


class MLPEncoder(nn.Module):
    """Image ``(B, C, H, W)`` -> ``(B, out)`` through hidden layers, e.g. Bozkurt's shallow ``(400,)``
    and deep ``(400, 200, 100)``. ``out`` is ``2·latent_dim`` for a Gaussian posterior."""

    def __init__(self, in_shape: Sequence[int], hidden: Sequence[int], out: int):
        super().__init__()
        self.net = MLP([math.prod(in_shape), *hidden, out])

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    """Latent ``(B, D)`` -> ``(B, channels, H, W)`` through hidden layers (the encoder's, reversed)."""

    def __init__(self, latent_dim: int, hidden: Sequence[int], out_shape: Sequence[int]):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.net = MLP([latent_dim, *hidden, math.prod(out_shape)])

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.out_shape)


class ConvEncoder(nn.Module):
    """Rosca et al. (2018) App. K, Table 4, as used by the negative-sampling paper for 28×28 images.

    Five 5×5 convolutions (strides 2, 1, 2, 1, 2; 8, 16, 32, 64, 64 maps) with
    leaky ReLUs of slope 0.2, then a linear layer to ``out``. Batch norm is
    left out so that a test image's score never depends on its batch.
    """

    def __init__(self, out: int, in_channels: int = 1, width: int = 1, batch_norm: bool = False, padding: int = 2,
                 size: int = 28):
        super().__init__()
        maps, strides, layers, c = [8, 16, 32, 64, 64], [2, 1, 2, 1, 2], [], in_channels
        for m, s in zip(maps, strides):
            layers.append(nn.Conv2d(c, m * width, 5, s, padding=padding))
            layers += [nn.BatchNorm2d(m * width)] if batch_norm else []
            layers.append(nn.LeakyReLU(0.2))
            c, size = m * width, (size + 2 * padding - 5) // s + 1
        self.features = nn.Sequential(*layers)  # 28 -> 14 -> 14 -> 7 -> 7 -> 4 (padding 2); 32 -> 15 -> 13 -> 6 -> 4 -> 1 (padding 1)
        self.head = nn.Linear(c * size * size, out)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


class ConvDecoder(nn.Module):
    """Rosca et al. (2018) App. K, Table 5: linear to 64×7×7 (3136), then 5×5 transposed convolutions
    (strides 2, 1, 2; 64, 32, ``channels`` maps) with ReLUs: ``(B, D) -> (B, channels, 28, 28)``."""

    def __init__(self, latent_dim: int, channels: int = 1, width: int = 1):
        super().__init__()
        w = width
        self.linear = nn.Linear(latent_dim, 64 * w * 7 * 7)
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(64 * w, 64 * w, 5, 2, padding=2, output_padding=1), nn.ReLU(),  # 7 -> 14
            nn.ConvTranspose2d(64 * w, 32 * w, 5, 1, padding=2), nn.ReLU(),                   # 14 -> 14
            nn.ConvTranspose2d(32 * w, channels, 5, 2, padding=2, output_padding=1),          # 14 -> 28
        )
        self.w = w

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.linear(z).view(-1, 64 * self.w, 7, 7))


class KamoiDecoder(nn.Module):
    """Kamoi & Kobayashi App. B, Table 2(b): linear to 3136 = 64×7×7, transposed 5×5 convolutions with
    batch norm and ReLU (64 maps stride 2, 32 maps stride 2, 64 maps stride 1), then a last transposed
    convolution to ``channels`` (256 logits per pixel for their categorical likelihood).

    The paddings printed in the paper do not give 28×28 outputs; we keep its channels and strides
    and choose paddings that do (7 -> 14 -> 28 -> 28 -> 28).
    """

    def __init__(self, latent_dim: int, channels: int = 256):
        super().__init__()
        self.linear = nn.Linear(latent_dim, 64 * 7 * 7)
        block = lambda i, o, s: [nn.ConvTranspose2d(i, o, 5, s, padding=2, output_padding=s - 1),
                                 nn.BatchNorm2d(o), nn.ReLU()]
        self.net = nn.Sequential(*block(64, 64, 2), *block(64, 32, 2), *block(32, 64, 1),
                                 nn.ConvTranspose2d(64, channels, 5, 1, padding=2))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.linear(z).view(-1, 64, 7, 7))


class KamoiNets:
    """Kamoi & Kobayashi App. B, Table 2: the convolutional encoder (Rosca's maps and strides, with
    batch norm) and :class:`KamoiDecoder`."""

    def __call__(self, latent_dim: int, params: int) -> tuple[nn.Module, nn.Module]:
        return ConvEncoder(2 * latent_dim, batch_norm=True), KamoiDecoder(latent_dim, params)

    def __repr__(self) -> str:
        return "KamoiNets()"


class KamoiColourDecoder(nn.Module):
    """Kamoi & Kobayashi App. B, Table 3(b), for 32×32 colour images: the latent as a 1×1 map, then 4×4 transposed
    convolutions with batch norm and ReLU (64 maps stride 1, no padding: 1 -> 4; 32 and 32 maps stride 2: 4 -> 8 -> 16)
    and a last one to ``channels`` (256 logits for each of the 3 colours: 16 -> 32)."""

    def __init__(self, latent_dim: int, channels: int = 3 * 256):
        super().__init__()
        block = lambda i, o, s, p: [nn.ConvTranspose2d(i, o, 4, s, padding=p), nn.BatchNorm2d(o), nn.ReLU()]
        self.net = nn.Sequential(*block(latent_dim, 64, 1, 0), *block(64, 32, 2, 1), *block(32, 32, 2, 1),
                                 nn.ConvTranspose2d(32, channels, 4, 2, padding=1))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])


class KamoiColourNets:
    """Kamoi & Kobayashi App. B, Table 3, for CIFAR-10 and SVHN: their encoder (five 5×5 convolutions, Rosca's maps
    and strides, padding 1 as printed, which leaves a 1×1 map; with batch norm as in their Table 2) and
    :class:`KamoiColourDecoder`."""

    def __call__(self, latent_dim: int, params: int) -> tuple[nn.Module, nn.Module]:
        return (ConvEncoder(2 * latent_dim, in_channels=3, batch_norm=True, padding=1, size=32),
                KamoiColourDecoder(latent_dim, 3 * params))

    def __repr__(self) -> str:
        return "KamoiColourNets()"


class MLPNets:
    """Encoder/decoder networks for a VAE on 28×28 images: MLPs with ``hidden`` layers (decoder reversed).

    ``MLPNets((400,))`` is Bozkurt's shallow net, ``MLPNets((400, 200, 100))`` the deep one.
    Calling it gives ``(encoder_net, decoder_net)`` for a latent size and likelihood.
    """

    def __init__(self, hidden: Sequence[int] = (512, 256), image_shape: Sequence[int] = (1, 28, 28)):
        self.hidden, self.image_shape = tuple(hidden), tuple(image_shape)

    def __call__(self, latent_dim: int, params: int) -> tuple[nn.Module, nn.Module]:
        c, h, w = self.image_shape
        return (MLPEncoder(self.image_shape, self.hidden, 2 * latent_dim),
                MLPDecoder(latent_dim, self.hidden[::-1], (c * params, h, w)))

    def __repr__(self) -> str:
        return f"MLPNets(hidden={self.hidden})"


class ConvNets:
    """Rosca et al.'s App. K convolutional encoder and decoder (:class:`ConvEncoder`, :class:`ConvDecoder`)."""

    def __call__(self, latent_dim: int, params: int) -> tuple[nn.Module, nn.Module]:
        return ConvEncoder(2 * latent_dim), ConvDecoder(latent_dim, params)

    def __repr__(self) -> str:
        return "ConvNets()"


class DCGANEncoder(nn.Module):
    """The negative-sampling paper's encoder for 32×32 colour images (its App. A.2): "DCGAN-style" 4×4
    convolutions of stride 2 with batch norm and ReLU, 32, 64 and 128 maps (32 -> 16 -> 8 -> 4), then a linear
    layer to ``out``."""

    def __init__(self, out: int, in_channels: int = 3):
        super().__init__()
        layers, c = [], in_channels
        for m in (32, 64, 128):
            layers += [nn.Conv2d(c, m, 4, 2, padding=1), nn.BatchNorm2d(m), nn.ReLU()]
            c = m
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(128 * 4 * 4, out)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


class DCGANDecoder(nn.Module):
    """The paper's decoder for 32×32 colour images: linear to 128×4×4, then 4×4 transposed convolutions of
    stride 2 with batch norm and ReLU, 128 and 64 maps (4 -> 8 -> 16), and a last one to ``channels``
    (4 -> ... -> 32). The paper lists the decoder's filters as "128, 64, 1"; we read the last as the
    likelihood's outputs per colour channel (3 for a Bernoulli or Gaussian mean)."""

    def __init__(self, latent_dim: int, channels: int = 3):
        super().__init__()
        self.linear = nn.Linear(latent_dim, 128 * 4 * 4)
        block = lambda i, o: [nn.ConvTranspose2d(i, o, 4, 2, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
        self.net = nn.Sequential(nn.ReLU(), *block(128, 128), *block(128, 64),
                                 nn.ConvTranspose2d(64, channels, 4, 2, padding=1))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.linear(z).view(-1, 128, 4, 4))


class DCGANNets:
    """The negative-sampling paper's nets for 32×32 colour images (:class:`DCGANEncoder`,
    :class:`DCGANDecoder`): ``(B, 3, 32, 32)`` in, ``(B, 3 · outputs, 32, 32)`` out."""

    def __call__(self, latent_dim: int, params: int) -> tuple[nn.Module, nn.Module]:
        return DCGANEncoder(2 * latent_dim), DCGANDecoder(latent_dim, 3 * params)

    def __repr__(self) -> str:
        return "DCGANNets()"
