"""``unpaired evaluate --from-folder``: files written by ``translate`` score as ``evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from unpaired import cli
from unpaired.evaluation import evaluate, evaluate_folder

from conftest import make_images, make_model


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A run folder with a tiny model at step 7, and DATA whose test images are already at
    the model's 32 x 32 crop (so translate's files are at the eval size)."""
    run = tmp_path / "run"
    make_model(run / "model")
    info = json.loads((run / "model" / "config.json").read_text())
    info["step"] = 7
    (run / "model" / "config.json").write_text(json.dumps(info))
    data = tmp_path / "data"
    make_images(data / "testA", 3, size=(32, 32), seed=3)
    make_images(data / "testB", 4, size=(32, 32), seed=4)
    return run, data


def translated(run: Path, data: Path, out: Path, direction: str = "a2b") -> Path:
    source = data / ("testA" if direction == "a2b" else "testB")
    args = ["translate", str(run), "-i", str(source), "-o", str(out), "--direction", direction]
    assert cli.main(args) == 0
    return out


@pytest.mark.parametrize("direction", ["a2b", "b2a"])
def test_png_files_score_as_evaluate(setup, tmp_path: Path, direction: str) -> None:
    run, data = setup
    out = translated(run, data, tmp_path / "out", direction)
    assert len(list(out.rglob("*.png"))) == (3 if direction == "a2b" else 4)
    common = {"metrics": ("fid", "kid"), "features": "tiny", "save": False}
    reference = evaluate(run, data, directions=(direction,), **common)
    result = evaluate_folder(out, run, data, direction=direction, **common)
    assert set(result.scores) == {f"fid_{direction}", f"kid_{direction}", f"kid_std_{direction}"}
    for key, value in reference.scores.items():
        assert result.scores[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert result.info["size"] == 32 and result.info["step"] == 7


def test_command_and_jpeg_note(setup, tmp_path: Path, capsys) -> None:
    run, data = setup
    out = translated(run, data, tmp_path / "out")
    capsys.readouterr()
    args = ["evaluate", "--from-folder", str(out), str(run), "--features", "tiny"]
    assert cli.main([*args, "--target", str(data / "testB")]) == 0
    printed = capsys.readouterr().out
    assert any(line.split()[:1] == ["fid"] for line in printed.splitlines())
    record = json.loads((run / "eval" / "step_000007.json").read_text())
    assert record["from_folder"] == str(out) and set(record["metrics"]) >= {"fid_a2b", "kid_a2b"}
    assert record["images"] == {"A": 3, "B": 4}
    jpeg = tmp_path / "jpeg"
    jpeg.mkdir()
    for path in out.rglob("*.png"):
        Image.open(path).save(jpeg / f"{path.stem}.jpg", quality=95)
    target = str(data / "testB")
    assert cli.main(["evaluate", "--from-folder", str(jpeg), "--target", target,
                     "--features", "tiny", "--output", str(tmp_path / "j.json")]) == 0  # fmt: skip
    assert "note: JPEG files" in capsys.readouterr().err
    assert json.loads((tmp_path / "j.json").read_text())["file_types"] == [".jpg"]
    # DATA alone (no MODEL): its testB/, at the files' own size.
    assert cli.main(["evaluate", "--from-folder", str(out), str(data), "--features", "tiny",
                     "--output", str(tmp_path / "d.json")]) == 0  # fmt: skip
    alone = json.loads((tmp_path / "d.json").read_text())
    assert alone["metrics"] == record["metrics"] and alone["model"] is None


def test_errors(setup, tmp_path: Path, run_cli) -> None:
    run, data = setup
    out = translated(run, data, tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    base = ["evaluate", "--features", "tiny"]
    run_cli(*base, "--from-folder", empty, run, data).one_error_line("holds no images")
    run_cli(*base, "--from-folder", tmp_path / "nope", run, data).one_error_line("no such folder")
    missing = tmp_path / "missing"
    run_cli(*base, "--from-folder", out, "--target", missing).one_error_line(
        f"--target {missing}", "no such folder"
    )
    run_cli(*base, "--from-folder", out, run / "model").one_error_line("give the target images")
    run_cli(*base, "--from-folder", out, run, data, "--metrics", "l1_cycle").one_error_line(
        "--metrics l1_cycle", "not with --from-folder"
    )
    run_cli(*base, "--from-folder", out, run, data, "--direction", "both").one_error_line(
        "--direction both"
    )
    run_cli(*base, "--target", data / "testB", run, data).one_error_line("only with --from-folder")
    assert not (run / "eval").exists()
