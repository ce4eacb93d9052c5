"""Read and write the images users actually have.

Everything here goes through Pillow and returns or accepts float tensors of shape
``(C, H, W)`` with values in ``[0, 1]``:

* :func:`read_image` decodes any Pillow mode (bilevel, gray, gray+alpha, palette with or
  without transparency, RGB, RGBA, CMYK, YCbCr, 16-bit gray, 32-bit int, float), applies the
  EXIF orientation, composites transparency onto a **white** background and returns 1 or 3
  channels. 16-bit data keeps its full precision (``value / 65535``).
* :func:`write_image` saves 8-bit images in any supported format and 16-bit grayscale
  PNG/TIFF.
* :func:`list_images` finds the images of a dataset folder in a stable order.
* :func:`image_size` reads the (oriented) size from the file header without decoding.

Unreadable files raise :class:`ImageReadError` (a ``ValueError``) whose one-line message names
the file, so a broken image in a dataset of thousands is easy to find.

Files are opened only as the formats the extensions stand for (:data:`ALLOWED_FORMATS`: PNG,
JPEG, BMP, TIFF, WebP), whatever their name says: an EPS, PCX, TGA or SGI file named ``.png``
is refused, naming the format found, and never reaches Pillow's other decoders (nor
Ghostscript). Images with more pixels than the limit (Pillow's ``MAX_IMAGE_PIXELS``, about 89
million; :func:`pixel_limit` raises it for one command, ``--max-pixels``) are refused naming
the file, instead of Pillow's anonymous warning; running out of memory while decoding names the
file too.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..errors import UnpairedError

__all__ = [
    "ALLOWED_FORMATS",
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "image_size",
    "is_16bit",
    "list_files",
    "list_images",
    "max_pixels",
    "open_image",
    "pixel_limit",
    "read_image",
    "write_image",
]

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
)
"""Lower-case file extensions treated as images (matched case-insensitively)."""

# ITU-R 601-2 luma weights, the same Pillow uses for "RGB" -> "L".
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I;16S", "I;16BS"})
# Orientations (EXIF tag 0x0112) that swap width and height.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})
# Formats that can hold 16-bit grayscale written by Pillow.
_SIXTEEN_BIT_EXTENSIONS = frozenset({".png", ".tif", ".tiff"})
_MAX_REASON_CHARS = 200

#: The Pillow formats an image file may hold: what :data:`IMAGE_EXTENSIONS` stand for (the
#: JPEG opener also reads cameras' MPO JPEGs). Anything else is refused by name.
ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")


class ImageReadError(UnpairedError):
    """An image file could not be read or decoded.

    The message is one line: ``cannot read image '<path>': <short reason>``. The offending
    path and the reason are also available as :attr:`path` and :attr:`reason`.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read image '{path}': {reason}")


def _short_reason(exc: BaseException) -> str:
    """One-line, bounded description of a decoding exception."""
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image file (unknown format or corrupt header)"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, MemoryError):
        return f"out of memory decoding it ({' '.join(str(exc).split())[:120]})"
    text = " ".join(str(exc).split())
    if not text:
        text = type(exc).__name__
    if len(text) > _MAX_REASON_CHARS:
        text = text[: _MAX_REASON_CHARS - 3] + "..."
    return text


def max_pixels() -> int | None:
    """The largest image (width x height) opened now; None: no limit."""
    return Image.MAX_IMAGE_PIXELS


@contextlib.contextmanager
def pixel_limit(pixels: int | None) -> Iterator[None]:
    """Open images of up to ``pixels`` pixels inside the block (None: keep the limit)."""
    if pixels is None:
        yield
        return
    if pixels < 1:
        raise ValueError(f"option max_pixels: must be at least 1, got {pixels}")
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = int(pixels)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _found_format(path: Path) -> str | None:
    """The format of a file that is not one of :data:`ALLOWED_FORMATS` (or a damaged one of
    them): its header is parsed, its pixels are never decoded (so no external decoder such as
    Ghostscript runs)."""
    Image.init()
    try:
        with open(path, "rb") as fh:
            prefix = fh.read(16)
    except OSError:
        return None
    for name in ALLOWED_FORMATS:
        accept = Image.OPEN[name][1]
        if accept is not None and accept(prefix) is True:
            return name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as img:  # every format, header only
                return img.format
        except Exception:
            return None


def open_image(path: Path, fp: IO[bytes] | None = None) -> Image.Image:
    """``Image.open`` of ``path`` (or of ``fp``, the open file) as one of
    :data:`ALLOWED_FORMATS`, header only; anything else is an :class:`ImageReadError`
    naming the file: another format (named), an image over the pixel limit (with the way to
    raise it), a corrupt header."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(fp if fp is not None else path, formats=list(ALLOWED_FORMATS))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            counted = re.search(r"\((\d+) pixels\)", str(exc))
            pixels = f"{int(counted.group(1)):,} pixels" if counted else "too many pixels"
            raise ImageReadError(
                path,
                f"{pixels}, more than the limit of {max_pixels():,} (a guard against "
                "decompression bombs); if the image is genuine, raise it with --max-pixels N",
            ) from None
        except UnidentifiedImageError:
            found = _found_format(path)
            if found is None:
                reason = "not a recognised image file (unknown format or corrupt header)"
            elif found in ALLOWED_FORMATS:
                reason = f"corrupt {found} file (its header cannot be read)"
            else:
                allowed = ", ".join(ALLOWED_FORMATS)
                reason = (
                    f"its content is in format {found}, not one of the formats read here "
                    f"({allowed}); convert it"
                )
            raise ImageReadError(path, reason) from None


def _check_exists(path: Path) -> None:
    """Raise ``FileNotFoundError`` (one line) when ``path`` does not exist."""
    if not path.exists():
        raise FileNotFoundError(f"image file not found: '{path}'")


def _check_not_empty(path: Path) -> None:
    try:
        empty = path.is_file() and path.stat().st_size == 0
    except OSError:
        return  # let the open call report it
    if empty:
        raise ImageReadError(path, "file is empty (0 bytes)")


def list_images(folder: str | Path) -> list[Path]:
    """All image files under ``folder``, recursively, in a stable sorted order.

    Files are kept when their extension (case-insensitive) is in :data:`IMAGE_EXTENSIONS`;
    see :func:`list_files` for the walk itself.

    Raises:
        FileNotFoundError: ``folder`` does not exist or is not a directory.
    """
    return list_files(folder, lambda name: os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS)


def list_files(folder: str | Path, accept: Callable[[str], bool]) -> list[Path]:
    """All files under ``folder`` whose name ``accept`` keeps, recursively, in a stable order.

    Hidden files and hidden directories (names starting with ``"."``, such as ``.DS_Store``,
    ``._photo.jpg`` or ``.ipynb_checkpoints``) below ``folder`` are skipped. Symbolic links to
    files and directories are followed, except links back into their own ancestors (cycles).

    Sorting is by the path relative to ``folder``, component by component, with plain
    (case-sensitive) string comparison, so the order is the same on every platform.

    Args:
        folder: The directory to search.

    Returns:
        Paths of the form ``Path(folder) / relative_path``.

    Raises:
        FileNotFoundError: ``folder`` does not exist or is not a directory.
    """
    root = Path(folder)
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise FileNotFoundError(f"image folder '{root}' {what}")

    found: list[tuple[str, ...]] = []
    # Each stack item: (directory, its path relative to root, real paths of it and its
    # ancestors). The ancestors stop symlink cycles; other links are followed normally.
    stack: list[tuple[Path, tuple[str, ...], frozenset[str]]] = [
        (root, (), frozenset({os.path.realpath(root)}))
    ]
    while stack:
        directory, rel, ancestors = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            continue  # unreadable subdirectory: nothing we can list there
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    real = os.path.realpath(entry.path)
                    if real not in ancestors:
                        stack.append((directory / name, (*rel, name), ancestors | {real}))
                elif accept(name) and entry.is_file():
                    found.append((*rel, name))
            except OSError:
                continue  # broken entry (for example a dangling link)
    found.sort()
    return [root.joinpath(*parts) for parts in found]


def _png_trailing_exif(path: Path) -> bytes | None:
    """EXIF bytes of a PNG ``eXIf`` chunk, scanning chunk headers only (no decoding).

    Pillow only sees an ``eXIf`` chunk placed after the image data once the pixels are
    decoded; this walks the chunk list with seeks to find it cheaply.
    """
    with open(path, "rb") as fp:
        if fp.read(8) != b"\x89PNG\r\n\x1a\n":
            return None
        while True:
            head = fp.read(8)
            if len(head) < 8:
                return None
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                data = fp.read(length)
                return data if len(data) == length else None
            if kind == b"IEND":
                return None
            fp.seek(length + 4, os.SEEK_CUR)  # chunk data and CRC


def _header_orientation(img: Image.Image, path: Path) -> int:
    """EXIF orientation still to apply to ``img.size`` of an opened (not decoded) image.

    Returns 1 when there is none. Pillow already reports the oriented size for TIFF files
    (it applies the TIFF Orientation tag itself when loading), so those count as 1 here.
    """
    if img.format == "TIFF":
        return 1
    if img.format == "PNG" and "exif" not in img.info:
        # PngImageFile.getexif() would decode the whole image; use the header info and a
        # chunk scan instead.
        exif = Image.Image.getexif(img)
        if ExifTags.Base.Orientation not in exif:
            data = _png_trailing_exif(path)
            if data:
                exif = Image.Exif()
                exif.load(data)
    else:
        exif = img.getexif()
    try:
        return int(exif.get(ExifTags.Base.Orientation, 1))
    except (TypeError, ValueError):
        return 1


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image as :func:`read_image` will return it.

    Only the file header is read (no pixel decoding), and EXIF orientations that rotate by 90
    degrees swap the two numbers.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is empty, not an image, or its header is truncated/corrupt.
    """
    path = Path(path)
    _check_exists(path)
    _check_not_empty(path)
    try:
        with open_image(path) as img:
            width, height = img.size
            orientation = _header_orientation(img, path)
    except ImageReadError:
        raise
    except Exception as exc:  # Pillow raises many unrelated types on corrupt input
        raise ImageReadError(path, _short_reason(exc)) from exc
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"image has an empty size {width}x{height}")
    if orientation in _TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    return width, height


def is_16bit(path: str | Path) -> bool:
    """Whether the image stores more than 8 bits per sample in one channel.

    True for Pillow modes ``"I;16"`` (and its byte-order variants) and ``"I"`` (32-bit
    integer), which :func:`read_image` scales by ``1 / 65535``. Only the header is read.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file cannot be identified as an image.
    """
    path = Path(path)
    _check_exists(path)
    _check_not_empty(path)
    try:
        with open_image(path) as img:
            mode = img.mode
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(path, _short_reason(exc)) from exc
    return mode in _SIXTEEN_BIT_MODES or mode == "I"


def _transparent_mask(raw: np.ndarray, transparency: object) -> np.ndarray | None:
    """Alpha (H, W) in {0, 1} for a single-channel image with a ``tRNS`` gray key."""
    if isinstance(transparency, int) and not isinstance(transparency, bool):
        return (raw != transparency).astype(np.float32)
    return None


def _decode(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels of a loaded image as float32 ``(H, W, C)`` (C in {1, 3}) in [0, 1], plus alpha.

    The alpha, when present, is float32 ``(H, W)`` in [0, 1] (0 = fully transparent).
    """
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        raw = np.asarray(img)
        if mode == "F":
            values = np.nan_to_num(raw.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        else:
            # 16-bit data, and 32-bit integers treated as 16-bit data.
            values = raw.astype(np.float32) / np.float32(65535.0)
        values = np.clip(values, 0.0, 1.0)
        alpha = _transparent_mask(raw, img.info.get("transparency"))
        return values[:, :, None], alpha

    gray = mode in ("1", "L", "LA", "La")
    transparent = img.has_transparency_data
    if gray:
        target = "LA" if transparent else "L"
    else:
        target = "RGBA" if transparent else "RGB"
    try:
        converted = img if img.mode == target else img.convert(target)
    except ValueError as exc:
        raise ValueError(f"unsupported image mode {mode!r}") from exc
    data = np.asarray(converted).astype(np.float32) / np.float32(255.0)
    if data.ndim == 2:
        data = data[:, :, None]
    if transparent:
        return data[:, :, :-1], data[:, :, -1]
    return data, None


def read_image(path: str | Path, channels: int) -> torch.Tensor:
    """Decode an image file into a float tensor.

    Steps: decode fully (so truncated files fail here), apply the EXIF orientation
    (``ImageOps.exif_transpose``), scale to [0, 1], composite any transparency onto a white
    background (``color * alpha + (1 - alpha)``), then convert the channel count.

    Value scaling by mode: 8-bit modes (``"1"``, ``"L"``, ``"LA"``, ``"P"``, ``"RGB"``,
    ``"RGBA"``, ``"CMYK"``, ``"YCbCr"``, ...) divide by 255; 16-bit modes (``"I;16"``,
    ``"I;16B"``, ``"I;16L"``) divide by 65535 with no 8-bit quantization; ``"I"`` (32-bit
    integer) is treated as 16-bit data, divided by 65535 and clipped; ``"F"`` is clipped to
    [0, 1]. CMYK and YCbCr use Pillow's built-in conversion to RGB (no ICC color management).
    Note that Pillow itself decodes 16-bit-per-channel *color* PNGs to 8 bits.

    Args:
        path: Image file (any format Pillow can open).
        channels: 1 for grayscale (ITU-R 601-2 luma ``0.299 R + 0.587 G + 0.114 B``, computed
            in float so 16-bit precision survives) or 3 for RGB (gray images repeat their
            channel).

    Returns:
        float32 tensor of shape ``(channels, H, W)`` with values in [0, 1], where ``H, W``
        are the oriented height and width.

    Raises:
        ValueError: ``channels`` is not 1 or 3.
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is empty, not an image, truncated, corrupt or of an
            unsupported mode.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    path = Path(path)
    _check_exists(path)
    _check_not_empty(path)
    try:
        # Open through a file object rather than the path: that keeps Pillow off its
        # memory-mapping path, which (Pillow 13) mis-orients uncompressed TIFFs that carry an
        # Orientation tag. TIFF orientation is applied by Pillow itself during load(), which
        # then drops the tag, so exif_transpose below does not apply it twice.
        with open(path, "rb") as fh, open_image(path, fh) as img:
            img.load()
            oriented = ImageOps.exif_transpose(img)
        color, alpha = _decode(oriented)
    except ImageReadError:
        raise
    except Exception as exc:  # Pillow raises many unrelated types on corrupt input
        raise ImageReadError(path, _short_reason(exc)) from exc
    try:
        return _finish(color, alpha, channels)
    except MemoryError as exc:
        raise ImageReadError(path, _short_reason(exc)) from None


def _finish(color: np.ndarray, alpha: np.ndarray | None, channels: int) -> torch.Tensor:
    """Composite, convert the channel count, clip: the end of :func:`read_image`."""
    if alpha is not None:
        alpha = alpha[:, :, None]
        color = color * alpha + (np.float32(1.0) - alpha)
    if channels == 1 and color.shape[2] == 3:
        r, g, b = _LUMA_WEIGHTS
        color = (
            np.float32(r) * color[:, :, 0]
            + np.float32(g) * color[:, :, 1]
            + np.float32(b) * color[:, :, 2]
        )[:, :, None]
    color = np.clip(color, 0.0, 1.0)
    tensor = torch.from_numpy(np.ascontiguousarray(color.transpose(2, 0, 1), dtype=np.float32))
    if channels == 3 and tensor.shape[0] == 1:
        tensor = tensor.expand(3, -1, -1).contiguous()
    return tensor


def write_image(image: torch.Tensor, path: str | Path, bits: int = 8) -> None:
    """Save a ``(C, H, W)`` image in [0, 1] to ``path``; the format comes from the extension.

    Values are clamped to [0, 1] (NaN becomes 0) and rounded to the nearest code value
    (``round(x * 255)`` or ``round(x * 65535)``). Parent directories are created. JPEG and
    WebP are written at quality 95.

    Args:
        image: Floating-point tensor of shape ``(C, H, W)``, ``C`` in {1, 3}, values in
            [0, 1]; any device.
        path: Destination; its extension must be in :data:`IMAGE_EXTENSIONS`.
        bits: 8, or 16 for single-channel images saved as PNG or TIFF (Pillow mode
            ``"I;16"``).

    Raises:
        ValueError: bad shape, dtype, channel count, extension or ``bits`` (including
            ``bits=16`` with 3 channels, which Pillow cannot write).
    """
    path = Path(path)
    if not isinstance(image, torch.Tensor) or image.dim() != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"write_image expects a (C, H, W) tensor, got {shape}")
    if not image.is_floating_point():
        raise ValueError(f"write_image expects a float tensor in [0, 1], got dtype {image.dtype}")
    num_channels = image.shape[0]
    if num_channels not in (1, 3):
        raise ValueError(f"write_image supports 1 or 3 channels, got {num_channels}")
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        known = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise ValueError(f"cannot write '{path}': unknown image extension; use one of {known}")
    if bits == 16:
        if num_channels != 1:
            raise ValueError(
                f"cannot write '{path}' with bits=16: 16-bit output is only supported for "
                f"1-channel (grayscale) images, got {num_channels} channels; use bits=8"
            )
        if suffix not in _SIXTEEN_BIT_EXTENSIONS:
            raise ValueError(f"cannot write '{path}' with bits=16: use a .png, .tif or .tiff file")

    data = torch.nan_to_num(image.detach().to("cpu", torch.float64), nan=0.0).clamp(0.0, 1.0)
    scale = 65535.0 if bits == 16 else 255.0
    codes = torch.round(data * scale).permute(1, 2, 0).numpy()
    if bits == 16:
        pil = Image.fromarray(np.ascontiguousarray(codes[:, :, 0], dtype=np.uint16))
    elif num_channels == 1:
        pil = Image.fromarray(np.ascontiguousarray(codes[:, :, 0], dtype=np.uint8))
    else:
        pil = Image.fromarray(np.ascontiguousarray(codes, dtype=np.uint8))

    options: dict[str, object] = {}
    if suffix in (".jpg", ".jpeg", ".webp"):
        options["quality"] = 95
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path, **options)
