"""Model folders that are damaged, diverged, foreign or from another version: translate and
evaluate say so in one line naming the file (or warn), and never write black images."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from unpaired.metrics.distances import frechet_distance_from_features
from unpaired.pretrained import CHECKSUM_KEY, load_pretrained

from conftest import make_images, make_model

TESTS = Path(__file__).parents[1]
COMPAT = TESTS / "data" / "compat_v0_1"


def _translate(run_cli, model: Path, tmp_path: Path):
    make_images(tmp_path / "in", 2, size=(24, 24))
    return run_cli("translate", model, "-i", tmp_path / "in", "-o", tmp_path / "out")


def _set_weight(model: Path, value: float, rehash: bool) -> None:
    """Write ``value`` into one weight; with ``rehash`` the checksum is updated too (as a
    diverged run would have written it)."""
    weights = model / "model.safetensors"
    tensors = load_file(str(weights))
    tensors["g_ab.model.1.weight"][0, 0, 0, 0] = value
    save_file(tensors, str(weights), {"format": "pt"})
    if rehash:
        config = json.loads((model / "config.json").read_text())
        config[CHECKSUM_KEY] = hashlib.sha256(weights.read_bytes()).hexdigest()
        (model / "config.json").write_text(json.dumps(config))


def _edit_config(model: Path, **changes) -> None:
    config = json.loads((model / "config.json").read_text())
    config.update(changes)
    (model / "config.json").write_text(json.dumps(config))


def test_saved_folder_records_the_checksum_of_its_weights(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    digest = hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    assert config[CHECKSUM_KEY] == digest


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_translate_refuses_non_finite_weights(run_cli, tmp_path: Path, value: float) -> None:
    model = make_model(tmp_path / "model")
    _set_weight(model, value, rehash=True)
    result = _translate(run_cli, model, tmp_path)
    assert result.code == 2
    result.one_error_line(str(model / "model.safetensors"), "g_ab.model.1.weight", "NaN")
    assert not (tmp_path / "out").exists()


def test_evaluate_refuses_a_nan_model(run_cli, tmp_path: Path, tiny_data: Path) -> None:
    model = make_model(tmp_path / "model")
    _set_weight(model, float("nan"), rehash=True)
    result = run_cli("evaluate", model, tiny_data, "--metrics", "l1_cycle", "--device", "cpu")
    assert result.code == 2
    result.one_error_line("model.safetensors", "NaN")


def test_fid_of_non_finite_features_is_nan_not_a_linalg_error() -> None:
    good = torch.randn(8, 4, dtype=torch.float64)
    bad = good.clone()
    bad[0, 0] = float("nan")
    assert frechet_distance_from_features(bad, good) != frechet_distance_from_features(bad, good)


def test_nan_written_into_a_tensor_is_a_checksum_mismatch(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    _set_weight(model, float("nan"), rehash=False)
    result = _translate(run_cli, model, tmp_path)
    assert result.code == 2
    result.one_error_line(str(model / "model.safetensors"), "checksum mismatch")
    assert not (tmp_path / "out").exists()


def test_one_flipped_byte_is_a_checksum_mismatch(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x10  # inside a tensor: still a valid file
    weights.write_bytes(bytes(data))
    result = _translate(run_cli, model, tmp_path)
    assert result.code == 2
    result.one_error_line(str(weights), "checksum mismatch")


@pytest.mark.parametrize("family", ["cyclegan", "munit"])
def test_folders_without_a_checksum_still_load(family: str) -> None:
    config = json.loads((COMPAT / family / "run" / "model" / "config.json").read_text())
    assert CHECKSUM_KEY not in config
    _, loaded = load_pretrained(COMPAT / family / "run" / "model")
    assert loaded["model"] == family


def test_truncated_weights_are_one_line(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    result = _translate(run_cli, model, tmp_path)
    assert result.code == 2
    result.one_error_line(str(weights))


@pytest.mark.parametrize(
    ("text", "needle"),
    [("{not json", "not readable JSON"), ("[1, 2]", "JSON object"), ("\xff\xfe", "JSON")],
)
def test_bad_config_json_is_one_line(run_cli, tmp_path: Path, text: str, needle: str) -> None:
    model = make_model(tmp_path / "model")
    (model / "config.json").write_bytes(text.encode("latin-1"))
    result = _translate(run_cli, model, tmp_path)
    assert result.code == 2
    result.one_error_line(str(model / "config.json"), needle)


def test_missing_weights_file_is_one_line(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    (model / "model.safetensors").unlink()
    result = _translate(run_cli, model, tmp_path)
    assert result.code == 2
    result.one_error_line(str(model / "model.safetensors"), "missing")


@pytest.mark.parametrize("command", ["translate", "evaluate"])
def test_unknown_generator_name_is_one_line(
    run_cli, tmp_path: Path, tiny_data: Path, command: str
) -> None:
    model = make_model(tmp_path / "model")
    _edit_config(model, generator="resnet_99blocks")
    if command == "translate":
        result = _translate(run_cli, model, tmp_path)
    else:
        result = run_cli("evaluate", model, tiny_data, "--metrics", "l1_cycle")
    assert result.code == 2
    result.one_error_line(str(model / "config.json"), "resnet_99blocks")


def test_another_librarys_folder_is_refused(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    _edit_config(model, library="diffusers")
    result = _translate(run_cli, model, tmp_path)
    assert result.code == 2
    result.one_error_line(str(model / "config.json"), "diffusers")


def test_a_newer_version_warns(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    _edit_config(model, version="9.0.0")
    with pytest.warns(UserWarning, match=r"config\.json: written by unpaired 9\.0\.0, newer"):
        result = _translate(run_cli, model, tmp_path)
    assert result.code == 0


def test_unknown_keys_warn(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    _edit_config(model, attention_heads=8)
    with pytest.warns(UserWarning, match=r"config\.json: unknown key\(s\) attention_heads"):
        result = _translate(run_cli, model, tmp_path)
    assert result.code == 0


def test_known_folders_load_without_a_warning(tmp_path: Path, recwarn) -> None:
    model = make_model(tmp_path / "model")
    load_pretrained(model)
    shutil.copytree(COMPAT / "munit" / "run" / "model", tmp_path / "munit")
    load_pretrained(tmp_path / "munit")
    assert not [w for w in recwarn if "config.json" in str(w.message)]
