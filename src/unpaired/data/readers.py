"""The reader hook: folders that are read as 2-D slices rather than as ordinary images.

The datasets (:class:`unpaired.data.folders.SingleFolder`) and the evaluation data
(:mod:`unpaired.metrics.eval_data`) ask :func:`medical_index` whether a folder is read
through a registered folder reader. :mod:`unpaired.medical` registers one on import (it
claims a folder holding NIfTI, DICOM or ``.npy`` files, or any folder given a window), so
this package never imports the medical code; ``import unpaired`` registers it.

A reader (:class:`FolderReader`) has two methods: ``claims(folder, windowed)``, cheap (names
only), and ``open(folder, window, axis, limit)``, which returns a :class:`SliceIndexLike`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..intensity import parse_axis, parse_window
from ..registry import Registry
from .errors import MEDICAL_INSTALL, DataError
from .images import list_files

if TYPE_CHECKING:
    import torch

__all__ = [
    "FOLDER_READERS",
    "MEDICAL_SUFFIXES",
    "FolderReader",
    "SliceIndexLike",
    "SliceSourceLike",
    "medical_index",
]

MEDICAL_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".npy", ".dcm")
"""Lower-case endings of the medical files (matched case-insensitively)."""


class SliceSourceLike(Protocol):
    """The file an item comes from."""

    path: Path

    @property
    def slice_size(self) -> tuple[int, int]:
        """``(H, W)`` of its slices."""
        ...

    @property
    def count(self) -> int:
        """Number of slices (1 for a 2-D input)."""
        ...


class SliceIndexLike(Protocol):
    """What a reader's ``open`` returns (e.g. :class:`unpaired.medical.slices.SliceIndex`):
    the folder's items, each one 2-D slice."""

    def __len__(self) -> int: ...

    def source(self, i: int) -> SliceSourceLike:
        """The file item ``i`` comes from."""
        ...

    def name(self, i: int) -> str:
        """``relative/path#slice`` of item ``i``."""
        ...

    def read_tensor(self, i: int, channels: int) -> torch.Tensor:
        """Item ``i`` as float32 ``(channels, H, W)`` in [0, 1]."""
        ...

    def read_stack(self, i: int, channels: int, context: int) -> torch.Tensor:
        """Item ``i`` with ``context`` neighbouring slices on each side (2.5D, see
        :mod:`unpaired.data.stacks`): float32 ``((2 * context + 1) * channels, H, W)``."""
        ...


class FolderReader(Protocol):
    """A way of reading a folder as slices, registered in :data:`FOLDER_READERS`."""

    def claims(self, folder: Path, windowed: bool) -> bool:
        """Whether this reader reads ``folder`` (``windowed``: a window option was given)."""
        ...

    def open(
        self,
        folder: Path,
        window: tuple[float, float] | None,
        axis: str | int,
        limit: int | None,
        **options: Any,
    ) -> SliceIndexLike:
        """The first ``limit`` slices under ``folder`` along ``axis`` through ``window``
        (parsed ``(lo, hi)``; None: each file by its own range). ``options``: volume options
        given by the user, passed on only when set (the medical reader's ``spacing``, a voxel
        size to resample to, and ``series``, the DICOM series to read).

        Raises:
            DataError: the folder has nothing readable (the message names it).
        """
        ...


FOLDER_READERS: Registry[FolderReader] = Registry("folder reader")
"""The registered folder readers, asked in name order; :mod:`unpaired.medical` adds
``"medical"``."""


def _has_medical_names(folder: Path) -> bool:
    try:
        return bool(list_files(folder, lambda name: name.lower().endswith(MEDICAL_SUFFIXES)))
    except FileNotFoundError:
        return False


def medical_index(
    folder: str | Path,
    window: Any = None,
    axis: Any = "axial",
    limit: int | None = None,
    **options: Any,
) -> SliceIndexLike | None:
    """The slices of ``folder`` when a registered reader claims it, else None (an ordinary
    image folder).

    ``window`` (``"lo,hi"``, a preset name, ``[lo, hi]`` or None) and ``axis`` are parsed here
    (:mod:`unpaired.intensity`), only for a claimed folder.

    Raises:
        DataError: the window or axis does not parse (the message names ``option window`` or
            ``option axis``), the reader finds nothing readable, or the folder needs a reader
            that is not registered (a window given, or medical files in it).
    """
    folder = Path(folder)
    windowed = window is not None
    for name in FOLDER_READERS.names():
        reader = FOLDER_READERS.get(name)
        if reader.claims(folder, windowed):
            break
    else:
        if windowed or (not FOLDER_READERS.names() and _has_medical_names(folder)):
            raise DataError(
                f"folder {folder}: medical inputs (a window, or {', '.join(MEDICAL_SUFFIXES)} "
                "files) need the medical reader, which is not registered: import "
                f"unpaired.medical ({MEDICAL_INSTALL} for DICOM and NIfTI)"
            )
        return None
    try:
        bounds = parse_window(window, "window")
        axis = parse_axis(axis, "axis")
    except ValueError as exc:
        raise DataError(str(exc)) from None
    # volume options (spacing, series) go to the reader only when set
    given = {key: value for key, value in options.items() if value is not None}
    return reader.open(folder, bounds, axis, limit, **given)
