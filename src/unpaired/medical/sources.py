"""Finding medical inputs by name: NIfTI files, NumPy arrays, DICOM files and series folders.

Only names are looked at here (no file is opened and no extra is imported), so listing a
folder is cheap and works without the ``medical`` extra; reading comes later.

Kinds (:func:`kind_of`):

* ``"nifti"``: ``*.nii`` and ``*.nii.gz``;
* ``"npy"``: ``*.npy`` (2-D or 3-D arrays);
* ``"dicom"``: a folder holding ``*.dcm`` files (one series), or one ``*.dcm`` file;
* ``"image"``: the ordinary images of :data:`unpaired.data.images.IMAGE_EXTENSIONS`
  (16-bit PNG/TIFF included).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..data.images import IMAGE_EXTENSIONS, list_files
from ..data.readers import MEDICAL_SUFFIXES

__all__ = [
    "MEDICAL_SUFFIXES",
    "SOURCE_SUFFIXES",
    "full_suffix",
    "has_medical_files",
    "is_dicom_folder",
    "kind_of",
    "list_sources",
    "source_stem",
]

SOURCE_SUFFIXES: frozenset[str] = frozenset(MEDICAL_SUFFIXES) | IMAGE_EXTENSIONS
"""Every ending an input file may have."""

_KINDS = {".nii.gz": "nifti", ".nii": "nifti", ".npy": "npy", ".dcm": "dicom"}


def full_suffix(path: str | Path) -> str:
    """The lower-case ending that decides the format: ``.nii.gz`` for gzipped NIfTI, else the
    last suffix (``""`` for none)."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return os.path.splitext(name)[1]


def source_stem(path: str | Path) -> str:
    """The name without :func:`full_suffix` (``ct.nii.gz`` -> ``ct``; a folder: its name)."""
    name = Path(path).name
    suffix = full_suffix(path)
    return name[: len(name) - len(suffix)] if suffix and not Path(path).is_dir() else name


def is_dicom_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder with at least one (non-hidden) ``*.dcm`` file in it."""
    try:
        with os.scandir(path) as it:
            return any(
                not e.name.startswith(".") and e.name.lower().endswith(".dcm") and e.is_file()
                for e in it
            )
    except OSError:
        return False


def kind_of(path: str | Path) -> str | None:
    """``"nifti"``, ``"npy"``, ``"dicom"``, ``"image"`` or None (not an input we read)."""
    path = Path(path)
    if path.is_dir():
        return "dicom" if is_dicom_folder(path) else None
    suffix = full_suffix(path)
    if suffix in _KINDS:
        return _KINDS[suffix]
    return "image" if suffix in IMAGE_EXTENSIONS else None


def _accept(name: str) -> bool:
    return full_suffix(name) in SOURCE_SUFFIXES


def list_sources(folder: str | Path) -> list[Path]:
    """The inputs under ``folder``, recursively, in a stable order: image files, NIfTI and
    ``.npy`` files, and DICOM series (each folder holding ``.dcm`` files counts once, as the
    folder itself, which is ``folder`` when the ``.dcm`` files lie directly in it).

    Hidden names are skipped and links followed as :func:`unpaired.data.images.list_files`
    does.

    Raises:
        FileNotFoundError: ``folder`` does not exist or is not a directory.
    """
    root = Path(folder)
    found: dict[tuple[str, ...], Path] = {}
    for path in list_files(root, _accept):
        if full_suffix(path) == ".dcm":
            path = path.parent
        found.setdefault(path.relative_to(root).parts, path)
    return [found[key] for key in sorted(found)]


def has_medical_files(folder: str | Path) -> bool:
    """Whether any NIfTI, ``.npy`` or ``.dcm`` file lies under ``folder`` (recursively)."""
    try:
        return bool(list_files(folder, lambda name: full_suffix(name) in _KINDS))
    except FileNotFoundError:
        return False
