"""Generators ``G: X -> Y`` and ``F: Y -> X`` of CycleGAN (Zhu et al. 2017).

Both architectures follow the official pytorch-CycleGAN-and-pix2pix code layer for layer (same
parameter counts and, because the layers sit in ``nn.Sequential``s with the same names, the same
state-dict keys). Inputs are images ``(N, C_in, H, W)`` in ``[-1, 1]``; outputs are
``(N, C_out, H, W)`` in ``[-1, 1]`` (final ``Tanh``).

* :class:`ResnetGenerator`: c7s1-ngf, two stride-2 downsamplings, ``n_blocks`` residual blocks,
  two stride-2 upsamplings, c7s1-C_out (Johnson et al. 2016). ``H`` and ``W`` multiples of 4.
  Its upsamplings are the official transposed convolutions by default; ``upsample`` swaps them
  for a resize then a convolution (:data:`UPSAMPLE_MODES`), which avoids checkerboard artifacts.
* :class:`UnetGenerator`: the pix2pix U-Net with skip connections (Isola et al. 2017); ``H`` and
  ``W`` multiples of ``2**num_downs``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from unpaired.models.cut import BlurUpsample
from unpaired.models.layers import ResnetBlock, norm_layer, uses_bias
from unpaired.registry import Registry

GeneratorFactory = Callable[..., nn.Module]

#: How :class:`ResnetGenerator` doubles the resolution (twice, halving the channels each time):
#: ``transposed``: the official ConvTranspose3x3 stride 2 (output_padding 1);
#: ``resize_conv``: nearest-neighbour 2x upsampling, reflect-pad 1, Conv3x3 (Odena, Dumoulin,
#: Olah 2016, "Deconvolution and Checkerboard Artifacts");
#: ``antialiased``: CUT's fixed [1, 3, 3, 1] binomial upsampling (:class:`BlurUpsample`, a
#: buffer, not trained), reflect-pad 1, Conv3x3.
#: A 3x3 convolution and a 3x3 transposed convolution both hold ``in * out * 9`` weights and
#: ``out`` biases, so every mode has the same parameter count (11,378,179 for
#: ``resnet_9blocks``, ngf 64, 3 -> 3 channels).
UPSAMPLE_MODES = ("transposed", "resize_conv", "antialiased")
#: The generators that take an ``upsample`` other than ``transposed`` (the U-Net's 4x4
#: transposed convolutions have no same-size resize-then-convolve counterpart).
RESAMPLABLE_GENERATORS = ("resnet_9blocks", "resnet_6blocks")


def upsample_layers(mode: str, in_channels: int, out_channels: int, bias: bool) -> list[nn.Module]:
    """One 2x upsampling ``(N, in, H, W)`` -> ``(N, out, 2H, 2W)`` of kind ``mode``
    (:data:`UPSAMPLE_MODES`); an unknown mode is a ``ValueError``."""
    if mode == "transposed":
        return [
            nn.ConvTranspose2d(
                in_channels,
                out_channels,
                kernel_size=3,
                stride=2,
                padding=1,
                output_padding=1,
                bias=bias,
            )
        ]
    if mode == "resize_conv":
        resize: nn.Module = nn.Upsample(scale_factor=2, mode="nearest")
    elif mode == "antialiased":
        resize = BlurUpsample(in_channels)
    else:
        raise ValueError(f"unknown upsample {mode!r}; choose one of: {', '.join(UPSAMPLE_MODES)}")
    return [
        resize,
        nn.ReflectionPad2d(1),
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=0, bias=bias),
    ]


#: name -> ``(in_channels, out_channels, ngf, norm, use_dropout) -> nn.Module``.
GENERATORS: Registry[GeneratorFactory] = Registry("generator")


def _check_size(x: torch.Tensor, multiple: int, who: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"{who} expects a (N, C, H, W) batch, got shape {tuple(x.shape)}")
    height, width = x.shape[-2:]
    if height % multiple or width % multiple:
        raise ValueError(f"{who} needs H and W to be multiples of {multiple}, got {height}x{width}")


class ResnetGenerator(nn.Module):
    """ResNet generator: ``(N, C_in, H, W)`` in ``[-1, 1]`` -> ``(N, C_out, H, W)`` in ``[-1, 1]``.

    Layers (``ngf`` = number of generator filters in the first layer):
    ReflectionPad(3) + Conv7x7(C_in -> ngf) + norm + ReLU;
    2x [Conv3x3 stride 2 (channels x2) + norm + ReLU];
    ``n_blocks`` x :class:`ResnetBlock` at ``4 * ngf`` channels and ``H/4 x W/4``;
    2x [ConvTranspose3x3 stride 2, output_padding 1 (channels /2) + norm + ReLU] (or the
    ``upsample`` mode's resize + Conv3x3, see :data:`UPSAMPLE_MODES`);
    ReflectionPad(3) + Conv7x7(ngf -> C_out) + Tanh.
    With ``ngf=64``, 3 -> 3 channels and instance norm it has 11,378,179 parameters for
    ``n_blocks=9`` and 7,837,699 for ``n_blocks=6``. ``H`` and ``W`` must be multiples of 4.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int = 64,
        norm: str = "instance",
        use_dropout: bool = False,
        n_blocks: int = 9,
        padding_type: str = "reflect",
        upsample: str = "transposed",
    ) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        make_norm = norm_layer(norm)
        bias = uses_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, kernel_size=7, padding=0, bias=bias),
            make_norm(ngf),
            nn.ReLU(True),
        ]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2**i
            layers += [
                nn.Conv2d(
                    ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=bias
                ),
                make_norm(ngf * mult * 2),
                nn.ReLU(True),
            ]
        mult = 2**n_downsampling
        layers += [
            ResnetBlock(ngf * mult, norm, use_dropout, padding_type=padding_type)
            for _ in range(n_blocks)
        ]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            layers += [
                *upsample_layers(upsample, ngf * mult, ngf * mult // 2, bias),
                make_norm(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, out_channels, kernel_size=7, padding=0),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` in ``[-1, 1]`` -> ``(N, C_out, H, W)`` in ``[-1, 1]``."""
        _check_size(x, 4, "ResnetGenerator")
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """One level of the U-Net: ``x -> cat([x, up(sub(down(x)))])`` (or no skip when outermost).

    ``down`` halves the resolution with Conv4x4 stride 2 (``outer_nc`` -> ``inner_nc``), ``up``
    doubles it with ConvTranspose4x4 stride 2 back to ``outer_nc``. LeakyReLU(0.2) precedes each
    down conv (except in the outermost block, which sees the raw image), ReLU each up conv. The
    innermost block has no submodule and no norm after its down conv; the outermost block ends in
    ``Tanh`` and returns ``(N, outer_nc, H, W)``; the others return ``(N, 2 * outer_nc, H, W)``.
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        make_norm = norm_layer(norm)
        bias = uses_bias(norm)
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        # Not in place: the block input is also the skip connection. (The official code uses an
        # in-place LeakyReLU here; the result is the same because the skip half of the
        # concatenation only ever reaches the parent's ReLU, and ReLU(LeakyReLU(x)) = ReLU(x).)
        downrelu = nn.LeakyReLU(0.2)
        uprelu = nn.ReLU(True)

        def upconv(in_nc: int, with_bias: bool) -> nn.Module:
            return nn.ConvTranspose2d(
                in_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=with_bias
            )

        layers: list[nn.Module]
        if outermost:
            if submodule is None:
                raise ValueError("the outermost U-Net block needs a submodule")
            layers = [downconv, submodule, uprelu, upconv(inner_nc * 2, True), nn.Tanh()]
        elif innermost:
            layers = [downrelu, downconv, uprelu, upconv(inner_nc, bias), make_norm(outer_nc)]
        else:
            if submodule is None:
                raise ValueError("a middle U-Net block needs a submodule")
            layers = [
                downrelu,
                downconv,
                make_norm(inner_nc),
                submodule,
                uprelu,
                upconv(inner_nc * 2, bias),
                make_norm(outer_nc),
            ]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, input_nc, H, W)`` -> ``(N, outer_nc, H, W)`` if outermost, else ``2*outer_nc``."""
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)


class UnetGenerator(nn.Module):
    """U-Net generator: ``(N, C_in, H, W)`` in ``[-1, 1]`` -> ``(N, C_out, H, W)`` in ``[-1, 1]``.

    ``num_downs`` stride-2 levels (at least 5), so ``H`` and ``W`` must be multiples of
    ``2**num_downs`` (the bottleneck is ``H / 2**num_downs``). Channels per level from the outside
    in: ngf, 2ngf, 4ngf, then 8ngf for the remaining ``num_downs - 3`` levels; the
    ``num_downs - 5`` levels just outside the innermost get Dropout(0.5) if ``use_dropout``.
    With ``ngf=64``, 3 -> 3 channels and batch norm: 54,413,955 parameters for ``num_downs=8``
    (``unet_256``) and 41,828,995 for ``num_downs=7`` (``unet_128``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_downs: int,
        ngf: int = 64,
        norm: str = "batch",
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5, got {num_downs}")
        self.num_downs = num_downs
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(
                ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout
            )
        for mult in (4, 2, 1):
            block = UnetSkipConnectionBlock(ngf * mult, ngf * mult * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(
            out_channels, ngf, input_nc=in_channels, submodule=block, outermost=True, norm=norm
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` in ``[-1, 1]`` -> ``(N, C_out, H, W)`` in ``[-1, 1]``."""
        _check_size(x, 2**self.num_downs, "UnetGenerator")
        return self.model(x)


@GENERATORS.register("resnet_9blocks")
def resnet_9blocks(
    in_channels: int,
    out_channels: int,
    ngf: int,
    norm: str,
    use_dropout: bool,
    upsample: str = "transposed",
) -> nn.Module:
    """The CycleGAN default for 256x256 images: :class:`ResnetGenerator` with 9 blocks."""
    return ResnetGenerator(
        in_channels, out_channels, ngf, norm, use_dropout, n_blocks=9, upsample=upsample
    )


@GENERATORS.register("resnet_6blocks")
def resnet_6blocks(
    in_channels: int,
    out_channels: int,
    ngf: int,
    norm: str,
    use_dropout: bool,
    upsample: str = "transposed",
) -> nn.Module:
    """The CycleGAN choice for 128x128 images: :class:`ResnetGenerator` with 6 blocks."""
    return ResnetGenerator(
        in_channels, out_channels, ngf, norm, use_dropout, n_blocks=6, upsample=upsample
    )


@GENERATORS.register("unet_128")
def unet_128(
    in_channels: int, out_channels: int, ngf: int, norm: str, use_dropout: bool
) -> nn.Module:
    """:class:`UnetGenerator` with 7 downsamplings (128x128 -> 1x1 bottleneck)."""
    return UnetGenerator(in_channels, out_channels, 7, ngf, norm, use_dropout)


@GENERATORS.register("unet_256")
def unet_256(
    in_channels: int, out_channels: int, ngf: int, norm: str, use_dropout: bool
) -> nn.Module:
    """:class:`UnetGenerator` with 8 downsamplings (256x256 -> 1x1 bottleneck)."""
    return UnetGenerator(in_channels, out_channels, 8, ngf, norm, use_dropout)


def build_generator(
    name: str,
    in_channels: int,
    out_channels: int,
    ngf: int = 64,
    norm: str = "instance",
    use_dropout: bool = False,
    upsample: str = "transposed",
) -> nn.Module:
    """Build the generator registered as ``name`` (see :data:`GENERATORS`).

    Unknown ``name`` raises ``KeyError`` listing the choices; unknown ``norm``, or an
    ``upsample`` other than ``transposed`` for a generator outside
    :data:`RESAMPLABLE_GENERATORS`, a ``ValueError``.
    """
    factory = GENERATORS.get(name)
    if upsample == "transposed":  # the official networks: built exactly as always
        return factory(in_channels, out_channels, ngf, norm, use_dropout)
    if name not in RESAMPLABLE_GENERATORS:
        raise ValueError(
            f"upsample {upsample!r}: generator {name} has transposed convolutions only"
        )
    return factory(in_channels, out_channels, ngf, norm, use_dropout, upsample=upsample)
