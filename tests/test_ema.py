"""Generator EMA (``--ema DECAY``): the update math, exact resume, the model folders, samples and
evaluation it feeds, and that nothing changes without it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from torch import nn

from unpaired import cli
from unpaired import config as cfg
from unpaired.recipes import configure
from unpaired.training import checkpoint
from unpaired.training.ema import GeneratorEMA, ema_decay
from unpaired.training.run import Run
from unpaired.training.tracking import NullLogger, Quiet

from conftest import TINY, records

RESUME_OPTS = TINY + [
    "--log-every",
    "1",
    "--epochs",
    "1",
    "--epochs-decay",
    "1",
    "--set",
    "cyclegan.pool_size=3",
    "--ema",
    "0.9",
]


def train(*args: str) -> int:
    return cli.main(["train", *args])


class Bundle(nn.Module):
    """A generator with parameters and buffers (g) next to a network the EMA leaves alone (d)."""

    def __init__(self) -> None:
        super().__init__()
        self.g = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        self.d = nn.Linear(2, 1)


def fill(module: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(value)


# --- the math ------------------------------------------------------------------------------
def test_decay_warms_up_to_the_given_value() -> None:
    assert ema_decay(0.999, 1) == pytest.approx(2 / 11)
    assert ema_decay(0.999, 10) == pytest.approx(11 / 20)
    assert ema_decay(0.999, 100_000) == 0.999  # (1 + k) / (10 + k) -> 1: DECAY wins
    assert ema_decay(0.5, 100) == 0.5
    warm = [ema_decay(0.9, k) for k in range(1, 100)]
    assert all(a <= b for a, b in zip(warm, warm[1:], strict=False)) and warm[-1] == 0.9


def test_update_on_known_values() -> None:
    bundle = Bundle()
    fill(bundle.g, 1.0)
    ema = GeneratorEMA(bundle, ["g"], decay=0.5)
    assert set(ema.shadow) == {"g"}  # d is not averaged
    fill(bundle.g, 3.0)
    bundle.g[1].running_mean.fill_(5.0)
    bundle.g[1].num_batches_tracked.fill_(7)
    ema.update(1)  # d_1 = min(0.5, 2/11) = 2/11
    expected = 2 / 11 * 1.0 + 9 / 11 * 3.0
    weight = ema.shadow["g"]["0.weight"]
    assert torch.allclose(weight, torch.full_like(weight, expected))
    assert torch.equal(ema.shadow["g"]["1.running_mean"], torch.full((2,), 5.0))  # copied
    assert int(ema.shadow["g"]["1.num_batches_tracked"]) == 7
    ema.update(100)  # d = min(0.5, 101/110) = 0.5
    assert torch.allclose(weight, torch.full_like(weight, 0.5 * expected + 0.5 * 3.0))
    # fp32 even for a network in bf16 (the average must not round to 8 bits of mantissa)
    low = Bundle().to(torch.bfloat16)
    ema_low = GeneratorEMA(low, ["g"], decay=0.999)
    assert all(v.dtype == torch.float32 for k, v in ema_low.shadow["g"].items() if "num" not in k)
    ema_low.update(5)


def test_swapped_shows_the_average_and_restores_bit_exactly() -> None:
    torch.manual_seed(0)
    bundle = Bundle()
    ema = GeneratorEMA(bundle, ["g"], decay=0.9)
    with torch.no_grad():
        for p in bundle.parameters():
            p.add_(torch.randn_like(p))
    ema.update(50)
    raw = {k: v.clone() for k, v in bundle.state_dict().items()}
    with ema.swapped():
        for k, v in bundle.g.state_dict().items():
            assert torch.equal(v, ema.shadow["g"][k])
        assert not torch.equal(bundle.g[0].weight, raw["g.0.weight"])
        assert torch.equal(bundle.d.weight, raw["d.weight"])  # d untouched
    for k, v in bundle.state_dict().items():
        assert torch.equal(v, raw[k]), k
    state = ema.state_dict()
    other = GeneratorEMA(Bundle(), ["g"], decay=0.9)
    other.load_state_dict(state)
    for k, v in other.shadow["g"].items():
        assert torch.equal(v, ema.shadow["g"][k])


# --- training ------------------------------------------------------------------------------
def test_resume_with_ema_is_exact_and_model_holds_the_average(
    tiny_data: Path, tmp_path: Path
) -> None:
    full = tmp_path / "full"
    assert train(str(tiny_data), "--runs-dir", str(full), "--max-steps", "9", *RESUME_OPTS) == 0
    parts = tmp_path / "parts"
    assert train(str(tiny_data), "--runs-dir", str(parts), "--max-steps", "4", *RESUME_OPTS) == 0
    run = parts / "data"
    assert train("--resume", str(run), "--max-steps", "9") == 0  # crosses the epoch (7 steps)
    assert records(run) == records(full / "data")

    state_a = checkpoint.load_checkpoint(full / "data" / "checkpoints" / "latest.pt")
    state_b = checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    for part in ("models", "ema"):
        assert set(state_a[part]) == set(state_b[part])
        for name, weights in state_a[part].items():
            for key, value in weights.items():
                assert torch.equal(value, state_b[part][name][key]), (part, name, key)
    assert set(state_a["ema"]) == {"g_ab", "g_ba"}  # the generators, not the discriminators

    # model/ holds the average: equal to the checkpoint's EMA, not to the raw weights
    info = json.loads((run / "model" / "config.json").read_text())
    assert info["weights"] == "ema" and info["step"] == 9
    tensors = load_file(run / "model" / "model.safetensors")
    differs = False
    for name, weights in state_b["ema"].items():
        for key, value in weights.items():
            assert torch.equal(tensors[f"{name}.{key}"], value), (name, key)
            differs |= not torch.equal(value, state_b["models"][name][key])
    assert differs
    assert yaml.safe_load((run / "config.yaml").read_text())["ema"] == 0.9


def test_off_by_default_and_fixed_for_a_run(tiny_data: Path, tmp_path: Path, run_cli) -> None:
    assert "ema" not in cfg.to_dict(configure({}))  # config.yaml of default runs is unchanged
    runs = tmp_path / "runs"
    result = run_cli("train", tiny_data, "--runs-dir", runs, "--max-steps", "1", *TINY)
    assert result.code == 0, result.err
    run = runs / "data"
    assert "ema" not in yaml.safe_load((run / "config.yaml").read_text())
    assert "ema" not in checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert "weights" not in json.loads((run / "model" / "config.json").read_text())
    # turning it on for a resumed run would break exactness
    result = run_cli("train", "--resume", run, "--max-steps", "2", "--ema", "0.99")
    assert result.code == 2
    result.one_error_line("option ema", "cannot change when resuming")
    for bad in ("1", "0", "-0.5"):
        result = run_cli("train", tiny_data, "--runs-dir", runs, "--name", "x", "--ema", bad)
        assert result.code == 2
        result.one_error_line("option ema", "between 0 and 1")
    assert not (runs / "x").exists()


def tiny_config(tiny_data: Path, **options) -> cfg.TrainConfig:
    return configure(
        {
            "data": {"root": str(tiny_data), "image_size": 32, "load_size": 36, "num_samples": 2},
            "num_workers": 0,
            "cyclegan": {"generator": "resnet_6blocks", "ngf": 4, "ndf": 4},
            "log_every": 1000,
            "sample_every": 1000,
            "latest_every": 1000,
            **options,
        }
    )


def test_samples_and_evaluation_use_the_average(tiny_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run = Run(tiny_config(tiny_data, ema=0.9, max_steps=3), run_dir)
    assert run.run(NullLogger(), Quiet(), {"stop": False}) is False
    assert run.pos.step == 3
    raw = {k: v.clone() for k, v in run.model.state_dict().items()}
    seen: list[dict[str, torch.Tensor]] = []

    def spy(path, bundle, *args):
        seen.append({k: v.clone() for k, v in bundle.g_ab.state_dict().items()})
        return original(path, bundle, *args)

    original = run.spec.write_samples
    run.spec = dataclasses.replace(run.spec, write_samples=spy)
    assert run.write_samples().is_file()

    class Evaluator:
        last_step = None

        def __call__(self, model, step, info):
            seen.append({k: v.clone() for k, v in model.g_ab.state_dict().items()})
            assert info["weights"] == "ema"
            return {"step": step}

    run.evaluator = Evaluator()
    run.evaluate(NullLogger(), Quiet())
    assert len(seen) == 2
    for weights in seen:
        for key, value in weights.items():
            assert torch.equal(value, run.ema.shadow["g_ab"][key]), key
    assert any(not torch.equal(v, raw[f"g_ab.{k}"]) for k, v in seen[0].items())
    for key, value in run.model.state_dict().items():  # the training weights are back
        assert torch.equal(value, raw[key]), key


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without distributed")
def test_two_ranks_hold_the_same_average(tiny_data: Path, tmp_path: Path) -> None:
    from test_distributed import torchrun

    runs = tmp_path / "runs"
    done = torchrun(str(tiny_data), "--runs-dir", str(runs), "--max-steps", "3", *RESUME_OPTS)
    assert done.returncode == 0, done.stderr[-3000:]
    state = checkpoint.load_checkpoint(runs / "data" / "checkpoints" / "latest.pt")
    assert state["world_size"] == 2 and state["position"]["step"] == 3
    assert state["ema_sha256"] == state["other_ranks"][0]["ema_sha256"]
    ema = GeneratorEMA(nn.Module(), [], 0.9)
    ema.names, ema.shadow = tuple(state["ema"]), state["ema"]
    assert ema.digest() == state["ema_sha256"]  # rank 0's digest is of the saved average
