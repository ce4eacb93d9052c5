"""Shared fixtures: tiny image folders made on the fly, tiny-model CLI options, and what every
fault case asserts (tests/faults/): ``run_cli`` runs the real command line in-process and returns
its exit status and output, ``Result.one_error_line`` checks for exactly one ``error:`` line and
no traceback, ``snapshot`` / ``assert_unchanged`` compare trees byte for byte."""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unpaired import cli
from unpaired.models.cyclegan import build_cyclegan
from unpaired.pretrained import save_pretrained

# Keep the test suite light and reproducible on 2-core machines.
torch.set_num_threads(1)


def make_images(
    folder: Path, count: int, size: tuple[int, int] = (40, 40), seed: int = 0, mode: str = "RGB"
) -> list[Path]:
    """Write ``count`` random PNGs of ``size`` (width, height) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        array = rng.integers(0, 256, size=shape, dtype=np.uint8)
        path = folder / f"img {i:03d}.png"  # a space in the name on purpose
        Image.fromarray(array, mode=mode).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A DATA root with trainA (5 images), trainB (7 images) and testA/testB (2 each)."""
    root = tmp_path / "data"
    make_images(root / "trainA", 5, seed=1)
    make_images(root / "trainB", 7, seed=2)
    make_images(root / "testA", 2, seed=3)
    make_images(root / "testB", 2, seed=4)
    return root


# A model small enough that a training step takes milliseconds.
TINY = [
    "--image-size",
    "32",
    "--load-size",
    "36",
    "--num-workers",
    "0",
    "--set",
    "cyclegan.generator=resnet_6blocks",
    "--set",
    "cyclegan.ngf=4",
    "--set",
    "cyclegan.ndf=4",
    "--set",
    "data.num_samples=2",
    "--progress",
    "lines",
]


def make_model(
    folder: Path,
    channels_a: int = 3,
    channels_b: int = 3,
    norm: str = "instance",
    init_gain: float = 0.02,
) -> Path:
    """A tiny random model folder (resnet_6blocks, ngf 4)."""
    torch.manual_seed(0)
    model = build_cyclegan(
        channels_a,
        channels_b,
        generator="resnet_6blocks",
        ngf=4,
        norm=norm,
        init_gain=init_gain,
        with_discriminators=False,
    )
    info = {
        "channels_a": channels_a,
        "channels_b": channels_b,
        "generator": "resnet_6blocks",
        "ngf": 4,
        "norm": norm,
        "use_dropout": False,
        "preprocess": {"mode": "resize_and_crop", "load_size": 36, "image_size": 32},
    }
    return save_pretrained(folder, model, info)


# --- the fault cases' checks ---------------------------------------------------------------
@dataclass
class Result:
    code: int
    out: str
    err: str

    def one_error_line(self, *needles: str) -> str:
        """The single ``error:`` line (asserted: exactly one, no traceback, has needles)."""
        assert "Traceback" not in self.err and "Traceback" not in self.out, self.err[-2000:]
        errors = [line for line in self.err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, self.err[-2000:]
        for needle in needles:
            assert needle in errors[0], errors[0]
        return errors[0]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """``run_cli(*argv) -> Result``: the command line in-process, its exit status and output."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = cli.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` by relative path (symlinks followed)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def assert_unchanged(root: Path, before: dict[str, str]) -> None:
    """Every file under ``root`` is byte-identical to ``before`` and none is new or gone."""
    assert snapshot(root) == before


def records(run: Path) -> list[dict]:
    """The step records of ``run/metrics.jsonl`` without their timings (``time``,
    ``sec_per_step``): what an exactly resumed run must reproduce."""
    import json

    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "event" not in record:
            record.pop("time"), record.pop("sec_per_step")
            out.append(record)
    return out


def sigterm_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> Callable:
    """Make CycleGAN's training step raise SIGTERM (a stop request, as from ``kill``) right
    after its ``calls``-th call; returns the step it wrapped, to put back before a resume."""
    from unpaired.recipes import cyclegan as cyclegan_recipe

    real, done = cyclegan_recipe.cyclegan_step, []

    def step(*args, **kwargs):
        done.append(1)
        out = real(*args, **kwargs)
        if len(done) == calls:
            signal.raise_signal(signal.SIGTERM)
        return out

    monkeypatch.setattr(cyclegan_recipe, "cyclegan_step", step)
    return real
