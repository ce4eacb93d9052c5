"""Paired validation during training (``--val-paired SRC TGT [--val-mask DIR]``): the A -> B
translations of registered sources scored against their targets, every ``eval_every`` steps.

The pairs are read once when the run starts (:mod:`unpaired.medical.paired`: same relative
names; volumes and, when domain A has a window, 2-D medical images in physical units). At each
evaluation the current generator G: X -> Y (``g_ab``) translates every source whole, as
``unpaired translate`` would: each slice along the run's axis through domain A's window to
[0, 1] (2.5D runs: the stacks of :mod:`unpaired.data.stacks`), the network, the luma of a
3-channel output, and domain B's window back to HU; volumes without a window are mapped by
their own range both ways, as translation maps them. The record gets ``paired_mae``,
``paired_psnr``, ``paired_ssim`` (and ``paired_slice_consistency`` for volumes): the means over
the pairs, with the conventions of :func:`unpaired.evaluation.evaluate_paired` (targets clipped
to B's window, data range its width; photos in [0, 255]).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..data.errors import DataError
from ..data.stacks import stack_indices, unit_stacks
from ..medical.paired import PreparedPair, find_pairs, is_volume_kind, prepare_pair, read_photo_pair
from ..medical.volume import slice_view, unslice
from ..medical.windows import Window, parse_window
from ..metrics.eval_data import quantize
from ..metrics.paired import PAIRED_METRICS, PHOTO_RANGE, average, score_item

__all__ = ["PREFIX", "PairedValidation"]

PREFIX = "paired_"
_LUMA = (0.299, 0.587, 0.114)

TranslateFn = Callable[[Tensor, str], Tensor]


@dataclass
class _Photo:
    name: str
    source: Tensor  # (C_a, H, W) in [0, 1]
    target: np.ndarray  # (C_b, H, W) in [0, 255]
    mask: np.ndarray | None


class PairedValidation:
    """The validation pairs of a run, loaded once; calling it scores a translation function.

    Args:
        source_dir, target_dir, mask_dir: ``val_source``, ``val_target``, ``val_mask``.
        windows: the run's ``data.window_a`` and ``data.window_b`` (None: own ranges).
        axis: ``data.axis``.
        channels: ``(data.channels_a, data.channels_b)``, of one slice.
        context: ``data.context_slices`` (2.5D stacks; 0: 2-D).
        batch_size: slices per forward pass.

    Raises:
        DataError: a folder, a pair or a mask is missing or does not match (one line naming
            the file); the folders mix photos and medical inputs.
    """

    def __init__(
        self,
        source_dir: str | Path,
        target_dir: str | Path,
        mask_dir: str | Path | None,
        windows: tuple[Any, Any],
        axis: str | int,
        channels: tuple[int, int],
        context: int = 0,
        batch_size: int = 8,
    ) -> None:
        options = ("option val_source", "option val_target", "option val_mask")
        pairs = find_pairs(source_dir, target_dir, mask_dir, options)
        try:
            self.window_in: Window | None = parse_window(windows[0], "data.window_a")
            self.window_out: Window | None = parse_window(windows[1], "data.window_b")
        except ValueError as exc:
            raise DataError(str(exc)) from None
        kinds = {is_volume_kind(p.kind) or self.window_in is not None for p in pairs}
        if len(kinds) > 1:
            raise DataError(
                f"option val_source {source_dir}: holds both photos and medical volumes"
            )
        self.medical = kinds.pop()
        self.channels, self.context, self.batch_size = channels, context, batch_size
        self.volumes: list[PreparedPair] = []
        self.photos: list[_Photo] = []
        for pair in pairs:
            if self.medical:
                self.volumes.append(prepare_pair(pair, self.window_in, self.window_out, axis))
            else:
                self.photos.append(self._photo(pair))

    def _photo(self, pair: Any) -> _Photo:
        source, target, mask = read_photo_pair(pair, self.channels)
        return _Photo(pair.name, source, (target * PHOTO_RANGE).double().numpy(), mask)

    def _translate_volume(self, translate: TranslateFn, item: PreparedPair) -> np.ndarray:
        """G(source) in physical units, in the source's array order (as ``translate``)."""
        values = item.image.values
        own = item.image.default_window()
        window_in, window_out = self.window_in or own, self.window_out or own
        slices = slice_view(values, item.axis)
        units = window_in.to_unit(slices)
        c_in, c_out = self.channels
        rows = stack_indices(slices.shape[0], self.context)
        out = np.empty(slices.shape, np.float32)
        for start in range(0, slices.shape[0], self.batch_size):
            x = unit_stacks(units, rows[start : start + self.batch_size], c_in)
            y = translate(x, "a2b").float().cpu()
            if c_out == 3 and y.shape[1] == 3:
                r, g, b = _LUMA
                y = r * y[:, 0:1] + g * y[:, 1:2] + b * y[:, 2:3]
            out[start : start + x.shape[0]] = window_out.from_unit(y[:, 0].numpy())
        return unslice(out, item.axis)

    def __call__(self, translate: TranslateFn) -> dict[str, float]:
        """``{"paired_mae": ..., "paired_psnr": ..., "paired_ssim": ...}`` (and
        ``paired_slice_consistency`` for volumes) of ``translate`` (``(x (N, C_in, H, W) in
        [0, 1] or 2.5D stacks, direction) -> (N, C_out, H, W)`` in [0, 1]) over the pairs."""
        items: list[dict[str, Any]] = []
        with torch.no_grad():
            for item in self.volumes:
                out = self._translate_volume(translate, item)
                items.append(
                    score_item(out, item.target, item.data_range, item.axis, item.mask, item.seen)
                )
            for photo in self.photos:
                y = translate(photo.source[None], "a2b").float().cpu()
                out = (quantize(y)[0] * PHOTO_RANGE).double().numpy()
                items.append(score_item(out, photo.target, PHOTO_RANGE, -1, photo.mask))
        means = average(items, tuple(PAIRED_METRICS))
        consistency = [float(i["slice_consistency"]) for i in items if "slice_consistency" in i]
        if consistency:
            means["slice_consistency"] = float(np.mean(consistency))
        return {f"{PREFIX}{key}": float(value) for key, value in means.items()}

    def __len__(self) -> int:
        return len(self.volumes) + len(self.photos)
