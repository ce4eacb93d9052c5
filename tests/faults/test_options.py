"""Bad option values are one-line errors before anything is made."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("value", ["nan", ".nan", "inf", "-.inf", "1e999"])
@pytest.mark.parametrize("key", ["cyclegan.lambda_a", "optim.lr", "munit.recon_x_w"])
def test_float_options_refuse_nan_and_infinity(run_cli, tmp_path: Path, key, value) -> None:
    result = run_cli("train", "--runs-dir", tmp_path / "runs", "--set", f"{key}={value}")
    assert result.code == 2
    result.one_error_line(f"option {key}: must be a finite number")
    assert not (tmp_path / "runs").exists()
