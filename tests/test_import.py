"""``unpaired import`` of official pytorch-CycleGAN-and-pix2pix and CUT generators.

Most tests write state dicts built here with the reference projects' key names and shapes
(:func:`resnet_state`, :func:`unet_state`: the official module layouts written out by hand, at
tiny sizes) and check what is inferred, that the folder loads and translates, one-direction
behaviour and the one-line errors. The reference code itself is never imported.

The known-value tests use files in ``tests/data/import/`` made with the REAL reference
networks (pytorch-CycleGAN-and-pix2pix at 2a7afba, ``models/networks.py``; CUT,
taesungp/contrastive-unpaired-translation, ``models/networks.py``), outside this project:
``define_G(3, 3, 2, "resnet_6blocks", "instance")``, ``define_G(1, 1, 1, "unet_128", "batch",
use_dropout=True)`` and CUT's ``define_G(3, 3, 2, "resnet_6blocks", "instance",
no_antialias=False, no_antialias_up=False)``; every conv weight redrawn from
N(0, 1 / fan_in), biases N(0, 0.01), batch-norm weight N(1, 0.04), bias N(0, 0.01), running
mean N(0, 0.01), running var U(0.5, 1.5) (torch.Generator seeds 1, 2, 3); ``eval()``; then
``torch.save(net.state_dict(), NAME.pth)`` as the reference's ``save_networks`` does, and
``NAME.safetensors`` holding the fixed input (``input`` in [-1, 1], or ``input_uint8`` for
``x = u / 127.5 - 1``) and the reference network's output on it (fp32).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from unpaired import Translator
from unpaired.importers import CheckpointImportError, import_checkpoint
from unpaired.importers.checkpoint import load_checkpoint
from unpaired.pretrained import load_pretrained
from unpaired.recipes import DirectionError

DATA = Path(__file__).parent / "data" / "import"


# --- official layouts, written out -----------------------------------------------------------
class _State:
    """Adds tensors under the official key names; fixed seed, small random values."""

    def __init__(self, norm: str, legacy: bool = False, seed: int = 0) -> None:
        self.norm, self.legacy = norm, legacy
        self.bias = norm == "instance"  # the official use_bias (none: no conv bias either)
        self.gen = torch.Generator().manual_seed(seed)
        self.d: dict[str, torch.Tensor] = {}

    def t(self, key: str, *shape: int, scale: float = 0.2) -> None:
        self.d[key] = torch.randn(*shape, generator=self.gen) * scale

    def conv(self, key: str, c_out: int, c_in: int, k: int, bias: bool | None = None) -> None:
        self.t(f"{key}.weight", c_out, c_in, k, k)
        if self.bias if bias is None else bias:
            self.t(f"{key}.bias", c_out, scale=0.05)

    def convt(self, key: str, c_in: int, c_out: int, k: int, bias: bool | None = None) -> None:
        self.t(f"{key}.weight", c_in, c_out, k, k)
        if self.bias if bias is None else bias:
            self.t(f"{key}.bias", c_out, scale=0.05)

    def norm_layer(self, key: str, c: int) -> None:
        if self.norm == "batch":
            self.d[f"{key}.weight"] = 1 + 0.1 * torch.randn(c, generator=self.gen)
            self.t(f"{key}.bias", c, scale=0.05)
            self.t(f"{key}.running_mean", c, scale=0.05)
            self.d[f"{key}.running_var"] = 0.5 + torch.rand(c, generator=self.gen)
            self.d[f"{key}.num_batches_tracked"] = torch.tensor(7)
        elif self.norm == "instance" and self.legacy:  # PyTorch < 0.4 kept these
            self.d[f"{key}.running_mean"] = torch.zeros(c)
            self.d[f"{key}.running_var"] = torch.ones(c)
            self.d[f"{key}.num_batches_tracked"] = torch.tensor(0)


def resnet_state(
    c_in: int = 3,
    c_out: int = 3,
    ngf: int = 4,
    blocks: int = 6,
    norm: str = "instance",
    dropout: bool = False,
    antialias: bool = False,
    antialias_up: bool | None = None,
    legacy: bool = False,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """The keys and shapes of the official ``ResnetGenerator`` (CUT's with ``antialias``)."""
    s = _State(norm, legacy, seed)
    antialias_up = antialias if antialias_up is None else antialias_up
    s.conv("model.1", ngf, c_in, 7)
    s.norm_layer("model.2", ngf)
    i = 4
    for mult in (1, 2):
        s.conv(f"model.{i}", ngf * mult * 2, ngf * mult, 3)
        s.norm_layer(f"model.{i + 1}", ngf * mult * 2)
        i += 3
        if antialias:
            s.d[f"model.{i}.filt"] = _binomial(3, 1.0).repeat(ngf * mult * 2, 1, 1, 1)
            i += 1
    dim = 4 * ngf
    for _ in range(blocks):
        second = 6 if dropout else 5
        s.conv(f"model.{i}.conv_block.1", dim, dim, 3)
        s.norm_layer(f"model.{i}.conv_block.2", dim)
        s.conv(f"model.{i}.conv_block.{second}", dim, dim, 3)
        s.norm_layer(f"model.{i}.conv_block.{second + 1}", dim)
        i += 1
    for mult in (4, 2):
        c = ngf * mult
        if antialias_up:
            s.d[f"model.{i}.filt"] = _binomial(4, 4.0).repeat(c, 1, 1, 1)
            s.conv(f"model.{i + 1}", c // 2, c, 3)
            s.norm_layer(f"model.{i + 2}", c // 2)
            i += 4
        else:
            s.convt(f"model.{i}", c, c // 2, 3)
            s.norm_layer(f"model.{i + 1}", c // 2)
            i += 3
    s.conv(f"model.{i + 1}", c_out, ngf, 7, bias=True)
    return s.d


def _binomial(size: int, gain: float) -> torch.Tensor:
    row = torch.tensor([[1.0, 2.0, 1.0], [1.0, 3.0, 3.0, 1.0]][size - 3])
    filt = row[:, None] * row[None, :]
    return (filt / filt.sum() * gain)[None, None]


def unet_state(
    c_in: int = 3,
    c_out: int = 3,
    ngf: int = 1,
    num_downs: int = 7,
    norm: str = "batch",
    legacy: bool = False,
) -> dict[str, torch.Tensor]:
    """The keys and shapes of the official ``UnetGenerator`` (nested ``model.model...``)."""
    s = _State(norm, legacy)
    levels = [(ngf, 2 * ngf), (2 * ngf, 4 * ngf), (4 * ngf, 8 * ngf)]
    levels += [(8 * ngf, 8 * ngf)] * (num_downs - 4)  # the middle ones and the innermost
    s.conv("model.model.0", ngf, c_in, 4)
    s.convt("model.model.3", 2 * ngf, c_out, 4, bias=True)
    prefix = "model.model.1.model."
    for depth, (outer, inner) in enumerate(levels):
        s.conv(f"{prefix}1", inner, outer, 4)
        if depth == len(levels) - 1:  # innermost: down, up, norm
            s.convt(f"{prefix}3", inner, outer, 4)
            s.norm_layer(f"{prefix}4", outer)
        else:
            s.norm_layer(f"{prefix}2", inner)
            s.convt(f"{prefix}5", 2 * inner, outer, 4)
            s.norm_layer(f"{prefix}6", outer)
            prefix += "3.model."
    return s.d


def save(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def config_of(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def assert_weights(folder: Path, net_name: str, state: dict[str, torch.Tensor]) -> None:
    """Every tensor of the checkpoint is in the folder's network, unchanged."""
    model, _ = load_pretrained(folder)
    ours = getattr(model, net_name).state_dict()
    for key, value in state.items():
        if key in ours:
            assert torch.equal(ours[key], value.float() if value.is_floating_point() else value)


# --- what is inferred ------------------------------------------------------------------------
VARIANTS = {
    "resnet_6blocks instance": (
        resnet_state(),
        {"generator": "resnet_6blocks", "ngf": 4, "norm": "instance", "use_dropout": False},
    ),
    "resnet_9blocks batch dropout": (
        resnet_state(ngf=2, blocks=9, norm="batch", dropout=True),
        {"generator": "resnet_9blocks", "ngf": 2, "norm": "batch", "use_dropout": True},
    ),
    "resnet_6blocks no norm": (
        resnet_state(norm="none"),
        {"generator": "resnet_6blocks", "norm": "none"},
    ),
    "resnet legacy instance stats": (
        resnet_state(legacy=True),
        {"generator": "resnet_6blocks", "norm": "instance"},
    ),
    "resnet 1 -> 3 channels": (
        resnet_state(c_in=1, c_out=3),
        {"channels_a": 1, "channels_b": 3},
    ),
    "unet_128 batch": (
        unet_state(num_downs=7, ngf=2),
        {"generator": "unet_128", "ngf": 2, "norm": "batch", "use_dropout": False},
    ),
    "unet_256 instance": (
        unet_state(num_downs=8, norm="instance", c_out=1),
        {"generator": "unet_256", "ngf": 1, "norm": "instance", "channels_b": 1},
    ),
    "unet legacy instance stats": (
        unet_state(norm="instance", legacy=True),
        {"generator": "unet_128", "norm": "instance"},
    ),
    "unet no norm": (unet_state(norm="none"), {"generator": "unet_128", "norm": "none"}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_official_generator_inferred_and_translates(tmp_path: Path, variant: str) -> None:
    state, expected = VARIANTS[variant]
    src = save(tmp_path / "ckpt" / "latest_net_G.pth", state)
    out = import_checkpoint([src], tmp_path / "model")
    config = config_of(out)
    assert config["model"] == "cyclegan" and config["directions"] == ["a2b"]
    for key, value in expected.items():
        assert config[key] == value, key
    assert config["source"]["format"] == "pytorch-CycleGAN-and-pix2pix"
    assert config["source"]["files"] == ["latest_net_G.pth"]
    assert len(config["source"]["sha256"]["latest_net_G.pth"]) == 64
    assert_weights(out, "g_ab", state)
    model, _ = load_pretrained(out)
    added = set(model.g_ab.state_dict()) - set(state)
    if config["norm"] == "none":  # the official code has no conv biases then: zeros here
        assert added and all(k.endswith(".bias") for k in added)
        assert all(not model.g_ab.state_dict()[k].any() for k in added)
    else:
        assert not added
    translator = Translator.load(out)
    assert translator.directions == ("a2b",)
    size = int(config["generator"][5:]) if "unet" in variant else 20
    x = torch.rand(1, config["channels_a"], size, size) * 2 - 1
    y = translator.translate(x)
    assert y.shape == (1, config["channels_b"], size, size) and y.abs().max() <= 1
    with pytest.raises(DirectionError, match="a2b only"):
        translator.translate(x, "b2a")


def test_unet_dropout_is_not_in_the_weights(tmp_path: Path) -> None:
    """Dropout has no weights and comes last in a U-Net level: the same file either way."""
    out = import_checkpoint([save(tmp_path / "latest_net_G.pth", unet_state())], tmp_path / "m")
    assert config_of(out)["use_dropout"] is False


def test_dataparallel_prefix_stripped(tmp_path: Path) -> None:
    state = resnet_state()
    src = save(tmp_path / "latest_net_G.pth", {f"module.{k}": v for k, v in state.items()})
    assert set(load_checkpoint(src)) == set(state)
    out = import_checkpoint([src], tmp_path / "model")
    assert_weights(out, "g_ab", state)


def test_half_precision_file_stored_as_float32(tmp_path: Path) -> None:
    state = {k: v.half() if v.is_floating_point() else v for k, v in resnet_state().items()}
    out = import_checkpoint([save(tmp_path / "latest_net_G.pth", state)], tmp_path / "m")
    assert_weights(out, "g_ab", state)
    model, _ = load_pretrained(out)
    assert all(p.dtype == torch.float32 for p in model.g_ab.parameters())


def test_g_a_and_g_b_make_both_directions(tmp_path: Path, run_cli) -> None:
    g_a = save(tmp_path / "ck" / "5_net_G_A.pth", resnet_state(c_in=3, c_out=1, seed=1))
    g_b = save(tmp_path / "ck" / "5_net_G_B.pth", resnet_state(c_in=1, c_out=3, seed=2))
    result = run_cli("import", g_b, g_a, "-o", tmp_path / "model")  # order: names decide
    assert result.code == 0, result.err
    assert result.out.strip() == (
        f"done: {tmp_path / 'model'} (cyclegan resnet_6blocks ngf 4 instance, a2b and b2a, "
        "from 5_net_G_A.pth + 5_net_G_B.pth)"
    )
    config = config_of(tmp_path / "model")
    assert "directions" not in config and (config["channels_a"], config["channels_b"]) == (3, 1)
    assert_weights(tmp_path / "model", "g_ab", load_checkpoint(g_a))
    assert_weights(tmp_path / "model", "g_ba", load_checkpoint(g_b))
    translator = Translator.load(tmp_path / "model")
    assert translator.translate(torch.zeros(1, 1, 8, 8), "b2a").shape == (1, 3, 8, 8)


def test_g_b_alone_is_b2a_only(tmp_path: Path) -> None:
    state = resnet_state(c_in=1, c_out=3)
    out = import_checkpoint([save(tmp_path / "latest_net_G_B.pth", state)], tmp_path / "m")
    config = config_of(out)
    assert config["directions"] == ["b2a"]
    assert (config["channels_a"], config["channels_b"]) == (3, 1)
    assert_weights(out, "g_ba", state)
    translator = Translator.load(out)
    assert translator.translate(torch.zeros(1, 1, 8, 8), "b2a").shape == (1, 3, 8, 8)
    with pytest.raises(DirectionError, match="b2a only"):
        translator.translate(torch.zeros(1, 3, 8, 8), "a2b")


def test_direction_option_and_cli_line(tmp_path: Path, run_cli) -> None:
    src = save(tmp_path / "latest_net_G.pth", resnet_state())
    result = run_cli("import", src, "-o", tmp_path / "m", "--direction", "b2a")
    assert result.code == 0, result.err
    assert "(cyclegan resnet_6blocks ngf 4 instance, b2a only, from latest_net_G.pth)" in (
        result.out
    )
    assert config_of(tmp_path / "m")["directions"] == ["b2a"]


# --- CUT ---------------------------------------------------------------------------------------
def test_cut_with_blur_pools(tmp_path: Path, run_cli) -> None:
    state = resnet_state(ngf=2, blocks=9, antialias=True)
    src = save(tmp_path / "cut" / "latest_net_G.pth", state)
    result = run_cli("import", src, "-o", tmp_path / "m")
    assert result.code == 0, result.err
    assert "(cut resnet_9blocks ngf 2 instance anti-aliased, a2b, from latest_net_G.pth)" in (
        result.out
    )
    config = config_of(tmp_path / "m")
    assert config["model"] == "cut" and config["antialias"] is True
    assert config["source"]["format"] == "contrastive-unpaired-translation"
    assert_weights(tmp_path / "m", "g_ab", state)
    translator = Translator.load(tmp_path / "m")
    assert translator.translate(torch.zeros(1, 3, 12, 12)).shape == (1, 3, 12, 12)
    with pytest.raises(DirectionError):
        translator.translate(torch.zeros(1, 3, 12, 12), "b2a")


@pytest.mark.parametrize("family", [None, "cut", "fastcut"])
def test_no_antialias_resnet_is_cyclegan_unless_asked(tmp_path: Path, family: str | None) -> None:
    state = resnet_state()
    out = import_checkpoint(
        [save(tmp_path / "latest_net_G.pth", state)], tmp_path / "m", family=family
    )
    config = config_of(out)
    assert config["model"] == (family or "cyclegan")
    if family:
        assert config["antialias"] is False and "directions" not in config
    assert_weights(out, "g_ab", state)


# --- errors ----------------------------------------------------------------------------------
class Custom:
    """A class a pickle can only rebuild by running code."""


def _error(tmp_path: Path, sources: list, match: str, **kwargs) -> None:
    with pytest.raises(CheckpointImportError, match=match) as info:
        import_checkpoint(sources, tmp_path / "out", **kwargs)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_unexpected_key_named(tmp_path: Path) -> None:
    state = {**resnet_state(), "model.2.extra": torch.zeros(4)}
    src = save(tmp_path / "latest_net_G.pth", state)
    _error(tmp_path, [src], r"latest_net_G\.pth: unexpected key 'model\.2\.extra'")


def test_pickle_code_refused(tmp_path: Path) -> None:
    src = save(tmp_path / "latest_net_G.pth", {"net": Custom()})
    _error(tmp_path, [src], r"latest_net_G\.pth: needs pickle code execution .*Custom")


@pytest.mark.parametrize(
    "content", [b"", b"hello world", b"\x89PNG\r\n\x1a\n" + bytes(64), pickle.dumps({"x": 1})]
)
def test_not_a_torch_file(tmp_path: Path, content: bytes) -> None:
    src = tmp_path / "latest_net_G.pth"
    src.write_bytes(content)
    _error(tmp_path, [src], r"latest_net_G\.pth: not a PyTorch checkpoint")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    _error(tmp_path, [tmp_path / "nope.pth"], r"nope\.pth: no such file")
    (tmp_path / "dir.pth").mkdir()
    _error(tmp_path, [tmp_path / "dir.pth"], r"dir\.pth: is a folder")


@pytest.mark.parametrize(
    ("state", "match"),
    [
        (resnet_state(blocks=4), r"4 residual blocks; unpaired has no generator of that size"),
        (unet_state(num_downs=6), r"6 downsamplings \(unet_64\)"),
        (
            resnet_state(antialias=True, antialias_up=False),
            r"blur-pools on the downsampling side only",
        ),
        ({"model.0.weight": torch.zeros(4, 3, 4, 4)}, r"looks like a discriminator"),
        ({"epoch": torch.tensor(3)}, r"not a CycleGAN/pix2pix, CUT or MUNIT generator"),
        (torch.zeros(3), r"holds a Tensor, not a dict"),
    ],
)
def test_refused_architectures(tmp_path: Path, state: object, match: str) -> None:
    _error(tmp_path, [save(tmp_path / "latest_net_G.pth", state)], match)


def test_refused_combinations(tmp_path: Path) -> None:
    g_a = save(tmp_path / "a" / "latest_net_G_A.pth", resnet_state())
    g_a2 = save(tmp_path / "b" / "latest_net_G_A.pth", resnet_state())
    g_b8 = save(tmp_path / "c" / "latest_net_G_B.pth", resnet_state(ngf=8))
    aa = save(tmp_path / "d" / "latest_net_G.pth", resnet_state(antialias=True))
    _error(tmp_path, [g_a, g_a2], "both files are G_A")
    _error(tmp_path, [g_a, g_a], "given twice")
    _error(tmp_path, [g_a, g_b8], "ngf 8 differs")
    _error(tmp_path, [g_a, g_b8], "applies to one file", direction="a2b")
    _error(tmp_path, [aa, g_a], "cut is one-sided")
    _error(tmp_path, [aa], "translates a2b only", direction="b2a")
    _error(tmp_path, [aa], "anti-aliased .* not of CycleGAN", family="cyclegan")
    _error(tmp_path, [g_a], "not an NVlabs MUNIT checkpoint|not a MUNIT", family="munit")
    _error(tmp_path, [g_a, g_a2, g_b8], "one checkpoint file or two")


def test_output_exists_and_sources_kept(tmp_path: Path, run_cli) -> None:
    src = save(tmp_path / "ck" / "latest_net_G.pth", resnet_state())
    before = src.read_bytes()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    result = run_cli("import", src, "-o", tmp_path / "out")
    assert result.code == 2
    result.one_error_line("out: exists; pass --overwrite")
    result = run_cli("import", src, "-o", tmp_path / "out", "--overwrite")
    result.one_error_line("not a model folder")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    # Never into the checkpoint's own folder, even with --overwrite.
    (tmp_path / "ck" / "config.json").write_text("{}")
    result = run_cli("import", src, "-o", tmp_path / "ck", "--overwrite")
    result.one_error_line("holds the checkpoint")
    assert src.read_bytes() == before
    # A model folder is replaced with --overwrite only.
    assert run_cli("import", src, "-o", tmp_path / "model").code == 0
    assert run_cli("import", src, "-o", tmp_path / "model").code == 2
    result = run_cli("import", src, "-o", tmp_path / "model", "--overwrite", "--direction", "b2a")
    assert result.code == 0, result.err
    assert config_of(tmp_path / "model")["directions"] == ["b2a"]


def test_global_rng_untouched(tmp_path: Path) -> None:
    src = save(tmp_path / "latest_net_G.pth", resnet_state())
    torch.manual_seed(5)
    state = torch.get_rng_state()
    import_checkpoint([src], tmp_path / "m")
    assert torch.equal(torch.get_rng_state(), state)


# --- known values from the reference networks --------------------------------------------------
@pytest.mark.parametrize(
    ("name", "family", "norm"),
    [
        ("cyclegan_resnet_6blocks_ngf2", "cyclegan", "instance"),
        ("pix2pix_unet_128_ngf1_batch_dropout", "cyclegan", "batch"),
        ("cut_resnet_6blocks_ngf2_antialias", "cut", "instance"),
    ],
)
def test_reference_outputs(tmp_path: Path, name: str, family: str, norm: str) -> None:
    """Our translation of the imported reference checkpoint (fp32, eval mode) equals the
    reference network's output on the same input (module docstring: how the files were made)."""
    out = import_checkpoint([DATA / f"{name}.pth"], tmp_path / "m")
    config = config_of(out)
    assert config["model"] == family and config["norm"] == norm
    io = load_file(DATA / f"{name}.safetensors")
    x = io["input"] if "input" in io else io["input_uint8"].float() / 127.5 - 1
    y = Translator.load(out).translate(x)
    assert y.shape == io["output"].shape
    assert float((y - io["output"]).abs().max()) < 1e-5
