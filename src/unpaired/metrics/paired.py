"""Paired scores: an output against its registered target, in the target's units.

Pure numbers from arrays (no file is read here; :mod:`unpaired.evaluation` loads the pairs):

* **MAE**: mean ``|output - target|`` (HU for CT, [0, 255] levels for photos);
* **PSNR**: ``10 log10(R^2 / MSE)`` dB with the data range ``R`` given by the caller (for HU:
  the width of the target's window, or an explicit range; for photos 255); ``inf`` when the
  output equals the target;
* **SSIM** (Wang et al. 2004): local means, variances and covariance under an 11 x 11
  Gaussian window (sigma 1.5, normalised to sum 1), ``C1 = (0.01 R)^2``, ``C2 = (0.03 R)^2``,
  population (not sample) covariances; the SSIM map is computed where the whole window fits
  (``(H - 10, W - 10)`` window centres) and averaged. This equals scikit-image's
  ``structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=R)``, which also averages over the centres at least 5 pixels from the border.
  Several channels: the mean over channels.

With a mask (nonzero = inside), MAE and PSNR use the pixels inside it (every channel) and SSIM
is the mean of the SSIM map over the window centres inside it (the window itself may reach
outside the mask: the structure around an organ's edge counts).

A stack of slices (a volume) is scored as one item by pooling: MAE and MSE over all its
voxels, SSIM over all its slices' map pixels; :attr:`StackScores.slices` keeps each slice's
own values. Slices smaller than 11 x 11 get no SSIM (``nan``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .errors import EvalError
from .volumes import slice_consistency

__all__ = [
    "K1",
    "K2",
    "PAIRED_METRICS",
    "PHOTO_RANGE",
    "SIGMA",
    "WINDOW",
    "StackScores",
    "average",
    "gaussian_window",
    "mae",
    "psnr",
    "score_item",
    "score_stack",
    "ssim",
    "ssim_map",
]

WINDOW = 11  # SSIM window side
SIGMA = 1.5  # its Gaussian's standard deviation
K1, K2 = 0.01, 0.03
PHOTO_RANGE = 255.0  # photos are scored in 8-bit levels
#: the paired metrics, and whether higher is better
PAIRED_METRICS: dict[str, bool] = {"mae": False, "psnr": True, "ssim": True}


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    """The 1-D Gaussian ``exp(-x^2 / 2 sigma^2)`` at ``x = -(size-1)/2 ... (size-1)/2``,
    normalised to sum 1 (float64, ``(size,)``); the 2-D window is its outer product."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _as_stack(x: object, float64: bool = True) -> torch.Tensor:
    """``(H, W)``, ``(N, H, W)`` or ``(N, C, H, W)`` -> ``(N, C, H, W)`` (float64, or the input's
    own type: a view, no copy)."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
    else:
        array = np.asarray(x)
        if not array.dtype.isnative or any(step < 0 for step in array.strides):
            array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
        t = torch.from_numpy(array)
    if float64:
        t = t.to(torch.float64)
    if t.ndim == 2:
        return t[None, None]
    if t.ndim == 3:
        return t[:, None]
    if t.ndim == 4:
        return t
    raise EvalError(f"paired scores need (H, W), (N, H, W) or (N, C, H, W), got {tuple(t.shape)}")


def _mask_stack(mask: object | None, like: torch.Tensor) -> torch.Tensor | None:
    """A mask as bool ``(N, 1, H, W)`` matching ``like`` ``(N, C, H, W)`` (or None)."""
    if mask is None:
        return None
    m = _as_stack(mask, float64=False) != 0
    n, _, h, w = like.shape
    if m.shape[0] != n or m.shape[-2:] != (h, w) or m.shape[1] != 1:
        raise EvalError(
            f"mask shape {tuple(m.shape)} does not match the images' {(n, h, w)} (one mask "
            "per slice, shared by the channels)"
        )
    return m


def ssim_map(x: object, y: object, data_range: float) -> torch.Tensor:
    """The SSIM map of ``x`` against ``y`` (``(N, C, H, W)``, ``(N, H, W)`` or ``(H, W)``, same
    shape, same units) at every centre where the 11 x 11 window fits: float64 ``(N, C, H - 10,
    W - 10)``. Raises :class:`EvalError` for images smaller than the window."""
    a, b = _as_stack(x), _as_stack(y)
    if a.shape != b.shape:
        raise EvalError(f"SSIM: shapes differ, {tuple(a.shape)} and {tuple(b.shape)}")
    n, c, h, w = a.shape
    if h < WINDOW or w < WINDOW:
        raise EvalError(f"SSIM needs images of at least {WINDOW} x {WINDOW}, got {h} x {w}")
    g = gaussian_window()
    rows, cols = g.view(1, 1, WINDOW, 1), g.view(1, 1, 1, WINDOW)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable, "valid" (no padding)
        t = t.reshape(n * c, 1, h, w)
        return F.conv2d(F.conv2d(t, rows), cols).reshape(n, c, h - WINDOW + 1, w - WINDOW + 1)

    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return num / den


_CHUNK = 8


def _slice_sums(
    a: torch.Tensor, b: torch.Tensor, m: torch.Tensor | None, data_range: float
) -> torch.Tensor:
    """Per slice of ``(n, C, H, W)``: pixels inside (all channels), sum of ``|a - b|``, of
    ``(a - b)^2``, of the SSIM map inside and its pixel count: ``(5, n)`` float64."""
    n, c, h, w = a.shape
    inside = torch.ones((n, 1, h, w), dtype=torch.bool) if m is None else m
    weight = inside.expand(n, c, h, w).to(torch.float64)
    diff = a - b
    dims = (1, 2, 3)
    out = torch.zeros((5, n), dtype=torch.float64)
    out[0], out[1], out[2] = (
        weight.sum(dims),
        (diff.abs() * weight).sum(dims),
        (diff * diff * weight).sum(dims),
    )
    if h >= WINDOW and w >= WINDOW:
        s_map = ssim_map(a, b, data_range)
        pad = WINDOW // 2
        centre = inside[:, :, pad : h - pad, pad : w - pad].expand_as(s_map).to(torch.float64)
        out[3], out[4] = (s_map * centre).sum(dims), centre.sum(dims)
    return out


@dataclass
class StackScores:
    """Scores of one item (an image, or a volume as a stack of slices): ``mae``, ``psnr``,
    ``ssim`` pooled over the item, ``slices`` each slice's own (empty for a single image),
    ``data_range`` the ``R`` used, ``pixels`` how many pixels (per channel) were scored."""

    mae: float
    psnr: float
    ssim: float
    data_range: float
    pixels: int
    slices: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, float]:
        """``{"mae": ..., "psnr": ..., "ssim": ...}``."""
        return {"mae": self.mae, "psnr": self.psnr, "ssim": self.ssim}


def _psnr(mse: float, data_range: float) -> float:
    if math.isnan(mse):
        return math.nan
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def score_stack(
    output: object, target: object, data_range: float, mask: object | None = None
) -> StackScores:
    """MAE, PSNR and SSIM of ``output`` against ``target`` (``(H, W)``, ``(N, H, W)`` slices or
    ``(N, C, H, W)``, same shape, same units), pooled over the stack and per slice.

    ``data_range``: ``R`` of PSNR and of SSIM's constants (HU window width; 255 for photos).
    ``mask`` (``(H, W)`` or ``(N, H, W)``, nonzero = inside): see the module docstring; a slice
    with no pixel inside gets ``nan``. Raises :class:`EvalError` on mismatched shapes or a
    non-positive range.
    """
    if not (data_range > 0 and math.isfinite(data_range)):
        raise EvalError(f"data range {data_range}: must be a positive number")
    a, b = _as_stack(output, float64=False), _as_stack(target, float64=False)
    if a.shape != b.shape:
        raise EvalError(f"output shape {tuple(a.shape)} differs from target {tuple(b.shape)}")
    m = _mask_stack(mask, a)
    n, c, h, w = a.shape
    sums = torch.zeros((5, n), dtype=torch.float64)  # count, |d|, d^2, SSIM sum, SSIM count
    for start in range(0, n, _CHUNK):  # a few slices at a time: float64 copies stay small
        part = slice(start, start + _CHUNK)
        a_part, b_part = a[part].to(torch.float64), b[part].to(torch.float64)
        sums[:, part] = _slice_sums(a_part, b_part, None if m is None else m[part], data_range)
    count, abs_sum, sq_sum, s_sum, s_count = sums

    def ratio(num: torch.Tensor, den: torch.Tensor) -> float:
        return float(num.sum() / den.sum()) if float(den.sum()) > 0 else math.nan

    slices = []
    if n > 1:
        for i in range(n):
            mse_i = ratio(sq_sum[i], count[i])
            slices.append(
                {
                    "mae": ratio(abs_sum[i], count[i]),
                    "psnr": _psnr(mse_i, data_range),
                    "ssim": ratio(s_sum[i], s_count[i]),
                }
            )
    return StackScores(
        mae=ratio(abs_sum, count),
        psnr=_psnr(ratio(sq_sum, count), data_range),
        ssim=ratio(s_sum, s_count),
        data_range=float(data_range),
        pixels=int(float(count.sum()) / c),
        slices=slices,
    )


def mae(output: object, target: object, mask: object | None = None) -> float:
    """Mean absolute difference (inside ``mask``), in the inputs' units."""
    return score_stack(output, target, 1.0, mask).mae


def psnr(output: object, target: object, data_range: float, mask: object | None = None) -> float:
    """``10 log10(data_range^2 / MSE)`` in dB (inside ``mask``); ``inf`` for equal inputs."""
    return score_stack(output, target, data_range, mask).psnr


def ssim(output: object, target: object, data_range: float, mask: object | None = None) -> float:
    """Mean SSIM (over the window centres inside ``mask``); see the module docstring."""
    return score_stack(output, target, data_range, mask).ssim


def average(items: Iterable[Mapping[str, float]], keys: Sequence[str] = tuple(PAIRED_METRICS)):
    """The mean of each key over ``items`` (per-image values, each image counting once),
    skipping ``nan``; ``nan`` when no item has a number. PSNR's mean is ``inf`` if one item's
    PSNR is (an output equal to its target)."""
    items = list(items)
    result: dict[str, float] = {}
    for key in keys:
        values = [float(i[key]) for i in items if key in i and not math.isnan(float(i[key]))]
        result[key] = sum(values) / len(values) if values else math.nan
    return result


def score_item(
    output: np.ndarray,
    target: np.ndarray,
    data_range: float,
    axis: int = -1,
    mask: np.ndarray | None = None,
    source: np.ndarray | None = None,
) -> dict[str, object]:
    """The record of one paired item: a 2-D image (``axis`` -1; ``(H, W)`` or ``(C, H, W)``)
    or a volume sliced along array ``axis`` (0, 1 or 2), all arrays of one shape, in the units
    to report (HU). Returns ``mae``, ``psnr``, ``ssim``, ``data_range``, ``pixels`` and, for a
    volume, ``slices`` (each slice's values) and, given the ``source`` volume,
    ``slice_consistency`` (:func:`~.volumes.slice_consistency`, inside ``mask`` when given).
    """
    if axis == -1:
        scores = score_stack(
            np.asarray(output)[None],
            np.asarray(target)[None],
            data_range,
            None if mask is None else np.asarray(mask)[None],
        )
        return {**scores.as_dict(), "data_range": scores.data_range, "pixels": scores.pixels}
    scores = score_stack(
        np.moveaxis(np.asarray(output), axis, 0),
        np.moveaxis(np.asarray(target), axis, 0),
        data_range,
        None if mask is None else np.moveaxis(np.asarray(mask), axis, 0),
    )
    record: dict[str, object] = {
        **scores.as_dict(),
        "data_range": scores.data_range,
        "pixels": scores.pixels,
    }
    if source is not None and np.asarray(output).shape[axis] > 1:
        record["slice_consistency"] = slice_consistency(source, output, axis, mask)
    record["slices"] = scores.slices
    return record
