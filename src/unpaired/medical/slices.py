"""A folder of medical inputs as a list of 2-D slices: item ``i`` is ``(file, slice)``.

Volumes (NIfTI, DICOM series, 3-D ``.npy``) give one item per slice along the chosen axis;
2-D files (PNG/TIFF, 2-D ``.npy``, single-slice DICOM) give one item. Only headers are read
to build the index; slices are read on demand (:func:`unpaired.medical.volume.read_slice`)
and mapped through the domain's intensity window to [0, 1].
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.errors import DataError
from ..data.images import ImageReadError, read_image
from ..data.stacks import stack_indices, unit_stacks
from .dicom import check_stack_use
from .resample import Regrid, parse_spacing, regrid_for, resampled_probe
from .sources import list_sources
from .volume import Probe, probe, read_slice, resolve_axis, volume_range
from .windows import Window, auto_window

__all__ = ["SliceIndex", "SliceSource"]


@dataclass(frozen=True)
class SliceSource:
    """One input file of the index: its probe and the array axis it is sliced along."""

    path: Path
    probe: Probe
    axis: int

    @property
    def count(self) -> int:
        """Number of slices (1 for a 2-D input)."""
        return 1 if self.axis == -1 else self.probe.shape[self.axis]

    @property
    def slice_size(self) -> tuple[int, int]:
        """``(H, W)`` of its slices."""
        shape = list(self.probe.shape)
        if self.axis != -1:
            del shape[self.axis]
        return int(shape[0]), int(shape[1])


class SliceIndex:
    """Every slice of the medical inputs under ``folder``.

    Args:
        folder: Searched recursively (:func:`~unpaired.medical.sources.list_sources`).
        window: The domain's window; None maps each file by its own range
            (:func:`~unpaired.medical.windows.auto_window`).
        axis: ``axial`` / ``coronal`` / ``sagittal`` or an array axis 0 / 1 / 2.
        limit: Keep only the first ``limit`` slices.
        spacing: Resample every volume to this voxel size, ``(x, y, z)`` mm or ``"X,Y,Z"``
            (:mod:`~unpaired.medical.resample`; linear); None: as stored.
        series: The ``SeriesInstanceUID`` to read in a DICOM folder holding several.

    Files whose headers cannot be read are named in a warning and left out; a folder without
    slices is a :class:`~unpaired.data.errors.DataError`, as are a folder of several DICOM
    series and none chosen, a file ``spacing`` cannot resample, and a tilted DICOM series
    sliced across its stack.
    """

    def __init__(
        self,
        folder: str | Path,
        window: Window | None = None,
        axis: str | int = "axial",
        limit: int | None = None,
        spacing: tuple[float, float, float] | str | None = None,
        series: str | Sequence[str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.window = window
        try:
            self.spacing = parse_spacing(spacing, "spacing")
        except ValueError as exc:
            raise DataError(str(exc)) from None
        self.series = series
        self._grids: dict[int, Regrid] = {}  # source index -> its resampling
        try:
            paths = list_sources(self.folder)
        except FileNotFoundError as exc:
            raise DataError(str(exc)) from None
        self.sources: list[SliceSource] = []
        self.items: list[tuple[int, int]] = []  # (source index, slice index)
        for path in paths:
            if limit is not None and len(self.items) >= limit:
                break
            try:
                info = probe(path, series)
            except ImageReadError as exc:
                warnings.warn(f"skipping {exc}", stacklevel=2)
                continue
            try:
                array_axis = resolve_axis(axis, info)
            except ValueError as exc:
                raise DataError(f"{path}: {exc}") from None
            check_stack_use(path, info.tilt, array_axis, resampled=self.spacing is not None)
            grid = None if self.spacing is None else regrid_for(path, info, self.spacing)
            source = SliceSource(path, resampled_probe(info, grid), array_axis)
            self.sources.append(source)
            index = len(self.sources) - 1
            if grid is not None:
                self._grids[index] = grid
            self.items += [(index, k) for k in range(source.count)]
        if limit is not None:
            self.items = self.items[:limit]
        if not self.items:
            raise DataError(
                f"folder {self.folder} has no readable images or volumes "
                "(.nii, .nii.gz, .dcm series, .npy, .png, .tif, ...)"
            )
        self._ranges: dict[int, Window] = {}

    def __len__(self) -> int:
        return len(self.items)

    def source(self, i: int) -> SliceSource:
        """The file item ``i`` comes from."""
        return self.sources[self.items[i][0]]

    def name(self, i: int) -> str:
        """``relative/path#slice`` of item ``i`` (just the path for 2-D inputs)."""
        source_index, k = self.items[i]
        source = self.sources[source_index]
        rel = source.path.relative_to(self.folder).as_posix()
        if rel == ".":
            rel = source.path.name
        return rel if source.axis == -1 else f"{rel}#{k}"

    def window_of(self, source_index: int, values: np.ndarray) -> Window:
        """The window of a file: the domain's, or the file's own range (cached)."""
        if self.window is not None:
            return self.window
        source = self.sources[source_index]
        if source.axis == -1:
            return auto_window(values, source.probe.raster_dtype)
        if source_index not in self._ranges:
            self._ranges[source_index] = Window(*volume_range(source.path, self.series))
        return self._ranges[source_index]

    def read_values(self, i: int) -> np.ndarray:
        """Slice ``i`` in physical units, float32 ``(H, W)``."""
        return self.slice_values(*self.items[i])

    def slice_values(self, source_index: int, k: int) -> np.ndarray:
        """Slice ``k`` of file ``source_index`` in physical units, float32 ``(H, W)`` (any
        slice of the file, also one ``limit`` left out of the items)."""
        source = self.sources[source_index]
        grid = self._grids.get(source_index)
        if grid is None:
            return read_slice(source.path, source.axis, k, self.series)
        if source.axis == -1:  # a 2-D input, resampled whole
            return grid.to_target(read_slice(source.path, -1, 0, self.series))
        return grid.target_slice(
            lambda j: read_slice(source.path, source.axis, j, self.series), source.axis, k
        )

    def read_unit(self, i: int) -> np.ndarray:
        """Slice ``i`` through its window: float32 ``(H, W)`` in [0, 1]."""
        values = self.read_values(i)
        return self.window_of(self.items[i][0], values).to_unit(values)

    def read_tensor(self, i: int, channels: int) -> torch.Tensor:
        """Item ``i`` as float32 ``(channels, H, W)`` in [0, 1]: the windowed slice, repeated
        to 3 channels for ``channels`` 3. Without a window, 2-D images (PNG, JPEG, ...) are
        read exactly as in an image folder (:func:`~unpaired.data.images.read_image`, color
        kept), so a stray volume in a photo folder does not turn the photos gray."""
        source = self.source(i)
        if self.window is None and source.probe.kind == "image":
            return read_image(source.path, channels)
        unit = torch.from_numpy(self.read_unit(i))[None]
        return unit.expand(channels, -1, -1).contiguous()

    def read_stack(self, i: int, channels: int, context: int) -> torch.Tensor:
        """Item ``i`` with its ``context`` neighbouring slices on each side of its file (2.5D,
        :mod:`unpaired.data.stacks`; indices clipped to the file's slices, so the edges
        replicate): float32 ``((2 * context + 1) * channels, H, W)`` in [0, 1], slice-major,
        each slice through the file's window and repeated to ``channels``. A 2-D input has no
        neighbours: its stack is the image replicated."""
        if context == 0:
            return self.read_tensor(i, channels)
        source_index, k = self.items[i]
        source = self.sources[source_index]
        if source.axis == -1:
            return torch.cat([self.read_tensor(i, channels)] * (2 * context + 1))
        rows = stack_indices(source.count, context)[k]
        planes = [self.slice_values(source_index, int(j)) for j in rows]
        window = self.window_of(source_index, planes[context])
        units = np.stack([window.to_unit(p) for p in planes])
        return unit_stacks(units, np.arange(len(rows))[None], channels)[0]
