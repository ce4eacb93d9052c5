"""Scores of whole volumes: how much a slice-by-slice translation flickers along the slice axis.

Pure numbers from arrays (numpy or torch, any float or integer type; computed in float64): no
file is read here and nothing about windows is known, so pass values in the units to report
(Hounsfield units for CT, as :mod:`unpaired.evaluation` does).
"""

from __future__ import annotations

import numpy as np

from .errors import EvalError

__all__ = ["neighbour_difference", "slice_consistency"]


def _as_array(volume: object) -> np.ndarray:
    if hasattr(volume, "detach"):  # a torch tensor, without importing torch here
        volume = volume.detach().cpu().numpy()  # type: ignore[union-attr]
    return np.asarray(volume, dtype=np.float64)


def neighbour_difference(volume: object, axis: int, mask: object | None = None) -> float:
    """Mean ``|v[k + 1] - v[k]|`` over all pairs of neighbouring slices along ``axis``.

    ``volume``: a 3-D array (e.g. ``(Z, Y, X)``), values in the units to report (HU).
    ``mask`` (same shape, nonzero = inside): only voxel pairs with both voxels inside count.
    Raises :class:`EvalError` for fewer than 2 slices, a wrong shape or an empty mask.
    """
    v = _as_array(volume)
    if v.ndim != 3:
        raise EvalError(f"slice consistency needs a 3-D volume, got shape {tuple(v.shape)}")
    axis = int(axis) % 3
    if v.shape[axis] < 2:
        raise EvalError(
            f"slice consistency needs at least 2 slices along axis {axis}, "
            f"got shape {tuple(v.shape)}"
        )
    diff = np.abs(np.diff(v, axis=axis))
    if mask is None:
        return float(diff.mean())
    m = _as_array(mask) != 0
    if m.shape != v.shape:
        raise EvalError(f"mask shape {tuple(m.shape)} differs from volume shape {tuple(v.shape)}")
    n = m.shape[axis]
    both = np.take(m, range(1, n), axis=axis) & np.take(m, range(n - 1), axis=axis)
    if not both.any():
        raise EvalError("slice consistency: the mask holds no pair of neighbouring voxels")
    return float(diff[both].mean())


def slice_consistency(
    source_volume: object, output_volume: object, axis: int, mask: object | None = None
) -> float:
    """Flicker added by a translation: mean ``|out[k+1] - out[k]|`` minus mean
    ``|in[k+1] - in[k]|`` over neighbouring slices along ``axis`` (e.g. HU).

    Sign: **positive = the output changes more from slice to slice than the input did** (the
    translation added flicker); 0 = as smooth as the input; negative = smoother than the input.
    ``source_volume`` and ``output_volume``: 3-D arrays of one shape (``(Z, Y, X)`` for axis 0),
    in the same units; ``mask`` (optional, same shape, nonzero = inside) restricts both means to
    voxel pairs inside it. Raises :class:`EvalError` on mismatched shapes or fewer than 2 slices.
    """
    src, out = _as_array(source_volume), _as_array(output_volume)
    if src.shape != out.shape:
        raise EvalError(
            f"slice consistency: input shape {tuple(src.shape)} differs from "
            f"output shape {tuple(out.shape)}"
        )
    return neighbour_difference(out, axis, mask) - neighbour_difference(src, axis, mask)
