"""Tests for the procedural horse/zebra demo domains."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unpaired.data.synthetic import (
    FORMAT_VERSION,
    Scene,
    render,
    sample_scene,
    scene_for,
    write_demo_dataset,
)


def _pair(index: int, h: int = 64, w: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scene = scene_for(0, "test", "A", index)
    plain, mask = render(scene, h, w, striped=False)
    striped, mask_b = render(scene, h, w, striped=True)
    np.testing.assert_array_equal(mask, mask_b)
    return plain, striped, mask


def test_scene_for_is_deterministic_and_distinct() -> None:
    a = scene_for(0, "train", "A", 3)
    assert isinstance(a, Scene)
    assert a == scene_for(0, "train", "A", 3)
    assert a != scene_for(0, "train", "A", 4)
    assert a != scene_for(0, "train", "B", 3)
    assert a != scene_for(0, "test", "A", 3)
    assert a != scene_for(1, "train", "A", 3)
    rng = np.random.default_rng(7)
    assert isinstance(sample_scene(rng), Scene)


def test_render_is_deterministic() -> None:
    scene = scene_for(0, "train", "B", 1)
    for striped in (False, True):
        img1, mask1 = render(scene, 64, 64, striped)
        img2, mask2 = render(scene, 64, 64, striped)
        np.testing.assert_array_equal(img1, img2)
        np.testing.assert_array_equal(mask1, mask2)
    other, _ = render(scene_for(0, "train", "B", 2), 64, 64, True)
    assert not np.array_equal(img1, other)


@pytest.mark.parametrize("h,w", [(32, 32), (64, 64), (128, 128), (256, 256), (48, 80), (96, 40)])
def test_shapes_and_ranges(h: int, w: int) -> None:
    for i in range(3):
        plain, striped, mask = _pair(i, h, w)
        for img in (plain, striped):
            assert img.shape == (h, w, 3) and img.dtype == np.float32
            assert img.min() >= 0.0 and img.max() <= 1.0
            assert np.isfinite(img).all()
        assert mask.shape == (h, w) and mask.dtype == np.float32
        assert mask.min() >= 0.0 and mask.max() <= 1.0
        # the animal is visible but does not fill the frame
        assert 0.02 < mask.mean() < 0.5
        assert (mask > 0.99).any()


def test_stripes_change_only_the_animal() -> None:
    for i in range(10):
        plain, striped, mask = _pair(i)
        outside = mask == 0
        assert outside.mean() > 0.5
        np.testing.assert_allclose(plain[outside], striped[outside], atol=1e-6, rtol=0)
        assert np.abs(plain - striped).max() > 0.3


def test_striped_animal_is_black_and_white_plain_is_not() -> None:
    for i in range(20):
        plain, striped, mask = _pair(i)
        inside = mask > 0.99
        grey_b = striped.mean(-1)[inside]
        grey_a = plain.mean(-1)[inside]
        dark_b, bright_b = (grey_b < 0.2).mean(), (grey_b > 0.8).mean()
        dark_a = (grey_a < 0.2).mean()
        assert dark_b > 0.2 and bright_b > 0.1, (i, dark_b, bright_b)
        assert dark_a < 0.2 and dark_a < 0.5 * dark_b, (i, dark_a, dark_b)
        assert (grey_a > 0.8).mean() < 0.1


def test_train_domains_use_different_scenes() -> None:
    a, _ = render(scene_for(0, "train", "A", 0), 32, 32, striped=True)
    b, _ = render(scene_for(0, "train", "B", 0), 32, 32, striped=True)
    assert not np.array_equal(a, b)


def _listing(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_write_demo_dataset(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    out = write_demo_dataset(root, size=32, n_train=6, n_test=2, seed=3)
    assert out == root
    for d, n in [("trainA", 6), ("trainB", 6), ("testA", 2), ("testB", 2)]:
        files = sorted((root / d).glob("*.png"))
        assert [f.name for f in files] == [f"{i:05d}.png" for i in range(n)]
        with Image.open(files[0]) as im:
            assert im.mode == "RGB" and im.size == (32, 32)
    for d in ("testA_as_B", "testB_as_A"):
        assert len(list((root / "truth" / d).glob("*.png"))) == 2
    for d in ("masks_testA", "masks_testB"):
        files = sorted((root / "truth" / d).glob("*.png"))
        assert len(files) == 2
        with Image.open(files[0]) as im:
            assert im.mode == "L" and im.size == (32, 32)
    meta = json.loads((root / "demo.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["size"] == [32, 32] and meta["seed"] == 3
    assert meta["n_train"] == 6 and meta["n_test"] == 2

    # test images and their truth twins are renderings of the same scene
    scene = scene_for(3, "test", "A", 1)
    img, mask = render(scene, 32, 32, striped=False)
    twin, _ = render(scene, 32, 32, striped=True)
    saved = np.asarray(Image.open(root / "testA" / "00001.png"), np.float32) / 255
    saved_twin = np.asarray(Image.open(root / "truth/testA_as_B/00001.png"), np.float32) / 255
    saved_mask = np.asarray(Image.open(root / "truth/masks_testA/00001.png"), np.float32) / 255
    assert np.abs(saved - img).max() <= 1 / 255 + 1e-6
    assert np.abs(saved_twin - twin).max() <= 1 / 255 + 1e-6
    assert np.abs(saved_mask - mask).max() <= 1 / 255 + 1e-6

    # no temporary siblings are left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]

    # idempotent: a second call rewrites nothing
    before = _listing(root)
    time.sleep(0.01)
    assert write_demo_dataset(root, size=32, n_train=6, n_test=2, seed=3) == root
    assert _listing(root) == before


def test_write_demo_dataset_regenerates_when_changed_or_incomplete(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    write_demo_dataset(root, size=32, n_train=2, n_test=1, seed=0)
    # different parameters: replaced as a whole
    write_demo_dataset(root, size=(24, 40), n_train=3, n_test=1, seed=0)
    assert len(list((root / "trainA").glob("*.png"))) == 3
    with Image.open(root / "trainB" / "00000.png") as im:
        assert im.size == (40, 24)
    assert json.loads((root / "demo.json").read_text())["size"] == [24, 40]
    # a missing file makes it incomplete: regenerated
    os.remove(root / "testB" / "00000.png")
    write_demo_dataset(root, size=(24, 40), n_train=3, n_test=1, seed=0)
    assert (root / "testB" / "00000.png").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_write_demo_dataset_refuses_foreign_folder(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    (root / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError):
        write_demo_dataset(root, size=32, n_train=1, n_test=1)
    assert (root / "keep.txt").read_text() == "user data"
