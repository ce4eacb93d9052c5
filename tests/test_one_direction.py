"""Model folders that hold one direction only (``"directions": ["a2b"]``): what they store,
how they translate, and the one-line error for the direction they lack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from unpaired.evaluation import evaluate
from unpaired.metrics.errors import EvalError
from unpaired.pretrained import ModelLoadError, load_pretrained, save_pretrained
from unpaired.recipes import DirectionError
from unpaired.translate import Translator

from conftest import make_images, make_model


def _one_way(tmp_path: Path, direction: str, name: str = "one") -> tuple[Path, Path]:
    """A full tiny CycleGAN folder and a folder holding ``direction`` of the same weights."""
    full = make_model(tmp_path / "full")
    model, info = load_pretrained(full)
    info = {k: v for k, v in info.items() if k not in ("library", "version", "weights_sha256")}
    return full, save_pretrained(tmp_path / name, model, {**info, "directions": [direction]})


@pytest.mark.parametrize("direction", ["a2b", "b2a"])
def test_a_one_way_folder_stores_one_generator_and_translates_like_the_full_model(
    tmp_path: Path, direction: str
) -> None:
    full, one = _one_way(tmp_path, direction)
    config = json.loads((one / "config.json").read_text())
    assert config["directions"] == [direction]
    stored = {key.split(".")[0] for key in load_file(one / "model.safetensors")}
    assert stored == {"g_ab" if direction == "a2b" else "g_ba"}
    missing = "b2a" if direction == "a2b" else "a2b"
    translator = Translator.load(one)
    assert translator.directions == (direction,)
    assert getattr(translator.model, "g_ba" if direction == "a2b" else "g_ab") is None
    x = torch.rand(2, 3, 20, 28) * 2 - 1
    expected = Translator.load(full).translate(x, direction)
    assert torch.equal(translator.translate(x, direction), expected)
    with pytest.raises(DirectionError, match=f"direction {missing}: .* holds {direction} only"):
        translator.translate(x, missing)


def test_a_full_folder_has_no_directions_key(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m")
    assert "directions" not in json.loads((folder / "config.json").read_text())
    assert Translator.load(folder).directions == ("a2b", "b2a")


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (["x2y"], "'x2y' is not a direction of cyclegan"),
        ([], "must be a non-empty list"),
        ("a2b", "must be a non-empty list"),
        (["a2b", "a2b"], "names a direction twice"),
    ],
)
def test_a_bad_directions_key_is_one_line(tmp_path: Path, value: object, needle: str) -> None:
    folder = make_model(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "directions": value}))
    with pytest.raises(ModelLoadError, match=needle) as caught:
        load_pretrained(folder)
    assert "\n" not in str(caught.value) and "config.json" in str(caught.value)


def test_a_family_whose_networks_serve_both_directions_refuses_one(tmp_path: Path) -> None:
    from unpaired.models.munit import build_munit

    info = {"model": "munit", "channels_a": 3, "channels_b": 3, "dim": 4, "style_dim": 2,
            "n_downsample": 2, "n_res": 1, "mlp_dim": 8}  # fmt: skip
    model = build_munit(**{k: v for k, v in info.items() if k != "model"},
                        with_discriminators=False)  # fmt: skip
    with pytest.raises(ValueError, match="holds all of a2b, b2a"):
        save_pretrained(tmp_path / "m", model, {**info, "directions": ["a2b"]})


def test_cli_names_the_direction_the_folder_holds(tmp_path: Path, run_cli) -> None:
    _, one = _one_way(tmp_path, "a2b")
    make_images(tmp_path / "in", 1, size=(24, 24))
    out = tmp_path / "out"
    result = run_cli("translate", one, "--input", tmp_path / "in", "--output", out,
                     "--direction", "b2a")  # fmt: skip
    assert result.code == 2
    result.one_error_line("direction b2a", "holds a2b only")
    assert not out.exists()
    assert run_cli("translate", one, "--input", tmp_path / "in", "--output", out).code == 0
    assert len(list(out.iterdir())) == 1
    result = run_cli("export", one, "--format", "pt2", "--direction", "b2a",
                     "-o", tmp_path / "g.pt2")  # fmt: skip
    assert result.code == 2
    result.one_error_line("holds a2b only")
    assert not (tmp_path / "g.pt2").exists()


def test_evaluate_leaves_out_the_cycle_of_a_one_way_folder(tmp_path: Path) -> None:
    _, one = _one_way(tmp_path, "a2b")
    data = tmp_path / "data"
    make_images(data / "testA", 3, size=(32, 32), seed=1)
    make_images(data / "testB", 3, size=(32, 32), seed=2)
    result = evaluate(one, data, features="tiny", size=32, device="cpu", save=False)
    assert result.directions == ["a2b"]
    assert set(result.scores) == {"fid_a2b", "kid_a2b", "kid_std_a2b"}
    assert any("cycle metrics left out" in note for note in result.notes)
    with pytest.raises(EvalError, match="--metrics l1_cycle: translates back"):
        evaluate(one, data, metrics=("l1_cycle",), features="tiny", size=32, save=False)
    with pytest.raises(EvalError, match="holds a2b only"):
        evaluate(one, data, directions=("b2a",), features="tiny", size=32, save=False)


def test_export_defaults_to_the_direction_the_folder_holds(tmp_path: Path, run_cli) -> None:
    _, one = _one_way(tmp_path, "b2a")
    result = run_cli("export", one, "--format", "pt2", "-o", tmp_path / "g.pt2")
    assert result.code == 0, result.err
    program = torch.export.load(tmp_path / "g.pt2")
    x = torch.rand(1, 3, 24, 32) * 2 - 1
    expected = Translator.load(one).translate(x, "b2a")
    assert torch.allclose(program.module()(x), expected, atol=1e-5)
