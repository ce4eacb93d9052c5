"""``cyclegan.upsample``: transposed (official) | resize_conv | antialiased upsampling in the
ResNet generator: shapes, parameter counts, the official layout kept, checkerboards, model
folders (old and new), export, and the options' checks."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from unpaired import Translator, cli
from unpaired.models.cyclegan import build_cyclegan
from unpaired.models.generators import ResnetGenerator, build_generator, upsample_layers
from unpaired.pretrained import load_pretrained, save_pretrained

from conftest import TINY, make_images, make_model

MODES = ("transposed", "resize_conv", "antialiased")

# The official resnet_6blocks at ngf 4, 3 -> 3 channels, instance norm: every state_dict key
# and shape (the layout that official checkpoints and existing model folders hold).
OFFICIAL_6BLOCKS_NGF4 = {
    "model.1.weight": (4, 3, 7, 7),
    "model.1.bias": (4,),
    "model.4.weight": (8, 4, 3, 3),
    "model.4.bias": (8,),
    "model.7.weight": (16, 8, 3, 3),
    "model.7.bias": (16,),
    **{
        f"model.{i}.conv_block.{j}.{p}": (16, 16, 3, 3) if p == "weight" else (16,)
        for i in range(10, 16)
        for j in (1, 5)
        for p in ("weight", "bias")
    },
    "model.16.weight": (16, 8, 3, 3),  # ConvTranspose2d: (in, out, kH, kW)
    "model.16.bias": (8,),
    "model.19.weight": (8, 4, 3, 3),
    "model.19.bias": (4,),
    "model.23.weight": (3, 4, 7, 7),
    "model.23.bias": (3,),
}


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def phase_ratio(y: torch.Tensor, border: int = 8) -> float:
    """The share of the variance of ``y`` (N, C, H, W) that is a 2x2-periodic pattern (a
    checkerboard): the variance across the four pixel phases of their means, over the
    variance of the pixels, inside a ``border`` (padding effects are not what we measure)."""
    y = y[..., border:-border, border:-border]
    phases = torch.stack([y[..., p::2, q::2].mean(dim=(-2, -1)) for p in (0, 1) for q in (0, 1)])
    return float(phases.var(dim=0, unbiased=False).mean() / y.var(dim=(-2, -1)).mean())


@pytest.mark.parametrize("mode", MODES)
def test_shapes_and_parameter_counts(mode: str) -> None:
    torch.manual_seed(0)
    net = build_generator("resnet_6blocks", 3, 1, ngf=4, upsample=mode)
    x = torch.rand(2, 3, 24, 40) * 2 - 1
    with torch.no_grad():
        y = net(x)
    assert y.shape == (2, 1, 24, 40)
    assert float(y.abs().max()) <= 1
    # A 3x3 convolution holds in * out * 9 weights + out biases, as the 3x3 transposed one does.
    official = build_generator("resnet_6blocks", 3, 1, ngf=4)
    assert n_params(net) == n_params(official)
    for c_in, c_out in ((16, 8), (8, 4)):
        layers = nn.Sequential(*upsample_layers(mode, c_in, c_out, True))
        assert n_params(layers) == c_in * c_out * 9 + c_out
        assert layers(torch.zeros(1, c_in, 5, 7)).shape == (1, c_out, 10, 14)
    with torch.device("meta"):  # the full-size network, without allocating or initialising it
        big = ResnetGenerator(3, 3, 64, "instance", n_blocks=9, upsample=mode)
    assert n_params(big) == 11_378_179


def test_default_network_keeps_the_official_layout() -> None:
    torch.manual_seed(0)
    default = build_cyclegan(3, 3, "resnet_6blocks", ngf=4, with_discriminators=False)
    torch.manual_seed(0)
    explicit = build_cyclegan(
        3, 3, "resnet_6blocks", ngf=4, with_discriminators=False, upsample="transposed"
    )
    state = default.g_ab.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == OFFICIAL_6BLOCKS_NGF4
    assert isinstance(default.g_ab.model[16], nn.ConvTranspose2d)
    for key, value in explicit.state_dict().items():
        assert torch.equal(value, default.state_dict()[key]), key
    # The other modes: a resize and a padding before each 3x3 convolution (+ a buffer for
    # antialiased), the same parameter shapes otherwise.
    resized = build_generator("resnet_6blocks", 3, 3, ngf=4, upsample="resize_conv")
    assert isinstance(resized.model[16], nn.Upsample)
    assert isinstance(resized.model[18], nn.Conv2d)
    assert resized.model[18].weight.shape == (8, 16, 3, 3)


@pytest.mark.parametrize("mode", MODES)
def test_upsampling_a_constant_makes_no_checkerboard_unless_transposed(mode: str) -> None:
    torch.manual_seed(0)
    layers = nn.Sequential(*upsample_layers(mode, 4, 4, True))
    with torch.no_grad():
        y = layers(torch.ones(1, 4, 12, 12))[..., 2:-2, 2:-2]
    if mode == "transposed":
        # even output pixels get one kernel tap per axis, odd ones two: a period-2 pattern
        assert float((y[..., 0::2, 0::2] - y[..., 1::2, 1::2]).abs().min()) > 1e-3
    else:
        assert float((y - y[..., :1, :1]).abs().max()) < 1e-5


@pytest.mark.parametrize("mode", MODES)
def test_untrained_generator_checkerboard_energy(mode: str) -> None:
    """A freshly initialised (N(0, 0.02)) generator on a smooth ramp: the share of its output
    variance in the 2x2 pattern is 0.21 transposed, 0.0023 resize_conv, 0.0004 antialiased."""
    torch.manual_seed(0)
    net = build_cyclegan(3, 3, "resnet_6blocks", ngf=8, with_discriminators=False, upsample=mode)
    ramp = torch.linspace(-1, 1, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    with torch.no_grad():
        ratio = phase_ratio(net.g_ab.eval()(ramp.contiguous()))
    if mode == "transposed":
        assert ratio > 0.05
    else:
        assert ratio < 0.01


def folder_info(mode: str) -> dict:
    info = {
        "channels_a": 3,
        "channels_b": 1,
        "generator": "resnet_6blocks",
        "ngf": 4,
        "norm": "instance",
        "use_dropout": False,
    }
    return info | ({"upsample": mode} if mode != "transposed" else {})


@pytest.mark.parametrize("mode", MODES)
def test_model_folder_round_trip(mode: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_cyclegan(3, 1, "resnet_6blocks", ngf=4, with_discriminators=False, upsample=mode)
    folder = save_pretrained(tmp_path / "model", model, folder_info(mode))
    config = json.loads((folder / "config.json").read_text())
    assert config.get("upsample") == (None if mode == "transposed" else mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an optional key is known: no "unknown key" warning
        loaded, _ = load_pretrained(folder)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded.g_ab(x), model.eval().g_ab(x))
    # A folder of one mode read as another fails on a named weight or shape, never silently.
    if mode != "transposed":
        config["upsample"] = "transposed"
        (folder / "config.json").write_text(json.dumps(config))
        with pytest.raises(Exception, match="model.safetensors"):
            load_pretrained(folder)


def test_an_old_folder_without_the_key_is_the_official_network(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "old")
    assert "upsample" not in json.loads((folder / "config.json").read_text())
    model, _ = load_pretrained(folder)
    assert isinstance(model.g_ab.model[16], nn.ConvTranspose2d)


def test_pt2_export_of_a_resize_conv_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_cyclegan(3, 1, "resnet_6blocks", ngf=4, with_discriminators=False,
                           upsample="resize_conv")  # fmt: skip
    folder = save_pretrained(tmp_path / "model", model, folder_info("resize_conv"))
    path = tmp_path / "g_ab.pt2"
    assert cli.main(["export", str(folder), "--format", "pt2", "-o", str(path)]) == 0
    program = torch.export.load(path).module()
    net = Translator.load(folder).generator("a2b")
    x = torch.rand(1, 3, 24, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(program(x), net(x), atol=1e-5)


def test_training_records_it_only_when_set(tmp_path: Path, run_cli) -> None:
    data = tmp_path / "data"
    make_images(data / "trainA", 2, seed=1)
    make_images(data / "trainB", 2, seed=2)
    runs = tmp_path / "runs"
    common = ("--runs-dir", runs, "--max-steps", "1", *TINY)
    assert run_cli("train", data, "--name", "plain", *common).code == 0
    plain = runs / "plain"
    assert "upsample" not in (plain / "config.yaml").read_text()
    assert "upsample" not in (plain / "model" / "config.json").read_text()
    result = run_cli(
        "train", data, "--name", "rc", *common, "--set", "cyclegan.upsample=resize_conv"
    )
    assert result.code == 0, result.err[-2000:]
    assert "upsample: resize_conv" in (runs / "rc" / "config.yaml").read_text()
    assert json.loads((runs / "rc" / "model" / "config.json").read_text())["upsample"] == (
        "resize_conv"
    )
    assert "resize_conv upsampling" in (runs / "rc" / "report.html").read_text()
    assert "upsampling" not in (plain / "report.html").read_text()
    model, _ = load_pretrained(runs / "rc")
    assert isinstance(model.g_ab.model[16], nn.Upsample)
    # Resume: the mode comes back from the checkpoint; changing it is refused; naming the
    # default on a run that left it out is no change.
    assert run_cli("train", "--resume", runs / "rc", "--max-steps", "2").code == 0
    assert json.loads((runs / "rc" / "model" / "config.json").read_text())["step"] == 2
    result = run_cli("train", "--resume", runs / "rc", "--set", "cyclegan.upsample=antialiased")
    assert result.code == 2
    result.one_error_line("cyclegan.upsample", "cannot change when resuming")
    again = ("train", "--resume", plain, "--set", "cyclegan.upsample=transposed")
    assert run_cli(*again, "--max-steps", "2").code == 0
    assert "upsample" not in (plain / "config.yaml").read_text()
    out = tmp_path / "out"
    assert run_cli("translate", runs / "rc", "-i", data / "trainA", "-o", out).code == 0
    assert len(list(out.iterdir())) == 2


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        (("cyclegan.upsample=bilinear",), "option cyclegan.upsample: unknown value 'bilinear'"),
        (
            ("cyclegan.generator=unet_128", "cyclegan.upsample=resize_conv"),
            "option cyclegan.upsample: resize_conv needs a ResNet generator",
        ),
    ],
)
def test_bad_settings_are_one_line(settings: tuple[str, ...], needle: str, run_cli) -> None:
    sets = [arg for s in settings for arg in ("--set", s)]
    result = run_cli("train", "--dry-run", *sets)
    assert result.code == 2
    result.one_error_line(needle)
