"""DICOM series in and out (``medical`` extra: pydicom, imported only inside these functions).

A series is a folder of ``*.dcm`` files, one slice each (or one file, possibly multi-frame).
Slices are ordered along the slice normal (the cross product of the two direction cosines of
``ImageOrientationPatient``) by the projection of ``ImagePositionPatient`` on it; when a slice
lacks those tags, by ``InstanceNumber``; when that is missing too, by file name. Values are
``stored * RescaleSlope + RescaleIntercept`` (each slice its own), i.e. Hounsfield units for
CT, as float32.

A translated series is written with every tag of its source slice (geometry included:
``ImagePositionPatient``, ``ImageOrientationPatient``, ``PixelSpacing``, ``SliceThickness``,
``Rows``, ``Columns``), a new ``SeriesInstanceUID`` for the series and a new
``SOPInstanceUID`` per file, and pixels stored back through the slice's rescale slope and
intercept into the original stored type (rounded, clipped to ``BitsStored``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.errors import DataError, medical_extra
from ..data.images import ImageReadError
from ..fs import atomic_folder, atomic_write

__all__ = [
    "DicomSeries",
    "read_file",
    "read_series",
    "series_directions",
    "series_files",
    "series_headers",
    "slice_values",
    "write_series",
]


def _pydicom(action: str = "reading DICOM") -> Any:
    try:
        import pydicom
    except ImportError:
        raise medical_extra(action) from None
    return pydicom


def series_files(source: str | Path) -> list[Path]:
    """The ``.dcm`` files of a series folder (direct children, not hidden), or ``[source]``."""
    source = Path(source)
    if source.is_file():
        return [source]
    files = sorted(
        p for p in source.iterdir() if p.suffix.lower() == ".dcm" and not p.name.startswith(".")
    )
    if not files:
        raise DataError(f"DICOM folder {source}: has no .dcm files")
    return files


def _read(path: Path, pixels: bool) -> Any:
    pydicom = _pydicom()
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=not pixels, force=True)
    except Exception as exc:  # pydicom raises many types on corrupt input
        raise ImageReadError(path, f"not a readable DICOM file ({_short(exc)})") from None
    if "Rows" not in ds or "Columns" not in ds:
        raise ImageReadError(path, "not a DICOM image (no Rows/Columns)")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise ImageReadError(path, "color DICOM is not supported (SamplesPerPixel is not 1)")
    return ds


def read_file(path: str | Path) -> Any:
    """One ``.dcm`` file with its pixel data (a pydicom dataset)."""
    return _read(Path(path), pixels=True)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def _normal(ds: Any) -> np.ndarray | None:
    iop = ds.get("ImageOrientationPatient")
    if iop is None or len(iop) != 6:
        return None
    row, col = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    return np.cross(row, col)


def _sort(items: list[tuple[Path, Any]]) -> list[tuple[Path, Any]]:
    """Order ``(file, dataset)`` pairs along the slice normal (see the module docstring)."""
    normal = _normal(items[0][1])
    positions = [ds.get("ImagePositionPatient") for _, ds in items]
    if normal is not None and all(p is not None and len(p) == 3 for p in positions):
        keys = [float(np.dot(normal, np.asarray(p, float))) for p in positions]
        order = sorted(range(len(items)), key=lambda i: (keys[i], items[i][0].name))
        return [items[i] for i in order]
    numbers = [ds.get("InstanceNumber") for _, ds in items]
    if all(n is not None for n in numbers):
        order = sorted(range(len(items)), key=lambda i: (int(numbers[i]), items[i][0].name))
        return [items[i] for i in order]
    return sorted(items, key=lambda item: item[0].name)


def _check_series(source: Path, items: list[tuple[Path, Any]]) -> None:
    uids = {str(ds.get("SeriesInstanceUID", "")) for _, ds in items}
    if len(uids) > 1:
        raise DataError(
            f"DICOM folder {source}: holds {len(uids)} series (SeriesInstanceUID); put each "
            "series in its own folder"
        )
    first_path, first = items[0]
    size = (int(first.Rows), int(first.Columns))
    for path, ds in items[1:]:
        if (int(ds.Rows), int(ds.Columns)) != size:
            raise ImageReadError(
                path,
                f"slice is {int(ds.Rows)}x{int(ds.Columns)} but {first_path.name} is "
                f"{size[0]}x{size[1]}; a series needs one slice size",
            )
    if len(items) > 1 and any(int(ds.get("NumberOfFrames", 1) or 1) > 1 for _, ds in items):
        raise DataError(f"DICOM folder {source}: multi-frame files must be alone in their folder")


def series_headers(source: str | Path) -> list[tuple[Path, Any]]:
    """``(file, header)`` of every slice of a series, sorted; pixels are not read.

    Raises:
        MissingExtra: pydicom is not installed.
        DataError: no ``.dcm`` files, several series, or multi-frame files mixed with others.
        ImageReadError: an unreadable file, or slices of different sizes.
    """
    source = Path(source)
    items = [(path, _read(path, pixels=False)) for path in series_files(source)]
    items = _sort(items)
    _check_series(source, items)
    return items


def slice_values(ds: Any, path: Path) -> np.ndarray:
    """The pixels of one dataset in physical units, float32 ``(frames, rows, cols)``."""
    try:
        stored = ds.pixel_array
    except Exception as exc:  # missing decoder plugins, truncated data, ...
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        hint = f" (transfer syntax {syntax.name})" if syntax is not None else ""
        raise ImageReadError(path, f"cannot decode the pixel data{hint}: {_short(exc)}") from None
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    values = stored.astype(np.float64) * slope + intercept
    if values.ndim == 2:
        values = values[None]
    return values.astype(np.float32)


@dataclass
class DicomSeries:
    """A whole series: ``values`` float32 ``(slices, rows, cols)`` in physical units (HU),
    with the sorted ``files`` and their full ``datasets`` (kept to write a translation)."""

    source: Path
    values: np.ndarray
    files: list[Path]
    datasets: list[Any]


def read_series(source: str | Path) -> DicomSeries:
    """Read a series folder (or one ``.dcm`` file) with its pixels; see :func:`series_headers`
    for the errors."""
    source = Path(source)
    items = _sort([(path, _read(path, pixels=True)) for path in series_files(source)])
    _check_series(source, items)
    values = np.concatenate([slice_values(ds, path) for path, ds in items], axis=0)
    return DicomSeries(source, values, [p for p, _ in items], [ds for _, ds in items])


def series_directions(ds: Any) -> np.ndarray | None:
    """Patient-space directions of the axes of a ``(slices, rows, cols)`` stack, one per row
    of a ``(3, 3)`` array: the slice normal, the column cosines (down the rows), the row
    cosines (along a row). None when ``ImageOrientationPatient`` is absent."""
    iop = ds.get("ImageOrientationPatient")
    if iop is None or len(iop) != 6:
        return None
    row, col = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    return np.stack([np.cross(row, col), col, row])


def _stored_type(ds: Any) -> tuple[np.dtype, int, int]:
    """(numpy dtype, lowest, highest) of a dataset's stored pixel values."""
    bits = int(ds.get("BitsAllocated", 16))
    stored_bits = int(ds.get("BitsStored", bits))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    if bits not in (8, 16):
        raise ValueError(f"{bits}-bit DICOM pixel data cannot be written back (8 or 16 only)")
    dtype = np.dtype(f"{'i' if signed else 'u'}{bits // 8}")
    if signed:
        return dtype, -(2 ** (stored_bits - 1)), 2 ** (stored_bits - 1) - 1
    return dtype, 0, 2**stored_bits - 1


def _translated_dataset(ds: Any, values: np.ndarray, series_uid: str, note: str) -> Any:
    """A copy of ``ds`` holding ``values`` (``(rows, cols)`` or ``(frames, rows, cols)``)."""
    pydicom = _pydicom("writing DICOM")
    out = copy.deepcopy(ds)
    syntax = out.file_meta.get("TransferSyntaxUID") if hasattr(out, "file_meta") else None
    if syntax is None or not syntax.is_little_endian:
        if not hasattr(out, "file_meta"):
            out.file_meta = pydicom.dataset.FileMetaDataset()
        out.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    dtype, low, high = _stored_type(ds)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    stored = np.rint((values.astype(np.float64) - intercept) / slope)
    stored = np.clip(np.nan_to_num(stored, nan=float(low)), low, high).astype(dtype)
    if stored.ndim == 3 and stored.shape[0] == 1:
        stored = stored[0]
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    out.set_pixel_data(
        stored,
        photometric,
        int(ds.get("BitsStored", 8 * dtype.itemsize)),
        generate_instance_uid=False,
    )
    for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue"):
        if keyword in out:
            delattr(out, keyword)
    sop = pydicom.uid.generate_uid()
    out.SOPInstanceUID = sop
    out.file_meta.MediaStorageSOPInstanceUID = sop
    if "SOPClassUID" in out:
        out.file_meta.MediaStorageSOPClassUID = out.SOPClassUID
    out.SeriesInstanceUID = series_uid
    description = str(ds.get("SeriesDescription", "")).strip()
    out.SeriesDescription = (f"{description} {note}" if description else note)[:64]
    return out


def write_series(
    series: DicomSeries, values: np.ndarray, output: str | Path, note: str = "unpaired"
) -> Path:
    """Write ``values`` (float32, the shape of ``series.values``) as a new series shaped like
    ``series``: into the folder ``output`` (one file per source file, same names), or into
    the file ``output`` when the source was one file. The series is written into a
    temporary folder first and then renamed into place (an existing one is replaced).

    Raises:
        MissingExtra: pydicom is not installed.
    """
    pydicom = _pydicom("writing DICOM")
    output = Path(output)
    series_uid = pydicom.uid.generate_uid()
    if values.shape != series.values.shape:
        raise ValueError(f"expected values of shape {series.values.shape}, got {values.shape}")
    datasets, start = [], 0
    for ds in series.datasets:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        datasets.append(_translated_dataset(ds, values[start : start + frames], series_uid, note))
        start += frames
    if series.source.is_file():
        return atomic_write(output, lambda tmp: datasets[0].save_as(tmp, enforce_file_format=True))

    def write_series(folder: Path) -> None:
        for path, ds in zip(series.files, datasets, strict=True):
            ds.save_as(folder / path.name, enforce_file_format=True)

    return atomic_folder(output, write_series)
