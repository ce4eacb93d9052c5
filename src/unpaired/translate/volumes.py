"""Volumes in, volumes out: translating medical files slice by slice (``unpaired translate``).

Each input is read whole, cut into 2-D slices along the model's axis, mapped through the
source domain's window to the networks' range, translated in batches, mapped back through the
target domain's window to physical units (HU), stacked in the original order, and written in
the input's format (:mod:`.volume`):

* NIfTI -> NIfTI with the same shape, affine and header (integer types keep their type with
  rounding and clipping, through ``scl_slope`` / ``scl_inter``; float types stay float);
* DICOM series -> DICOM series with the same geometry tags, new Series/SOP Instance UIDs,
  pixels stored back through the rescale slope/intercept into the original stored type;
* ``.npy`` and 2-D PNG/TIFF -> the same format and dtype.

The windows and axis come from the model folder's ``config.json`` (``"windows": {"a": [lo,
hi], "b": [lo, hi]}``, ``"axis"``), so translation maps intensities exactly as training did.
Without a recorded window a file is mapped by its own range (:func:`~.windows.auto_window`),
and the output is mapped back to that same range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..data.errors import DataError, MissingExtra
from ..data.images import ImageReadError
from ..data.stacks import context_of, stack_indices, unit_stacks
from ..medical.dicom import check_stack_use
from ..medical.resample import model_grid
from ..medical.sources import kind_of
from ..medical.volume import (
    MedicalImage,
    probe,
    read_medical,
    resolve_axis,
    slice_view,
    unslice,
)
from ..medical.windows import Window, model_windows
from ..progress import CountProgress
from .variants import PLAIN, Variant, tagged

if TYPE_CHECKING:
    from .translator import Translator

__all__ = [
    "direction_windows",
    "needs_medical",
    "translate_medical",
    "translate_slices",
    "translate_volume",
]

_LUMA = (0.299, 0.587, 0.114)


def direction_windows(
    config: dict[str, Any], direction: str
) -> tuple[Window | None, Window | None, str | int]:
    """``(input window, output window, axis)`` recorded in a model's config for a direction."""
    windows, axis = model_windows(config)
    source, target = ("a", "b") if direction == "a2b" else ("b", "a")
    return windows[source], windows[target], axis


def needs_medical(path: Any, config: dict[str, Any], direction: str) -> bool:
    """Whether an input goes through the medical path: every NIfTI, DICOM and ``.npy``
    input, and 2-D images when the model records a window for the source domain."""
    kind = kind_of(path)
    if kind in ("nifti", "dicom", "npy"):
        return True
    return kind == "image" and direction_windows(config, direction)[0] is not None


def translate_slices(
    translator: Translator,
    slices: np.ndarray,
    window_in: Window,
    window_out: Window,
    direction: str = "a2b",
    batch_size: int = 1,
    on_batch: Any = None,
    keep_outside: bool = False,
    extras: dict[str, Any] | None = None,
) -> np.ndarray:
    """Translate ``(n, H, W)`` slices in physical units; returns float32 ``(n, H, W)`` in
    physical units within ``window_out``; with ``keep_outside``, voxels outside ``window_in``
    (air and bone around a soft-tissue window) keep their input values instead.

    Each batch: window -> [0, 1] (clipped), repeated to 3 channels for an RGB model,
    :meth:`~unpaired.inference.Translator.translate_unit`, luma of a 3-channel output, then
    the output window's inverse. ``on_batch(k)`` is called after each batch of ``k`` slices.
    ``extras``: the model's extra inputs (a style), the same for every slice.

    A 2.5D model (``context_slices`` K > 0 in its config): each slice goes in with its K
    neighbours on each side (edges replicate; a single 2-D slice is replicated), as in
    training (:mod:`unpaired.data.stacks`), and the centre slice of the output is kept.
    """
    c_in, c_out = translator.channels(direction)
    context = context_of(translator.config)
    units = window_in.to_unit(slices) if context else None
    rows = stack_indices(slices.shape[0], context) if context else None
    out = np.empty(slices.shape, np.float32)
    for start in range(0, slices.shape[0], batch_size):
        chunk = slices[start : start + batch_size]
        if context:
            x = unit_stacks(units, rows[start : start + batch_size], c_in)
        else:
            x = torch.from_numpy(window_in.to_unit(chunk))[:, None]
            x = x.expand(-1, c_in, -1, -1).contiguous()
        y = translator.translate_unit(x, direction, **(extras or {})).float().cpu()
        if c_out == 3:
            r, g, b = _LUMA
            y = r * y[:, 0:1] + g * y[:, 1:2] + b * y[:, 2:3]
        values = window_out.from_unit(y[:, 0].numpy())
        if keep_outside:
            outside = (chunk < window_in.lo) | (chunk > window_in.hi)
            values = np.where(outside, chunk, values)
        out[start : start + len(chunk)] = values
        if on_batch is not None:
            on_batch(len(chunk))
    return out


def translate_volume(
    translator: Translator,
    image: MedicalImage,
    array_axis: int,
    direction: str = "a2b",
    batch_size: int = 1,
    keep_outside: bool = False,
    extras: dict[str, Any] | None = None,
    on_batch: Any = None,
) -> np.ndarray:
    """The translation of a whole input (:func:`~unpaired.medical.volume.read_medical`) in
    physical units (HU), float32 in the input's array order and shape: sliced along
    ``array_axis`` (-1: a 2-D image), through the model's windows (or the input's own range
    when the model records none) and :func:`translate_slices`. What ``translate`` writes and
    what ``evaluate --paired`` scores.

    A model trained at a voxel spacing (``"spacing"`` in its config) translates the volume
    resampled to that spacing (:mod:`~unpaired.medical.resample`), and the translation is
    resampled back onto the input's grid (its shape); ``keep_outside`` then gives voxels
    outside the input window their exact input values.

    Raises:
        DataError: the model records a spacing and the input cannot be resampled to it.
    """
    window_in, window_out, _ = direction_windows(translator.config, direction)
    own = image.default_window()
    grid = model_grid(translator.config, image.source, image.probe)
    volume = image.values if grid is None else grid.to_target(image.values)
    keep = keep_outside and window_in is not None
    values = translate_slices(
        translator,
        slice_view(volume, array_axis),
        window_in or own,
        window_out or own,
        direction,
        batch_size,
        on_batch,
        keep and grid is None,
        extras,
    )
    out = unslice(values, array_axis)
    if grid is None:
        return out
    out = grid.to_source(out)  # back onto the input's own grid
    if keep:
        outside = (image.values < window_in.lo) | (image.values > window_in.hi)
        out = np.where(outside, image.values, out).astype(np.float32)
    return out


def translate_medical(
    translator: Translator,
    jobs: Sequence[Any],
    report: Any,
    direction: str = "a2b",
    batch_size: int = 1,
    progress: bool | None = None,
    axis: str | int | None = None,
    keep_outside: bool = False,
    variants: Sequence[Variant] = PLAIN,
) -> None:
    """Translate ``jobs`` (``.source`` -> ``.output``) as in the module docstring, adding each
    written output to ``report.written`` and each ``(source, reason)`` failure to
    ``report.failed`` (printed as an ``error:`` line); one bad file does not stop the others.

    Raises:
        MissingExtra: a DICOM or NIfTI input needs the ``medical`` extra.
    """
    model_axis = direction_windows(translator.config, direction)[2]
    axis = model_axis if axis is None else axis
    planned: list[tuple[Any, int, int]] = []  # (job, array axis, slices)
    failures: list[tuple[Any, str]] = []
    for job in jobs:
        try:
            info = probe(job.source)
            array_axis = resolve_axis(axis, info)
            # a model's voxel spacing: the slices are those of the resampled volume
            grid = model_grid(translator.config, job.source, info)
            check_stack_use(job.source, info.tilt, array_axis, resampled=grid is not None)
        except MissingExtra:
            raise
        except (ImageReadError, DataError, ValueError, OSError) as exc:
            failures.append((job, str(exc)))
            continue
        shape = info.shape if grid is None else grid.shape
        count = 1 if array_axis == -1 else shape[array_axis]
        planned.append((job, array_axis, count))
    count_all = sum(n for _, _, n in planned) * len(variants)
    bar = CountProgress(count_all, progress, "slice", "slices")

    def fail(job: Any, reason: str) -> None:
        report.failed.append((job.source, reason))
        bar.write(f"error: {reason}")

    try:
        for job, reason in failures:
            fail(job, reason)
        for job, array_axis, count in planned:
            try:
                image = read_medical(job.source)
            except MissingExtra:
                raise
            except (ImageReadError, DataError, OSError) as exc:
                fail(job, str(exc))
                bar.update(count * len(variants))
                continue
            for variant in variants:
                values = translate_volume(
                    translator,
                    image,
                    array_axis,
                    direction,
                    batch_size,
                    keep_outside,
                    variant.extras,
                    bar.update,
                )
                output = tagged(job.output, variant.tag)
                try:
                    image.write(values, output)
                except (OSError, ValueError) as exc:
                    fail(job, f"cannot write '{output}': {exc}")
                    continue
                report.written.append(output)
    finally:
        bar.close()
