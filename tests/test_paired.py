"""Paired validation: MAE/PSNR/SSIM against hand-computed values and scikit-image, slice
consistency, ``unpaired evaluate --paired`` and ``--val-paired`` during training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unpaired.metrics.errors import EvalError
from unpaired.metrics.paired import (
    average,
    gaussian_window,
    mae,
    psnr,
    score_stack,
    ssim,
    ssim_map,
)
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


# --- MAE / PSNR / SSIM ----------------------------------------------------------------------
def test_gaussian_window_is_the_normalised_gaussian() -> None:
    g = gaussian_window().numpy()
    assert g.shape == (11,) and g.sum() == pytest.approx(1.0)
    raw = np.exp(-(np.arange(-5, 6) ** 2) / (2 * 1.5**2))
    np.testing.assert_allclose(g, raw / raw.sum())


def test_mae_psnr_known_values() -> None:
    out = np.array([[0.0, 1.0], [2.0, 3.0]])
    tgt = np.zeros((2, 2))
    assert mae(out, tgt) == pytest.approx(1.5)
    # MSE = (0 + 1 + 4 + 9) / 4 = 3.5, R = 10
    assert psnr(out, tgt, 10.0) == pytest.approx(10 * math.log10(100 / 3.5))
    mask = np.array([[0, 1], [0, 1]])
    assert mae(out, tgt, mask) == pytest.approx(2.0)  # (1 + 3) / 2
    assert psnr(out, tgt, 10.0, mask) == pytest.approx(10 * math.log10(100 / 5.0))
    assert psnr(tgt, tgt, 1.0) == math.inf
    assert mae(tgt, tgt) == 0.0


def test_ssim_known_values() -> None:
    # constant images p and q: variances and covariance vanish, so every window gives
    # (2 p q + C1) / (p^2 + q^2 + C1) with C1 = (0.01 R)^2
    p, q, r = 0.5, 0.25, 1.0
    c1 = (0.01 * r) ** 2
    expected = (2 * p * q + c1) / (p * p + q * q + c1)
    assert ssim(np.full((16, 16), p), np.full((16, 16), q), r) == pytest.approx(expected)
    # the same in HU with R = 400: the constants scale with R, the value does not change
    assert ssim(np.full((16, 16), 200.0), np.full((16, 16), 100.0), 400.0) == pytest.approx(
        expected
    )
    img = np.random.default_rng(0).normal(size=(20, 20))
    assert ssim(img, img, 4.0) == pytest.approx(1.0)
    # contrast inverted around a mean of 100: luminance term ~1, structure term ~-1
    assert ssim(100 + img, 100 - img, 4.0) < -0.9
    assert ssim_map(img, img, 1.0).shape == (1, 1, 10, 10)


def _skimage_ssim(x: np.ndarray, y: np.ndarray, data_range: float, **kw) -> object:
    from skimage.metrics import structural_similarity

    return structural_similarity(
        x,
        y,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        **kw,
    )


@pytest.mark.parametrize("data_range", [1.0, 255.0, 400.0])
def test_ssim_matches_scikit_image(data_range: float) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, data_range, size=(37, 29))
    y = np.clip(x + rng.normal(scale=0.1 * data_range, size=x.shape), 0, data_range)
    assert ssim(x, y, data_range) == pytest.approx(_skimage_ssim(x, y, data_range), abs=1e-4)
    # a smooth pair (high SSIM) in HU-like values
    yy, xx = np.mgrid[0:32, 0:32]
    a = -100 + 3.0 * xx + 2.0 * yy
    b = a + 10 * np.sin(xx / 4.0)
    assert ssim(a, b, data_range) == pytest.approx(_skimage_ssim(a, b, data_range), abs=1e-4)


def test_ssim_color_and_mask_match_scikit_image() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(24, 30, 3)).astype(np.float64)
    y = np.clip(x + rng.normal(scale=20, size=x.shape), 0, 255)
    expected = _skimage_ssim(x, y, 255.0, channel_axis=2)
    got = ssim(np.moveaxis(x, 2, 0)[None], np.moveaxis(y, 2, 0)[None], 255.0)
    assert got == pytest.approx(expected, abs=1e-4)
    # inside a mask: the mean of scikit-image's full map over the mask's pixels where the
    # window fits (scikit-image's mean also leaves out the 5-pixel border)
    g = rng.uniform(0, 1, size=(30, 30))
    h = np.clip(g + rng.normal(scale=0.2, size=g.shape), 0, 1)
    mask = np.zeros((30, 30), dtype=bool)
    mask[3:20, 8:27] = True
    _, full = _skimage_ssim(g, h, 1.0, full=True)
    inner = np.zeros_like(mask)
    inner[5:-5, 5:-5] = True
    assert ssim(g, h, 1.0, mask) == pytest.approx(full[mask & inner].mean(), abs=1e-4)


def test_score_stack_pools_slices_and_keeps_each() -> None:
    rng = np.random.default_rng(3)
    tgt = rng.uniform(-160, 240, size=(3, 16, 16))
    out = tgt.copy()
    out[1] += 8.0  # one slice off by 8 HU
    scores = score_stack(out, tgt, 400.0)
    assert scores.mae == pytest.approx(8.0 / 3)
    assert scores.psnr == pytest.approx(10 * math.log10(400.0**2 / (64.0 / 3)))
    assert [s["mae"] for s in scores.slices] == pytest.approx([0.0, 8.0, 0.0])
    assert scores.slices[0]["psnr"] == math.inf and scores.slices[0]["ssim"] == 1.0
    assert scores.data_range == 400.0 and scores.pixels == 3 * 16 * 16
    mask = np.zeros((3, 16, 16))
    mask[0, 4:8, 4:8] = 1  # slices 1 and 2 empty: nan there, pooled over slice 0 only
    masked = score_stack(out, tgt, 400.0, mask)
    assert masked.mae == 0.0 and math.isnan(masked.slices[1]["mae"])
    assert average([{"mae": 1.0}, {"mae": 3.0}, {"mae": math.nan}], ["mae"]) == {"mae": 2.0}


def test_paired_errors() -> None:
    with pytest.raises(EvalError, match="differs"):
        score_stack(np.zeros((4, 4)), np.zeros((4, 5)), 1.0)
    with pytest.raises(EvalError, match="data range"):
        score_stack(np.zeros((4, 4)), np.zeros((4, 4)), 0.0)
    with pytest.raises(EvalError, match="at least 11"):
        ssim_map(np.zeros((8, 20)), np.zeros((8, 20)), 1.0)
    assert math.isnan(ssim(np.zeros((8, 8)), np.zeros((8, 8)), 1.0))  # too small: no SSIM
