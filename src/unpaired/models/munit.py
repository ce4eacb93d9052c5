"""MUNIT: per-domain auto-encoders with a content and a style code, and multi-scale discriminators.

Huang, Liu, Belongie, Kautz (ECCV 2018), "Multimodal Unsupervised Image-to-Image Translation".
The layer sizes and defaults follow the NVlabs reference configuration (edges2handbags).

Paper-to-code map (domain 1 is A, domain 2 is B):

=====================  ======================  ===============================================
paper                  code                    role
=====================  ======================  ===============================================
E^c_1, E^s_1, G_1      ``gen_a``               auto-encoder of domain A (``MUNITGenerator``)
E^c_1                  ``gen_a.enc_content``   x_1 -> content code c_1 (N, 4 dim, H/4, W/4)
E^s_1                  ``gen_a.enc_style``     x_1 -> style code s_1 (N, style_dim, 1, 1)
G_1                    ``gen_a.decode``        (c, s_1) -> image of A, via ``dec`` and ``mlp``
MLP of G_1             ``gen_a.mlp``           s_1 -> the AdaIN (gamma, beta) of G_1
E^c_2, E^s_2, G_2      ``gen_b``               the same for domain B
D_1, D_2               ``dis_a``, ``dis_b``    multi-scale discriminators of A, B images
x_{2->1}, x_{1->2}     ``x_ba``, ``x_ab``      G_1(c_2, s_1), G_2(c_1, s_2), s ~ N(0, I)
=====================  ======================  ===============================================

The losses (L^{x_1}_recon, L^{c_1}_recon, L^{s_1}_recon, L^{x_1}_GAN, ...) are pure functions in
:mod:`unpaired.losses`; one training step is :func:`unpaired.recipes.munit.step.munit_step`.

Sizes: the generator needs image sides that are multiples of ``2**n_downsample`` (4; otherwise
the decoded image would not have the input's size) and at least 16 (the style encoder's four
reflection-padded stride-2 convolutions); see ``MUNITGenerator.min_size``. The discriminator
needs every side at least ``MultiScaleDiscriminator.min_size`` (61 with 4 layers and 3 scales,
i.e. 64 in practice; 29 with 3 layers and 3 scales; 13 with 2 layers and 3 scales).

Deviations from the NVlabs code, none of which changes a parameter count, the training math or
an output: the AdaIN parameters are passed to the decoder as an argument instead of being
assigned to module attributes before each call, and AdaIN is an instance norm instead of a batch
norm over a reshaped tensor (the same arithmetic; outputs agree to ~2e-6). Like NVlabs' current
code, every instance norm uses per-image statistics (its ``track_running_stats=True`` variant is
commented out), so eval and train mode give the same images; ``unpaired import`` drops the
running statistics that files of the PyTorch 0.3 era carry.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import ResnetBlock, init_weights, norm_layer


def _conv(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int,
    padding: int,
    norm: nn.Module | None = None,
    act: nn.Module | None = None,
) -> nn.Sequential:
    """Reflection pad -> Conv2d (with bias) -> [norm] -> [activation]."""
    layers: list[nn.Module] = [
        nn.ReflectionPad2d(padding),
        nn.Conv2d(in_channels, out_channels, kernel, stride),
    ]
    layers += [m for m in (norm, act) if m is not None]
    return nn.Sequential(*layers)


class LayerNorm2d(nn.Module):
    """Per-sample layer norm over (C, H, W) with a learned per-channel affine (NVlabs "ln").

    y = gamma_c * (x - mean(x)) / (std(x) + eps) + beta_c, where mean and the unbiased std are
    taken over all of one sample's C*H*W values. gamma starts from U(0, 1) and beta from 0, as in
    the reference code. (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.empty(num_features).uniform_())
        self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H, W), normalised per sample."""
        flat = x.flatten(1)
        mean = flat.mean(1).view(-1, 1, 1, 1)
        std = flat.std(1).view(-1, 1, 1, 1)
        y = (x - mean) / (std + self.eps)
        return y * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


def adaptive_instance_norm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """AdaIN(z, gamma, beta) = gamma * (z - mu(z)) / sigma(z) + beta, per sample and channel.

    ``x`` is (N, C, H, W); ``gamma`` and ``beta`` are (N, C), produced from the style code by the
    MLP. mu and sigma are the per-(sample, channel) mean and biased std over H, W (sigma includes
    ``eps`` under the square root), as in instance norm.
    """
    return F.instance_norm(x, eps=eps) * gamma[:, :, None, None] + beta[:, :, None, None]


class AdaINResBlock(nn.Module):
    """Residual block of the decoder: x + AdaIN(conv(ReLU(AdaIN(conv(x))))), 3x3 reflect convs.

    ``forward(x, params)`` takes x (N, dim, H, W) and ``params`` (N, 4 * dim) laid out as
    [beta_1, gamma_1, beta_2, gamma_2] (each ``dim`` wide, the NVlabs order: mean then std per
    AdaIN layer).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.num_adain_params = 4 * dim
        self.conv1 = _conv(dim, dim, 3, 1, 1)
        self.conv2 = _conv(dim, dim, 3, 1, 1)

    def forward(self, x: Tensor, params: Tensor) -> Tensor:
        """(N, dim, H, W), (N, 4 * dim) -> (N, dim, H, W)."""
        beta1, gamma1, beta2, gamma2 = params.split(self.dim, dim=1)
        h = F.relu(adaptive_instance_norm(self.conv1(x), gamma1, beta1))
        return x + adaptive_instance_norm(self.conv2(h), gamma2, beta2)


class ContentEncoder(nn.Module):
    """E^c: image (N, C_in, H, W) in [-1, 1] -> content code (N, dim * 2**n_downsample, H', W').

    conv7x7 (C_in -> dim) + IN + ReLU; ``n_downsample`` x [conv4x4 stride 2, channels doubled,
    IN + ReLU]; ``n_res`` residual blocks with IN. H' = H / 2**n_downsample for H a multiple of
    it. IN has no affine and no running statistics.
    """

    def __init__(self, in_channels: int, dim: int, n_downsample: int, n_res: int) -> None:
        super().__init__()
        instance = norm_layer("instance")
        layers: list[nn.Module] = [
            _conv(in_channels, dim, 7, 1, 3, instance(dim), nn.ReLU(inplace=True))
        ]
        for _ in range(n_downsample):
            layers.append(_conv(dim, 2 * dim, 4, 2, 1, instance(2 * dim), nn.ReLU(inplace=True)))
            dim *= 2
        layers += [ResnetBlock(dim, "instance", use_dropout=False) for _ in range(n_res)]
        self.model = nn.Sequential(*layers)
        self.out_channels = dim

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, out_channels, H / 2**n_downsample, W / 2**n_downsample)."""
        return self.model(x)


class StyleEncoder(nn.Module):
    """E^s: image (N, C_in, H, W) in [-1, 1] -> style code (N, style_dim, 1, 1). No normalisation.

    conv7x7 (C_in -> dim) + ReLU; ``n_downsample`` x [conv4x4 stride 2 + ReLU], the first two
    doubling the channels and the rest keeping them (64 -> 128 -> 256 -> 256 -> 256); global
    average pooling; conv1x1 to ``style_dim`` (no activation). Any side >= 2**n_downsample works.
    """

    def __init__(self, in_channels: int, dim: int, style_dim: int, n_downsample: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(in_channels, dim, 7, 1, 3, act=nn.ReLU(inplace=True))]
        for i in range(n_downsample):
            out = 2 * dim if i < 2 else dim
            layers.append(_conv(dim, out, 4, 2, 1, act=nn.ReLU(inplace=True)))
            dim = out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, style_dim, 1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, style_dim, 1, 1)."""
        return self.model(x)


class StyleMLP(nn.Module):
    """The MLP of G: style code (N, style_dim[, 1, 1]) -> AdaIN parameters (N, out_features).

    ``n_layers`` linear layers (style_dim -> hidden -> ... -> out_features), ReLU between them,
    none after the last.
    """

    def __init__(self, style_dim: int, out_features: int, hidden: int, n_layers: int = 3) -> None:
        super().__init__()
        sizes = [style_dim] + [hidden] * (n_layers - 1) + [out_features]
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < n_layers - 1:
                layers.append(nn.ReLU(inplace=True))
        self.model = nn.Sequential(*layers)

    def forward(self, style: Tensor) -> Tensor:
        """(N, style_dim) or (N, style_dim, 1, 1) -> (N, out_features)."""
        return self.model(style.flatten(1))


class Decoder(nn.Module):
    """G without its MLP: content code + AdaIN parameters -> image (N, C_out, H, W) in [-1, 1].

    ``n_res`` AdaIN residual blocks at the content resolution; ``n_upsample`` x [nearest x2
    upsampling, conv5x5 halving the channels, LayerNorm2d, ReLU]; conv7x7 to ``out_channels`` and
    tanh. ``num_adain_params`` (= 4 * in_channels * n_res) is the width the MLP must produce.
    """

    def __init__(self, in_channels: int, out_channels: int, n_upsample: int, n_res: int) -> None:
        super().__init__()
        dim = in_channels
        self.res_blocks = nn.ModuleList(AdaINResBlock(dim) for _ in range(n_res))
        self.num_adain_params = sum(b.num_adain_params for b in self.res_blocks)
        layers: list[nn.Module] = []
        for _ in range(n_upsample):
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                _conv(dim, dim // 2, 5, 1, 2, LayerNorm2d(dim // 2), nn.ReLU(inplace=True)),
            ]
            dim //= 2
        layers.append(_conv(dim, out_channels, 7, 1, 3, act=nn.Tanh()))
        self.upsample = nn.Sequential(*layers)

    def forward(self, content: Tensor, adain_params: Tensor) -> Tensor:
        """(N, C_c, h, w), (N, num_adain_params) -> (N, C_out, h * 2**n_upsample, ...)."""
        if adain_params.shape[1] != self.num_adain_params:
            raise ValueError(
                f"decoder: expected {self.num_adain_params} AdaIN parameters per sample, "
                f"got {adain_params.shape[1]}"
            )
        x, start = content, 0
        for block in self.res_blocks:
            x = block(x, adain_params[:, start : start + block.num_adain_params])
            start += block.num_adain_params
        return self.upsample(x)


class MUNITGenerator(nn.Module):
    """One domain's auto-encoder (E^c, E^s, G): images (N, C, H, W) in [-1, 1].

    ``encode(x)`` -> (content (N, dim * 2**n_downsample, H / 2**n_downsample, W / ...),
    style (N, style_dim, 1, 1)); ``decode(content, style)`` -> image (N, out_channels, H, W) in
    [-1, 1]; ``forward(x, style=None)`` re-decodes x's content with ``style`` (its own style when
    None, i.e. the within-domain reconstruction). ``out_channels`` defaults to ``in_channels``;
    training needs them equal (the image reconstruction loss compares output and input).
    With the defaults (3 channels) it has 15,026,187 parameters.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int | None = None,
        dim: int = 64,
        style_dim: int = 8,
        n_downsample: int = 2,
        n_res: int = 4,
        mlp_dim: int = 256,
        n_style_downsample: int = 4,
    ) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.in_channels, self.out_channels, self.style_dim = in_channels, out_channels, style_dim
        self.size_multiple = 2**n_downsample
        # Reflection padding needs each padded map to be at least 2 pixels wide.
        self.min_size = max(2**n_style_downsample, 2 ** (n_downsample + 1), 4)
        self.enc_style = StyleEncoder(in_channels, dim, style_dim, n_style_downsample)
        self.enc_content = ContentEncoder(in_channels, dim, n_downsample, n_res)
        self.dec = Decoder(self.enc_content.out_channels, out_channels, n_downsample, n_res)
        self.mlp = StyleMLP(style_dim, self.dec.num_adain_params, mlp_dim, 3)

    def check_size(self, x: Tensor) -> None:
        """Raise a one-line ``ValueError`` when x's spatial size cannot round-trip."""
        h, w = x.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple or min(h, w) < self.min_size:
            raise ValueError(
                f"MUNIT generator: image size {h}x{w} must have sides that are multiples of "
                f"{self.size_multiple} and at least {self.min_size}"
            )

    def encode_content(self, x: Tensor) -> Tensor:
        """c = E^c(x): (N, C_in, H, W) in [-1, 1] -> (N, C_c, H / 4, W / 4) at the defaults."""
        self.check_size(x)
        return self.enc_content(x)

    def encode_style(self, x: Tensor) -> Tensor:
        """s = E^s(x): (N, C_in, H, W) in [-1, 1] -> (N, style_dim, 1, 1)."""
        self.check_size(x)
        return self.enc_style(x)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(c, s) = (E^c(x), E^s(x)) for x (N, C_in, H, W) in [-1, 1]."""
        return self.encode_content(x), self.encode_style(x)

    def decode(self, content: Tensor, style: Tensor) -> Tensor:
        """G(c, s): content (N, C_c, h, w) and style (N, style_dim[, 1, 1]) -> image in [-1, 1].

        The content may come from either domain's encoder (the cross-domain translation
        x_{2->1} = G_1(c_2, s_1)); the output is (N, out_channels, 4h, 4w) at the defaults.
        """
        return self.dec(content, self.mlp(style))

    def forward(self, x: Tensor, style: Tensor | None = None, *, op: str = "translate") -> Any:
        """G(E^c(x), s) with s = ``style`` (N, style_dim, 1, 1), or E^s(x) when None.

        ``op`` reaches the parts through ``forward``, which is all a DDP wrapper passes on:
        ``"encode"`` -> (c, s), ``"encode_content"`` -> c, ``"decode"`` -> G(c = ``x``, s).
        """
        if op == "translate":
            content = self.encode_content(x)
            return self.decode(content, self.encode_style(x) if style is None else style)
        if op not in ("encode", "encode_content", "decode"):
            raise ValueError(f"unknown MUNIT generator op {op!r}")
        part = getattr(self, op)
        return part(x) if style is None else part(x, style)


class MultiScaleDiscriminator(nn.Module):
    """D: image (N, C, H, W) in [-1, 1] -> list of ``num_scales`` raw score maps (N, 1, h_k, w_k).

    At each scale: ``n_layer`` x [conv4x4 stride 2 (reflect pad 1), channels dim, 2dim, 4dim, ...,
    LeakyReLU(0.2), no norm], then conv1x1 to one channel. Between scales the image is
    average-pooled (3x3, stride 2, pad 1, padding not counted). With 4 layers and a 256x256 input
    the maps are 16x16, 8x8 and 4x4; with the defaults (3 channels) it has 8,271,171 parameters.
    """

    def __init__(
        self, in_channels: int = 3, dim: int = 64, n_layer: int = 4, num_scales: int = 3
    ) -> None:
        super().__init__()
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.scales = nn.ModuleList(
            self._make_net(in_channels, dim, n_layer) for _ in range(num_scales)
        )
        self.min_size = min_discriminator_size(n_layer, num_scales)

    @staticmethod
    def _make_net(in_channels: int, dim: int, n_layer: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for _ in range(n_layer):
            layers.append(_conv(in_channels, dim, 4, 2, 1, act=nn.LeakyReLU(0.2, inplace=True)))
            in_channels, dim = dim, 2 * dim
        layers.append(nn.Conv2d(in_channels, 1, 1))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        """(N, C, H, W) -> [(N, 1, H / 2**n_layer, W / 2**n_layer), then each scale halved]."""
        h, w = x.shape[-2:]
        if min(h, w) < self.min_size:
            raise ValueError(
                f"MUNIT discriminator: image size {h}x{w} is too small; each side must be at "
                f"least {self.min_size} for {len(self.scales)} scales"
            )
        outputs = []
        for net in self.scales:
            outputs.append(net(x))
            x = self.downsample(x)
        return outputs


def min_discriminator_size(n_layer: int, num_scales: int) -> int:
    """The smallest side for which every reflection pad of every scale gets >= 2 pixels."""

    def fits(size: int) -> bool:
        for _ in range(num_scales):
            side = size
            for _ in range(n_layer):
                if side < 2:
                    return False
                side //= 2
            size = (size + 1) // 2  # the 3x3 / stride 2 / pad 1 average pool
        return True

    size = 2
    while not fits(size):
        size += 1
    return size


class MUNIT(nn.Module):
    """The MUNIT bundle: two auto-encoders and (for training) two multi-scale discriminators.

    Paper-to-code names (domain 1 = A, domain 2 = B):

    - E^c_1 = ``gen_a.enc_content``, E^s_1 = ``gen_a.enc_style``, G_1 = ``gen_a.decode``
      (``gen_a.mlp`` then ``gen_a.dec``); E^c_2, E^s_2, G_2 likewise in ``gen_b``.
    - D_1 = ``dis_a`` (real x_1 vs x_{2->1}), D_2 = ``dis_b`` (real x_2 vs x_{1->2}).
    - c_i = E^c_i(x_i) (N, 4 dim, H/4, W/4); s_i = E^s_i(x_i) or s_i ~ N(0, I) (N, style_dim, 1, 1).
    - x_{1->2} = G_2(c_1, s_2) is ``x_ab``; x_{2->1} = G_1(c_2, s_1) is ``x_ba``.

    Translation A -> B with a style s_2 (N, style_dim, 1, 1), e.g. drawn from N(0, I):
    ``gen_b.decode(gen_a.encode_content(x_a), s_2)``; B -> A likewise with the roles swapped.
    """

    def __init__(
        self,
        gen_a: MUNITGenerator,
        gen_b: MUNITGenerator,
        dis_a: MultiScaleDiscriminator | None = None,
        dis_b: MultiScaleDiscriminator | None = None,
    ) -> None:
        super().__init__()
        self.gen_a, self.gen_b = gen_a, gen_b
        self.dis_a, self.dis_b = dis_a, dis_b

    @property
    def style_dim(self) -> int:
        """Length of the style codes s_1, s_2."""
        return self.gen_a.style_dim

    def generators(self) -> list[nn.Module]:
        """[gen_a, gen_b]."""
        return [self.gen_a, self.gen_b]

    def discriminators(self) -> list[nn.Module]:
        """[dis_a, dis_b], or [] for a model built without them."""
        return [m for m in (self.dis_a, self.dis_b) if m is not None]


def build_munit(
    channels_a: int = 3,
    channels_b: int = 3,
    dim: int = 64,
    style_dim: int = 8,
    n_downsample: int = 2,
    n_res: int = 4,
    mlp_dim: int = 256,
    n_layer_d: int = 4,
    num_scales: int = 3,
    init: str = "kaiming",
    with_discriminators: bool = True,
) -> MUNIT:
    """Build and initialise MUNIT (global torch RNG; seed it first).

    Generators: conv/linear weights by ``init`` (a name in ``layers.INIT_FUNCTIONS``; kaiming
    = Kaiming-normal fan-in, the NVlabs default; normal = N(0, 0.02); xavier / orthogonal with
    gain sqrt(2) as in NVlabs), biases 0, LayerNorm gamma ~ U(0, 1). Discriminators always
    N(0, 0.02) weights and zero biases, as in the reference trainer. The discriminators share
    the generators' ``dim`` (64 in both NVlabs configs).
    """
    gains = {"normal": 0.02}
    gens = [
        MUNITGenerator(c, c, dim, style_dim, n_downsample, n_res, mlp_dim)
        for c in (channels_a, channels_b)
    ]
    for gen in gens:
        init_weights(gen, init, gains.get(init, math.sqrt(2)))
    dis: list[MultiScaleDiscriminator | None] = [None, None]
    if with_discriminators:
        dis = [
            MultiScaleDiscriminator(c, dim, n_layer_d, num_scales) for c in (channels_a, channels_b)
        ]
        for d in dis:
            init_weights(d, "normal", 0.02)
    return MUNIT(gens[0], gens[1], dis[0], dis[1])
