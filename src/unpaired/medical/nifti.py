"""NIfTI volumes in and out (``medical`` extra: nibabel, imported only inside these functions).

Reading gives the voxel values with the header's ``scl_slope`` / ``scl_inter`` applied (HU for
CT), float32, in the file's array order (usually ``(x, y, z)``).

Writing a translation keeps the source file's header byte for byte (shape, affine, qform and
sform, units, description, extensions, data type, ``scl_slope`` / ``scl_inter``): an integer
data type stays that type, the values being stored as ``round((v - scl_inter) / scl_slope)``
clipped to the type's range; a float data type stays that float type. ``.nii.gz`` is
gzipped again.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.errors import medical_extra
from ..data.images import ImageReadError

__all__ = ["NiftiVolume", "nifti_directions", "nifti_shape", "read_nifti", "write_nifti"]


def _nibabel(action: str = "reading NIfTI") -> Any:
    try:
        import nibabel
    except ImportError:
        raise medical_extra(action) from None
    return nibabel


def _load(path: Path) -> Any:
    nib = _nibabel()
    try:
        image = nib.load(str(path))
    except Exception as exc:  # nibabel raises many types on corrupt input
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ImageReadError(path, f"not a readable NIfTI file ({reason})") from None
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        raise ImageReadError(path, f"not a single-file NIfTI image ({type(image).__name__})")
    if len(image.shape) not in (2, 3):
        raise ImageReadError(
            path,
            f"has {len(image.shape)} dimensions {tuple(image.shape)}; only 2-D and 3-D "
            "volumes are supported",
        )
    return image


@dataclass
class NiftiVolume:
    """A NIfTI file read whole: ``values`` float32 in physical units, array order of the file,
    and the nibabel ``image`` (header, affine) kept to write a translation like it."""

    source: Path
    values: np.ndarray
    image: Any


def nifti_shape(path: str | Path) -> tuple[int, ...]:
    """The array shape, from the header only."""
    return tuple(int(n) for n in _load(Path(path)).shape)


def nifti_directions(path: str | Path) -> np.ndarray:
    """``(ndim, 3)``: the RAS direction of each array axis (columns of the affine)."""
    image = _load(Path(path))
    return np.asarray(image.affine, float)[:3, : len(image.shape)].T


def read_nifti(path: str | Path) -> NiftiVolume:
    """Read a ``.nii`` / ``.nii.gz`` file whole (values scaled, float32)."""
    path = Path(path)
    image = _load(path)
    try:
        values = np.asarray(image.get_fdata(dtype=np.float32), dtype=np.float32)
    except Exception as exc:  # truncated data, bad gzip stream
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ImageReadError(path, f"cannot read the voxel data ({reason})") from None
    return NiftiVolume(path, values, image)


def read_nifti_slice(path: str | Path, axis: int, index: int) -> np.ndarray:
    """One slice ``values.take(index, axis)`` as float32, read through nibabel's proxy (only
    that slice is read from an uncompressed ``.nii``)."""
    path = Path(path)
    image = _load(path)
    key: list[Any] = [slice(None)] * len(image.shape)
    key[axis] = index
    try:
        return np.asarray(image.dataobj[tuple(key)], dtype=np.float32)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ImageReadError(path, f"cannot read the voxel data ({reason})") from None


def _stored(values: np.ndarray, dtype: np.dtype, slope: float, inter: float) -> np.ndarray:
    """Physical values -> what the file stores, in the file's data type."""
    raw = (values.astype(np.float64) - inter) / slope
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        raw = np.clip(np.rint(np.nan_to_num(raw, nan=0.0)), info.min, info.max)
    return raw.astype(dtype)


def nifti_bytes(volume: NiftiVolume, values: np.ndarray, gz: bool) -> bytes:
    """The file contents of ``values`` written like ``volume`` (see the module docstring)."""
    _nibabel("writing NIfTI")
    ref = volume.image
    if values.shape != volume.values.shape:
        raise ValueError(f"expected values of shape {volume.values.shape}, got {values.shape}")
    dtype = ref.header.get_data_dtype()
    slope = getattr(ref.dataobj, "slope", 1.0)
    inter = getattr(ref.dataobj, "inter", 0.0)
    scaled = not (slope == 1.0 and inter == 0.0)
    stored = _stored(values, np.dtype(dtype), float(slope), float(inter))
    # affine None keeps the header's qform/sform exactly as they are.
    image = type(ref)(stored, None, ref.header)
    if scaled:
        image.header.set_slope_inter(slope, inter)
    else:
        # Keep the source's own "no scaling" fields (NaN or 1/0) rather than nibabel's.
        image.header["scl_slope"] = ref.header["scl_slope"]
        image.header["scl_inter"] = ref.header["scl_inter"]
    data = image.to_bytes()
    return gzip.compress(data, compresslevel=6, mtime=0) if gz else data


def write_nifti(volume: NiftiVolume, values: np.ndarray, output: str | Path) -> Path:
    """Write ``values`` (the shape of ``volume.values``) to ``output`` (``.nii`` or
    ``.nii.gz``, gzipped by the name) atomically."""
    from ..fs import atomic_write

    output = Path(output)
    data = nifti_bytes(volume, values, output.name.lower().endswith(".gz"))
    atomic_write(output, lambda p: p.write_bytes(data))
    return output
