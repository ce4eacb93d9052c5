"""--time-budget: the plan from a fake clock, the LR decay inside it, exact resume, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from unpaired import cli
from unpaired import config as cfg
from unpaired.recipes import cyclegan as cyclegan_recipe
from unpaired.training import budget as budgets
from unpaired.training import checkpoint

from conftest import TINY, records, sigterm_after

OPTS = [*TINY, "--log-every", "1", "--sample-every", "1000", "--set", "cyclegan.pool_size=3"]
STEP_SECONDS = 2.0  # what the fake clock says one training step takes; everything else is free


@pytest.fixture
def fake_clock(monkeypatch):
    """Time advances by STEP_SECONDS in each training step and stands still otherwise; 2
    warm-up steps and 2 measured ones, so the plan is fixed at step 4."""
    now = [0.0]
    real_step = cyclegan_recipe.cyclegan_step

    def step(*args, **kwargs):
        now[0] += STEP_SECONDS
        return real_step(*args, **kwargs)

    monkeypatch.setattr(cyclegan_recipe, "cyclegan_step", step)
    monkeypatch.setattr(budgets, "clock", lambda: now[0])
    monkeypatch.setattr(budgets, "WARMUP_STEPS", 2)
    monkeypatch.setattr(budgets, "MEASURE_STEPS", 2)
    return now


def events(run: Path, name: str) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == name]


def test_budget_seconds_parses_durations() -> None:
    assert cfg.budget_seconds("45m") == 2700
    assert cfg.budget_seconds("2h") == 7200
    assert cfg.budget_seconds("90s") == 90
    assert cfg.budget_seconds("1h30m") == 5400
    assert cfg.budget_seconds("1.5h") == 5400
    assert cfg.budget_seconds(120) == 120
    for bad in ("0", "30s", "abc", "", "5x", "-10m", "nan"):
        with pytest.raises(cfg.ConfigError, match="option time_budget"):
            cfg.budget_seconds(bad)


def test_plan_from_known_numbers() -> None:
    # 100 s left after 10 s; 0.5 s/step, a 2 s sample grid every 10 steps (+0.2 s/step) and a
    # 3 s checkpoint every 100 steps (+0.03 s/step); the final grid and checkpoint (5 s) kept.
    plan = budgets.make_plan(
        110.0, 10.0, 40, 0.5, {"sample": 2.0, "save": 3.0}, {"sample": 10, "save": 100}
    )
    assert plan.sec_per_step_all == pytest.approx(0.73)
    assert plan.planned_steps == 40 + math.floor(95 / 0.73)  # 170
    assert plan.decay_from == 85
    assert plan.lr_factor(0) == plan.lr_factor(85) == 1.0
    assert plan.lr_factor(170 - 17) == pytest.approx(0.2)
    assert plan.lr_factor(170) == plan.lr_factor(171) == 0.0
    # The budget spent already: the run ends where it is.
    spent = budgets.make_plan(60.0, 70.0, 40, 0.5, {}, {"sample": 10, "save": 100})
    assert spent.planned_steps == spent.decay_from == 40 and spent.lr_factor(40) == 0.0


def test_budget_run_plans_and_decays_to_zero(tiny_data: Path, tmp_path: Path, fake_clock) -> None:
    runs = tmp_path / "runs"
    assert cli.main(["train", str(tiny_data), "--runs-dir", str(runs), "--time-budget", "1m",
                     *OPTS]) == 0  # fmt: skip
    run = runs / "data"
    # 4 steps (8 s) measured; (60 - 8) / 2 = 26 more steps; decay from step 15 to 0 at 30.
    (plan,) = events(run, "budget_plan")
    assert (plan["step"], plan["planned_steps"], plan["decay_from"]) == (4, 30, 15)
    assert plan["sec_per_step"] == STEP_SECONDS and plan["elapsed_s"] == 8.0
    steps = records(run)
    lr = 2e-4
    assert [r["step"] for r in steps] == list(range(1, 31))
    assert all(r["lr"] == lr for r in steps[:15])
    assert steps[19]["lr"] == pytest.approx(lr * (30 - 20) / 15)
    assert steps[-1]["lr"] == 0.0
    state = checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert state["position"]["step"] == 30
    assert state["budget"]["plan"]["planned_steps"] == 30
    assert yaml.safe_load((run / "config.yaml").read_text())["time_budget"] == "1m"
    assert "time budget 1m: length and LR decay planned" in (run / "report.html").read_text()
    with pytest.warns(UserWarning, match="the last step its time budget planned"):
        assert cli.main(["train", "--resume", str(run)]) == 0
    assert len(records(run)) == 30


@pytest.mark.parametrize("stop_at", [3, 20])  # before the plan is fixed, and after
def test_resume_keeps_the_plan_exactly(
    tiny_data: Path, tmp_path: Path, fake_clock, monkeypatch, stop_at: int
) -> None:
    full = tmp_path / "full"
    args = ["--time-budget", "1m", *OPTS]
    assert cli.main(["train", str(tiny_data), "--runs-dir", str(full), *args]) == 0
    reference = full / "data"

    clocked_step = sigterm_after(monkeypatch, stop_at)
    runs = tmp_path / "runs"
    assert cli.main(["train", str(tiny_data), "--runs-dir", str(runs), *args]) == 130
    monkeypatch.setattr(cyclegan_recipe, "cyclegan_step", clocked_step)
    fake_clock[0] += 1000.0  # time stopped does not count
    assert cli.main(["train", "--resume", str(runs / "data")]) == 0
    assert records(runs / "data") == records(reference)
    assert events(runs / "data", "budget_plan")[-1]["planned_steps"] == 30
    a = checkpoint.load_checkpoint(reference / "checkpoints" / "latest.pt")
    b = checkpoint.load_checkpoint(runs / "data" / "checkpoints" / "latest.pt")
    for name, weights in a["models"].items():
        for key, value in weights.items():
            assert torch.equal(value, b["models"][name][key]), (name, key)


def test_budget_errors(tiny_data: Path, tmp_path: Path, run_cli, fake_clock) -> None:
    runs = tmp_path / "runs"
    base = ["train", str(tiny_data), "--runs-dir", str(runs), *OPTS]
    run_cli(*base, "--time-budget", "0").one_error_line("time_budget", "at least 60s")
    run_cli(*base, "--time-budget", "30s").one_error_line("time_budget", "shorter than")
    run_cli(*base, "--time-budget", "soon").one_error_line("time_budget", "duration")
    both = run_cli(*base, "--time-budget", "1h", "--max-steps", "5")
    assert both.code == 2
    both.one_error_line("time_budget and max_steps")
    assert not runs.exists() or not any(runs.iterdir())


def test_evaluations_are_part_of_the_plan(
    tiny_data: Path, tmp_path: Path, fake_clock, monkeypatch
) -> None:
    from unpaired.training.run import Run

    real_evaluate = Run.evaluate

    def slow_evaluate(self, *args, **kwargs):
        fake_clock[0] += 10.0  # an evaluation costs 10 s on the fake clock
        return real_evaluate(self, *args, **kwargs)

    monkeypatch.setattr(Run, "evaluate", slow_evaluate)
    runs = tmp_path / "runs"
    evals = ["--eval-every", "10", "--set", "eval_features=tiny"]
    assert cli.main(["train", str(tiny_data), "--runs-dir", str(runs), "--time-budget", "60",
                     *OPTS, *evals]) == 0  # fmt: skip
    run = runs / "data"
    # At step 4 the first evaluation is timed (10 s): 18 s spent; each step costs 2 s + 10 s
    # / 10 and the final evaluation 10 s is kept: (60 - 18 - 10) / 3 -> 10 more steps.
    (plan,) = events(run, "budget_plan")
    assert plan["elapsed_s"] == 18.0 and plan["sec_per_step_all"] == 3.0
    assert (plan["planned_steps"], plan["decay_from"]) == (14, 7)
    lines = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    assert [r["step"] for r in lines if "eval_sec" in r] == [4, 10, 14]


def test_the_plan_follows_a_slower_machine(
    tiny_data: Path, tmp_path: Path, fake_clock, monkeypatch
) -> None:
    """Steps take 2 s, then 4 s from step 11: the revisions shorten the run so that it still
    ends inside the budget, and the learning rate falls without a jump."""
    monkeypatch.setattr(budgets, "REPLAN_MIN_STEPS", 3)
    monkeypatch.setattr(budgets, "RECENT_STEPS", 2)
    inner, calls = cyclegan_recipe.cyclegan_step, []

    def slower(*args, **kwargs):
        calls.append(1)
        if len(calls) > 10:
            fake_clock[0] += 2.0
        return inner(*args, **kwargs)

    monkeypatch.setattr(cyclegan_recipe, "cyclegan_step", slower)
    runs = tmp_path / "runs"
    assert cli.main(["train", str(tiny_data), "--runs-dir", str(runs), "--time-budget", "1m",
                     *OPTS]) == 0  # fmt: skip
    run = runs / "data"
    (first,) = events(run, "budget_plan")
    assert first["planned_steps"] == 30  # at 2 s/step, as without revisions
    revised = events(run, "budget_replan")
    assert len(revised) >= 2 and revised[-1]["sec_per_step"] == 4.0
    steps = records(run)
    n = len(steps)
    assert n == revised[-1]["planned_steps"] < 30
    spent = 10 * 2.0 + (n - 10) * 4.0
    assert 60 - 4.0 < spent <= 60.0  # the budget used, not overrun
    lrs = [r["lr"] for r in steps]
    assert lrs[-1] == 0.0
    assert all(b <= a for a, b in zip(lrs, lrs[1:], strict=False))  # never up again
    # No jump: a step never lowers the rate by more than the final decay's slope allows.
    assert max(a - b for a, b in zip(lrs, lrs[1:], strict=False)) <= 2e-4 / 4


def test_set_up_time_counts(tiny_data: Path, tmp_path: Path, fake_clock, monkeypatch) -> None:
    """Time spent building the run before the first step is part of the budget."""
    from unpaired.training import run as run_module

    real_init = run_module.Run.__init__

    def slow_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        fake_clock[0] += 10.0  # building the networks and indexing the data took 10 s

    monkeypatch.setattr(run_module.Run, "__init__", slow_init)
    runs = tmp_path / "runs"
    assert cli.main(["train", str(tiny_data), "--runs-dir", str(runs), "--time-budget", "1m",
                     *OPTS]) == 0  # fmt: skip
    (plan,) = events(run := runs / "data", "budget_plan")
    assert plan["elapsed_s"] == 18.0 and plan["planned_steps"] == 4 + 21  # (60 - 18) / 2
    assert len(records(run)) == 25
