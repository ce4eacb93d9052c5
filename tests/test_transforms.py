"""Tests for unpaired.data.transforms: resize, preprocess modes, seeded randomness, helpers."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from unpaired.data.transforms import (
    PREPROCESS_MODES,
    Preprocess,
    from_unit,
    resize,
    round_to_multiple,
    to_unit,
)


def _noise(height: int, width: int, channels: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand(channels, height, width, generator=torch.Generator().manual_seed(seed))


def _gradient(height: int, width: int) -> torch.Tensor:
    """Left-to-right ramp from 0 to 1, 3 channels."""
    return torch.linspace(0, 1, width).expand(3, height, width).contiguous()


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, 4),
        (1, 4),
        (3, 4),
        (4, 4),
        (5, 4),
        (7, 8),
        (8, 8),
        (6, 8),
        (10, 8),
        (201, 200),
        (255, 256),
    ],
)
def test_round_to_multiple(n: int, expected: int):
    assert round_to_multiple(n) == expected


def test_round_to_multiple_other_base():
    assert round_to_multiple(17, 8) == 16
    assert round_to_multiple(21, 8) == 24
    assert round_to_multiple(2, 8) == 8
    with pytest.raises(ValueError):
        round_to_multiple(5, 0)


def test_unit_mappings_any_shape():
    x = torch.tensor([-1.0, 0.0, 1.0, 3.0, -5.0]).reshape(1, 5, 1, 1)
    assert to_unit(x).flatten().tolist() == [0.0, 0.5, 1.0, 1.0, 0.0]
    assert from_unit(torch.tensor([0.0, 0.5, 1.0])).tolist() == [-1.0, 0.0, 1.0]
    y = torch.rand(2, 3, 4)
    assert torch.allclose(to_unit(from_unit(y)), y, atol=1e-6)


def test_resize_shape_range_and_noop():
    image = torch.zeros(3, 20, 30)
    image[:, :, 15:] = 1.0  # a hard edge makes bicubic overshoot before clamping
    out = resize(image, 11, 17)
    assert out.shape == (3, 11, 17)
    assert out.min() >= 0.0 and out.max() <= 1.0
    up = resize(image, 40, 61)
    assert up.shape == (3, 40, 61) and up.min() >= 0.0 and up.max() <= 1.0
    assert resize(image, 20, 30) is image  # same size: untouched


def test_resize_batched_and_constant():
    batch = torch.full((2, 1, 9, 9), 0.25)
    out = resize(batch, 5, 4)
    assert out.shape == (2, 1, 5, 4)
    assert torch.allclose(out, torch.full_like(out, 0.25), atol=1e-6)
    with pytest.raises(ValueError):
        resize(torch.zeros(3, 4, 4), 0, 4)


# --------------------------------------------------------------------------- modes and shapes

SMALL = {"load_size": 36, "crop_size": 32}


SHAPE_CASES = [
    (mode, height, width)
    for mode in PREPROCESS_MODES
    for height, width in [(40, 40), (30, 50), (50, 34), (33, 45), (32, 32)]
    # inputs smaller than the crop are covered by test_crop_rejects_small_input
    if mode != "crop" or min(height, width) >= SMALL["crop_size"]
]


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize(("mode", "height", "width"), SHAPE_CASES)
def test_every_mode_shape_matches_output_size(mode: str, height: int, width: int, flip: bool):
    pre = Preprocess(mode=mode, flip=flip, **SMALL)
    out = pre(_noise(height, width), random.Random(0))
    assert tuple(out.shape[-2:]) == pre.output_size(height, width)
    assert out.shape[0] == 3 and out.dtype == torch.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    if mode == "scale_width":
        assert out.shape[1] % 4 == 0 and out.shape[2] % 4 == 0


@pytest.mark.parametrize(("height", "width"), [(40, 40), (30, 50), (50, 34)])
def test_expected_sizes(height: int, width: int):
    assert Preprocess("resize_and_crop", **SMALL).output_size(height, width) == (32, 32)
    assert Preprocess("scale_width_and_crop", **SMALL).output_size(height, width) == (32, 32)
    none = Preprocess("none", **SMALL).output_size(height, width)
    assert none == (round_to_multiple(height), round_to_multiple(width))


def test_scale_width_non_square():
    # A 300 wide x 200 high image scaled to width 256: height round(256 * 200 / 300) = 171,
    # rounded to the multiple of 4 -> 172.
    pre = Preprocess("scale_width", load_size=256, crop_size=128, flip=False)
    assert pre.output_size(200, 300) == (172, 256)
    out = pre(_noise(200, 300, channels=1), random.Random(1))
    assert out.shape == (1, 172, 256)
    # The height never drops below crop_size.
    assert Preprocess("scale_width", load_size=256, crop_size=256).output_size(200, 300) == (
        256,
        256,
    )
    # Portrait images get taller.
    assert Preprocess("scale_width", load_size=64, crop_size=32).output_size(90, 30) == (192, 64)


def test_scale_width_and_crop_keeps_min_height():
    pre = Preprocess("scale_width_and_crop", load_size=64, crop_size=48, flip=False)
    # 64 wide x 20 high -> width 64, height max(20, 48) = 48 -> crop 48x48.
    assert pre(_noise(20, 64), random.Random(0)).shape == (3, 48, 48)


def test_none_keeps_multiple_of_4_sizes_untouched():
    image = _noise(24, 36)
    out = Preprocess("none", flip=False)(image, random.Random(0))
    assert torch.allclose(out, image * 2 - 1)
    small = Preprocess("none", flip=False)(_noise(1, 2), random.Random(0))
    assert small.shape == (3, 4, 4)


def test_crop_is_a_window_of_the_input():
    image = _noise(40, 50)
    pre = Preprocess("crop", crop_size=32, load_size=8, flip=False)  # load_size unused here
    rng = random.Random(123)
    expected_rng = random.Random(123)
    top = expected_rng.randint(0, 40 - 32)
    left = expected_rng.randint(0, 50 - 32)
    out = pre(image, rng)
    assert torch.allclose(out, image[:, top : top + 32, left : left + 32] * 2 - 1)
    assert rng.getstate() == expected_rng.getstate()  # exactly two draws, y then x


def test_crop_rejects_small_input():
    pre = Preprocess("crop", crop_size=32, load_size=36)
    assert pre.min_input_size() == (32, 32)
    with pytest.raises(ValueError, match="smaller than"):
        pre(_noise(31, 64), random.Random(0))
    with pytest.raises(ValueError, match="smaller than"):
        pre.output_size(64, 20)
    for mode in ("resize_and_crop", "scale_width", "scale_width_and_crop", "none"):
        assert Preprocess(mode, **SMALL).min_input_size() is None


def test_values_in_range_and_dtype():
    image = torch.zeros(3, 20, 20)
    image[:, :, 10:] = 1.0  # a hard edge: upscaling with bicubic overshoots, then is clamped
    out = Preprocess("resize_and_crop", load_size=40, crop_size=40)(image, random.Random(5))
    assert out.dtype == torch.float32
    assert out.min().item() == -1.0 and out.max().item() == 1.0


def test_grayscale_input():
    out = Preprocess(**SMALL)(_noise(40, 44, channels=1), random.Random(0))
    assert out.shape == (1, 32, 32)


# --------------------------------------------------------------------------- randomness


@pytest.mark.parametrize("mode", PREPROCESS_MODES)
def test_same_seed_same_output(mode: str):
    pre = Preprocess(mode, **SMALL)
    image = _noise(45, 41)
    random.seed(1)  # the global RNG must not matter
    first = pre(image, random.Random(42))
    random.seed(2)
    second = pre(image, random.Random(42))
    assert torch.equal(first, second)


def test_different_seeds_different_crops():
    pre = Preprocess("resize_and_crop", load_size=48, crop_size=32, flip=False)
    image = _noise(40, 40)
    outputs = [pre(image, random.Random(seed)) for seed in range(8)]
    distinct = {tuple(o.flatten()[:16].tolist()) for o in outputs}
    assert len(distinct) > 1


def test_flip_flips_left_right():
    image = _gradient(8, 16)
    pre = Preprocess("none", flip=True)
    seen = set()
    for seed in range(20):
        rng = random.Random(seed)
        flipped = random.Random(seed).random() < 0.5  # the only draw in mode "none"
        out = pre(image, rng)
        expected = image.flip(-1) if flipped else image
        assert torch.allclose(out, expected * 2 - 1)
        # left column is dark when not flipped, bright when flipped
        assert (out[:, :, 0].mean() > 0) == flipped
        seen.add(flipped)
    assert seen == {True, False}


def test_no_flip_when_disabled():
    image = _gradient(8, 16)
    pre = Preprocess("none", flip=False)
    for seed in range(10):
        rng = random.Random(seed)
        state = rng.getstate()
        assert torch.allclose(pre(image, rng), image * 2 - 1)
        assert rng.getstate() == state  # nothing random happened


def test_draw_order_crop_then_flip():
    image = _noise(40, 50)
    pre = Preprocess("crop", crop_size=32, load_size=36, flip=True)
    for seed in range(6):
        expected_rng = random.Random(seed)
        top = expected_rng.randint(0, 8)
        left = expected_rng.randint(0, 18)
        flip = expected_rng.random() < 0.5
        window = image[:, top : top + 32, left : left + 32]
        if flip:
            window = window.flip(-1)
        assert torch.allclose(pre(image, random.Random(seed)), window * 2 - 1)


# --------------------------------------------------------------------------- validation


def test_defaults_and_frozen():
    pre = Preprocess()
    assert (pre.mode, pre.load_size, pre.crop_size, pre.flip) == ("resize_and_crop", 286, 256, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pre.mode = "crop"  # type: ignore[misc]


def test_unknown_mode_names_option_and_choices():
    with pytest.raises(ValueError, match="preprocess") as excinfo:
        Preprocess(mode="resize")
    message = str(excinfo.value)
    assert "'resize'" in message
    for choice in PREPROCESS_MODES:
        assert choice in message


@pytest.mark.parametrize("mode", ["resize_and_crop", "scale_width_and_crop"])
def test_crop_larger_than_load_size(mode: str):
    with pytest.raises(ValueError, match="image_size") as excinfo:
        Preprocess(mode=mode, load_size=256, crop_size=286)
    assert "load_size" in str(excinfo.value)


@pytest.mark.parametrize("mode", ["crop", "scale_width", "none"])
def test_crop_larger_than_load_size_allowed_where_unused(mode: str):
    Preprocess(mode=mode, load_size=256, crop_size=286)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"load_size": 0}, "load_size"),
        ({"load_size": -4, "crop_size": -8}, "load_size"),
        ({"crop_size": 0}, "image_size"),
        ({"crop_size": 2.5}, "image_size"),
    ],
)
def test_sizes_must_be_positive(kwargs: dict, name: str):
    with pytest.raises(ValueError, match=name):
        Preprocess(**kwargs)


def test_bad_image_argument():
    pre = Preprocess(**SMALL)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        pre(torch.zeros(1, 3, 40, 40), random.Random(0))
    with pytest.raises(ValueError, match="float"):
        pre(torch.zeros(3, 40, 40, dtype=torch.uint8), random.Random(0))
