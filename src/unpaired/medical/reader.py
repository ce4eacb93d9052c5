"""The medical folder reader, registered with :data:`unpaired.data.readers.FOLDER_READERS`
when :mod:`unpaired.medical` is imported.

It claims a folder that holds NIfTI, DICOM or ``.npy`` files (by name only), or any folder
given a window, and reads it as a :class:`~unpaired.medical.slices.SliceIndex`. Nothing
heavy is imported until a folder is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.readers import FOLDER_READERS
from .sources import has_medical_files

__all__ = ["MedicalReader"]


class MedicalReader:
    """Volumes, DICOM series, arrays and windowed images as 2-D slices."""

    def claims(self, folder: Path, windowed: bool) -> bool:
        return windowed or has_medical_files(folder)

    def open(
        self,
        folder: Path,
        window: tuple[float, float] | None,
        axis: str | int,
        limit: int | None,
        spacing: Any = None,
        series: Any = None,
    ):
        from .slices import SliceIndex
        from .windows import Window

        bounds = None if window is None else Window(*window)
        return SliceIndex(folder, bounds, axis, limit, spacing=spacing, series=series)


FOLDER_READERS.register("medical")(MedicalReader())
