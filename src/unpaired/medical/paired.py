"""Registered pairs for paired validation (``evaluate --paired``, ``train --val-paired``).

A source file and its target share their relative folder and name, with any supported ending
(``ct/case_000.nii.gz`` <-> ``ct/case_000.nii``; a DICOM series folder by its folder path), as
:mod:`unpaired.translate.augment` matches masks; a mask folder is matched the same way (nonzero
= inside). Names only are looked at by :func:`find_pairs`; :func:`read_paired` reads one pair
and checks that the shapes agree. Volumes and 16-bit slices are read in physical units (HU for
CT, :func:`~unpaired.medical.volume.read_medical`); photos are read by the caller
(:func:`unpaired.data.images.read_image`), only their masks here.

Every mistake is a :class:`~unpaired.data.errors.DataError` with one line naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.errors import DataError, MissingExtra
from ..data.images import ImageReadError, read_image
from .sources import kind_of, list_sources, source_stem
from .volume import MedicalImage, read_medical, resolve_axis
from .windows import Window, auto_window

__all__ = [
    "Pair",
    "PreparedPair",
    "find_pairs",
    "is_volume_kind",
    "prepare_pair",
    "read_mask",
    "read_paired",
    "read_photo_pair",
]


@dataclass(frozen=True)
class Pair:
    """One source with its target (and mask); ``name`` is the source's relative path."""

    name: str
    source: Path
    target: Path
    mask: Path | None = None

    @property
    def kind(self) -> str | None:
        """The source's kind: ``"nifti"``, ``"dicom"``, ``"npy"`` or ``"image"``."""
        return kind_of(self.source)


def is_volume_kind(kind: str | None) -> bool:
    """Whether inputs of ``kind`` are medical arrays (read in physical units, sliced)."""
    return kind in ("nifti", "dicom", "npy")


def _key(path: Path, root: Path) -> tuple[str, ...]:
    rel = path.relative_to(root)
    if rel == Path("."):  # a DICOM series lying directly in the folder
        return (path.name,)
    return (*rel.parent.parts, source_stem(path))


def _name(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    return path.name if rel == Path(".") else rel.as_posix()


def _by_key(folder: Path, option: str) -> dict[tuple[str, ...], Path]:
    if not folder.is_dir():
        raise DataError(f"{option} {folder}: no such folder")
    found: dict[tuple[str, ...], Path] = {}
    for path in list_sources(folder):
        key = _key(path, folder)
        if key in found:
            raise DataError(
                f"{option} {folder}: {found[key]} and {path} have the same name; keep one file "
                "per name"
            )
        found[key] = path
    return found


def find_pairs(
    source_dir: str | Path,
    target_dir: str | Path,
    mask_dir: str | Path | None = None,
    options: tuple[str, str, str] = ("--paired SRC_DIR", "--paired TGT_DIR", "--mask"),
) -> list[Pair]:
    """Every source under ``source_dir`` with its target (and mask), in a stable order.

    ``options`` names the three folders in messages. Targets without a source are ignored.

    Raises:
        DataError: a folder is missing or empty, a source has no target or mask (the message
            names the file and the name expected), or two files share a name.
    """
    source_dir, target_dir = Path(source_dir), Path(target_dir)
    mask_root = Path(mask_dir) if mask_dir is not None else None
    sources = _by_key(source_dir, options[0])
    if not sources:
        raise DataError(f"{options[0]} {source_dir}: no images or volumes in it")
    targets = _by_key(target_dir, options[1])
    masks = _by_key(mask_root, options[2]) if mask_root is not None else {}
    pairs = []
    for key, source in sources.items():
        target = targets.get(key)
        if target is None:
            raise DataError(
                f"{source} has no target: expected {target_dir.joinpath(*key)}.* (same relative "
                f"folder and name in {target_dir})"
            )
        mask = None
        if mask_root is not None:
            mask = masks.get(key)
            if mask is None:
                raise DataError(
                    f"{source} has no mask: expected {mask_root.joinpath(*key)}.* (same relative "
                    f"folder and name in {mask_root})"
                )
        pairs.append(Pair(_name(source, source_dir), source, target, mask))
    return pairs


def _read(path: Path, role: str) -> MedicalImage:
    try:
        return read_medical(path)
    except MissingExtra:
        raise
    except (ImageReadError, DataError, OSError, ValueError) as exc:
        text = str(exc)
        raise DataError(text if str(path) in text else f"{role} {path}: {text}") from None


def read_mask(path: Path, shape: tuple[int, ...], of: Path) -> np.ndarray:
    """The mask at ``path`` as bool (nonzero = inside), which must have ``shape`` (that of
    ``of``, its image, named in the message otherwise)."""
    values = _read(path, "mask").values
    if tuple(values.shape) != tuple(shape):
        raise DataError(
            f"mask {path} is {'x'.join(map(str, values.shape))} but its image {of} is "
            f"{'x'.join(map(str, shape))}; a mask must have its image's size"
        )
    return np.asarray(values) != 0


def read_photo_pair(pair: Pair, channels: tuple[int, int]) -> tuple[Any, Any, np.ndarray | None]:
    """``(source, target, mask or None)`` of a photo pair: ``(C_a, H, W)`` and ``(C_b, H, W)``
    float32 tensors in [0, 1] with ``channels`` = (C_a, C_b), and an ``(H, W)`` bool mask
    (nonzero = inside). A file that cannot be read, a target or mask of another size than its
    source, or a mask with no pixel inside is a :class:`DataError` naming the file."""
    try:
        source = read_image(pair.source, channels[0])
        target = read_image(pair.target, channels[1])
    except ImageReadError as exc:
        raise DataError(str(exc)) from None
    if source.shape[-2:] != target.shape[-2:]:
        raise DataError(
            f"target {pair.target} is {target.shape[-1]}x{target.shape[-2]} but its source "
            f"{pair.source} is {source.shape[-1]}x{source.shape[-2]}; a paired target must "
            "have its source's size"
        )
    mask = None
    if pair.mask is not None:
        mask = read_mask(pair.mask, tuple(source.shape[-2:]), pair.source)
        if not mask.any():
            raise DataError(f"mask {pair.mask}: has no pixel inside (all zero)")
    return source, target, mask


def read_paired(pair: Pair) -> tuple[MedicalImage, np.ndarray, np.ndarray | None]:
    """``(source image, target values, mask or None)`` of a medical pair, in physical units
    (float32 target, bool mask), all of the source's shape.

    Raises:
        DataError: unreadable files, or a target or mask whose shape differs (naming both).
    """
    image = _read(pair.source, "source")
    target = _read(pair.target, "target").values
    if target.shape != image.values.shape:
        raise DataError(
            f"target {pair.target} is {'x'.join(map(str, target.shape))} but its source "
            f"{pair.source} is {'x'.join(map(str, image.values.shape))}; a paired target "
            "must be registered to its source (same shape)"
        )
    mask = None if pair.mask is None else read_mask(pair.mask, image.values.shape, pair.source)
    return image, target, mask


@dataclass
class PreparedPair:
    """A medical pair ready to score, all arrays of the source's shape:

    * ``image``: the source (its ``values`` in physical units, as read);
    * ``target``: float32, clipped to the output window unless ``keep_outside``;
    * ``seen``: the source as the model sees it (clipped to the input window unless
      ``keep_outside``), for slice consistency;
    * ``mask``: bool or None; ``axis``: the array axis slices are taken along (-1: 2-D);
    * ``data_range``: PSNR's and SSIM's ``R``: the given one, else the output window's width,
      else (no window) the target's own range.
    """

    pair: Pair
    image: MedicalImage
    target: np.ndarray
    seen: np.ndarray
    mask: np.ndarray | None
    axis: int
    data_range: float


def _clip(values: np.ndarray, window: Window | None) -> np.ndarray:
    if window is None:
        return values
    return np.clip(values, window.lo, window.hi).astype(np.float32)


def prepare_pair(
    pair: Pair,
    window_in: Window | None,
    window_out: Window | None,
    axis: str | int,
    keep_outside: bool = False,
    data_range: float | None = None,
) -> PreparedPair:
    """Read a medical pair (:func:`read_paired`) and prepare it as :class:`PreparedPair` says:
    the model writes only its output window, so the target is seen through it too.

    Raises:
        DataError: unreadable files, shapes that differ, a mask with nothing inside, or an
            axis that does not parse (naming the file or option).
    """
    image, target, mask = read_paired(pair)
    try:
        array_axis = resolve_axis(axis, image.probe)
    except ValueError as exc:
        raise DataError(f"{pair.source}: {exc}") from None
    if mask is not None and not mask.any():
        raise DataError(f"mask {pair.mask}: has no voxel inside (all zero)")
    if not keep_outside:
        target = _clip(target, window_out)
    seen = image.values if keep_outside else _clip(image.values, window_in)
    reference = window_out or auto_window(target)
    width = float(data_range) if data_range is not None else float(reference.hi - reference.lo)
    return PreparedPair(pair, image, target, seen, mask, array_axis, width)
