"""Paired validation: MAE/PSNR/SSIM against hand-computed values and scikit-image, slice
consistency, ``unpaired evaluate --paired`` and ``--val-paired`` during training."""

from __future__ import annotations

import numpy as np
import pytest

from unpaired.metrics.errors import EvalError
from unpaired.metrics.volumes import neighbour_difference, slice_consistency


# --- slice consistency -----------------------------------------------------------------------
def test_slice_consistency_known_values_and_sign() -> None:
    # input: slices 0, 10, 20 (steps of 10); output: 0, 30, 0 (steps of 30): flicker +20
    src = np.stack([np.full((2, 3), v) for v in (0.0, 10.0, 20.0)])
    out = np.stack([np.full((2, 3), v) for v in (0.0, 30.0, 0.0)])
    assert neighbour_difference(src, axis=0) == pytest.approx(10.0)
    assert neighbour_difference(out, axis=0) == pytest.approx(30.0)
    assert slice_consistency(src, out, axis=0) == pytest.approx(20.0)
    assert slice_consistency(out, src, axis=0) == pytest.approx(-20.0)  # smoother than input
    assert slice_consistency(src, src, axis=0) == 0.0
    # along another axis: the same volume moved there gives the same figure
    assert slice_consistency(np.moveaxis(src, 0, 2), np.moveaxis(out, 0, 2), axis=2) == (
        pytest.approx(20.0)
    )


def test_slice_consistency_inside_a_mask() -> None:
    src = np.zeros((3, 1, 2))
    out = np.zeros((3, 1, 2))
    out[1, 0, 1] = 100.0  # flicker only in the column outside the mask
    out[1, 0, 0] = 4.0
    mask = np.zeros((3, 1, 2), dtype=np.uint8)
    mask[:, 0, 0] = 1
    assert slice_consistency(src, out, axis=0, mask=mask) == pytest.approx(4.0)
    assert slice_consistency(src, out, axis=0) == pytest.approx((4 + 4 + 100 + 100) / 4)


def test_slice_consistency_errors() -> None:
    with pytest.raises(EvalError, match="differs"):
        slice_consistency(np.zeros((3, 2, 2)), np.zeros((3, 2, 3)), axis=0)
    with pytest.raises(EvalError, match="at least 2 slices"):
        slice_consistency(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), axis=0)
    with pytest.raises(EvalError, match="3-D"):
        neighbour_difference(np.zeros((2, 2)), axis=0)
