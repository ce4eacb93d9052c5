"""Volumes resampled to a common voxel size (``--spacing X,Y,Z``, ``data.spacing``) and back.

Scanners write volumes of many voxel sizes (0.6 to 1 mm in-plane, 0.5 to 5 mm between slices);
a network sees pixels, so one folder of mixed spacings teaches it anatomy at several scales.
With a spacing, every volume is resampled on read to that voxel size: linear interpolation for
images, nearest neighbour for masks, one array axis at a time (separable, so trilinear for
linear). Each array axis takes the spacing of the patient axis it runs along (x: left-right,
y: front-back, z: head-foot), found from the NIfTI affine or the DICOM orientation, as the
slicing axis is (:func:`~.volume.resolve_axis`).

The grids share their first voxel: along an axis of ``n`` voxels ``s`` mm apart (extent
``(n - 1) * s``), the target has ``ceil((n - 1) * s / t) + 1`` voxels ``t`` mm apart, so it
covers the extent (its last voxel may lie up to ``t`` beyond, where the edge replicates) and
every source voxel lies between two target voxels on the way back. A DICOM series is placed
by its slices' true positions along the slice normal, so missing slices and uneven steps are
interpolated over rather than stacked as if regular.

``translate`` resamples each volume to the model's spacing (recorded in ``config.json`` as
``"spacing": [x, y, z]``), translates it, and resamples the translation back onto the input's
own grid (:meth:`Regrid.to_source`), so the output has the input's shape, affine and header.
An axis whose spacing is already the target's is left untouched (no interpolation at all).

Inputs with no voxel size in their header (``.npy`` arrays, PNG/TIFF) and DICOM series with a
gantry tilt (a sheared stack) cannot be resampled: a :class:`~unpaired.data.errors.DataError`
naming the file.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data.errors import DataError
from ..intensity import parse_spacing
from .dicom import check_stack_use
from .volume import Probe

__all__ = [
    "SPACING_KEY",
    "Regrid",
    "model_grid",
    "model_spacing",
    "parse_spacing",
    "regrid_for",
    "resampled_probe",
    "spacing_info",
]

SPACING_KEY = "spacing"
"""The ``config.json`` key of a model trained at a voxel spacing (absent: none)."""

# Spacings this close (relative) are the same: the axis is left as it is.
_SAME = 1e-6


def spacing_info(value: Any) -> dict[str, Any]:
    """What ``config.json`` records: ``{"spacing": [x, y, z]}``, or nothing without one (so
    model folders of runs without a spacing stay as they were)."""
    spacing = parse_spacing(value)
    return {} if spacing is None else {SPACING_KEY: list(spacing)}


def model_spacing(config: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """The spacing a model folder's ``config.json`` records (None: none).

    Raises:
        ValueError: a recorded spacing that does not parse.
    """
    return parse_spacing(config.get(SPACING_KEY), f"config.json {SPACING_KEY}")


def _patient_axes(info: Probe) -> tuple[int, ...]:
    """For each array axis, the patient axis (0: x, 1: y, 2: z) it runs along most."""
    ndim = len(info.shape)
    if info.directions is None:  # a (z, y, x) array
        return tuple(range(2, 2 - ndim, -1))
    strength = np.abs(np.asarray(info.directions, float))
    best = max(
        itertools.permutations(range(3), ndim),
        key=lambda perm: sum(strength[i, perm[i]] for i in range(ndim)),
    )
    return tuple(best)


def _along(values: np.ndarray, axis: int, coords: np.ndarray, nearest: bool) -> np.ndarray:
    """``values`` sampled at fractional indices ``coords`` along ``axis`` (linear, or the
    nearest index), clamped to the axis (edges replicate)."""
    n = values.shape[axis]
    if nearest:
        index = np.clip(np.floor(coords + 0.5), 0, n - 1).astype(np.intp)
        return np.take(values, index, axis=axis)
    lo = np.clip(np.floor(coords), 0, n - 1).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    weight = np.clip(coords - lo, 0.0, 1.0).astype(np.float32)
    shape = [1] * values.ndim
    shape[axis] = -1
    a = np.take(values, lo, axis=axis).astype(np.float32, copy=False)
    b = np.take(values, hi, axis=axis).astype(np.float32, copy=False)
    return a + (b - a) * weight.reshape(shape)


@dataclass(frozen=True)
class Regrid:
    """A volume's own grid (``source_shape``) and the grid of the target spacing (``shape``).

    ``forward[a]``: for each target index along array axis ``a``, the fractional source index
    it lies at; ``back[a]``: for each source index, the fractional target index. None: the
    axis is not resampled (same spacing).
    """

    source_shape: tuple[int, ...]
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    forward: tuple[np.ndarray | None, ...]
    back: tuple[np.ndarray | None, ...]

    @property
    def identity(self) -> bool:
        """Whether no axis is resampled."""
        return all(c is None for c in self.forward)

    @staticmethod
    def _apply(
        values: np.ndarray, coords: tuple[np.ndarray | None, ...], nearest: bool
    ) -> np.ndarray:
        out = values
        for axis, c in enumerate(coords):
            if c is not None:
                out = _along(out, axis, c, nearest)
        return out if out is not values else values.copy()

    def to_target(self, values: np.ndarray, nearest: bool = False) -> np.ndarray:
        """``values`` of ``source_shape`` on the target grid: ``shape``, float32 (linear) or
        the input's dtype (``nearest``, for masks)."""
        self._check(values, self.source_shape)
        return self._apply(values, self.forward, nearest)

    def to_source(self, values: np.ndarray, nearest: bool = False) -> np.ndarray:
        """The inverse direction: ``values`` of ``shape`` back onto the volume's own grid."""
        self._check(values, self.shape)
        return self._apply(values, self.back, nearest)

    def target_slice(
        self, read: Callable[[int], np.ndarray], axis: int, index: int, nearest: bool = False
    ) -> np.ndarray:
        """Slice ``index`` of the target grid along array ``axis``, ``(H, W)``, from the
        source slices ``read(k)`` gives (the one or two neighbours it lies between)."""
        coords = self.forward[axis]
        if coords is None:
            plane = read(index)
        else:
            c = float(coords[index])
            n = self.source_shape[axis]
            if nearest:
                plane = read(int(min(max(math.floor(c + 0.5), 0), n - 1)))
            else:
                lo = int(min(max(math.floor(c), 0), n - 1))
                weight = min(max(c - lo, 0.0), 1.0)
                plane = read(lo).astype(np.float32, copy=False)
                if weight > 0 and lo + 1 < n:
                    plane = plane + (read(lo + 1).astype(np.float32) - plane) * np.float32(weight)
        rest = [self.forward[a] for a in range(len(self.shape)) if a != axis]
        for plane_axis, c in enumerate(rest):
            if c is not None:
                plane = _along(plane, plane_axis, c, nearest)
        return plane

    @staticmethod
    def _check(values: np.ndarray, shape: tuple[int, ...]) -> None:
        if tuple(values.shape) != tuple(shape):
            raise ValueError(f"expected a volume of shape {shape}, got {tuple(values.shape)}")


def _axis_grid(
    n: int, step: float, target: float, positions: np.ndarray | None
) -> tuple[int, np.ndarray | None, np.ndarray | None]:
    """(target count, forward coords, back coords) along one axis."""
    if n == 1 or (positions is None and abs(step - target) <= _SAME * target):
        return n, None, None
    where = positions - positions[0] if positions is not None else np.arange(n) * step
    extent = float(where[-1])
    count = int(math.ceil(extent / target - 1e-6)) + 1
    points = np.arange(count) * target
    if positions is not None:
        forward = np.interp(points, where, np.arange(n, dtype=float))
    else:
        forward = points / step
    return count, forward, where / target


def regrid_for(
    source: str | Path, info: Probe, spacing: tuple[float, float, float]
) -> Regrid | None:
    """How the volume ``info`` probes (from ``source``) is resampled to ``spacing`` (x, y, z
    in mm); None when nothing changes (every axis at the target spacing already).

    Raises:
        DataError: the file has no voxel spacing in its header (``.npy``, PNG/TIFF, a DICOM
            series without ``PixelSpacing``), or is a DICOM series with a gantry tilt.
    """
    check_stack_use(source, info.tilt, 0, resampled=True)
    known = info.spacing
    if known is None or any(s is None or not s > 0 for s in known):
        what = "a .npy array or an image" if info.kind in ("npy", "image") else info.kind
        raise DataError(
            f"{source}: has no voxel spacing in its header ({what}), so option spacing cannot "
            "resample it; use NIfTI or DICOM, or train without --spacing"
        )
    targets = [spacing[p] for p in _patient_axes(info)]
    shape, forward, back = [], [], []
    for axis, n in enumerate(info.shape):
        positions = None
        if axis == 0 and info.kind == "dicom" and info.positions is not None:
            positions = np.asarray(info.positions, float)
            steps = np.diff(positions)
            if steps.size and np.all(np.abs(steps - targets[0]) <= _SAME * targets[0]):
                positions = None  # a regular stack at the target step: untouched
        count, f, b = _axis_grid(int(n), float(known[axis]), targets[axis], positions)
        shape.append(count)
        forward.append(f)
        back.append(b)
    grid = Regrid(tuple(info.shape), tuple(shape), tuple(targets), tuple(forward), tuple(back))
    return None if grid.identity else grid


def resampled_probe(info: Probe, grid: Regrid | None) -> Probe:
    """``info`` as the volume looks on ``grid``'s target (shape and spacing)."""
    if grid is None:
        return info
    return replace(info, shape=grid.shape, spacing=grid.spacing, positions=None)


def model_grid(config: Mapping[str, Any], source: str | Path, info: Probe) -> Regrid | None:
    """How ``translate`` resamples the input ``info`` (from ``source``) for a model whose
    ``config.json`` is ``config``: to its recorded spacing; None without one (or when the
    input is at that spacing already).

    Raises:
        DataError: a recorded spacing that does not parse, or an input :func:`regrid_for`
            cannot resample.
    """
    try:
        spacing = model_spacing(config)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return None if spacing is None else regrid_for(source, info, spacing)
