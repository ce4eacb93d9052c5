"""CUT's networks (Park, Efros, Zhang, Zhu 2020): the anti-aliased ResNet generator G, the
anti-aliased PatchGAN D and the projection heads H_l of the PatchNCE loss.

G is the CycleGAN ResNet generator with anti-aliased sampling: each stride-2 convolution of the
encoder becomes a stride-1 convolution followed by a blur-pool (a fixed binomial [1, 2, 1]
filter applied with stride 2), each transposed convolution of the decoder a fixed-filter
upsample ([1, 3, 3, 1]) followed by a 3x3 convolution. The filters are buffers, so the parameter
count equals the plain network's: 11,378,179 for ``resnet_9blocks``, ngf 64, 3 -> 3 channels.
``antialias=False`` gives the plain strided / transposed convolutions. Its layers form one
``nn.Sequential`` (``model``) whose indices name the NCE layers (0, 4, 8, 12, 16 by default: the
input, the two downsampling convolutions' outputs and the 1st and 5th residual blocks).

D (``CUTDiscriminator``) is the 70x70 PatchGAN with the same blur-pools: 2,764,737 parameters
at ndf 64 with instance norm. The heads (``PatchSampleF``) are one 2-layer MLP (256 units) per
NCE layer, made for that layer's channel count when the networks are built: 560,384 parameters
for the default layers at 3 input channels.

Images are ``(N, C, H, W)`` in [-1, 1]; H and W must be multiples of 4.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import ResnetBlock, norm_layer, uses_bias

__all__ = [
    "CUT",
    "BlurDownsample",
    "BlurUpsample",
    "CUTDiscriminator",
    "CUTGenerator",
    "PatchSampleF",
    "binomial_filter",
    "build_cut",
]


def binomial_filter(size: int) -> Tensor:
    """The normalised 2-D binomial filter of ``size`` taps, e.g. 3: [1, 2, 1] x [1, 2, 1] / 16."""
    coeffs = [1.0]
    for _ in range(size - 1):
        coeffs = [a + b for a, b in zip([0.0, *coeffs], [*coeffs, 0.0], strict=True)]
    row = torch.tensor(coeffs)
    filt = row[:, None] * row[None, :]
    return filt / filt.sum()


class BlurDownsample(nn.Module):
    """Blur-pool: reflect-pad by 1, then a fixed [1, 2, 1] binomial filter per channel at
    stride 2. ``(N, C, H, W)`` -> ``(N, C, ceil(H / 2), ceil(W / 2))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("filt", binomial_filter(3)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(
            F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=x.shape[1]
        )


class BlurUpsample(nn.Module):
    """Fixed-filter upsampling: replicate-pad by 1, transposed convolution with the [1, 3, 3, 1]
    binomial filter (times 4) per channel at stride 2, cropped to ``(N, C, 2H, 2W)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        filt = binomial_filter(4) * 4
        self.register_buffer("filt", filt[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        y = F.conv_transpose2d(padded, self.filt, stride=2, padding=2, groups=x.shape[1])
        return y[:, :, 1:-1, 1:-1]


class CUTGenerator(nn.Module):
    """G: ``(N, C_in, H, W)`` in [-1, 1] -> ``(N, C_out, H, W)`` in [-1, 1] (module docstring).

    ``encode(x, layers)`` returns the outputs of the ``model`` layers listed (ascending),
    stopping after the last one: the features PatchNCE compares.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int = 64,
        norm: str = "instance",
        use_dropout: bool = False,
        n_blocks: int = 9,
        antialias: bool = True,
    ) -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), uses_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, kernel_size=7, padding=0, bias=bias),
            make_norm(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            c = ngf * 2**i
            stride = 1 if antialias else 2
            layers += [
                nn.Conv2d(c, 2 * c, kernel_size=3, stride=stride, padding=1, bias=bias),
                make_norm(2 * c),
                nn.ReLU(True),
            ]
            if antialias:
                layers.append(BlurDownsample(2 * c))
        layers += [ResnetBlock(4 * ngf, norm, use_dropout) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            if antialias:
                layers += [
                    BlurUpsample(c),
                    nn.Conv2d(c, c // 2, kernel_size=3, stride=1, padding=1, bias=bias),
                ]
            else:
                layers.append(
                    nn.ConvTranspose2d(
                        c, c // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=bias
                    )
                )
            layers += [make_norm(c // 2), nn.ReLU(True)]
        layers += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, out_channels, kernel_size=7, padding=0),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)
        self.in_channels = in_channels

    def forward(self, x: Tensor, layers: tuple[int, ...] | None = None) -> Any:
        """G(x); with ``layers``, :meth:`encode` (what a DDP wrapper passes on)."""
        return self.model(x) if layers is None else self.encode(x, layers)

    def encode(self, x: Tensor, layers: tuple[int, ...]) -> list[Tensor]:
        """The outputs of ``model[i]`` for ``i`` in ``layers`` (ascending)."""
        feats = []
        for index, layer in enumerate(self.model):
            x = layer(x)
            if index in layers:
                feats.append(x)
                if index == layers[-1]:
                    break
        return feats

    def feature_channels(self, layers: tuple[int, ...]) -> list[int]:
        """The channel count of each ``encode`` output, from the architecture."""
        channels, out = self.in_channels, []
        for index, layer in enumerate(self.model):
            if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
                channels = layer.out_channels
            if index in layers:
                out.append(channels)
        if len(out) != len(layers):
            raise ValueError(
                f"NCE layers {list(layers)}: the generator has layers 0..{len(self.model) - 1}"
            )
        return out


class CUTDiscriminator(nn.Module):
    """The PatchGAN D with blur-pools: ``(N, C, H, W)`` -> raw scores ``(N, 1, H', W')``.

    Conv4x4 (stride 1) + LeakyReLU(0.2) + blur-pool, then ``n_layers - 1`` x [conv4x4 (stride 1)
    + norm + LeakyReLU + blur-pool] with channels doubling up to 8 * ndf, then conv4x4 + norm +
    LeakyReLU and conv4x4 to one channel. ``antialias=False``: stride-2 convolutions instead.
    """

    def __init__(
        self,
        in_channels: int,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        antialias: bool = True,
    ) -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), uses_bias(norm)
        stride = 1 if antialias else 2
        seq: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, kernel_size=4, stride=stride, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        if antialias:
            seq.append(BlurDownsample(ndf))
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            seq += [
                nn.Conv2d(
                    ndf * prev, ndf * mult, kernel_size=4, stride=stride, padding=1, bias=bias
                ),
                make_norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
            if antialias:
                seq.append(BlurDownsample(ndf * mult))
        prev, mult = mult, min(2**n_layers, 8)
        seq += [
            nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=1, padding=1, bias=bias),
            make_norm(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1),
        ]
        self.model = nn.Sequential(*seq)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class PatchSampleF(nn.Module):
    """The projection heads H_l: sample patches of each feature map and embed them.

    For each layer l (channels ``channels[l]``), ``num_patches`` positions are drawn (the same
    for every image of the batch), the features there go through ``mlp_l`` (Linear(C_l, nc) +
    ReLU + Linear(nc, nc)) and are L2-normalised. ``forward(feats, num_patches, ids=None)`` ->
    (list of ``(N * P_l, nc)``, the positions used): pass the positions of the input's features
    when embedding the output's, so that patch i of both is the same place.
    """

    def __init__(self, channels: list[int], nc: int = 256) -> None:
        super().__init__()
        for i, c in enumerate(channels):
            setattr(self, f"mlp_{i}", nn.Sequential(nn.Linear(c, nc), nn.ReLU(), nn.Linear(nc, nc)))
        self.num_layers = len(channels)

    def forward(
        self, feats: list[Tensor], num_patches: int, ids: list[Tensor] | None = None
    ) -> tuple[list[Tensor], list[Tensor]]:
        out, used = [], []
        for i, feat in enumerate(feats):
            flat = feat.permute(0, 2, 3, 1).flatten(1, 2)  # (N, H * W, C)
            if ids is None:
                # CPU generator: the global torch RNG, which checkpoints save.
                pick = torch.randperm(flat.shape[1])[: min(num_patches, flat.shape[1])]
            else:
                pick = ids[i]
            pick = pick.to(feat.device)
            # x / (||x|| + 1e-7) as the reference (at initialisation the embeddings are ~1e-4
            # long, so the 1e-7 matters), in float32 (squares of small fp16 / bf16 features
            # underflow to 0), with vector_norm, whose gradient at an all-zero embedding is 0
            # where sqrt(sum(x^2)) gives NaN.
            sample = getattr(self, f"mlp_{i}")(flat[:, pick, :].flatten(0, 1)).float()
            norm = torch.linalg.vector_norm(sample, dim=1, keepdim=True)
            out.append(sample / (norm + 1e-7))
            used.append(pick)
        return out, used


class CUT(nn.Module):
    """Holds G (``g_ab``, X -> Y) and, for training, D_Y (``d_b``) and the heads H (``h``)."""

    def __init__(
        self, g_ab: nn.Module, d_b: nn.Module | None = None, h: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.g_ab, self.d_b, self.h = g_ab, d_b, h


def build_cut(
    channels_a: int = 3,
    channels_b: int = 3,
    n_blocks: int = 9,
    ngf: int = 64,
    ndf: int = 64,
    n_layers_d: int = 3,
    norm: str = "instance",
    use_dropout: bool = False,
    antialias: bool = True,
    nce_layers: tuple[int, ...] = (0, 4, 8, 12, 16),
    nce_nc: int = 256,
    init_type: str = "xavier",
    init_gain: float = 0.02,
    with_discriminator: bool = True,
) -> CUT:
    """Build and initialise G, D and H (global torch RNG; seed it first). Every network gets
    ``init_type`` weights with ``init_gain`` (Xavier, 0.02 in the reference) and zero biases;
    H is made here, for the channels of ``nce_layers``, not on the first forward pass."""
    from .layers import init_weights

    g = CUTGenerator(channels_a, channels_b, ngf, norm, use_dropout, n_blocks, antialias)
    init_weights(g, init_type, init_gain)
    if not with_discriminator:
        return CUT(g)
    d = CUTDiscriminator(channels_b, ndf, n_layers_d, norm, antialias)
    init_weights(d, init_type, init_gain)
    h = PatchSampleF(g.feature_channels(nce_layers), nce_nc)
    init_weights(h, init_type, init_gain)
    return CUT(g, d, h)
