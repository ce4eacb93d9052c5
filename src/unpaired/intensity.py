"""Intensity options as the user writes them: window presets, the window parser, slicing axes.

This leaf is the one place a window option is parsed (``data.window_a``, ``--window-b``, a
model folder's recorded ``windows``); :class:`unpaired.medical.windows.Window` maps the
parsed ``(lo, hi)`` between physical values and the networks' range.

Presets are the usual radiology window/level pairs, ``[L - W/2, L + W/2]`` in Hounsfield
units:

=============  ======  =====  ==================
name           width   level  [lo, hi] (HU)
=============  ======  =====  ==================
soft_tissue    400     40     [-160, 240]
lung           1500    -600   [-1350, 150]
bone           1800    400    [-500, 1300]
brain          80      40     [0, 80]
=============  ======  =====  ==================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["AXIS_NAMES", "PRESETS", "parse_axis", "parse_spacing", "parse_window"]

PRESETS: dict[str, tuple[float, float]] = {
    "soft_tissue": (-160.0, 240.0),
    "lung": (-1350.0, 150.0),
    "bone": (-500.0, 1300.0),
    "brain": (0.0, 80.0),
}

#: Anatomical slicing axes; a slice of ``axial`` is perpendicular to the body's long axis.
AXIS_NAMES: tuple[str, ...] = ("axial", "coronal", "sagittal")


def parse_window(value: Any, option: str = "window") -> tuple[float, float] | None:
    """``(lo, hi)`` from ``None`` (no window: None), a preset name (any case; ``-`` or a space
    for ``_``), ``"lo,hi"``, a ``[lo, hi]`` pair, or an object with ``lo`` and ``hi``
    attributes (a :class:`unpaired.medical.windows.Window`, checked all the same).

    Raises:
        ValueError: one line naming ``option`` and what is wrong.
    """
    if value is None:
        return None
    if isinstance(value, str):
        name = value.strip().lower().replace("-", "_").replace(" ", "_")
        if name in PRESETS:
            return PRESETS[name]
        parts = [p.strip() for p in value.split(",")]
    elif hasattr(value, "lo") and hasattr(value, "hi"):
        parts = [value.lo, value.hi]
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        parts = list(value)
    else:
        parts = []
    presets = ", ".join(PRESETS)
    if len(parts) != 2:
        raise ValueError(
            f"option {option}: expected 'lo,hi' in HU or a preset ({presets}), got {value!r}"
        )
    try:
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(
            f"option {option}: expected two numbers 'lo,hi' or a preset ({presets}), got {value!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ValueError(f"option {option}: needs lo < hi, got {value!r}")
    return lo, hi


def parse_axis(value: Any, option: str = "axis") -> str | int:
    """``axial`` / ``coronal`` / ``sagittal`` (anatomical) or 0 / 1 / 2 (array axis).

    Raises:
        ValueError: one line naming ``option``.
    """
    if isinstance(value, str) and value.strip().lower() in AXIS_NAMES:
        return value.strip().lower()
    if isinstance(value, str) and value.strip() in ("0", "1", "2"):
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value
    raise ValueError(
        f"option {option}: expected axial, coronal, sagittal, 0, 1 or 2, got {value!r}"
    )


def parse_spacing(value: Any, option: str = "data.spacing") -> tuple[float, float, float] | None:
    """A voxel spacing option (``data.spacing``, ``--spacing``): ``(x, y, z)`` in mm from
    ``"X,Y,Z"``, one number (isotropic), a list of three, or None (none: None).

    Raises:
        ValueError: not three positive finite numbers (the message names ``option``).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        parts: list[Any] = [value]
    elif isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, (int, float)):
        parts = [value]
    elif isinstance(value, Sequence):
        parts = list(value)
    else:
        parts = [value]
    try:
        if any(isinstance(p, bool) for p in parts):
            raise ValueError
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) == 1:
        numbers *= 3
    if len(numbers) != 3 or not all(math.isfinite(n) and n > 0 for n in numbers):
        raise ValueError(
            f"option {option}: expected X,Y,Z voxel spacing in mm (three positive numbers, or "
            f"one for all three), got {value!r}"
        )
    return numbers[0], numbers[1], numbers[2]
