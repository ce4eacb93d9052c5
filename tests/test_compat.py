"""Run folders and model folders written by unpaired 0.1.0 still load, resume exactly and
translate.

``tests/data/compat_v0_1/`` holds, for CycleGAN and for MUNIT, a run folder written by the code
at commit 3c7ffc2 and stopped after K steps (``run/``: config.yaml, metrics.jsonl,
checkpoints/latest.pt gzipped, model/), the step records of the same run trained without a
break to N steps (``uninterrupted_metrics.jsonl``) and that model folder's translations of a
test image (``translated/``). ``write_fixtures.py`` there wrote them all (see its README.txt).
The training images are not committed: :func:`make_compat_data` draws them again, pixel for
pixel, and the checkpoints name them by the relative path ``data``, so the tests work in a
temporary folder laid out as the fixtures were written.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from unpaired import Translator, cli

FIXTURES = Path(__file__).parent / "data" / "compat_v0_1"
FAMILIES = ("cyclegan", "munit")
K, N = 3, 6  # the committed checkpoint is at step K; the uninterrupted run went on to N
REL_TOL = 1e-5  # losses on another CPU may differ in the last bits (see the resume test)
PIXEL_TOL = 2  # 8-bit levels
WALL_CLOCK = ("time", "sec_per_step")

# Folder -> (number of images, pattern number of the first). 3 A and 4 B images: an epoch is
# max(3, 4) = 4 steps, so the steps K+1..N cross an epoch boundary and the LR changes there.
FOLDERS = {"trainA": (3, 0), "trainB": (4, 10), "testA": (2, 20), "testB": (2, 30)}
TEST_IMAGE = "testA/00.png"  # what the translated/ fixtures were made from


def compat_image(number: int, size: int = 40) -> np.ndarray:
    """A (size, size, 3) uint8 picture from integer arithmetic only (no RNG, no resampling),
    so every machine and NumPy version draws the same pixels: colour ramps, hashed noise and
    a square."""
    y, x = np.mgrid[0:size, 0:size].astype(np.int64)
    h = (x * 374761393 + y * 668265263 + (number + 1) * 2246822519) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    noise = (h >> 24) & 0xFF
    out = np.empty((size, size, 3), dtype=np.int64)
    for c in range(3):
        ramp = (x * (3 + number % 5 + c) + y * (2 + 2 * c) + 37 * number + 85 * c) % 256
        out[..., c] = (3 * ramp + noise) // 4
    lo, hi = 4 + number % 11, 20 + number % 13
    out[lo:hi, lo + 3 : hi + 3, :] = [(50 * number) % 256, (200 - 7 * number) % 256, 90]
    return out.astype(np.uint8)


def make_compat_data(root: Path) -> Path:
    """``root/{trainA,trainB,testA,testB}/NN.png``: the images the fixtures were trained on."""
    for folder, (count, first) in FOLDERS.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(compat_image(first + i), "RGB").save(root / folder / f"{i:02d}.png")
    return root


def _sets(prefix: str, **values: object) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--set", f"{prefix}.{key}={value}")]


# The options of both fixture runs besides DATA (``data``), --runs-dir, --name, --max-steps.
# Tiny networks (ngf / dim 1): a checkpoint holds each weight three times (Adam's moments).
COMMON = ["--image-size", "32", "--load-size", "36", "--epochs", "1", "--epochs-decay", "1"]
COMMON += ["--log-every", "1", "--num-workers", "0", "--device", "cpu", "--seed", "0"]
COMMON += ["--set", "data.num_samples=2"]
FLAGS = {
    "cyclegan": COMMON
    + _sets("cyclegan", generator="resnet_6blocks", ngf=1, ndf=1, pool_size=1, use_dropout="true"),
    "munit": ["--model", "munit", *COMMON]
    + _sets("munit", dim=1, style_dim=2, n_res=1, mlp_dim=8, n_layer_d=2, lr_step=4),
}
# MUNIT translations: --styles 2 --seed 0 (NAME_style0.png, NAME_style1.png)
STYLES, STYLE_SEED = 2, 0


def step_records(path: Path) -> list[dict]:
    """metrics.jsonl's step records, without the events and the wall-clock fields."""
    out = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "event" not in record:
            out.append({k: v for k, v in record.items() if k not in WALL_CLOCK})
    return out


def assert_records_close(got: list[dict], expected: list[dict]) -> None:
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    for g, e in zip(got, expected, strict=True):
        assert set(g) == set(e), (g["step"], set(g) ^ set(e))
        for key, value in e.items():
            if isinstance(value, float):
                assert math.isclose(g[key], value, rel_tol=REL_TOL, abs_tol=1e-9), (
                    e["step"],
                    key,
                    g[key],
                    value,
                )
            else:
                assert g[key] == value, (e["step"], key, g[key], value)


def copy_old_run(family: str, dest: Path) -> Path:
    """The committed run folder of ``family`` as ``dest``, its checkpoint unpacked."""
    shutil.copytree(FIXTURES / family / "run", dest)
    packed = dest / "checkpoints" / "latest.pt.gz"
    (dest / "checkpoints" / "latest.pt").write_bytes(gzip.decompress(packed.read_bytes()))
    packed.unlink()
    return dest


def train(*args: str) -> None:
    assert cli.main(["train", *args, "--progress", "lines"]) == 0


class Runs:
    """For one family, in a temporary folder ``root`` (data/, runs/, fresh/): the committed run
    resumed from step K to N by this code, and the same run trained by this code from step 0
    to K and from step 0 to N."""

    def __init__(self, family: str, root: Path) -> None:
        self.family = family
        self.expected = step_records(FIXTURES / family / "uninterrupted_metrics.jsonl")
        make_compat_data(root / "data")
        self.resumed = copy_old_run(family, root / "runs" / family)
        self.records_at_k = step_records(self.resumed / "metrics.jsonl")
        self.fresh_k, self.fresh = root / "fresh_k" / family, root / "fresh" / family
        before = Path.cwd()
        os.chdir(root)  # the checkpoints name their data "data", relative to where they ran
        try:
            train("--resume", str(self.resumed), "--max-steps", str(N))
            for runs_dir, steps in (("fresh_k", K), ("fresh", N)):
                new = ["data", "--runs-dir", runs_dir, "--name", family, "--max-steps", str(steps)]
                train(*new, *FLAGS[family])
        finally:
            os.chdir(before)


@pytest.fixture(scope="module", params=FAMILIES)
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(request.param, tmp_path_factory.mktemp(f"compat-{request.param}"))


def weights(model_folder: Path) -> dict[str, torch.Tensor]:
    return load_file(model_folder / "model.safetensors")


def test_old_checkpoint_resumes_as_the_uninterrupted_old_run_went_on(runs: Runs) -> None:
    expected = runs.expected
    assert [r["step"] for r in expected] == list(range(1, N + 1))
    assert runs.records_at_k == expected[:K]  # the fixtures agree with each other
    resumed = step_records(runs.resumed / "metrics.jsonl")
    assert resumed[:K] == expected[:K]  # the old lines are kept, the new ones appended
    # Steps K+1..N by this code from the old checkpoint: the losses the old code logged
    # without a break (networks, Adam moments, LR schedules, image pools, RNG streams and the
    # position in the epoch all restored; a lost piece moves them far more than REL_TOL).
    assert_records_close(resumed[K:], expected[K:])
    assert expected[-1]["lr"] < expected[K - 1]["lr"]  # the resumed steps cross an LR change


def test_this_code_trains_the_old_run_as_the_old_code_did(runs: Runs) -> None:
    assert_records_close(step_records(runs.fresh / "metrics.jsonl"), runs.expected)


def test_resumed_old_checkpoint_equals_a_fresh_run_bit_for_bit(runs: Runs) -> None:
    # Bit-exactness needs the same bits at step K: a fresh run here must reproduce the old
    # checkpoint's model and losses exactly, which holds on a CPU that does float arithmetic
    # as the fixtures' machine did (and on that machine itself).
    old_k = weights(FIXTURES / runs.family / "run" / "model")
    fresh_k = weights(runs.fresh_k / "model")
    same_bits = old_k.keys() == fresh_k.keys() and all(
        torch.equal(old_k[key], fresh_k[key]) for key in old_k
    )
    if not same_bits or step_records(runs.fresh_k / "metrics.jsonl") != runs.expected[:K]:
        pytest.skip(
            "this CPU computes the first steps differently (in the last bits) from the machine "
            "that wrote the fixtures, so a fresh run here reaches step K with other bits than "
            "the old checkpoint; the tolerance tests still check the resume"
        )
    # From the same bits, the resumed old checkpoint must end exactly where the fresh run does.
    resumed, fresh = weights(runs.resumed / "model"), weights(runs.fresh / "model")
    assert resumed.keys() == fresh.keys() == old_k.keys()
    for key in fresh:
        assert torch.equal(resumed[key], fresh[key]), key
    resumed_records = step_records(runs.resumed / "metrics.jsonl")
    assert resumed_records == step_records(runs.fresh / "metrics.jsonl")


def expected_outputs(family: str) -> list[Path]:
    paths = sorted((FIXTURES / family / "translated").glob("*.png"))
    assert [p.name for p in paths] == (
        ["00.png"] if family == "cyclegan" else [f"00_style{k}.png" for k in range(STYLES)]
    )
    return paths


def assert_image_close(got: Image.Image | Path, expected: Path) -> None:
    a = np.asarray(Image.open(got) if isinstance(got, Path) else got, dtype=np.int16)
    b = np.asarray(Image.open(expected), dtype=np.int16)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.abs(a - b).max() <= PIXEL_TOL, (expected.name, np.abs(a - b).max())


@pytest.mark.parametrize("folder", ["run", "model"])
@pytest.mark.parametrize("family", FAMILIES)
def test_old_model_translates_as_before(family: str, folder: str, tmp_path: Path) -> None:
    data = make_compat_data(tmp_path / "data")
    run = copy_old_run(family, tmp_path / "runs" / family)
    out = tmp_path / "out"
    model = run if folder == "run" else run / "model"
    argv = ["translate", str(model), "-i", str(data / TEST_IMAGE), "-o", str(out)]
    argv += ["--device", "cpu", "--progress", "lines"]
    if family == "munit":
        argv += ["--styles", str(STYLES), "--seed", str(STYLE_SEED)]
    assert cli.main(argv) == 0
    expected = expected_outputs(family)
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in expected]
    for path in expected:
        assert_image_close(out / path.name, path)


@pytest.mark.parametrize("family", FAMILIES)
def test_translator_loads_old_model_folder(family: str) -> None:
    model = FIXTURES / family / "run" / "model"
    translator = Translator.load(model)
    image = Image.fromarray(compat_image(FOLDERS["testA"][1]), "RGB")
    if family == "munit":
        # The styles `--styles 2 --seed 0` drew in 0.1.0: s ~ N(0, I) from a generator seeded
        # with the seed, given as documented, a (1, style_dim, 1, 1) tensor per call.
        style_dim = json.loads((model / "config.json").read_text())["style_dim"]
        generator = torch.Generator().manual_seed(STYLE_SEED)
        styles = torch.randn(STYLES, style_dim, 1, 1, generator=generator)
        outputs = [translator(image, style=styles[k : k + 1]) for k in range(STYLES)]
    else:
        outputs = [translator(image)]
    for got, path in zip(outputs, expected_outputs(family), strict=True):
        assert isinstance(got, Image.Image) and got.size == image.size
        assert_image_close(got, path)
