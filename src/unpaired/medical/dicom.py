"""DICOM series in and out (``medical`` extra: pydicom, imported only inside these functions).

A series is a folder of ``*.dcm`` files, one slice each (or one file, possibly multi-frame).
Slices are ordered along the slice normal (the cross product of the two direction cosines of
``ImageOrientationPatient``) by the projection of ``ImagePositionPatient`` on it; when a slice
lacks those tags, by ``InstanceNumber``; when that is missing too, by file name. Values are
``stored * RescaleSlope + RescaleIntercept`` (each slice its own), i.e. Hounsfield units for
CT, as float32.

What is refused or warned about when a series is read (never a wrong volume):

* a folder holding several series (``SeriesInstanceUID``): refused, naming each series (UID,
  description, slice count), unless ``series`` (``--series UID``, ``data.series``) picks one;
* slices that are not parallel (``ImageOrientationPatient`` differs) or two slices at one
  position: refused (not one volume);
* missing slices (a step between neighbours well above the usual one): a warning naming the
  positions of the gap; uneven steps and mixed ``SliceThickness``: a warning. The slices are
  stacked as they are (each keeps its own tags when a translation is written back); resampling
  to a voxel spacing (:mod:`.resample`) uses the true positions;
* gantry tilt (the slices' positions drift across the slice plane): a warning here; the stack
  is sheared, so resampling it or slicing it along another axis is refused
  (:func:`check_stack_use`);
* compressed pixel data (JPEG 2000, JPEG-LS, RLE, ...): decoded by pydicom's plugins when
  installed (the ``medical`` extra brings those for RLE, JPEG 2000 and JPEG-LS); a transfer
  syntax without a decoder here is refused naming it and what to install.

A translated series is written with every tag of its source slice (geometry included:
``ImagePositionPatient``, ``ImageOrientationPatient``, ``PixelSpacing``, ``SliceThickness``,
``Rows``, ``Columns``), a new ``SeriesInstanceUID`` for the series and a new
``SOPInstanceUID`` per file, and pixels stored back through the slice's rescale slope and
intercept into the original stored type (rounded, clipped to ``BitsStored``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.errors import DataError, medical_extra
from ..data.images import ImageReadError
from ..fs import atomic_folder, atomic_write

__all__ = [
    "DicomSeries",
    "SeriesGeometry",
    "check_stack_use",
    "chosen_series",
    "current_series",
    "parse_series",
    "read_file",
    "read_series",
    "series_geometry",
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


_SERIES: ContextVar[tuple[str, ...] | None] = ContextVar("unpaired_dicom_series", default=None)


def parse_series(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``--series`` / ``data.series``: one ``SeriesInstanceUID`` or several (comma-separated,
    or a list) -> a tuple of UIDs; None or empty: none chosen."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    uids = tuple(part.strip() for part in parts if part.strip())
    return uids or None


@contextmanager
def chosen_series(series: str | Sequence[str] | None) -> Iterator[None]:
    """Within the block, a folder holding several series is read as the one whose
    ``SeriesInstanceUID`` is in ``series`` (see :func:`series_headers`); None changes
    nothing. What ``translate --series`` and ``augment --series`` wrap the command in."""
    uids = parse_series(series)
    if uids is None:
        yield
        return
    token = _SERIES.set(uids)
    try:
        yield
    finally:
        _SERIES.reset(token)


def current_series() -> tuple[str, ...] | None:
    """The series UIDs chosen by the innermost :func:`chosen_series` (None: none)."""
    return _SERIES.get()


def _describe(uid: str, group: list[tuple[Path, Any]]) -> str:
    description = " ".join(str(group[0][1].get("SeriesDescription", "")).split())
    frames = sum(int(ds.get("NumberOfFrames", 1) or 1) for _, ds in group)
    named = f' "{description}"' if description else ""
    return f"{uid or '(no UID)'}{named} ({frames} slice{'s' * (frames != 1)})"


def _pick_series(source: Path, items: list[tuple[Path, Any]]) -> list[tuple[Path, Any]]:
    """The slices of the one series in ``items``, or of the chosen one among several."""
    groups: dict[str, list[tuple[Path, Any]]] = {}
    for path, ds in items:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")).strip(), []).append((path, ds))
    if len(groups) == 1:
        return items
    wanted = _SERIES.get() or ()
    picked = [uid for uid in groups if uid in wanted]
    if len(picked) == 1:
        return groups[picked[0]]
    found = ", ".join(_describe(uid, group) for uid, group in sorted(groups.items()))
    if picked:
        raise DataError(
            f"DICOM folder {source}: --series names {len(picked)} of its series ({found}); name one"
        )
    hint = "none of them is the one --series names; " if wanted else ""
    raise DataError(
        f"DICOM folder {source}: holds {len(groups)} series: {found}; {hint}pick one with "
        "--series UID (data.series) or put each series in its own folder"
    )


def _check_series(source: Path, items: list[tuple[Path, Any]]) -> None:
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


# A step between neighbouring slices this many times the usual one means slices are missing.
_GAP_FACTOR = 1.5
# Steps further than this fraction from the usual one make the spacing uneven.
_UNEVEN = 0.05
# A drift across the slice plane under this angle (degrees) is rounding in the positions.
_TILT_DEGREES = 0.5


@dataclass(frozen=True)
class SeriesGeometry:
    """Where the slices of a sorted series lie, from their headers.

    ``positions``: each slice's position along the slice normal, mm, ascending (None when a
    slice lacks ``ImagePositionPatient`` / ``ImageOrientationPatient``, or for a multi-frame
    file); ``pixel_spacing``: ``(between rows, between columns)`` mm (None without
    ``PixelSpacing``); ``thickness``: the distinct ``SliceThickness`` values; ``tilt``:
    degrees between the slice normal and the line through the first and last slice (gantry
    tilt; 0 for a straight stack).
    """

    positions: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    thickness: tuple[float, ...]
    tilt: float

    @property
    def step(self) -> float | None:
        """The usual distance between neighbouring slices (the median step), mm."""
        if self.positions is None or len(self.positions) < 2:
            return None
        return float(np.median(np.diff(self.positions)))

    def spacing(self, slice_step: float | None = None) -> tuple[float | None, ...]:
        """Voxel spacing along ``(slices, rows, cols)``, mm; the slice step falls back to
        ``slice_step`` (``SpacingBetweenSlices`` / ``SliceThickness``) for a lone slice."""
        step = self.step if self.step is not None else slice_step
        rows, cols = self.pixel_spacing if self.pixel_spacing is not None else (None, None)
        return step, rows, cols


def _floats(value: Any, count: int) -> np.ndarray | None:
    try:
        array = np.asarray([float(v) for v in value], float)
    except (TypeError, ValueError):
        return None
    return array if array.shape == (count,) and np.all(np.isfinite(array)) else None


def series_geometry(source: Path, items: list[tuple[Path, Any]]) -> SeriesGeometry:
    """The geometry of the sorted slices ``items`` (see :class:`SeriesGeometry`).

    Raises:
        ImageReadError: slices that are not parallel, or two slices at one position.
    """
    first = items[0][1]
    spacing = _floats(first.get("PixelSpacing", ()), 2)
    pixel_spacing = (float(spacing[0]), float(spacing[1])) if spacing is not None else None
    thickness = sorted(
        {round(float(ds.SliceThickness), 4) for _, ds in items if ds.get("SliceThickness")}
    )
    orientations = [_floats(ds.get("ImageOrientationPatient", ()), 6) for _, ds in items]
    points = [_floats(ds.get("ImagePositionPatient", ()), 3) for _, ds in items]
    if len(items) < 2 or any(o is None for o in orientations) or any(p is None for p in points):
        return SeriesGeometry(None, pixel_spacing, tuple(thickness), 0.0)
    for (path, _), orientation in zip(items[1:], orientations[1:], strict=True):
        if np.max(np.abs(orientation - orientations[0])) > 1e-3:
            raise ImageReadError(
                path,
                f"slice is not parallel to {items[0][0].name} (ImageOrientationPatient "
                "differs); a series must be one stack of parallel slices",
            )
    row, col = orientations[0][:3], orientations[0][3:]
    normal = np.cross(row, col)
    normal /= max(float(np.linalg.norm(normal)), 1e-12)
    along = np.asarray([float(np.dot(normal, p)) for p in points])
    steps = np.diff(along)
    if np.any(steps < 1e-3):
        k = int(np.argmin(steps))
        raise ImageReadError(
            items[k + 1][0],
            f"lies at the same position as {items[k][0].name} ({along[k]:g} mm along the "
            "slice normal); a series needs one slice per position",
        )
    drift = points[-1] - points[0]
    across = float(np.linalg.norm(drift - np.dot(drift, normal) * normal))
    tilt = float(np.degrees(np.arctan2(across, abs(float(np.dot(drift, normal))))))
    return SeriesGeometry(tuple(float(a) for a in along), pixel_spacing, tuple(thickness), tilt)


def _warn_geometry(source: Path, geometry: SeriesGeometry) -> None:
    """One warning line per finding: missing slices, uneven steps, mixed thickness, tilt.
    Each is raised from its line here, so Python's default filter shows a message once per
    process however often the series is read (probed, then read whole)."""
    where = f"DICOM series {source}"
    if geometry.tilt > _TILT_DEGREES:
        warnings.warn(
            f"{where}: gantry tilt of {geometry.tilt:.1f} degrees (slice positions drift "
            "across the slice plane); its slices are translated as they are, but the stack is "
            "sheared, so it is not resampled (--spacing) or sliced along another axis",
            stacklevel=1,
        )
    if geometry.positions is not None and len(geometry.positions) > 2:
        along = np.asarray(geometry.positions)
        steps = np.diff(along)
        usual = float(np.median(steps))
        gaps = np.flatnonzero(steps > _GAP_FACTOR * usual)
        if gaps.size:
            shown = ", ".join(
                f"{along[k]:g} to {along[k + 1]:g} mm (~{round(steps[k] / usual) - 1} missing)"
                for k in gaps[:3]
            )
            more = f" and {gaps.size - 3} more" if gaps.size > 3 else ""
            warnings.warn(
                f"{where}: slices missing between positions {shown}{more} along the slice "
                f"normal (the usual step is {usual:g} mm); the slices are stacked as they are",
                stacklevel=1,
            )
        regular = np.delete(steps, gaps)
        if regular.size and np.max(np.abs(regular - usual)) > _UNEVEN * usual:
            warnings.warn(
                f"{where}: uneven slice spacing (steps from {regular.min():g} to "
                f"{regular.max():g} mm); the slices are stacked as they are (--spacing "
                "resamples by their true positions)",
                stacklevel=1,
            )
    if len(geometry.thickness) > 1:
        values = ", ".join(f"{t:g}" for t in geometry.thickness)
        warnings.warn(f"{where}: mixed SliceThickness ({values} mm)", stacklevel=1)


# Decoders pydicom cannot find here, by transfer syntax: what to install (the medical extra
# brings RLE, JPEG 2000 and JPEG-LS; JPEG lossless and 12-bit JPEG need one of these).
_INSTALL_HINTS = {
    "1.2.840.10008.1.2.4.57": "python-gdcm (or pylibjpeg-libjpeg, GPL)",
    "1.2.840.10008.1.2.4.70": "python-gdcm (or pylibjpeg-libjpeg, GPL)",
    "1.2.840.10008.1.2.4.51": "python-gdcm (or pylibjpeg-libjpeg, GPL)",
}
_DEFAULT_HINT = "'unpaired[medical]' (pylibjpeg, pylibjpeg-openjpeg, pyjpegls) or python-gdcm"


def _check_syntax(path: Path, ds: Any) -> None:
    """Refuse pixel data no installed decoder can read, naming its transfer syntax."""
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is None:
        return
    pydicom = _pydicom()
    uid = str(syntax)
    plain = (
        pydicom.uid.ImplicitVRLittleEndian,
        pydicom.uid.ExplicitVRLittleEndian,
        pydicom.uid.ExplicitVRBigEndian,
        pydicom.uid.DeflatedExplicitVRLittleEndian,
    )
    if uid in plain:
        return
    from pydicom.pixels import get_decoder

    name = syntax.name if syntax.name != uid else "an unknown transfer syntax"
    try:
        decoder = get_decoder(syntax)
    except (NotImplementedError, ValueError):
        raise ImageReadError(
            path, f"pixel data in {name} ({uid}), which no DICOM decoder reads"
        ) from None
    if not decoder.is_available:
        hint = _INSTALL_HINTS.get(uid, _DEFAULT_HINT)
        raise ImageReadError(
            path,
            f"pixel data compressed as {name} ({uid}): no decoder installed; pip install {hint}",
        )


def _checked(source: Path, items: list[tuple[Path, Any]], warn: bool) -> SeriesGeometry:
    """Series, sizes, transfer syntaxes and geometry of sorted ``items`` (warnings with
    ``warn``)."""
    _check_series(source, items)
    seen: set[str] = set()
    for path, ds in items:
        meta = getattr(ds, "file_meta", None)
        key = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
        if key not in seen:
            seen.add(key)
            _check_syntax(path, ds)
    geometry = series_geometry(source, items)
    if warn:
        _warn_geometry(source, geometry)
    return geometry


def series_headers(source: str | Path, warn: bool = True) -> list[tuple[Path, Any]]:
    """``(file, header)`` of every slice of a series, sorted; pixels are not read. A folder
    holding several series is read as the one chosen (:func:`chosen_series`). ``warn``:
    warn about missing slices, uneven steps, mixed thickness and tilt.

    Raises:
        MissingExtra: pydicom is not installed.
        DataError: no ``.dcm`` files, several series and none chosen, or multi-frame files
            mixed with others.
        ImageReadError: an unreadable file, slices of different sizes, slices that are not
            parallel or share a position, or pixel data no installed decoder reads.
    """
    return series_info(source, warn)[0]


def series_info(
    source: str | Path, warn: bool = True
) -> tuple[list[tuple[Path, Any]], SeriesGeometry]:
    """:func:`series_headers` and the :class:`SeriesGeometry` of the slices."""
    source = Path(source)
    items = [(path, _read(path, pixels=False)) for path in series_files(source)]
    items = _sort(_pick_series(source, items))
    return items, _checked(source, items, warn)


def check_stack_use(source: str | Path, tilt: float, array_axis: int, resampled: bool) -> None:
    """Refuse to use a tilted series (``tilt`` degrees, :class:`SeriesGeometry`) as a 3-D
    volume: resampled, or sliced along an axis other than its stack (``array_axis`` 0).

    Raises:
        DataError: naming the series, the tilt and what to do instead.
    """
    if tilt <= _TILT_DEGREES or (array_axis in (0, -1) and not resampled):
        return
    use = "resampled (--spacing)" if resampled else "sliced across its stack (--axis)"
    raise DataError(
        f"DICOM series {source}: gantry tilt of {tilt:.1f} degrees; the stack is sheared and "
        f"cannot be {use}; use it slice by slice along its stack, without --spacing"
    )


def slice_values(ds: Any, path: Path) -> np.ndarray:
    """The pixels of one dataset in physical units, float32 ``(frames, rows, cols)``.

    Raises:
        ImageReadError: pixel data no installed decoder reads (naming the transfer syntax),
            or that cannot be decoded.
    """
    _check_syntax(path, ds)
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
    for the errors and warnings."""
    source = Path(source)
    items = _sort(_pick_series(source, [(p, _read(p, pixels=True)) for p in series_files(source)]))
    _checked(source, items, warn=True)
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
