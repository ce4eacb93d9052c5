"""``unpaired augment``: translate a labelled set and keep its masks, for segmentation training.

Every image under ``IMAGES`` is translated (at its own size, in its own format; volumes slice
by slice with the model's windows) into ``OUTPUT/images/<same relative path>``, and its mask
is copied byte for byte into ``OUTPUT/masks/<the mask's relative path>``: translation never
moves or resizes anything, so the labels still fit. ``OUTPUT/manifest.jsonl`` has one JSON
line per translated image::

    {"source": ..., "output": "images/...", "mask_source": ..., "mask": "masks/...",
     "model": ..., "direction": "a2b", "windows": {"a": [lo, hi], "b": [lo, hi]},
     "axis": "axial"}

(``output`` and ``mask`` relative to ``OUTPUT``; ``source`` and ``mask_source`` absolute).
A model with styles (MUNIT) writes one image per style asked for, ``NAME_styleK``, each with
its own copy of the mask under the same tagged name and a ``"variant"`` in its line. A 2.5D
model (``context_slices`` K > 0) translates each slice of a volume with its K neighbours, as
``translate`` does, and its lines carry ``"context_slices": K``.

A mask belongs to an image when it has the same relative folder and the same stem (the name
without ``.nii.gz`` / ``.png`` / ...; a DICOM series folder's stem is its name), with any
supported extension. Before anything is written, every image must have exactly one mask of
the same size (2-D ``(H, W)``, or the volume's shape; a mask of another format than its
image must have the same dimensions in some order), and no output may exist unless
``overwrite``. No output may replace an input, with or without ``overwrite`` (real paths are
compared: an output folder that is a symlink to an input folder counts).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.errors import DataError, MissingExtra
from ..data.images import ImageReadError
from ..data.stacks import CONTEXT_KEY, context_of
from ..fs import atomic_folder, atomic_write, is_within, same_file
from ..hub import is_hub
from ..medical.sources import list_sources, source_stem
from ..medical.volume import probe
from ..medical.windows import model_windows
from .files import Job, input_guard, refuse_input_overwrite, translate_files
from .variants import PLAIN, TranslateError, Variant, tagged

__all__ = ["AugmentPair", "AugmentReport", "augment", "plan_augment"]

MANIFEST_NAME = "manifest.jsonl"


@dataclass(frozen=True)
class AugmentPair:
    """One image and its mask, and where their outputs go."""

    image: Path
    mask: Path
    image_output: Path
    mask_output: Path


@dataclass
class AugmentReport:
    """What :func:`augment` did: the pairs written, failures, and the manifest file."""

    written: list[AugmentPair] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    manifest: Path | None = None


def _key(path: Path, root: Path) -> tuple[str, ...]:
    """Relative folder parts plus the stem: how an image finds its mask."""
    rel = path.relative_to(root)
    if rel == Path("."):
        return (path.name,)
    return (*rel.parent.parts, source_stem(path))


def _relative(path: Path, root: Path) -> Path:
    rel = path.relative_to(root)
    return Path(path.name) if rel == Path(".") else rel


def _shape(path: Path, role: str) -> tuple[tuple[int, ...], str]:
    try:
        info = probe(path)
    except MissingExtra:
        raise
    except (ImageReadError, DataError, OSError) as exc:
        raise TranslateError(f"{role} {path}: {exc}") from None
    return tuple(info.shape), info.kind


def _sources(folder: Path, option: str) -> list[Path]:
    if not folder.is_dir():
        raise TranslateError(f"{option} {folder}: no such folder")
    found = list_sources(folder)
    if not found:
        raise TranslateError(f"{option} {folder}: no images or volumes in it")
    return found


def plan_augment(
    images: str | Path,
    masks: str | Path,
    output: str | Path,
    overwrite: bool = False,
    variants: Sequence[Variant] = PLAIN,
) -> list[AugmentPair]:
    """Match images with masks and check sizes and outputs (see the module docstring).

    Raises:
        TranslateError: a missing or ambiguous mask, a mask whose size differs from its
            image's (naming both files), an output folder inside an input folder, or
            outputs that exist without ``overwrite``.
    """
    images, masks, output = Path(images), Path(masks), Path(output)
    if same_file(images, masks):
        raise TranslateError(f"--masks {masks}: must be another folder than --images")
    for folder, option in ((images, "--images"), (masks, "--masks")):
        if is_within(output, folder):
            raise TranslateError(
                f"--output {output}: is inside {option} {folder}; choose a folder outside it"
            )
        for written in (output / "images", output / "masks"):
            if is_within(folder, written):
                raise TranslateError(
                    f"--output {output}: {option} {folder} is (inside) {written}, where the "
                    "outputs are written; inputs are never overwritten (not even with "
                    "--overwrite): choose another output folder"
                )
    by_key: dict[tuple[str, ...], Path] = {}
    for mask in _sources(masks, "--masks"):
        key = _key(mask, masks)
        if key in by_key:
            raise TranslateError(
                f"--masks {masks}: {by_key[key]} and {mask} have the same name; keep one mask "
                "per image"
            )
        by_key[key] = mask
    pairs: list[AugmentPair] = []
    for image in _sources(images, "--images"):
        key = _key(image, images)
        mask = by_key.get(key)
        if mask is None:
            expected = masks.joinpath(*key)
            raise TranslateError(
                f"image {image} has no mask: expected {expected}.* (same relative folder and "
                f"name in {masks})"
            )
        image_shape, image_kind = _shape(image, "image")
        mask_shape, mask_kind = _shape(mask, "mask")
        same = (
            image_shape == mask_shape
            if image_kind == mask_kind
            else sorted(image_shape) == sorted(mask_shape)
        )
        if not same:
            size = "x".join(map(str, mask_shape))
            raise TranslateError(
                f"mask {mask} is {size} but its image {image} is "
                f"{'x'.join(map(str, image_shape))}; a mask must have its image's size"
            )
        pairs.append(
            AugmentPair(
                image,
                mask,
                output / "images" / _relative(image, images),
                output / "masks" / _relative(mask, masks),
            )
        )
    outputs = [
        tagged(p, v.tag)
        for pair in pairs
        for p in (pair.image_output, pair.mask_output)
        for v in variants
    ]
    guarded = input_guard([p for pair in pairs for p in (pair.image, pair.mask)])
    for path in [*outputs, output / MANIFEST_NAME]:
        refuse_input_overwrite(path, guarded, f"--output {output}")
    if not overwrite:
        existing = [p for p in [*outputs, output / MANIFEST_NAME] if p.exists()]
        if existing:
            raise TranslateError(
                f"--output {output}: {len(existing)} output(s) exist already (first: "
                f"{existing[0]}); pass --overwrite to replace them"
            )
    return pairs


def _copy(source: Path, target: Path) -> None:
    """Byte copy of a file or a series folder, written next to ``target`` then renamed."""
    if source.is_dir():
        atomic_folder(target, lambda tmp: shutil.copytree(source, tmp, dirs_exist_ok=True))
    else:
        atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


def augment(
    translator: Any,
    model: str | Path,
    images: str | Path,
    masks: str | Path,
    output: str | Path,
    direction: str = "a2b",
    batch_size: int = 1,
    overwrite: bool = False,
    progress: bool | None = None,
    axis: str | int | None = None,
    keep_outside: bool = False,
    variants: Sequence[Variant] = PLAIN,
) -> AugmentReport:
    """Translate the labelled set ``images`` / ``masks`` into ``output`` (module docstring).

    ``translator`` is a loaded :class:`~unpaired.inference.Translator` of the model folder
    ``model`` (recorded in the manifest). Images that fail to translate are reported and left
    out of the outputs and the manifest; the others are still written. ``keep_outside``:
    voxels outside the model's input window keep their values (see ``translate_slices``).
    """
    output = Path(output)
    pairs = plan_augment(images, masks, output, overwrite, variants)
    jobs = [Job(pair.image, pair.image_output) for pair in pairs]
    result = translate_files(
        translator,
        jobs,
        direction,
        batch_size=batch_size,
        progress=progress,
        axis=axis,
        keep_outside=keep_outside,
        variants=variants,
    )
    written = {os.path.realpath(p) for p in result.written}
    report = AugmentReport(failed=list(result.failed))
    windows, model_axis = model_windows(translator.config)
    context = context_of(translator.config)
    records = []
    for pair in pairs:
        for variant in variants:
            image_output = tagged(pair.image_output, variant.tag)
            if os.path.realpath(image_output) not in written:
                continue
            mask_output = tagged(pair.mask_output, variant.tag)
            _copy(pair.mask, mask_output)
            report.written.append(pair)
            record = {
                "source": str(pair.image.resolve()),
                "output": image_output.relative_to(output).as_posix(),
                "mask_source": str(pair.mask.resolve()),
                "mask": mask_output.relative_to(output).as_posix(),
                "model": model if is_hub(model) else str(Path(model).resolve()),
                "direction": direction,
                "windows": {d: w.as_list() if w else None for d, w in windows.items()},
                "axis": model_axis if axis is None else axis,
                "keep_outside_window": keep_outside,
            }
            if variant.tag:
                record["variant"] = variant.tag.lstrip("_")
            if context:  # a 2.5D model: each slice was translated with its neighbours
                record[CONTEXT_KEY] = context
            records.append(record)

    text = "".join(json.dumps(record) + "\n" for record in records)
    manifest = output / MANIFEST_NAME
    atomic_write(manifest, lambda p: p.write_text(text))
    report.manifest = manifest
    return report
