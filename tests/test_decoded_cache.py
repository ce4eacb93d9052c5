"""The decoded cache: the same pixels (exactly without a resize, within half a level with
one), built once and reused, rebuilt when a file changes, bad files skipped as before,
16-bit images kept at 16 bits, volumes refused, and a cached run that resumes exactly."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from unpaired import cli
from unpaired.data import decoded
from unpaired.data.errors import DataError
from unpaired.data.folders import SingleFolder
from unpaired.data.transforms import Preprocess
from unpaired.recipes import cyclegan as cyclegan_recipe
from unpaired.training import checkpoint

from conftest import TINY, make_images, records, sigterm_after


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("UNPAIRED_CACHE_DIR", str(where))
    return where


def loads(folder: SingleFolder, seeds: range = range(12)) -> list:
    return [folder.load(s % len(folder), random.Random(s)) for s in seeds]


def test_same_pixels_exactly_without_a_resize(tmp_path: Path, cache_dir: Path) -> None:
    make_images(tmp_path / "a", 5, size=(40, 40))
    pre = Preprocess("resize_and_crop", 40, 32)  # 40x40 images: nothing to resize
    plain = SingleFolder(tmp_path / "a", 3, pre)
    cached = SingleFolder(tmp_path / "a", 3, pre, cache=True)
    assert plain.decoded is None and cached.decoded is not None
    for x, y in zip(loads(plain), loads(cached), strict=True):
        assert x.shape == y.shape == (3, 32, 32) and bool((x == y).all())
    assert len(list(cache_dir.glob("*.bin"))) == 1 and len(list(cache_dir.glob("*.json"))) == 1
    assert plain.fingerprint() == cached.fingerprint()


@pytest.mark.parametrize("mode", ["resize_and_crop", "scale_width_and_crop", "scale_width"])
def test_within_half_a_level_with_a_resize(tmp_path: Path, mode: str) -> None:
    make_images(tmp_path / "a", 4, size=(48, 40))
    pre = Preprocess(mode, 43, 32)
    plain = SingleFolder(tmp_path / "a", 3, pre)
    cached = SingleFolder(tmp_path / "a", 3, pre, cache=True)
    for x, y in zip(loads(plain), loads(cached), strict=True):
        assert x.shape == y.shape
        # [-1, 1] is twice [0, 1]: half an 8-bit level is 1/255 here
        assert float((x - y).abs().max()) <= 1 / 255 + 1e-6


def test_built_once_then_reused(tmp_path: Path, monkeypatch) -> None:
    make_images(tmp_path / "a", 3)
    pre = Preprocess("resize_and_crop", 36, 32)
    said: list[str] = []
    first = loads(SingleFolder(tmp_path / "a", 3, pre, cache=True, say=said.append))
    assert said[0].startswith("decoding the 3 images of") and "decoded cache ready" in said[1]

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt")

    monkeypatch.setattr(decoded, "_build", no_build)
    again = loads(SingleFolder(tmp_path / "a", 3, pre, cache=True))
    assert all(bool((x == y).all()) for x, y in zip(first, again, strict=True))


def test_a_changed_file_rebuilds(tmp_path: Path, cache_dir: Path) -> None:
    paths = make_images(tmp_path / "a", 3, size=(40, 40))
    pre = Preprocess("resize_and_crop", 40, 40, flip=False)
    before = SingleFolder(tmp_path / "a", 3, pre, cache=True).load(0)
    white = np.full((40, 40, 3), 255, dtype=np.uint8)
    Image.fromarray(white).save(paths[0])  # same size on disk? not necessarily: mtime differs
    stat = os.stat(paths[0])
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = SingleFolder(tmp_path / "a", 3, pre, cache=True).load(0)
    assert not bool((before == after).all()) and bool((after == 1.0).all())
    # the folder's stale cache is gone: one cache, the new one
    assert len(list(cache_dir.glob("*.bin"))) == 1 and len(list(cache_dir.glob("*.json"))) == 1


def test_a_bad_file_is_skipped_as_before(tmp_path: Path) -> None:
    paths = make_images(tmp_path / "a", 3, size=(40, 40))
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) // 2])  # a readable header, a truncated body
    pre = Preprocess("resize_and_crop", 40, 32)
    plain = SingleFolder(tmp_path / "a", 3, pre)
    with pytest.warns(UserWarning, match="skipping cannot read image"):
        cached = SingleFolder(tmp_path / "a", 3, pre, cache=True)
    with pytest.warns(UserWarning, match="skipping cannot read image"):
        expected = plain.load(1, random.Random(5))  # the next readable image instead
    with pytest.warns(UserWarning, match="skipping cannot read image"):
        got = cached.load(1, random.Random(5))
    assert bool((expected == got).all())


def test_sixteen_bit_images_keep_sixteen_bits(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        values = rng.integers(0, 65536, size=(36, 36), dtype=np.uint16)
        Image.fromarray(values).save(folder / f"{i}.png")
    pre = Preprocess("resize_and_crop", 36, 32)
    plain = SingleFolder(folder, 1, pre)
    cached = SingleFolder(folder, 1, pre, cache=True)
    assert cached.decoded is not None and cached.decoded.levels == 65535
    for x, y in zip(loads(plain, range(4)), loads(cached, range(4)), strict=True):
        assert bool((x == y).all())


def test_pickles_without_its_memory_map(tmp_path: Path) -> None:
    make_images(tmp_path / "a", 20, size=(64, 64))
    folder = SingleFolder(tmp_path / "a", 3, Preprocess("resize_and_crop", 64, 32), cache=True)
    loads(folder)  # maps the file
    copy = pickle.loads(pickle.dumps(folder))
    assert len(pickle.dumps(folder.decoded)) < 4000  # not the 245 KB of samples
    assert all(bool((x == y).all()) for x, y in zip(loads(folder), loads(copy), strict=True))


def test_volumes_are_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "vols"
    folder.mkdir()
    np.save(folder / "v.npy", np.zeros((4, 36, 36), dtype=np.float32))
    pre = Preprocess("resize_and_crop", 36, 32)
    with pytest.raises(DataError, match=r"vols holds volumes: option data.cache_decoded"):
        SingleFolder(folder, 1, pre, cache=True)
    assert SingleFolder(folder, 1, pre, cache=None).decoded is None  # the default: off here


def test_a_cached_run_resumes_exactly(
    tiny_data: Path, tmp_path: Path, monkeypatch, cache_dir: Path
) -> None:
    opts = [*TINY, "--log-every", "1", "--max-steps", "6", "--cache-decoded"]
    full = tmp_path / "full"
    assert cli.main(["train", str(tiny_data), "--runs-dir", str(full), *opts]) == 0
    assert yaml.safe_load((full / "data" / "config.yaml").read_text())["data"]["cache_decoded"]
    assert len(list(cache_dir.glob("*.bin"))) == 2  # trainA and trainB

    real_step = sigterm_after(monkeypatch, 3)
    runs = tmp_path / "runs"
    assert cli.main(["train", str(tiny_data), "--runs-dir", str(runs), *opts]) == 130
    monkeypatch.setattr(cyclegan_recipe, "cyclegan_step", real_step)
    for stale in cache_dir.iterdir():  # a resume on a machine without the cache rebuilds it
        stale.unlink()
    assert cli.main(["train", "--resume", str(runs / "data"), "--num-workers", "1"]) == 0
    assert strip(records(runs / "data")) == strip(records(full / "data"))
    a = checkpoint.load_checkpoint(full / "data" / "checkpoints" / "latest.pt")
    b = checkpoint.load_checkpoint(runs / "data" / "checkpoints" / "latest.pt")
    for name, weights in a["models"].items():
        for key, value in weights.items():
            assert bool((value == b["models"][name][key]).all()), (name, key)


def strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("time", "sec_per_step")} for r in rows]
