"""A new model family defined entirely in this module, registered, and driven through the real
command line: train, exact resume, translate a folder, evaluate (cycle metrics), export (ONNX
and pt2 parity), its config section and its options. Nothing under src/ names it: this is the
proof that the generic machinery reads only the recipe.

The family ("tiny"): per direction a 1x1 conv -> tanh -> 1x1 conv -> tanh generator (31
parameters at width 4), per domain a one-conv discriminator, LSGAN + L1 cycle, Adam, a
learning rate halved every epoch, no image pools.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from torch import Tensor, nn

from unpaired import cli, load_pretrained, losses
from unpaired import config as cfg
from unpaired.config import ConfigError, TrainConfig
from unpaired.recipes import (
    RECIPES,
    Optimizers,
    Recipe,
    StepContext,
    Translation,
    check_direction,
    register,
    unregister,
)
from unpaired.recipes.samples import evaluating, write_grid
from unpaired.recipes.steps import set_requires_grad
from unpaired.training import checkpoint

from conftest import make_images, records


# --- the family --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TinyConfig:
    """``config.tiny``: the generators' hidden width, the learning rate, the cycle weight."""

    width: int = 4
    lr: float = 1e-3
    lambda_cycle: float = 10.0


def generator(c_in: int, c_out: int, width: int) -> nn.Module:
    """Per-pixel (N, c_in, H, W) -> (N, c_out, H, W) in [-1, 1], any H and W."""
    return nn.Sequential(
        nn.Conv2d(c_in, width, 1), nn.Tanh(), nn.Conv2d(width, c_out, 1), nn.Tanh()
    )


class TinyPair(nn.Module):
    """G: A -> B (``g_ab``), F: B -> A (``g_ba``), D_A (``d_a``), D_B (``d_b``; None when only
    the generators are loaded)."""

    def __init__(
        self, g_ab: nn.Module, g_ba: nn.Module, d_a: nn.Module | None, d_b: nn.Module | None
    ) -> None:
        super().__init__()
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b


def _build(config: TrainConfig) -> TinyPair:
    ca, cb, width = config.data.channels_a, config.data.channels_b, config.tiny.width
    return TinyPair(
        generator(ca, cb, width),
        generator(cb, ca, width),
        nn.Conv2d(ca, 1, 4, stride=2, padding=1),
        nn.Conv2d(cb, 1, 4, stride=2, padding=1),
    )


def _check_config(config: TrainConfig) -> None:
    if config.tiny.width < 1:
        raise ConfigError(f"option tiny.width: must be 1 or more, got {config.tiny.width}")


def _halve(epoch: int) -> float:
    return 0.5**epoch


def _optimizers(model: TinyPair, config: TrainConfig) -> Optimizers:
    lr = config.tiny.lr
    g_params = itertools.chain(model.g_ab.parameters(), model.g_ba.parameters())
    d_params = itertools.chain(model.d_a.parameters(), model.d_b.parameters())
    opt_g = torch.optim.Adam(g_params, lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d_params, lr=lr, betas=(0.5, 0.999))
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, _halve)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, _halve)
    return Optimizers(opt_g, opt_d, sched_g, sched_d)


def _step(
    nets: TinyPair, opt_g: Any, opt_d: Any, batch: dict[str, Tensor], ctx: StepContext
) -> dict[str, Tensor]:
    """Generators (D frozen): LSGAN + lambda_cycle * L1 cycle, both ways; then the
    discriminators on real images and on the detached fakes."""
    real_a, real_b = batch["A"], batch["B"]
    lam = ctx.section.lambda_cycle
    set_requires_grad([nets.d_a, nets.d_b], False)
    opt_g.zero_grad(set_to_none=True)
    fake_b, fake_a = nets.g_ab(real_a), nets.g_ba(real_b)
    adv = losses.generator_loss(nets.d_b(fake_b)) + losses.generator_loss(nets.d_a(fake_a))
    cycle = losses.cycle_consistency_loss(
        nets.g_ba(fake_b), real_a, lam
    ) + losses.cycle_consistency_loss(nets.g_ab(fake_a), real_b, lam)
    (adv + cycle).backward()
    opt_g.step()

    set_requires_grad([nets.d_a, nets.d_b], True)
    opt_d.zero_grad(set_to_none=True)
    loss_d = losses.discriminator_loss(
        nets.d_b(real_b), nets.d_b(fake_b.detach())
    ) + losses.discriminator_loss(nets.d_a(real_a), nets.d_a(fake_a.detach()))
    loss_d.backward()
    opt_d.step()
    return {"D": loss_d.detach(), "G": adv.detach(), "cycle": cycle.detach()}


@torch.no_grad()
def _write_samples(path: Path, model: TinyPair, images_a: Any, images_b: Any, seed: int) -> Path:
    rows = []
    with evaluating(model):
        for a, b in zip(images_a, images_b, strict=False):
            a, b = a[None], b[None]
            fake_b, fake_a = model.g_ab(a), model.g_ba(b)
            row = (a, fake_b, model.g_ba(fake_b), b, fake_a, model.g_ab(fake_a))
            rows.append([t[0] for t in row])
    return write_grid(path, rows)


def _build_generators(info: Mapping[str, Any]) -> TinyPair:
    ca, cb, width = info["channels_a"], info["channels_b"], info["width"]
    return TinyPair(generator(ca, cb, width), generator(cb, ca, width), None, None)


def _translation(model: TinyPair, info: Mapping[str, Any]) -> Translation:
    def network(direction: str) -> nn.Module:
        return model.g_ab if check_direction(direction)[0] == "a" else model.g_ba

    return Translation(network=network, size_rule=lambda direction: (1, 1))


def _report_rows(g: Callable[[str], Any]) -> list[tuple[str, str]]:
    return [("Model", f"tiny: width {g('tiny.width')}, lsgan, cycle λ {g('tiny.lambda_cycle')}")]


RECIPE = Recipe(
    name="tiny",
    section=TinyConfig,
    check_config=_check_config,
    check_distributed=lambda config: None,
    build=_build,
    nets=("g_ab", "g_ba", "d_a", "d_b"),
    rebundle=lambda nets: TinyPair(*nets),
    optimizers=_optimizers,
    per_iteration=False,
    fusable=lambda config: True,
    pools=lambda config, seed: {},
    step=_step,
    loss_keys=("D", "G", "cycle"),
    plateau_keys=("G", "cycle"),
    write_samples=_write_samples,
    architecture=("width",),
    model_info=lambda config: {"width": config.tiny.width},
    folder_nets=("g_ab", "g_ba"),
    build_generators=_build_generators,
    translation=_translation,
    default_metrics=("l1_cycle", "psnr_cycle"),
    report_rows=_report_rows,
)


# --- fixtures and helpers ----------------------------------------------------------------------
# 3 images in A, 4 in B: 4 steps per epoch, so 6 steps cross an epoch (and the LR halving).
OPTS = ["--model", "tiny", "--image-size", "16", "--load-size", "20", "--num-workers", "0"]
OPTS += ["--progress", "lines", "--device", "cpu", "--log-every", "1", "--sample-every", "3"]
OPTS += ["--set", "data.num_samples=2", "--set", "tiny.width=3"]


@pytest.fixture(scope="module", autouse=True)
def tiny_family() -> Iterator[Recipe]:
    register(RECIPE)
    try:
        yield RECIPE
    finally:
        unregister("tiny")
    assert "tiny" not in RECIPES and "tiny" not in cfg.SECTIONS


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny") / "data"
    make_images(root / "trainA", 3, size=(20, 20), seed=1)
    make_images(root / "trainB", 4, size=(20, 20), seed=2)
    make_images(root / "testA", 2, size=(24, 18), seed=3)  # not the training size
    make_images(root / "testB", 2, size=(20, 20), seed=4)
    return root


@pytest.fixture(scope="module")
def run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 steps in one go."""
    runs = tmp_path_factory.mktemp("tiny-runs")
    assert train(str(data), "--runs-dir", str(runs), "--max-steps", "6", *OPTS) == 0
    return runs / "data"


def train(*args: str) -> int:
    return cli.main(["train", *args])


def weights(run: Path) -> dict[str, dict[str, Tensor]]:
    return checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")["models"]


def by_hand(g: dict[str, Tensor], x: Tensor) -> Tensor:
    """The generator ``0.conv -> tanh -> 2.conv -> tanh`` from its state dict, without nn."""
    h = torch.tanh(F.conv2d(x, g["0.weight"], g["0.bias"]))
    return torch.tanh(F.conv2d(h, g["2.weight"], g["2.bias"]))


def to_tensor(path: Path) -> Tensor:
    """An RGB PNG as (1, 3, H, W) in [-1, 1]."""
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(array).permute(2, 0, 1)[None] / 127.5 - 1


# --- train, resume -----------------------------------------------------------------------------
def test_train_writes_the_run_folder(run: Path) -> None:
    got = records(run)
    assert [r["step"] for r in got] == [1, 2, 3, 4, 5, 6]
    assert set(got[0]) == {"step", "epoch", "lr", "D", "G", "cycle"}
    assert all(math.isfinite(r[k]) for r in got for k in ("D", "G", "cycle"))
    # The section's lr, halved after the first epoch by the family's own per-epoch scheduler.
    assert [r["lr"] for r in got] == pytest.approx([1e-3] * 4 + [5e-4] * 2)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"] == "tiny"
    assert saved["tiny"] == {"width": 3, "lr": 1e-3, "lambda_cycle": 10.0}
    state = checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert set(state["models"]) == {"g_ab", "g_ba", "d_a", "d_b"} and state["pools"] == {}
    assert state["models"]["g_ab"]["0.weight"].shape == (3, 3, 1, 1)  # tiny.width=3 honoured
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_000003.png",
        "step_000006.png",
    ]
    assert "tiny: width 3" in (run / "report.html").read_text()
    model, info = load_pretrained(run)
    assert isinstance(model, TinyPair) and model.d_a is None and model.d_b is None
    assert info["model"] == "tiny" and info["width"] == 3 and info["step"] == 6
    for name in ("g_ab", "g_ba"):
        for key, value in getattr(model, name).state_dict().items():
            assert torch.equal(value, state["models"][name][key]), (name, key)


def test_resume_continues_exactly(run: Path, data: Path, tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    assert train(str(data), "--runs-dir", str(parts), "--max-steps", "3", *OPTS) == 0
    assert train("--resume", str(parts / "data"), "--max-steps", "6") == 0
    assert records(parts / "data") == records(run)
    reference, resumed = weights(run), weights(parts / "data")
    assert set(reference) == set(resumed)
    for name, state in reference.items():
        for key, value in state.items():
            assert torch.equal(value, resumed[name][key]), (name, key)


# --- translate, evaluate, export ---------------------------------------------------------------
def test_translate_a_folder(run: Path, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["translate", str(run), "-i", str(data / "testA"), "-o", str(out)]) == 0
    inputs = sorted((data / "testA").iterdir())
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in inputs]
    g_ab = weights(run)["g_ab"]
    for path in inputs:
        got = Image.open(out / path.name)
        assert got.size == Image.open(path).size == (24, 18)
        x = to_tensor(path)
        expected = (by_hand(g_ab, x) + 1) * 127.5
        assert (expected - (x + 1) * 127.5).abs().max() > 10  # not a near-identity map
        got = torch.from_numpy(np.asarray(got, dtype=np.float32)).permute(2, 0, 1)[None]
        assert (got - expected).abs().max() <= 1.0 + 1e-3  # 1/255 in [0, 1]


def test_evaluate_scores_the_cycle(run: Path, data: Path, tmp_path: Path, capsys) -> None:
    argv = ["evaluate", str(run), str(data), "--metrics", "l1_cycle,psnr_cycle"]
    assert cli.main(argv) == 0
    record = json.loads((run / "eval" / "step_000006.json").read_text())
    metrics = record["metrics"]
    keys = {f"{m}_{d}" for m in ("l1_cycle", "psnr_cycle") for d in ("a2b", "b2a")}
    assert keys <= set(metrics) and all(math.isfinite(metrics[k]) for k in keys)
    assert 0 < metrics["l1_cycle_a2b"] < 2 and metrics["psnr_cycle_a2b"] > 0
    out = capsys.readouterr().out
    assert any(line.split()[:1] == ["l1_cycle"] for line in out.splitlines())
    # Without --metrics: the family's default_metrics (no feature network is loaded).
    assert cli.main(["evaluate", str(run), "--output", str(tmp_path / "d.json")]) == 0
    default = json.loads((tmp_path / "d.json").read_text())["metrics"]
    assert set(default) == keys and default == pytest.approx(metrics)


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_export_matches_the_generator(run: Path, tmp_path: Path, fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    path = tmp_path / f"b2a.{fmt}"
    argv = ["export", str(run), "--format", fmt, "--direction", "b2a", "-o", str(path)]
    assert cli.main(argv) == 0
    net = load_pretrained(run)[0].g_ba
    generator = torch.Generator().manual_seed(0)
    for batch, height, width in [(1, 16, 16), (2, 7, 13)]:  # dynamic N, H, W; any size
        x = torch.rand(batch, 3, height, width, generator=generator) * 2 - 1
        with torch.no_grad():
            expected = net(x)
        if fmt == "onnx":
            from unpaired.export.onnx import onnx_session, run_onnx

            got = torch.from_numpy(run_onnx(onnx_session(path), x.numpy()))
        else:
            got = torch.export.load(path).module()(x)
        assert got.shape == (batch, 3, height, width)
        assert (got - expected).abs().max() < 1e-5


# --- options -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ("tiny.bogus=1", "unknown option tiny.bogus"),
        ("tiny.width=0", "option tiny.width: must be 1 or more, got 0"),
    ],
)
def test_bad_options_are_one_line(data: Path, tmp_path: Path, capsys, option, needle) -> None:
    argv = [str(data), "--runs-dir", str(tmp_path / "r"), *OPTS, "--set", option]
    assert train(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and not (tmp_path / "r").exists()
