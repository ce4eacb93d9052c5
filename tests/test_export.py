"""`unpaired export`: ONNX (onnxruntime parity, dynamic sizes) and torch.export .pt2 files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from unpaired import Translator, cli

from conftest import make_model

# Random inputs of two sizes, one of them non-square, and two batch sizes.
SIZES = [(1, 32, 32), (2, 40, 56)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 3 -> 1 channels, so that a mix-up of directions or channels shows
    return make_model(tmp_path_factory.mktemp("export") / "model", 3, 1)


def export(*args: str) -> int:
    return cli.main(["export", *args])


def test_onnx_matches_pytorch_on_two_sizes(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from unpaired.export.onnx import onnx_session, run_onnx

    path = tmp_path / "g_ba.onnx"
    assert export(str(model_dir), "--format", "onnx", "--direction", "b2a", "-o", str(path)) == 0
    assert "max abs difference" in capsys.readouterr().out
    session = onnx_session(path)
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["unpaired.direction"] == "b2a"
    net = Translator.load(model_dir).generator("b2a")
    rng = np.random.default_rng(0)
    for batch, height, width in SIZES:
        x = rng.uniform(-1, 1, (batch, 1, height, width)).astype(np.float32)
        with torch.no_grad():
            expected = net(torch.from_numpy(x)).numpy()
        got = run_onnx(session, x)
        assert got.shape == (batch, 3, height, width)
        assert np.abs(got - expected).max() < 1e-4


def test_pt2_loads_and_runs_at_two_sizes(model_dir: Path, tmp_path: Path):
    path = tmp_path / "g_ab.pt2"
    assert export(str(model_dir), "--format", "pt2", "-o", str(path)) == 0
    program = torch.export.load(path).module()
    net = Translator.load(model_dir).generator("a2b")
    torch.manual_seed(0)
    for batch, height, width in SIZES:
        x = torch.rand(batch, 3, height, width) * 2 - 1
        with torch.no_grad():
            assert torch.allclose(program(x), net(x), atol=1e-5)


def test_export_refuses_an_existing_file(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "taken.pt2"
    path.write_bytes(b"keep me")
    assert export(str(model_dir), "--format", "pt2", "-o", str(path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0]
    assert path.read_bytes() == b"keep me"


def test_missing_export_extra_names_the_install_command(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    path = tmp_path / "m.onnx"
    assert export(str(model_dir), "--format", "onnx", "-o", str(path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'unpaired[export]'" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_export_of_a_bad_model_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert export(str(tmp_path), "--format", "pt2", "-o", str(tmp_path / "x.pt2")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no config.json" in err[0]
