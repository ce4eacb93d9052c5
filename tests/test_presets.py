"""--preset: official is the defaults byte for byte, quick lays its options under the user's,
a preset's time budget gives way to a length the user chose, and bad names are one line."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from unpaired import cli
from unpaired.publish import model_card
from unpaired.recipes.cyclegan import QUICK

from conftest import TINY


def dry(run_cli, tmp_path: Path, *args: str) -> dict:
    result = run_cli("train", "--runs-dir", tmp_path / "runs", "--dry-run", *args)
    assert result.code == 0, result.err
    return yaml.safe_load(result.out)


def test_official_is_the_defaults_byte_for_byte(run_cli, tiny_data: Path, tmp_path: Path) -> None:
    plain = run_cli("train", tiny_data, "--runs-dir", tmp_path, "--dry-run")
    named = run_cli("train", tiny_data, "--runs-dir", tmp_path, "--dry-run", "--preset", "official")
    assert plain.code == named.code == 0
    assert named.out == plain.out and "preset" not in plain.out


def test_quick_under_the_users_options(run_cli, tiny_data: Path, tmp_path: Path) -> None:
    quick = dry(run_cli, tmp_path, str(tiny_data), "--preset", "quick")
    assert quick["preset"] == "quick"
    assert quick["time_budget"] == QUICK["time_budget"] == "1h"
    assert quick["ema"] == QUICK["ema"]
    for key, value in QUICK["cyclegan"].items():
        assert quick["cyclegan"][key] == value, key
    assert quick["cyclegan"]["lambda_identity"] == 1.0  # twice the official 0.5
    assert quick["cyclegan"]["lambda_a"] == 10.0  # what the preset leaves alone stays official
    report = (tmp_path / "runs").exists()  # a dry run writes nothing
    assert not report
    mine = dry(
        run_cli, tmp_path, str(tiny_data), "--preset", "quick", "--image-size", "96",
        "--set", "cyclegan.ngf=48", "--time-budget", "20m", "--ema", "0.99",
        "--set", "cyclegan.lambda_identity=0",
    )  # fmt: skip
    assert mine["data"]["image_size"] == 96 and mine["cyclegan"]["ngf"] == 48
    assert mine["cyclegan"]["lambda_identity"] == 0.0
    assert mine["cyclegan"]["generator"] == QUICK["cyclegan"]["generator"]
    assert mine["time_budget"] == "20m" and mine["ema"] == 0.99
    assert mine["cyclegan"]["upsample"] == QUICK["cyclegan"]["upsample"]


def test_a_length_the_user_chose_replaces_the_presets_budget(
    run_cli, tiny_data: Path, tmp_path: Path
) -> None:
    for length in (["--max-steps", "7"], ["--epochs", "3"]):
        config = dry(run_cli, tmp_path, str(tiny_data), "--preset", "quick", *length)
        assert "time_budget" not in config, length
    steps = dry(run_cli, tmp_path, str(tiny_data), "--preset", "quick", "--max-steps", "7")
    assert steps["max_steps"] == 7


def test_bad_presets_are_one_line(run_cli, tiny_data: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    base = ["train", tiny_data, "--runs-dir", runs]
    line = run_cli(*base, "--preset", "fast").one_error_line("option preset", "'fast'")
    assert "official, quick" in line
    munit = run_cli(*base, "--model", "munit", "--preset", "quick")
    assert munit.code == 2
    munit.one_error_line("option preset", "munit has no preset 'quick'", "official")
    assert not runs.exists()


def test_a_quick_run_records_its_preset(run_cli, tiny_data: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = ["train", str(tiny_data), "--runs-dir", str(runs), "--preset", "quick", *TINY]
    assert cli.main([*args, "--max-steps", "3", "--sample-every", "1000"]) == 0
    run = runs / "data"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["preset"] == "quick" and saved["max_steps"] == 3
    info = json.loads((run / "model" / "config.json").read_text())
    assert info["upsample"] == "resize_conv" and info["weights"] == "ema"
    report = (run / "report.html").read_text()
    assert "EMA of the generators (decay 0.999)" in report and "<td>quick</td>" in report
    card = model_card(run)
    assert "- preset `quick`" in card
    assert "moving average of the generators' weights (decay 0.999)" in card
    # A resume keeps the preset's options; another preset is refused in one line.
    other = run_cli("train", "--resume", run, "--preset", "official", "--max-steps", "4")
    assert other.code == 2
    other.one_error_line("preset")
