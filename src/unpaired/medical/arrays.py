"""Raw intensities of 2-D images (PNG/TIFF, 8 or 16 bits) and of ``.npy`` arrays, in and out.

Unlike :func:`unpaired.data.images.read_image`, which scales to [0, 1], these readers keep the
stored numbers (0..65535 for a 16-bit PNG, whatever a ``.npy`` holds) as float32, so that an
intensity window can be applied to them, and the writers store translated values back in the
source's format and data type: integers rounded and clipped to the type's range.

Decoded image types: ``"L"`` and 1-bit -> uint8, 16-bit gray -> uint16, ``"I"`` -> int32,
``"F"`` -> float32; color images are turned into 8-bit luma (ITU-R 601-2), as medical
images are gray.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..data.images import ImageReadError, open_image
from ..fs import atomic_write

__all__ = [
    "ArrayImage",
    "array_shape",
    "read_array",
    "read_raster",
    "raster_dtype",
    "raster_shape",
    "write_array",
    "write_raster",
]

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})


@dataclass
class ArrayImage:
    """A 2-D image or an ``.npy`` array: ``values`` float32 (stored numbers), and the
    ``dtype`` it is stored with (written back the same)."""

    source: Path
    values: np.ndarray
    dtype: np.dtype


def _reason(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:160]


def read_raster(path: str | Path) -> ArrayImage:
    """A PNG/TIFF/... image as its stored gray numbers, ``(H, W)`` float32 (EXIF orientation
    applied, as :func:`~unpaired.data.images.read_image` does)."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "no such file")
    try:
        with open(path, "rb") as fh, open_image(path, fh) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode in _SIXTEEN_BIT_MODES:
                array = np.asarray(img).astype(np.uint16)
            elif img.mode in ("L", "I", "F"):
                array = np.asarray(img)
            else:
                array = np.asarray(img.convert("L"))
    except ImageReadError:
        raise
    except Exception as exc:  # Pillow raises many unrelated types on corrupt input
        raise ImageReadError(path, _reason(exc)) from None
    return ArrayImage(path, array.astype(np.float32), array.dtype)


def raster_shape(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` of an image, from its header."""
    from ..data.images import image_size

    width, height = image_size(path)
    return height, width


def raster_dtype(path: str | Path) -> str:
    """The dtype :func:`read_raster` decodes an image to, from its header only."""
    path = Path(path)
    try:
        with open_image(path) as img:
            mode = img.mode
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(path, _reason(exc)) from None
    if mode in _SIXTEEN_BIT_MODES:
        return "uint16"
    return {"I": "int32", "F": "float32"}.get(mode, "uint8")


def _check_array(path: Path, array: np.ndarray) -> None:
    if array.ndim not in (2, 3):
        raise ImageReadError(path, f"array of shape {array.shape}: expected 2-D or 3-D")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageReadError(path, f"array of dtype {array.dtype}: expected integers or floats")


def _load(path: Path, mmap: bool) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as exc:  # ValueError (pickled objects), OSError, truncated header
        raise ImageReadError(path, f"not a readable .npy array ({_reason(exc)})") from None
    if not isinstance(array, np.ndarray):
        raise ImageReadError(path, "not a single .npy array")
    _check_array(path, array)
    return array


def read_array(path: str | Path) -> ArrayImage:
    """A ``.npy`` file (2-D ``(H, W)`` or 3-D, read as ``(z, y, x)``), values as float32."""
    path = Path(path)
    array = _load(path, mmap=False)
    return ArrayImage(path, array.astype(np.float32), array.dtype)


def array_shape(path: str | Path) -> tuple[int, ...]:
    """The shape of a ``.npy`` array, without reading its data."""
    return tuple(_load(Path(path), mmap=True).shape)


def read_array_slice(path: str | Path, axis: int, index: int) -> np.ndarray:
    """``array.take(index, axis)`` as float32, through a memory map (only that slice read)."""
    return np.asarray(np.take(_load(Path(path), mmap=True), index, axis=axis), dtype=np.float32)


def _to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Physical values -> ``dtype``: integers rounded and clipped to the type's range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        rounded = np.rint(np.nan_to_num(values.astype(np.float64), nan=0.0))
        return np.clip(rounded, info.min, info.max).astype(dtype)
    return values.astype(dtype)


def write_array(source: ArrayImage, values: np.ndarray, output: str | Path) -> Path:
    """Save ``values`` as ``.npy`` in ``source.dtype`` (atomically)."""
    output = Path(output)
    data = _to_dtype(values, source.dtype)
    atomic_write(output, lambda tmp: np.save(tmp, data, allow_pickle=False))
    return output


def write_raster(source: ArrayImage, values: np.ndarray, output: str | Path) -> Path:
    """Save ``(H, W)`` ``values`` as an image of the source's type (uint8 -> 8-bit gray,
    uint16 -> 16-bit gray PNG/TIFF, int32 -> 16-bit gray, float32 -> 32-bit float TIFF),
    atomically; the format comes from the extension."""
    output = Path(output)
    dtype = np.dtype(np.uint16) if source.dtype == np.int32 else source.dtype
    data = _to_dtype(values, dtype)
    image = Image.fromarray(np.ascontiguousarray(data))
    atomic_write(output, lambda tmp: image.save(tmp))
    return output
