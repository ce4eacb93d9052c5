"""Intensity windows: physical values (Hounsfield units for CT) <-> the networks' [-1, 1].

A window ``[lo, hi]`` maps ``lo`` to -1 and ``hi`` to 1, linearly, clipping what lies outside;
its inverse maps [-1, 1] back to ``[lo, hi]``. Both are computed in float64 and returned as
float32, so the window's ends and centre come back exactly (``from_net(to_net(40)) == 40``
for the soft-tissue window).

The presets and the parsing of a window option live in :mod:`unpaired.intensity` (one parser
for config, command line, data folders and model folders); this module builds
:class:`Window` objects from it.

Without a window (``None``) a file is mapped by its own range (see :func:`auto_window`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..intensity import AXIS_NAMES, PRESETS, parse_axis
from ..intensity import parse_window as parse_bounds

__all__ = [
    "AXIS_NAMES",
    "PRESETS",
    "Window",
    "auto_window",
    "model_windows",
    "parse_axis",
    "parse_window",
    "windows_info",
]

# Full-scale ranges of the 2-D raster dtypes, so that a PNG without a window is mapped as
# read_image maps it (value / 255 or value / 65535).
_RASTER_RANGES: dict[str, tuple[float, float]] = {
    "uint8": (0.0, 255.0),
    "uint16": (0.0, 65535.0),
    "int32": (0.0, 65535.0),
    "float32": (0.0, 1.0),
}


@dataclass(frozen=True)
class Window:
    """The intensity range ``[lo, hi]`` (physical units, e.g. HU) shown to the networks."""

    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lo) and np.isfinite(self.hi)) or self.hi <= self.lo:
            raise ValueError(f"a window needs lo < hi, got [{self.lo}, {self.hi}]")

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Any shape of physical values -> float32 in [0, 1] (clipped; NaN -> 0)."""
        x = (np.asarray(values, dtype=np.float64) - self.lo) / (self.hi - self.lo)
        return np.clip(np.nan_to_num(x, nan=0.0), 0.0, 1.0).astype(np.float32)

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """[0, 1] (clipped) -> float32 physical values in ``[lo, hi]``."""
        u = np.clip(np.asarray(unit, dtype=np.float64), 0.0, 1.0)
        return (self.lo + u * (self.hi - self.lo)).astype(np.float32)

    def to_net(self, values: np.ndarray) -> np.ndarray:
        """Physical values -> float32 in [-1, 1]: ``lo`` -> -1, ``hi`` -> 1, clipped."""
        x = (np.asarray(values, dtype=np.float64) - self.lo) / (self.hi - self.lo)
        return (np.clip(np.nan_to_num(x, nan=0.0), 0.0, 1.0) * 2.0 - 1.0).astype(np.float32)

    def from_net(self, y: np.ndarray) -> np.ndarray:
        """[-1, 1] (clipped) -> float32 physical values; the exact inverse of :meth:`to_net`
        inside the window."""
        u = (np.clip(np.asarray(y, dtype=np.float64), -1.0, 1.0) + 1.0) * 0.5
        return (self.lo + u * (self.hi - self.lo)).astype(np.float32)

    def as_list(self) -> list[float]:
        """``[lo, hi]`` as plain floats (for JSON)."""
        return [float(self.lo), float(self.hi)]


def parse_window(value: Any, option: str = "window") -> Window | None:
    """A window from ``None``, a preset name, ``"lo,hi"`` or a ``[lo, hi]`` pair (parsed by
    :func:`unpaired.intensity.parse_window`); a :class:`Window` is returned as it is.

    Raises:
        ValueError: one line naming ``option`` and what is wrong.
    """
    if isinstance(value, Window):
        return value
    bounds = parse_bounds(value, option)
    return None if bounds is None else Window(*bounds)


def auto_window(values: np.ndarray, raster_dtype: str | None = None) -> Window:
    """The window used when none is given.

    A 2-D raster image (PNG/TIFF, ``raster_dtype`` its decoded dtype) uses its dtype's full
    range (``[0, 255]``, ``[0, 65535]``; float images ``[0, 1]``), as ordinary images are
    read. Volumes and arrays use their own ``[min, max]`` (``[v, v + 1]`` when constant).
    """
    if raster_dtype is not None and raster_dtype in _RASTER_RANGES:
        return Window(*_RASTER_RANGES[raster_dtype])
    finite = np.asarray(values)[np.isfinite(values)]
    if finite.size == 0:
        return Window(0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    return Window(lo, hi if hi > lo else lo + 1.0)


def windows_info(window_a: Any, window_b: Any, axis: Any = "axial") -> dict[str, Any]:
    """What a model folder's ``config.json`` records of the medical options, resolved:
    ``{"windows": {"a": [lo, hi] or None, "b": ...}, "axis": "axial" | 0 | 1 | 2}``
    (presets become numbers, so the file alone says how intensities were mapped).

    Raises:
        ValueError: a window or the axis does not parse (the message names the option).
    """
    bounds = {
        "a": parse_bounds(window_a, "data.window_a"),
        "b": parse_bounds(window_b, "data.window_b"),
    }
    return {
        "windows": {d: (list(w) if w is not None else None) for d, w in bounds.items()},
        "axis": parse_axis(axis, "data.axis"),
    }


def model_windows(info: Mapping[str, Any]) -> tuple[dict[str, Window | None], str | int]:
    """The windows (``{"a": ..., "b": ...}``) and slicing axis a model folder records.

    Reads ``info["windows"]`` (``{"a": [lo, hi] or null, "b": ...}``) and ``info["axis"]``;
    absent keys mean no window (each file mapped by its own range) and ``"axial"``.

    Raises:
        ValueError: the recorded values are malformed (the message names the key).
    """
    raw = info.get("windows") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"model config key windows: expected a mapping, got {raw!r}")
    windows = {d: parse_window(raw.get(d), f"windows.{d}") for d in ("a", "b")}
    return windows, parse_axis(info.get("axis", "axial"), "axis")
