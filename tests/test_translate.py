"""Translating with a trained model: the Translator API, tiling, and `unpaired translate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

from unpaired import Translator, cli
from unpaired.data.transforms import pad_to_multiple
from unpaired.translate.tiling import blend_window, tile_starts

from conftest import make_images, make_model


@pytest.fixture
def rgb_model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "model")


def translate(*args: str) -> int:
    return cli.main(["translate", *args])


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


# --------------------------------------------------------------------------- padding and tiles


def test_pad_to_multiple_reflects_and_replicates_tiny_images():
    x = torch.arange(15.0).reshape(1, 1, 3, 5)
    padded = pad_to_multiple(x, 4, minimum=8)
    assert padded.shape == (1, 1, 8, 8)
    assert torch.equal(padded[..., :3, :5], x)
    big = torch.rand(1, 3, 37, 53)
    out = pad_to_multiple(big, 4)
    assert out.shape == (1, 3, 40, 56)
    assert torch.equal(out[..., 37, :53], big[..., 35, :])  # mirrored, not repeated


def test_tile_windows_sum_to_one_over_exact_overlaps():
    assert tile_starts(256, 96, 32) == [0, 64, 128, 160]
    assert tile_starts(64, 96, 32) == [0]
    length, tile, overlap = 224, 96, 32  # stride 64: every overlap is exactly 32
    starts = tile_starts(length, tile, overlap)
    total = torch.zeros(length)
    for s in starts:
        sides = (False, False, s > 0, s + tile < length)
        total[s : s + tile] += blend_window(1, tile, overlap, sides)[0]
    assert torch.allclose(total, torch.ones(length), atol=1e-6)


def test_tiled_translation_agrees_with_the_whole_image(tmp_path: Path):
    # With norm "none" the generator is purely convolutional, so tiles differ from the whole
    # image only where a tile's own border padding reaches (the receptive field of
    # resnet_6blocks is about 60 px). The blend drops the outer 16 px of each 64 px overlap
    # and ramps over the next 32, so what remains is small: observed max 0.007, mean 3e-4
    # on outputs with a standard deviation of about 0.12; the bounds leave a margin of ~3x.
    # (init_gain 0.1 makes the random network pass signal through instead of ~constant.)
    model = make_model(tmp_path / "m", norm="none", init_gain=0.1)
    whole = Translator.load(model, tile=0)
    tiled = Translator.load(model, tile=128, overlap=64, batch_size=3)
    torch.manual_seed(1)
    x = F.interpolate(torch.rand(1, 3, 12, 16), size=(150, 203), mode="bilinear") * 2 - 1
    assert tiled.uses_tiles(150, 203) and not whole.uses_tiles(150, 203)
    a, b = whole(x), tiled(x)
    assert a.shape == b.shape == (1, 3, 150, 203)
    assert a.std() > 0.05
    diff = (a - b).abs()
    assert diff.max() < 0.02 and diff.mean() < 1e-3


def test_default_tiling_starts_above_1024_squared(rgb_model: Path):
    translator = Translator.load(rgb_model)
    assert not translator.uses_tiles(1024, 1024) and translator.uses_tiles(1025, 1024)
    assert not Translator.load(rgb_model, tile=0).uses_tiles(10_000, 10_000)


def test_tiled_instance_norm_model_gives_finite_full_size_output(rgb_model: Path):
    translator = Translator.load(rgb_model, tile=64, overlap=16)
    out = translator(np.zeros((101, 131, 3), np.uint8))
    assert out.shape == (101, 131, 3) and out.dtype == np.uint8


# --------------------------------------------------------------------------- the Python API


def test_api_keeps_the_kind_and_size_of_pil_numpy_and_tensor(rgb_model: Path):
    translator = Translator.load(rgb_model)
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)

    pil = translator(Image.fromarray(array))
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and pil.size == (53, 37)
    out = translator(array)
    assert out.dtype == np.uint8 and out.shape == (37, 53, 3)
    assert np.array_equal(np.asarray(pil), out)
    floats = translator(array.astype(np.float32) / 255, direction="b2a")
    assert floats.dtype == np.float32 and floats.shape == (37, 53, 3)
    assert 0.0 <= floats.min() and floats.max() <= 1.0

    tensor = torch.from_numpy(array).permute(2, 0, 1).float() / 127.5 - 1
    single = translator(tensor)
    assert single.shape == (3, 37, 53) and single.min() >= -1 and single.max() <= 1
    assert np.abs(((single + 1) * 127.5).permute(1, 2, 0).numpy() - out).max() <= 0.51
    batch = translator(torch.stack([tensor, tensor.flip(-1)]))
    assert batch.shape == (2, 3, 37, 53)
    assert torch.allclose(batch[0], single, atol=1e-6)


def test_api_matches_the_generator_on_sizes_it_accepts(rgb_model: Path):
    translator = Translator.load(rgb_model)
    x = torch.rand(2, 3, 36, 52) * 2 - 1
    with torch.no_grad():
        expected = translator.model.g_ab(x)
    assert torch.allclose(translator(x), expected, atol=1e-5)
    # an odd size is reflect-padded to 40x56 and cropped back
    y = torch.rand(1, 3, 37, 53) * 2 - 1
    with torch.no_grad():
        padded = translator.model.g_ab(F.pad(y, (0, 3, 0, 3), mode="reflect"))
    assert torch.allclose(translator(y), padded[..., :37, :53], atol=1e-5)


def test_api_grayscale_and_16_bit(tmp_path: Path):
    translator = Translator.load(make_model(tmp_path / "gray", 1, 1))
    deep = np.random.default_rng(0).integers(0, 65536, (37, 53), dtype=np.uint16)
    out = translator(deep)
    assert out.dtype == np.uint16 and out.shape == (37, 53)
    assert len(np.unique(out)) > 256  # really 16-bit, not 8-bit values scaled up
    pil = translator(Image.fromarray(deep))
    assert pil.mode == "I;16" and pil.size == (53, 37)
    # a color image into a gray model: luma in, one channel out (HWC stays HWC)
    rgb = translator(np.zeros((20, 24, 3), np.uint8))
    assert rgb.shape == (20, 24, 1)


def test_api_gray_input_to_color_model_and_size_option(rgb_model: Path):
    translator = Translator.load(rgb_model)
    out = translator(Image.new("L", (80, 60), 128))
    assert out.mode == "RGB" and out.size == (80, 60)
    small = translator(Image.new("RGBA", (80, 60)), size=30)
    assert small.size == (40, 30)  # the shorter side becomes 30, aspect ratio kept


def test_api_rejects_wrong_tensor_channels_and_direction(rgb_model: Path):
    translator = Translator.load(rgb_model)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        translator(torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match="direction"):
        translator(torch.zeros(3, 8, 8), direction="x2y")


# --------------------------------------------------------------------------- the CLI


def test_cli_translates_folders_keeping_paths_names_sizes_and_formats(
    rgb_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    src = tmp_path / "photos"
    make_images(src, 3, size=(53, 37))
    make_images(src / "sub", 2, size=(40, 32), seed=5)
    Image.new("RGB", (30, 20), (200, 10, 10)).save(src / "sub" / "red.jpg")
    out = tmp_path / "out"
    code = translate(str(rgb_model), "--input", str(src), "--output", str(out), "--batch-size", "2")
    assert code == 0, capsys.readouterr().err
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    expected = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    assert written == expected
    assert Image.open(out / "img 000.png").size == (53, 37)
    assert Image.open(out / "sub" / "img 001.png").size == (40, 32)
    with Image.open(out / "sub" / "red.jpg") as jpeg:
        assert jpeg.format == "JPEG" and jpeg.size == (30, 20)
    # batching does not change results beyond float rounding (at most 1 code value)
    alone = tmp_path / "alone"
    assert translate(str(rgb_model), "-i", str(src / "img 001.png"), "-o", str(alone)) == 0
    single = np.asarray(Image.open(alone / "img 001.png")).astype(int)
    batched = np.asarray(Image.open(out / "img 001.png")).astype(int)
    assert np.abs(single - batched).max() <= 1


def test_cli_glob_side_by_side_size_and_direction(rgb_model: Path, tmp_path: Path):
    src = tmp_path / "in"
    make_images(src / "x", 2, size=(53, 37))
    out = tmp_path / "out"
    pattern = str(src / "**" / "*.png")
    code = translate(
        str(rgb_model), "-i", pattern, "-o", str(out), "--side-by-side", "--direction", "b2a"
    )
    assert code == 0
    assert Image.open(out / "x" / "img 000.png").size == (106, 37)
    resized = tmp_path / "resized"
    assert translate(str(rgb_model), "-i", pattern, "-o", str(resized), "--size", "20") == 0
    assert Image.open(resized / "x" / "img 001.png").size == (29, 20)


def test_cli_16_bit_gray_stays_16_bit(tmp_path: Path):
    gray = make_model(tmp_path / "gray", 1, 1)
    src = tmp_path / "in"
    src.mkdir()
    deep = np.random.default_rng(0).integers(0, 65536, (37, 53), dtype=np.uint16)
    Image.fromarray(deep).save(src / "deep.png")
    Image.fromarray(deep).save(src / "deep.tif")
    out = tmp_path / "out"
    assert (
        translate(str(gray), "-i", str(src), "-o", str(out), "--tile", "32", "--overlap", "8") == 0
    )
    for name in ("deep.png", "deep.tif"):
        with Image.open(out / name) as img:
            assert img.mode.startswith("I;16") and img.size == (53, 37)
    both = tmp_path / "both"
    assert translate(str(gray), "-i", str(src / "deep.png"), "-o", str(both), "--side-by-side") == 0
    with Image.open(both / "deep.png") as img:
        assert img.mode.startswith("I;16") and img.size == (106, 37)
    # into a 3-channel model: 8-bit output and one warning
    color = make_model(tmp_path / "color")
    with pytest.warns(UserWarning, match="written with 8 bits") as caught:
        assert translate(str(color), "-i", str(src), "-o", str(tmp_path / "rgb")) == 0
    assert len(caught) == 1
    assert Image.open(tmp_path / "rgb" / "deep.png").mode == "RGB"


def test_cli_unreadable_file_is_named_and_the_others_still_translated(
    rgb_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    src = tmp_path / "in"
    make_images(src, 2)
    (src / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "out"
    assert translate(str(rgb_model), "-i", str(src), "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert any("broken.png" in line for line in error_lines(err))
    assert "1 of 3 images could not be translated" in err
    assert sorted(p.name for p in out.iterdir()) == ["img 000.png", "img 001.png"]


@pytest.mark.parametrize("where", ["same", "inside", "file", "glob"])
def test_cli_refuses_to_write_over_inputs(
    rgb_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
):
    src = tmp_path / "in"
    make_images(src, 2)
    before = sorted(p.name for p in src.rglob("*"))
    inputs = {"same": src, "inside": src, "file": src / "img 000.png", "glob": src / "**/*.png"}
    output = {"same": src, "inside": src / "out", "file": src, "glob": src / "out"}[where]
    assert translate(str(rgb_model), "-i", str(inputs[where]), "-o", str(output)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --output")
    assert sorted(p.name for p in src.rglob("*")) == before


def test_cli_existing_outputs_need_overwrite(
    rgb_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    src = tmp_path / "in"
    make_images(src, 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "img 000.png").write_bytes(b"keep me")
    assert translate(str(rgb_model), "-i", str(src), "-o", str(out)) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "img 000.png").read_bytes() == b"keep me"
    assert translate(str(rgb_model), "-i", str(src), "-o", str(out), "--overwrite") == 0
    assert Image.open(out / "img 000.png").size == (40, 40)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--overlap", "600"], "--overlap 600"),
        (["--size", "0"], "--size 0"),
        (["--device", "cuda:99"] if not torch.cuda.is_available() else ["--tile", "-1"], "--"),
    ],
)
def test_cli_bad_options_give_one_error_line(
    rgb_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra, message
):
    make_images(tmp_path / "in", 1)
    args = [str(rgb_model), "-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *extra]
    assert translate(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (tmp_path / "out").exists()


def test_cli_missing_input_and_bad_model_folders(
    rgb_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    make_images(tmp_path / "in", 1)
    out = str(tmp_path / "out")
    assert translate(str(rgb_model), "-i", str(tmp_path / "nope"), "-o", out) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"error: --input {tmp_path / 'nope'}: no such file or folder"
    )

    # a weight of the wrong shape: one line naming the file, the tensor and both shapes
    weights = rgb_model / "model.safetensors"
    tensors = load_file(str(weights))
    tensors["g_ab.model.1.weight"] = torch.zeros(5, 3, 7, 7)
    save_file(tensors, str(weights))
    assert translate(str(rgb_model), "-i", str(tmp_path / "in"), "-o", out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.safetensors" in err[0] and "(5, 3, 7, 7)" in err[0]

    config = json.loads((rgb_model / "config.json").read_text())
    del config["ngf"]
    (rgb_model / "config.json").write_text(json.dumps(config))
    assert translate(str(rgb_model), "-i", str(tmp_path / "in"), "-o", out) == 2
    assert "missing ngf" in capsys.readouterr().err
    assert translate(str(tmp_path / "in"), "-i", str(tmp_path / "in"), "-o", out) == 2
    assert "no config.json" in capsys.readouterr().err
    assert not Path(out).exists()
