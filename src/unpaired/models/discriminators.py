"""Discriminators ``D_X`` and ``D_Y`` of CycleGAN (Zhu et al. 2017).

Both follow the official pytorch-CycleGAN-and-pix2pix code (same layers, parameter counts and
state-dict keys). They take images ``(N, C_in, H, W)`` in ``[-1, 1]`` and return a map of raw
scores ``(N, 1, H', W')`` with no sigmoid: the GAN loss (least squares in CycleGAN, or BCE with
logits) is applied outside.

* :class:`NLayerDiscriminator`: the PatchGAN of pix2pix; with ``n_layers=3`` each output
  classifies a 70x70 patch and a 256x256 input gives a 30x30 map.
* :class:`PixelDiscriminator`: a 1x1 PatchGAN that scores every pixel independently.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from unpaired.models.layers import norm_layer, uses_bias
from unpaired.registry import Registry

DiscriminatorFactory = Callable[[int, int, int, str], nn.Module]

#: name -> ``(in_channels, ndf, n_layers, norm) -> nn.Module``.
DISCRIMINATORS: Registry[DiscriminatorFactory] = Registry("discriminator")


class NLayerDiscriminator(nn.Module):
    """PatchGAN discriminator: ``(N, C_in, H, W)`` -> raw scores ``(N, 1, H', W')``.

    Conv4x4 stride 2 (C_in -> ndf) + LeakyReLU(0.2), no norm; then ``n_layers - 1`` x
    [Conv4x4 stride 2 to ``ndf * min(2**n, 8)`` + norm + LeakyReLU(0.2)]; then Conv4x4 stride 1
    to ``ndf * min(2**n_layers, 8)`` + norm + LeakyReLU(0.2); then Conv4x4 stride 1 to 1 channel.
    All convs use padding 1. With ``n_layers=3``: receptive field 70x70, ``H' = H/8 - 2`` for
    ``H`` a multiple of 8 (256 -> 30); with ``ndf=64``, 3 channels and instance norm it has
    2,764,737 parameters.
    """

    def __init__(
        self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance"
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        make_norm = norm_layer(norm)
        bias = uses_bias(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev_mult, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(
                    ndf * prev_mult, ndf * mult, kernel_size=4, stride=stride, padding=1, bias=bias
                ),
                make_norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` in ``[-1, 1]`` -> raw per-patch scores ``(N, 1, H', W')``."""
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN: ``(N, C_in, H, W)`` -> raw per-pixel scores ``(N, 1, H, W)``.

    Conv1x1 (C_in -> ndf) + LeakyReLU(0.2); Conv1x1 (ndf -> 2ndf) + norm + LeakyReLU(0.2);
    Conv1x1 (2ndf -> 1).
    """

    def __init__(self, in_channels: int, ndf: int = 64, norm: str = "instance") -> None:
        super().__init__()
        make_norm = norm_layer(norm)
        bias = uses_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ndf, kernel_size=1, stride=1, padding=0),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=bias),
            make_norm(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` in ``[-1, 1]`` -> raw per-pixel scores ``(N, 1, H, W)``."""
        return self.net(x)


@DISCRIMINATORS.register("basic")
def basic(in_channels: int, ndf: int, n_layers: int, norm: str) -> nn.Module:
    """The default 70x70 PatchGAN: :class:`NLayerDiscriminator` with 3 layers (``n_layers`` is
    ignored, as in the official code)."""
    return NLayerDiscriminator(in_channels, ndf, n_layers=3, norm=norm)


@DISCRIMINATORS.register("n_layers")
def n_layers_discriminator(in_channels: int, ndf: int, n_layers: int, norm: str) -> nn.Module:
    """:class:`NLayerDiscriminator` with ``n_layers`` stride-2 levels."""
    return NLayerDiscriminator(in_channels, ndf, n_layers=n_layers, norm=norm)


@DISCRIMINATORS.register("pixel")
def pixel(in_channels: int, ndf: int, n_layers: int, norm: str) -> nn.Module:
    """:class:`PixelDiscriminator` (``n_layers`` is ignored)."""
    return PixelDiscriminator(in_channels, ndf, norm=norm)


def build_discriminator(
    name: str, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance"
) -> nn.Module:
    """Build the discriminator registered as ``name`` (see :data:`DISCRIMINATORS`).

    Unknown ``name`` raises ``KeyError`` listing the choices; unknown ``norm`` a ``ValueError``.
    """
    return DISCRIMINATORS.get(name)(in_channels, ndf, n_layers, norm)
