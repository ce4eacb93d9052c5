"""One interface over every medical input: probe its shape, read it whole or slice by slice,
write a translation back like it.

Arrays are in each format's own order: NIfTI as stored (usually ``(x, y, z)``), a DICOM series
as ``(slices, rows, cols)`` sorted along the slice normal, ``.npy`` as stored (3-D read as
``(z, y, x)``), 2-D images ``(H, W)``. Values are float32 in physical units (HU for CT DICOM
and NIfTI with scaling; the stored numbers otherwise).

Slicing axes: ``axial``, ``coronal`` and ``sagittal`` pick the array axis whose direction in
patient space is closest to the body's long axis (z), front-back (y) or left-right (x), from
the NIfTI affine or the DICOM ``ImageOrientationPatient``; a ``.npy`` volume is taken as
``(z, y, x)``. ``0``, ``1``, ``2`` name array axes directly. 2-D inputs are one slice.

The readers are picked by kind from one table (:data:`READERS`), each given as functions.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..data.errors import DataError
from ..intensity import AXIS_NAMES
from . import arrays, dicom, nifti
from .sources import kind_of
from .windows import Window, auto_window

__all__ = [
    "MedicalImage",
    "Probe",
    "probe",
    "read_medical",
    "read_slice",
    "resolve_axis",
    "slice_view",
    "unslice",
    "volume_range",
]


@dataclass(frozen=True)
class Probe:
    """What a file holds, learnt from headers only: ``shape`` (2-D or 3-D), the patient-space
    ``directions`` of its array axes (``(ndim, 3)``, or None when unknown) and, for 2-D
    raster images, the decoded dtype (which sets the default window).

    Voxel geometry, for resampling (:mod:`.resample`): ``spacing``, mm along each array axis
    (None when the format has none: ``.npy``, PNG; an entry None when a DICOM tag is
    missing); for a DICOM series, ``positions`` of its slices along the slice normal (mm,
    ascending; None when unknown) and its gantry ``tilt`` in degrees."""

    kind: str
    shape: tuple[int, ...]
    directions: np.ndarray | None = None
    raster_dtype: str | None = None
    spacing: tuple[float | None, ...] | None = None
    positions: tuple[float, ...] | None = None
    tilt: float = 0.0


@dataclass
class MedicalImage:
    """A whole input: ``values`` float32 (array order as in the module docstring), ``probe``,
    and ``write(values, output)`` that stores a translation like the source."""

    source: Path
    values: np.ndarray
    probe: Probe
    write: Callable[[np.ndarray, Path], Path]

    def default_window(self) -> Window:
        """The window used when none is given (:func:`~.windows.auto_window`)."""
        return auto_window(self.values, self.probe.raster_dtype)


def _source_kind(source: Path) -> str:
    kind = kind_of(source)
    if kind is None:
        raise DataError(f"{source}: not a medical image or volume (.nii, .nii.gz, .npy, .dcm)")
    return kind


def _axis_lengths(directions: np.ndarray) -> tuple[float | None, ...]:
    """Voxel spacing of each array axis: the length of its direction (affine column)."""
    return tuple(float(n) for n in np.linalg.norm(np.asarray(directions, float), axis=1))


def _probe_nifti(path: Path) -> Probe:
    directions = nifti.nifti_directions(path)
    shape = nifti.nifti_shape(path)
    return Probe("nifti", shape, directions, spacing=_axis_lengths(directions))


def _dicom_probe(shape: tuple[int, ...], first: Any, geometry: dicom.SeriesGeometry) -> Probe:
    step = first.get("SpacingBetweenSlices") or first.get("SliceThickness")
    spacing = geometry.spacing(float(step) if step else None)
    return Probe(
        "dicom",
        shape,
        dicom.series_directions(first),
        spacing=spacing,
        positions=geometry.positions,
        tilt=geometry.tilt,
    )


def _probe_dicom(path: Path) -> Probe:
    headers, geometry = dicom.series_info(path)
    first = headers[0][1]
    frames = sum(int(ds.get("NumberOfFrames", 1) or 1) for _, ds in headers)
    shape = (frames, int(first.Rows), int(first.Columns))
    return _dicom_probe(shape, first, geometry)


def _probe_npy(path: Path) -> Probe:
    return Probe("npy", arrays.array_shape(path))


def _probe_image(path: Path) -> Probe:
    return Probe("image", arrays.raster_shape(path), None, arrays.raster_dtype(path))


def _read_nifti(path: Path) -> MedicalImage:
    volume = nifti.read_nifti(path)
    directions = np.asarray(volume.image.affine)[:3, : volume.values.ndim].T
    probe = Probe("nifti", volume.values.shape, directions, spacing=_axis_lengths(directions))
    return MedicalImage(
        path, volume.values, probe, lambda v, out: nifti.write_nifti(volume, v, out)
    )


def _read_dicom(path: Path) -> MedicalImage:
    series = dicom.read_series(path)
    items = list(zip(series.files, series.datasets, strict=True))
    geometry = dicom.series_geometry(path, items)
    probe = _dicom_probe(series.values.shape, series.datasets[0], geometry)
    return MedicalImage(
        path, series.values, probe, lambda v, out: dicom.write_series(series, v, out)
    )


def _read_npy(path: Path) -> MedicalImage:
    image = arrays.read_array(path)
    probe = Probe("npy", image.values.shape)
    return MedicalImage(path, image.values, probe, lambda v, out: arrays.write_array(image, v, out))


def _read_image(path: Path) -> MedicalImage:
    image = arrays.read_raster(path)
    probe = Probe("image", image.values.shape, None, str(image.dtype))
    return MedicalImage(
        path, image.values, probe, lambda v, out: arrays.write_raster(image, v, out)
    )


#: kind -> (probe from headers, read whole with a writer).
READERS: dict[str, tuple[Callable[[Path], Probe], Callable[[Path], MedicalImage]]] = {
    "nifti": (_probe_nifti, _read_nifti),
    "dicom": (_probe_dicom, _read_dicom),
    "npy": (_probe_npy, _read_npy),
    "image": (_probe_image, _read_image),
}


def probe(source: str | Path, series: str | Sequence[str] | None = None) -> Probe:
    """Shape and orientation of ``source`` from its headers (no pixel data is read).
    ``series``: the ``SeriesInstanceUID`` to read in a folder holding several
    (:func:`~.dicom.chosen_series`)."""
    source = Path(source)
    with dicom.chosen_series(series):
        return READERS[_source_kind(source)][0](source)


def read_medical(source: str | Path, series: str | Sequence[str] | None = None) -> MedicalImage:
    """Read ``source`` whole (a NIfTI file, a DICOM series folder or ``.dcm`` file, a ``.npy``
    array, an image file); ``series`` as for :func:`probe`."""
    source = Path(source)
    with dicom.chosen_series(series):
        return READERS[_source_kind(source)][1](source)


def resolve_axis(axis: str | int, info: Probe) -> int:
    """The array axis to slice ``info``'s volume along (-1 for 2-D inputs: one slice).

    Raises:
        ValueError: ``axis`` is not axial/coronal/sagittal/0/1/2.
    """
    if len(info.shape) == 2:
        return -1
    if isinstance(axis, int) and not isinstance(axis, bool):
        if axis not in (0, 1, 2):
            raise ValueError(f"option axis: expected 0, 1 or 2, got {axis}")
        return axis
    if axis not in AXIS_NAMES:
        raise ValueError(f"option axis: expected axial, coronal, sagittal, 0, 1 or 2, got {axis!r}")
    # anatomical axis of each name: sagittal slices are perpendicular to x, and so on.
    target = {"sagittal": 0, "coronal": 1, "axial": 2}[axis]
    if info.directions is None:  # (z, y, x) arrays
        return 2 - target
    strength = np.abs(np.asarray(info.directions, float))
    # The array-axis -> patient-axis assignment that is most aligned overall (handles
    # oblique acquisitions where one patient axis dominates two array axes).
    best = max(
        itertools.permutations(range(3)),
        key=lambda perm: sum(strength[i, perm[i]] for i in range(3)),
    )
    return best.index(target)


def slice_view(values: np.ndarray, axis: int) -> np.ndarray:
    """``(n, H, W)`` view of the slices along ``axis`` (-1: a 2-D image, one slice)."""
    return values[None] if axis == -1 else np.moveaxis(values, axis, 0)


def unslice(slices: np.ndarray, axis: int) -> np.ndarray:
    """Inverse of :func:`slice_view`: ``(n, H, W)`` back to the volume's array order."""
    return slices[0] if axis == -1 else np.moveaxis(slices, 0, axis)


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


@lru_cache(maxsize=2)
def _whole(path: str, mtime: int, series: tuple[str, ...] | None = None) -> np.ndarray:
    """Whole-volume values, cached per process: for the slices that cannot be read alone
    (gzipped NIfTI, DICOM series across slices)."""
    del mtime  # part of the cache key only: a changed file is read again
    return read_medical(Path(path), series).values


@lru_cache(maxsize=64)
def _sorted_dicom_files(
    path: str, mtime: int, series: tuple[str, ...] | None = None
) -> tuple[Path, ...]:
    del mtime
    with dicom.chosen_series(series):
        # the index's probe warned already about this series' geometry
        return tuple(p for p, _ in dicom.series_headers(path, warn=False))


def read_slice(
    source: str | Path, axis: int, index: int, series: str | Sequence[str] | None = None
) -> np.ndarray:
    """Slice ``index`` along array ``axis`` (-1: the whole 2-D image) as ``(H, W)`` float32.

    Only that slice is read where the format allows it (uncompressed NIfTI, ``.npy``, a
    DICOM series sliced along its stack); otherwise the whole volume is read and the last two
    kept in memory, per process. ``series`` as for :func:`probe`.
    """
    source = Path(source)
    kind = _source_kind(source)
    chosen = dicom.parse_series(series) or dicom.current_series()
    if axis == -1:
        return read_medical(source, chosen).values
    if kind == "npy":
        return arrays.read_array_slice(source, axis, index)
    if kind == "nifti" and not source.name.lower().endswith(".gz"):
        return nifti.read_nifti_slice(source, axis, index)
    if kind == "dicom" and axis == 0 and source.is_dir():
        files = _sorted_dicom_files(str(source), _mtime(source), chosen)
        path = files[index]
        return dicom.slice_values(dicom.read_file(path), path)[0]
    return np.take(_whole(str(source), _mtime(source), chosen), index, axis=axis)


def volume_range(
    source: str | Path, series: str | Sequence[str] | None = None
) -> tuple[float, float]:
    """``(min, max)`` of a whole volume's values (for its default window)."""
    chosen = dicom.parse_series(series) or dicom.current_series()
    window = auto_window(_whole(str(source), _mtime(Path(source)), chosen))
    return window.lo, window.hi
