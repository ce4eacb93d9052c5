"""Importing NVlabs MUNIT generator checkpoints (``gen_*.pt``): :mod:`unpaired.importers.munit`.

Most tests build ``{"a": state_dict, "b": state_dict}`` here with the NVlabs key names and
shapes (``AdaINGen``: ``enc_style``, ``enc_content``, ``dec``, ``mlp``) at tiny sizes.

``tests/data/import_munit/`` holds what the real reference made (NVlabs/MUNIT master,
``networks.AdaINGen`` with ``activ: relu``, ``pad_type: reflect``, dim 2, style_dim 3,
n_downsample 2, n_res 1, mlp_dim 8; domain A 3 channels, domain B 1 channel; weights from its
``utils.weights_init("kaiming")``, then every bias, LayerNorm beta and AdaIN dummy buffer
moved by random values so that each tensor matters; seed 15), run under /tmp, never imported
here:

- ``gen_00000100.pt``: ``torch.save({"a": gen_a.state_dict(), "b": gen_b.state_dict()})``,
  as ``MUNIT_Trainer.save`` writes it.
- ``reference.safetensors``: inputs ``x_a`` (2, 3, 16, 16), ``x_b`` (1, 1, 16, 24) in
  [-1, 1], styles ``s`` (2, 3, 1, 1), and the reference outputs in eval mode (as its
  ``test.py``): ``a2b`` = gen_b.decode(gen_a.encode(x_a)[0], s), ``b2a`` =
  gen_a.decode(gen_b.encode(x_b)[0], s[:1]), ``style_b`` = gen_b.encode(x_b)[1] and
  ``a2b_style_of_x_b`` = gen_b.decode(gen_a.encode(x_a)[0], style_b).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor

from unpaired.importers.errors import CheckpointImportError
from unpaired.importers.munit import convert, looks_like
from unpaired.pretrained import load_pretrained, save_pretrained
from unpaired.translate import Translator

DATA = Path(__file__).parent / "data" / "import_munit"


def nvlabs_generator(
    channels: int = 3,
    dim: int = 4,
    style_dim: int = 2,
    n_downsample: int = 2,
    n_res: int = 1,
    mlp_dim: int = 8,
    seed: int = 0,
) -> dict[str, Tensor]:
    """A state dict with the keys, order and shapes of NVlabs' ``AdaINGen`` (random values)."""
    rng = torch.Generator().manual_seed(seed)
    state: dict[str, Tensor] = {}

    def conv(key: str, c_out: int, c_in: int, k: int) -> None:
        state[f"{key}.weight"] = torch.randn(c_out, c_in, k, k, generator=rng) / (c_in * k)
        state[f"{key}.bias"] = 0.1 * torch.randn(c_out, generator=rng)

    conv("enc_style.model.0.conv", dim, channels, 7)
    d = dim
    for i in range(4):  # two doubling stride-2 convs, then two keeping the width
        out = 2 * d if i < 2 else d
        conv(f"enc_style.model.{i + 1}.conv", out, d, 4)
        d = out
    conv("enc_style.model.6", style_dim, d, 1)  # after the pooling at index 5
    conv("enc_content.model.0.conv", dim, channels, 7)
    d = dim
    for i in range(n_downsample):
        conv(f"enc_content.model.{i + 1}.conv", 2 * d, d, 4)
        d *= 2
    for j in range(n_res):
        for k in range(2):
            conv(f"enc_content.model.{n_downsample + 1}.model.{j}.model.{k}.conv", d, d, 3)
    for j in range(n_res):
        for k in range(2):
            key = f"dec.model.0.model.{j}.model.{k}"
            conv(f"{key}.conv", d, d, 3)
            state[f"{key}.norm.running_mean"] = torch.zeros(d)  # AdaIN's dummy buffers
            state[f"{key}.norm.running_var"] = torch.ones(d)
    for i in range(n_downsample):  # dec.model.{1, 3, ...} are the upsamplings
        key = f"dec.model.{2 + 2 * i}"
        conv(f"{key}.conv", d // 2, d, 5)
        state[f"{key}.norm.gamma"] = torch.rand(d // 2, generator=rng)
        state[f"{key}.norm.beta"] = 0.1 * torch.randn(d // 2, generator=rng)
        d //= 2
    conv(f"dec.model.{1 + 2 * n_downsample}.conv", channels, d, 7)
    adain = 4 * dim * 2**n_downsample * n_res
    for t, (fan_out, fan_in) in enumerate(
        [(mlp_dim, style_dim), (mlp_dim, mlp_dim), (adain, mlp_dim)]
    ):
        state[f"mlp.model.{t}.fc.weight"] = torch.randn(fan_out, fan_in, generator=rng) / fan_in
        state[f"mlp.model.{t}.fc.bias"] = 0.1 * torch.randn(fan_out, generator=rng)
    return state


def checkpoint(channels_a: int = 3, channels_b: int = 3, **arch: int) -> dict:
    return {
        "a": nvlabs_generator(channels_a, seed=1, **arch),
        "b": nvlabs_generator(channels_b, seed=2, **arch),
    }


@pytest.mark.parametrize(
    ("channels_a", "channels_b", "arch"),
    [
        (3, 3, {"dim": 4, "style_dim": 2, "n_downsample": 2, "n_res": 1, "mlp_dim": 8}),
        (1, 3, {"dim": 8, "style_dim": 8, "n_downsample": 1, "n_res": 2, "mlp_dim": 16}),
        (3, 1, {"dim": 6, "style_dim": 3, "n_downsample": 3, "n_res": 2, "mlp_dim": 12}),
    ],
)
def test_architecture_inferred_and_weights_placed(channels_a, channels_b, arch) -> None:
    ckpt = checkpoint(channels_a, channels_b, **arch)
    assert looks_like(ckpt)
    model, info = convert(ckpt, "gen_00001000.pt")
    assert info == {"model": "munit", "channels_a": channels_a, "channels_b": channels_b, **arch}
    a, gen = ckpt["a"], model.gen_a
    nd, last = arch["n_downsample"], 1 + 2 * arch["n_downsample"]
    pairs = [  # NVlabs key -> our tensor, one of each kind of layer
        ("enc_style.model.0.conv.weight", gen.enc_style.model[0][1].weight),
        ("enc_style.model.4.conv.bias", gen.enc_style.model[4][1].bias),
        ("enc_style.model.6.weight", gen.enc_style.model[6].weight),
        (f"enc_content.model.{nd}.conv.weight", gen.enc_content.model[nd][1].weight),
        (
            f"enc_content.model.{nd + 1}.model.{arch['n_res'] - 1}.model.1.conv.weight",
            gen.enc_content.model[nd + arch["n_res"]].conv_block[5].weight,
        ),
        ("dec.model.0.model.0.model.1.conv.bias", gen.dec.res_blocks[0].conv2[1].bias),
        ("dec.model.2.norm.gamma", gen.dec.upsample[1][2].gamma),
        (f"dec.model.{last - 1}.norm.beta", gen.dec.upsample[last - 2][2].beta),
        (f"dec.model.{last}.conv.weight", gen.dec.upsample[last - 1][1].weight),
        ("mlp.model.1.fc.weight", gen.mlp.model[2].weight),
        ("mlp.model.2.fc.bias", gen.mlp.model[4].bias),
    ]
    for key, ours in pairs:
        assert torch.equal(a[key], ours), key
    assert torch.equal(ckpt["b"]["mlp.model.0.fc.weight"], model.gen_b.mlp.model[0].weight)
    assert not model.training


def reference_decode(state: dict[str, Tensor], content: Tensor, style: Tensor) -> Tensor:
    """An independent functional AdaIN decoder read from the NVlabs keys (n_res 1,
    n_downsample 2, reflect padding, ReLU), to check that our decoder does the same."""
    f = torch.nn.functional

    def conv(x: Tensor, key: str, pad: int, stride: int = 1) -> Tensor:
        x = f.pad(x, (pad,) * 4, mode="reflect")
        return f.conv2d(x, state[f"{key}.weight"], state[f"{key}.bias"], stride)

    h = style.flatten(1)
    for t in range(3):
        h = f.linear(h, state[f"mlp.model.{t}.fc.weight"], state[f"mlp.model.{t}.fc.bias"])
        h = f.relu(h) if t < 2 else h
    d = content.shape[1]
    mean1, std1, mean2, std2 = h.split(d, dim=1)
    y = f.instance_norm(conv(content, "dec.model.0.model.0.model.0.conv", 1))
    y = f.relu(y * std1[..., None, None] + mean1[..., None, None])
    y = f.instance_norm(conv(y, "dec.model.0.model.0.model.1.conv", 1))
    x = content + y * std2[..., None, None] + mean2[..., None, None]
    for i in (2, 4):
        x = conv(f.interpolate(x, scale_factor=2.0, mode="nearest"), f"dec.model.{i}.conv", 2)
        flat = x.flatten(1)
        x = (x - flat.mean(1)[:, None, None, None]) / (flat.std(1)[:, None, None, None] + 1e-5)
        x = x * state[f"dec.model.{i}.norm.gamma"][:, None, None]
        x = f.relu(x + state[f"dec.model.{i}.norm.beta"][:, None, None])
    return torch.tanh(conv(x, "dec.model.5.conv", 3))


def test_decoder_matches_a_functional_reading_of_the_keys() -> None:
    ckpt = checkpoint(3, 1)
    model, _ = convert(ckpt, "gen.pt")
    content = torch.randn(2, 16, 4, 4, generator=torch.Generator().manual_seed(3))
    style = torch.randn(2, 2, 1, 1, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ours = model.gen_b.decode(content, style)
    expected = reference_decode(ckpt["b"], content, style)
    assert ours.shape == (2, 1, 16, 16)
    assert (ours - expected).abs().max().item() < 1e-5


def test_folder_round_trip_translates_with_a_style(tmp_path: Path) -> None:
    model, info = convert(checkpoint(1, 3, style_dim=3), "gen.pt")
    save_pretrained(tmp_path / "model", model, info)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["model"] == "munit" and config["style_dim"] == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown keys, nothing to warn about
        loaded, config = load_pretrained(tmp_path / "model")
    translator = Translator(loaded, config)
    x = torch.rand(2, 1, 20, 16, generator=torch.Generator().manual_seed(5)) * 2 - 1
    style = torch.randn(2, 3, 1, 1, generator=torch.Generator().manual_seed(6))
    y = translator.translate(x, "a2b", style=style)
    assert y.shape == (2, 3, 20, 16)
    with torch.no_grad():
        direct = model.gen_b.decode(model.gen_a.encode_content(x), style)
    assert (y - direct).abs().max().item() < 1e-6
    back = translator.translate(y, "b2a", style=style[:1])
    assert back.shape == (2, 1, 20, 16) and bool(torch.isfinite(back).all())


def test_known_values_of_the_reference_networks(tmp_path: Path) -> None:
    ckpt = torch.load(DATA / "gen_00000100.pt", map_location="cpu", weights_only=True)
    ref = load_file(DATA / "reference.safetensors")
    assert looks_like(ckpt)
    model, info = convert(ckpt, "gen_00000100.pt")
    assert info == {
        "model": "munit",
        "channels_a": 3,
        "channels_b": 1,
        "dim": 2,
        "style_dim": 3,
        "n_downsample": 2,
        "n_res": 1,
        "mlp_dim": 8,
    }
    gen_a, gen_b = model.gen_a, model.gen_b
    with torch.no_grad():
        outputs = {
            "a2b": gen_b.decode(gen_a.encode_content(ref["x_a"]), ref["s"]),
            "b2a": gen_a.decode(gen_b.encode_content(ref["x_b"]), ref["s"][:1]),
            "style_b": gen_b.encode_style(ref["x_b"]),
        }
    save_pretrained(tmp_path / "model", model, info)
    translator = Translator(*load_pretrained(tmp_path / "model"))
    x_a, x_b = ref["x_a"], ref["x_b"]
    translated = {
        "a2b": translator.translate(x_a, "a2b", style=ref["s"]),
        "b2a": translator.translate(x_b, "b2a", style=ref["s"][0]),
        "a2b_style_of_x_b": translator.translate(x_a, "a2b", style=x_b),
    }
    for name, value in [*outputs.items(), *translated.items()]:
        assert value.shape == ref[name].shape, name
        assert (value - ref[name]).abs().max().item() < 1e-5, name


def test_pytorch_03_instance_norm_statistics_are_dropped() -> None:
    """Checkpoints of PyTorch 0.3 have running statistics on the content encoder's instance
    norms (NVlabs deletes them when loading: its instance norm keeps none)."""
    plain = checkpoint(3, 3, n_downsample=1, n_res=2)
    old = {tag: dict(state) for tag, state in plain.items()}
    for tag, state in old.items():
        for key in list(plain[tag]):
            if key.startswith("enc_content.") and key.endswith(".conv.weight"):
                norm = key.replace(".conv.weight", ".norm")
                width = state[key].shape[0]
                state[f"{norm}.running_mean"] = torch.rand(width)
                state[f"{norm}.running_var"] = torch.rand(width) + 1
    assert "enc_content.model.2.model.1.model.0.norm.running_var" in old["a"]
    model_old, info_old = convert(old, "old.pt")
    model, info = convert(plain, "new.pt")
    assert info_old == info
    for key, value in model.state_dict().items():
        assert torch.equal(value, model_old.state_dict()[key]), key


def test_dataparallel_prefix_is_dropped() -> None:
    ckpt = checkpoint()
    prefixed = {tag: {f"module.{k}": v for k, v in s.items()} for tag, s in ckpt.items()}
    assert convert(prefixed, "dp.pt")[1] == convert(ckpt, "gen.pt")[1]


def error_of(ckpt: dict, source: str = "runs/gen_00020000.pt") -> str:
    with pytest.raises(CheckpointImportError) as info:
        convert(ckpt, source)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{source}: "), message
    return message


def test_unexpected_key_is_named() -> None:
    ckpt = checkpoint()
    # A PReLU activation (activ: prelu) has a weight that our ReLU networks cannot hold.
    ckpt["b"] = {**ckpt["b"], "dec.model.2.activation.weight": torch.ones(1)}
    message = error_of(ckpt)
    assert "b.dec.model.2.activation.weight maps to nothing" in message


def test_foreign_root_key_is_named() -> None:
    ckpt = checkpoint()
    ckpt["a"] = {**ckpt["a"], "vgg.conv1_1.weight": torch.ones(1, 1, 1, 1)}
    assert "a.vgg.conv1_1.weight maps to nothing" in error_of(ckpt)


def test_shape_mismatch_is_named() -> None:
    ckpt = checkpoint()
    ckpt["a"]["mlp.model.2.fc.weight"] = torch.zeros(10, 8)  # not 4 * 16 AdaIN parameters
    message = error_of(ckpt)
    assert "a.mlp.model.2.fc.weight has shape (10, 8)" in message and "(64, 8)" in message


def test_dummy_buffer_of_a_wrong_width_is_named() -> None:
    ckpt = checkpoint()
    ckpt["a"]["dec.model.0.model.0.model.1.norm.running_var"] = torch.ones(5)
    assert "a.dec.model.0.model.0.model.1.norm.running_var has shape (5,)" in error_of(ckpt)


def test_missing_key_is_named() -> None:
    ckpt = checkpoint()
    del ckpt["b"]["dec.model.2.norm.gamma"]
    assert "generator b lacks 'dec.model.2.norm.gamma'" in error_of(ckpt)


def unit_checkpoint() -> dict:
    """What NVlabs' UNIT trainer writes: VAEGen generators (``enc``, ``dec``), no style."""
    gen = nvlabs_generator()
    return {
        tag: {
            k.replace("enc_content.", "enc.", 1): v
            for k, v in gen.items()
            if k.startswith(("enc_content.", "dec."))
        }
        for tag in "ab"
    }


def test_unit_checkpoint_is_refused() -> None:
    unit = unit_checkpoint()
    assert looks_like(unit)
    message = error_of(unit)
    assert "UNIT" in message and "not MUNIT" in message


def test_discriminator_file_is_refused() -> None:
    dis = {tag: {"cnns.0.0.conv.weight": torch.zeros(4, 3, 4, 4)} for tag in "ab"}
    assert looks_like(dis)
    assert "gen_*.pt" in error_of(dis)


def test_generators_of_different_architectures_are_refused() -> None:
    ckpt = {"a": nvlabs_generator(mlp_dim=8), "b": nvlabs_generator(mlp_dim=16)}
    assert "differ in mlp_dim (8 vs 16)" in error_of(ckpt)


def test_non_finite_weights_are_refused() -> None:
    ckpt = checkpoint()
    ckpt["a"]["enc_content.model.0.conv.bias"][0] = float("nan")
    assert "a.enc_content.model.0.conv.bias is not finite" in error_of(ckpt)


def test_not_an_nvlabs_checkpoint() -> None:
    cyclegan = {"model.1.weight": torch.zeros(4, 3, 7, 7)}
    assert not looks_like(cyclegan)
    assert not looks_like({"a": cyclegan, "b": cyclegan})
    assert not looks_like({"a": nvlabs_generator(), "b": nvlabs_generator(), "iter": 1})
    assert not looks_like({"gen": {}, "dis": {}})  # NVlabs' optimizer.pt
    assert "not an NVlabs MUNIT checkpoint" in error_of(cyclegan)  # type: ignore[arg-type]
    assert "a.model.1.weight maps to nothing" in error_of({"a": cyclegan, "b": cyclegan})


def test_cli_import_end_to_end(tmp_path: Path, run_cli) -> None:
    source = tmp_path / "outputs" / "gen_00100000.pt"
    source.parent.mkdir()
    source.write_bytes((DATA / "gen_00000100.pt").read_bytes())
    result = run_cli("import", source, "-o", tmp_path / "edges2shoes")
    assert result.code == 0, result.err
    assert "munit" in result.out and "gen_00100000.pt" in result.out
    config = json.loads((tmp_path / "edges2shoes" / "config.json").read_text())
    assert config["source"]["format"] == "NVlabs/MUNIT"
    assert config["source"]["files"] == ["gen_00100000.pt"]
    translator = Translator.load(tmp_path / "edges2shoes")
    ref = load_file(DATA / "reference.safetensors")
    y = translator.translate(ref["x_a"], "a2b", style=ref["s"])
    assert (y - ref["a2b"]).abs().max().item() < 1e-5


def test_cli_refuses_a_unit_checkpoint(tmp_path: Path, run_cli) -> None:
    unit = unit_checkpoint()
    source = tmp_path / "gen_00010000.pt"
    torch.save(unit, source)
    result = run_cli("import", source, "-o", tmp_path / "out")
    assert result.code == 2
    assert "UNIT" in result.one_error_line(str(source))
    assert not (tmp_path / "out").exists()
