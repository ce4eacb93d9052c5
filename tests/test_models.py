"""Tests for the generators, discriminators and shared layers (CPU, a few seconds)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from unpaired.models.discriminators import (
    DISCRIMINATORS,
    NLayerDiscriminator,
    PixelDiscriminator,
    build_discriminator,
)
from unpaired.models.generators import (
    GENERATORS,
    ResnetGenerator,
    UnetGenerator,
    build_generator,
)
from unpaired.models.layers import (
    NORM_LAYERS,
    ResnetBlock,
    init_weights,
    norm_layer,
    uses_bias,
)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- parameter counts of the official architectures (ngf = ndf = 64, 3 -> 3 channels) ---------
# The U-Net figures were counted by hand from the official layer list (outermost: Conv 3->64 no
# bias, ConvT 128->3 with bias; three outer levels 64/128/256 -> 2x inner; num_downs - 5 middle
# 512 levels; innermost 512 without down norm; BatchNorm affine, conv bias off) and agree with
# the "54.414 M" that the official pix2pix code prints for unet_256.
@pytest.mark.parametrize(
    ("name", "norm", "expected"),
    [
        ("resnet_9blocks", "instance", 11_378_179),
        ("resnet_6blocks", "instance", 7_837_699),
        ("unet_256", "batch", 54_413_955),
        ("unet_128", "batch", 41_828_995),
    ],
)
def test_generator_parameter_counts(name: str, norm: str, expected: int) -> None:
    with torch.device("meta"):  # no memory, no init cost
        net = build_generator(name, 3, 3, ngf=64, norm=norm)
    assert n_params(net) == expected


def test_discriminator_parameter_counts() -> None:
    with torch.device("meta"):
        assert n_params(build_discriminator("basic", 3)) == 2_764_737
        assert n_params(build_discriminator("n_layers", 3, n_layers=3)) == 2_764_737
        assert n_params(build_discriminator("pixel", 3)) == 8_705


def test_registries_list_the_architectures() -> None:
    assert GENERATORS.names() == ["resnet_6blocks", "resnet_9blocks", "unet_128", "unet_256"]
    assert DISCRIMINATORS.names() == ["basic", "n_layers", "pixel"]


# --- generator shapes and ranges ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("c_in", "c_out", "size"),
    [(3, 3, (64, 96)), (1, 3, (32, 48)), (3, 1, (32, 48)), (3, 3, (96, 64)), (1, 1, (8, 12))],
)
def test_resnet_generator_shape_and_range(c_in: int, c_out: int, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    net = build_generator("resnet_6blocks", c_in, c_out, ngf=8)
    x = torch.rand(2, c_in, *size) * 2 - 1
    y = net(x)
    assert y.shape == (2, c_out, *size)
    assert y.abs().max() <= 1.0


def test_resnet_generator_output_stays_in_range_for_large_inputs() -> None:
    torch.manual_seed(0)
    net = ResnetGenerator(3, 3, ngf=8, n_blocks=2, norm="none")
    init_weights(net, "normal", gain=1.0)  # large weights saturate the tanh
    y = net(torch.randn(1, 3, 16, 16) * 50)
    assert y.abs().max() <= 1.0


@pytest.mark.parametrize("size", [(30, 32), (32, 30), (33, 33)])
def test_resnet_generator_rejects_sizes_not_multiple_of_4(size: tuple[int, int]) -> None:
    net = ResnetGenerator(3, 3, ngf=4, n_blocks=1)
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.zeros(1, 3, *size))


@pytest.mark.parametrize(
    ("name", "c_in", "c_out", "size"),
    [
        ("unet_128", 3, 3, (128, 256)),
        ("unet_128", 1, 3, (128, 128)),
        ("unet_256", 3, 1, (256, 256)),
    ],
)
def test_unet_generator_shape_and_range(
    name: str, c_in: int, c_out: int, size: tuple[int, int]
) -> None:
    torch.manual_seed(0)
    net = build_generator(name, c_in, c_out, ngf=4, norm="batch")
    y = net(torch.rand(2, c_in, *size) * 2 - 1)
    assert y.shape == (2, c_out, *size)
    assert y.abs().max() <= 1.0


def test_unet_generator_rejects_bad_sizes() -> None:
    net = UnetGenerator(3, 3, num_downs=7, ngf=4, norm="instance")
    with pytest.raises(ValueError, match="multiples of 128"):
        net(torch.zeros(2, 3, 128, 192))
    with pytest.raises(ValueError, match="num_downs"):
        UnetGenerator(3, 3, num_downs=4)


def test_generators_backpropagate() -> None:
    torch.manual_seed(0)
    for net, size in [
        (ResnetGenerator(3, 3, ngf=4, n_blocks=2, use_dropout=True), 16),
        (UnetGenerator(3, 3, num_downs=5, ngf=4, norm="batch", use_dropout=True), 32),
    ]:
        x = torch.rand(2, 3, size, size, requires_grad=True)
        net(x).square().mean().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()
        assert all(p.grad is not None for p in net.parameters())


def test_dropout_placement() -> None:
    def count(net: nn.Module) -> int:
        return sum(isinstance(m, nn.Dropout) for m in net.modules())

    with torch.device("meta"):
        assert count(build_generator("resnet_9blocks", 3, 3, use_dropout=True)) == 9
        assert count(build_generator("resnet_9blocks", 3, 3, use_dropout=False)) == 0
        assert count(build_generator("unet_256", 3, 3, norm="batch", use_dropout=True)) == 3
        assert count(build_generator("unet_128", 3, 3, norm="batch", use_dropout=True)) == 2


def test_resnet_state_dict_keys_follow_official_layout() -> None:
    with torch.device("meta"):
        keys = set(build_generator("resnet_9blocks", 3, 3).state_dict())
    assert {"model.1.weight", "model.10.conv_block.5.weight", "model.26.bias"} <= keys


# --- discriminators ----------------------------------------------------------------------------
def test_patchgan_gives_30x30_map_on_256() -> None:
    torch.manual_seed(0)
    net = build_discriminator("basic", 3, ndf=8)
    y = net(torch.rand(1, 3, 256, 256) * 2 - 1)
    assert y.shape == (1, 1, 30, 30)
    assert (y < 0).any() and (y > 0).any()  # raw scores, not probabilities


@pytest.mark.parametrize(
    ("n_layers", "c_in", "size", "out"),
    [(3, 1, (64, 96), (6, 10)), (2, 3, (64, 64), (14, 14)), (1, 6, (32, 48), (14, 22))],
)
def test_n_layers_discriminator_shapes(
    n_layers: int, c_in: int, size: tuple[int, int], out: tuple[int, int]
) -> None:
    net = build_discriminator("n_layers", c_in, ndf=8, n_layers=n_layers)
    assert net(torch.zeros(2, c_in, *size)).shape == (2, 1, *out)


def test_basic_ignores_n_layers_and_pixel_keeps_size() -> None:
    assert isinstance(build_discriminator("basic", 3, ndf=8, n_layers=5), NLayerDiscriminator)
    assert build_discriminator("basic", 3, ndf=8, n_layers=5)(torch.zeros(1, 3, 64, 64)).shape == (
        1,
        1,
        6,
        6,
    )
    pixel = build_discriminator("pixel", 1, ndf=8)
    assert isinstance(pixel, PixelDiscriminator)
    assert pixel(torch.zeros(2, 1, 20, 36)).shape == (2, 1, 20, 36)


# --- layers ------------------------------------------------------------------------------------
def test_norm_layers() -> None:
    assert isinstance(NORM_LAYERS, dict)
    inorm = norm_layer("instance")(16)
    assert isinstance(inorm, nn.InstanceNorm2d)
    assert not inorm.affine and not inorm.track_running_stats
    bnorm = norm_layer("batch")(16)
    assert isinstance(bnorm, nn.BatchNorm2d) and bnorm.affine and bnorm.track_running_stats
    assert isinstance(norm_layer("none")(16), nn.Identity)
    assert uses_bias("instance") and uses_bias("none") and not uses_bias("batch")


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize("padding_type", ["reflect", "replicate", "zero"])
def test_resnet_block_is_identity_when_second_conv_is_zero(norm: str, padding_type: str) -> None:
    torch.manual_seed(0)
    block = ResnetBlock(8, norm, use_dropout=False, padding_type=padding_type)
    convs = [m for m in block.conv_block if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2
    with torch.no_grad():
        convs[1].weight.zero_()
        if convs[1].bias is not None:
            convs[1].bias.zero_()
    x = torch.randn(2, 8, 12, 10)
    torch.testing.assert_close(block(x), x)
    # and with the conv live the block changes its input but keeps the shape
    init_weights(block, gain=0.1)
    y = block(x)
    assert y.shape == x.shape and not torch.allclose(y, x)


def test_init_weights_normal_statistics() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(256, 256, 3), nn.BatchNorm2d(4096), nn.Linear(300, 200))
    init_weights(net, "normal", gain=0.02)
    w = net[0].weight
    assert abs(w.std().item() - 0.02) < 0.0005 and abs(w.mean().item()) < 0.0005
    assert (net[0].bias == 0).all() and (net[2].bias == 0).all()
    assert abs(net[2].weight.std().item() - 0.02) < 0.001
    bn = net[1]
    assert abs(bn.weight.mean().item() - 1.0) < 0.002 and abs(bn.weight.std().item() - 0.02) < 0.002
    assert (bn.bias == 0).all()


def test_init_weights_other_types_and_determinism() -> None:
    fan_in, fan_out = 128 * 9, 64 * 9

    def conv() -> nn.Module:
        return nn.Sequential(nn.Conv2d(128, 64, 3))

    torch.manual_seed(1)
    net = conv()
    init_weights(net, "kaiming")
    assert math.isclose(net[0].weight.std().item(), math.sqrt(2 / fan_in), rel_tol=0.03)
    init_weights(net, "xavier", gain=0.5)
    xavier_std = 0.5 * math.sqrt(2 / (fan_in + fan_out))
    assert math.isclose(net[0].weight.std().item(), xavier_std, rel_tol=0.03)
    init_weights(net, "orthogonal", gain=0.5)
    w = net[0].weight.reshape(64, -1)
    torch.testing.assert_close(w @ w.T, 0.25 * torch.eye(64), atol=1e-5, rtol=0)
    assert (net[0].bias == 0).all()

    a, b = conv(), conv()
    torch.manual_seed(7)
    init_weights(a)
    torch.manual_seed(7)
    init_weights(b)
    torch.testing.assert_close(a.state_dict(), b.state_dict())


# --- errors name the choices -------------------------------------------------------------------
def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(KeyError, match="resnet_9blocks"):
        build_generator("resnet_12blocks", 3, 3)
    with pytest.raises(KeyError, match="n_layers"):
        build_discriminator("spectral", 3)
    with pytest.raises(ValueError, match=r"norm 'group'.*batch, instance, none"):
        norm_layer("group")
    with pytest.raises(ValueError, match="norm 'group'"):
        build_generator("resnet_6blocks", 3, 3, norm="group")
    with pytest.raises(ValueError, match="norm 'layer'"):
        build_discriminator("basic", 3, norm="layer")
    with pytest.raises(ValueError, match="kaiming, normal, orthogonal, xavier"):
        init_weights(nn.Linear(2, 2), "uniform")
    with pytest.raises(ValueError, match="reflect, replicate, zero"):
        ResnetBlock(4, "instance", False, padding_type="circular")
