"""Translate image files and folders into an output folder (``unpaired translate``).

Two steps, so that every check happens before anything is written:

1. :func:`plan_jobs` expands files, folders (recursively) and glob patterns into
   ``(source, output)`` pairs. The output keeps each file's path relative to the folder it was
   found under (the folder given, or the fixed leading part of a glob) and its name, so
   ``photos/2024/a.jpg`` found under ``photos`` goes to ``OUT/2024/a.jpg``, still a JPEG. It
   refuses (:class:`TranslateError`) an output that would write over an input, an output
   folder inside an input folder, two inputs with the same output, and existing output files
   unless ``overwrite``.
2. :func:`translate_files` reads, translates in batches of same-size images, and writes each
   result atomically (temporary file, then rename). An unreadable file is reported and
   skipped; the others are still translated.

Medical inputs (NIfTI files, DICOM series folders, ``.npy`` arrays) are planned the same way
(a series folder is one input, written to a folder of the same relative name) and translated
slice by slice by :mod:`unpaired.translate.volumes`. Video files given by name (``.mp4``,
``.mov``, ...) are translated frame by frame into videos by :mod:`unpaired.translate.video`.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data.images import (
    ImageReadError,
    image_size,
    is_16bit,
    read_image,
    write_image,
)
from ..data.transforms import resize
from ..fs import atomic_write, describe_os_error, is_within, same_file
from ..medical.sources import SOURCE_SUFFIXES, full_suffix, list_sources
from ..progress import CountProgress
from . import memory
from .translator import Translator, short_side_size
from .variants import PLAIN, TranslateError, Variant, tagged
from .video import is_video, translate_videos
from .volumes import needs_medical, translate_medical

__all__ = [
    "Job",
    "TranslateError",
    "TranslateReport",
    "input_guard",
    "plan_jobs",
    "refuse_input_overwrite",
    "translate_files",
]

_SIXTEEN_BIT_SUFFIXES = frozenset({".png", ".tif", ".tiff"})
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Job:
    """One image to translate: read ``source``, write ``output``."""

    source: Path
    output: Path


@dataclass
class TranslateReport:
    """What :func:`translate_files` did: files written, and ``(file, reason)`` failures."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def _glob_base(pattern: str) -> Path:
    """The leading folders of a glob pattern that hold no wildcard."""
    parts: list[str] = []
    for part in Path(pattern).parts:
        if _GLOB_CHARS & set(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _relative(found: Path, base: Path) -> Path:
    """``found``'s path under ``base``; a DICOM series folder given itself keeps its name."""
    rel = found.relative_to(base)
    return Path(found.name) if rel == Path(".") else rel


def _in_folder(folder: Path) -> list[tuple[Path, Path]]:
    """Images, volumes and DICOM series folders under ``folder``, with relative paths."""
    return [(f, _relative(f, folder)) for f in list_sources(folder)]


def _expand(spec: str) -> tuple[list[tuple[Path, Path]], Path | None]:
    """``(file, path relative to its folder)`` pairs for one --input, and the folder that is
    searched recursively (a folder input, or the fixed part of a ``**`` pattern), if any.
    A DICOM series counts as one input: its folder."""
    path = Path(spec)
    if path.is_dir():
        return _in_folder(path), path
    if path.is_file():
        if is_video(path):  # videos only as files given by name (folders and globs skip them)
            return [(path, Path(path.name))], None
        if full_suffix(path) not in SOURCE_SUFFIXES:
            known = ", ".join(sorted(SOURCE_SUFFIXES))
            raise TranslateError(f"--input {spec}: not an image file extension (use {known})")
        return [(path, Path(path.name))], None
    if not _GLOB_CHARS & set(spec):
        raise TranslateError(f"--input {spec}: no such file or folder")
    base = _glob_base(spec)
    # A recursive pattern searches like a folder does: results must stay out of it.
    folder = base if "**" in spec else None
    pairs: list[tuple[Path, Path]] = []
    for match in sorted(glob.glob(spec, recursive=True)):
        found = Path(match)
        if found.is_dir():
            pairs += [(f, f.relative_to(base)) for f in list_sources(found)]
        elif full_suffix(found) in SOURCE_SUFFIXES:
            pairs.append((found, found.relative_to(base)))
    if not pairs:
        raise TranslateError(f"--input {spec}: the pattern matches no image files")
    return pairs, folder


def input_guard(sources: Sequence[Path]) -> dict[str, Path]:
    """Real path -> input for every input file or series folder and every folder above one:
    an output at any of these paths would replace an input (or the folder holding it)."""
    guarded: dict[str, Path] = {}
    for source in sources:
        real = os.path.realpath(source)
        guarded.setdefault(real, source)
        parent = os.path.dirname(real)
        while parent not in guarded and parent != os.path.dirname(parent):
            guarded[parent] = source
            parent = os.path.dirname(parent)
    return guarded


def refuse_input_overwrite(output: Path, guarded: dict[str, Path], option: str) -> None:
    """A :class:`TranslateError` when writing ``output`` would replace an input (real paths:
    symlinks to inputs count), with or without ``--overwrite``."""
    source = guarded.get(os.path.realpath(output))
    if source is not None:
        raise TranslateError(
            f"{option}: {output} would write over the input {source}; inputs are never "
            "overwritten (not even with --overwrite): choose another output folder"
        )


def plan_jobs(
    inputs: Sequence[str],
    output_dir: str | Path,
    overwrite: bool = False,
    variants: Sequence[Variant] = PLAIN,
) -> list[Job]:
    """Expand ``inputs`` (files, folders, glob patterns) into jobs writing under ``output_dir``
    (each job's outputs: one per variant, :func:`~.variants.tagged`).

    Raises:
        TranslateError: an input does not exist or matches nothing; the output folder is an
            input folder or inside one; an output would replace an input file; two inputs
            map to the same output; outputs exist already and ``overwrite`` is false.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise TranslateError(f"--output {output_dir}: exists and is not a folder")
    real_out = os.path.realpath(output_dir)
    jobs: list[Job] = []
    seen: dict[str, Path] = {}
    for spec in inputs:
        pairs, folder = _expand(spec)
        if folder is not None and is_within(output_dir, folder):
            where = "is" if real_out == os.path.realpath(folder) else "is inside"
            raise TranslateError(
                f"--output {output_dir} {where} the input folder {folder}: the results would "
                "mix with the inputs; choose a folder outside it"
            )
        for source, rel in pairs:
            job = Job(source, output_dir / rel)
            key = os.path.realpath(job.output)
            if key in seen:
                if same_file(seen[key], source):
                    continue  # the same file reached twice (e.g. as a file and in its folder)
                raise TranslateError(
                    f"--input: {seen[key]} and {source} would both be written to {job.output}; "
                    "translate them into different --output folders"
                )
            seen[key] = source
            jobs.append(job)
    if not jobs:
        raise TranslateError(f"--input {' '.join(inputs)}: no image files found")
    outputs = [tagged(job.output, v.tag) for job in jobs for v in variants]
    guarded = input_guard([job.source for job in jobs])
    for output in outputs:
        refuse_input_overwrite(output, guarded, f"--output {output_dir}")
    existing = [output for output in outputs if output.exists()]
    if existing and not overwrite:
        raise TranslateError(
            f"--output {output_dir}: {len(existing)} output file(s) exist already (first: "
            f"{existing[0]}); pass --overwrite to replace them"
        )
    return jobs


def _memory_problem(
    translator: Translator, pixels: int, tiled: bool, channels: tuple[int, int], batch: int
) -> str | None:
    """Why an image of ``pixels`` pixels (translated in tiles or whole, ``batch`` at a time)
    cannot be translated in the memory available now (None: it fits, or the system does not
    say)."""
    available = memory.available_memory()
    if available is None:
        return None
    network = translator.tile * translator.tile if tiled else pixels * batch
    need = memory.translation_bytes(1, pixels, *channels, network) * (1 if tiled else batch)
    if need <= available:
        return None
    return (
        f"translating it needs about {memory.format_bytes(need)} of memory and "
        f"{memory.format_bytes(available)} is available; free memory, or translate it "
        "smaller (--size)"
    )


def _reason(exc: OSError) -> str:
    """What went wrong, in words (``disk full``, ``read-only file system``), without a path."""
    return describe_os_error(OSError(exc.errno, exc.strerror or str(exc)))


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is running out of memory (NumPy, CPU or GPU torch)."""
    if isinstance(exc, MemoryError | torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text
    )


@dataclass(frozen=True)
class _Item:
    job: Job
    size: tuple[int, int]  # (H, W) the network sees
    bits: int


def _write_atomic(image: torch.Tensor, path: Path, bits: int) -> None:
    """:func:`write_image` into a temporary file next to ``path``, then rename."""
    atomic_write(path, lambda tmp: write_image(image, tmp, bits=bits), sync=False)


def _side_by_side(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(C_in, H, W)`` | ``(C_out, H, W)`` -> one ``(max C, H, 2W)`` image."""
    channels = max(x.shape[0], y.shape[0])
    return torch.cat([t.expand(channels, -1, -1) for t in (x, y)], dim=2)


def _batches(items: list[_Item], batch_size: int, translator: Translator) -> Iterator[list[_Item]]:
    """Runs of up to ``batch_size`` items of one size (tiled images alone), in input order
    within each size."""
    groups: dict[tuple[int, int], list[_Item]] = {}
    for item in items:
        groups.setdefault(item.size, []).append(item)
    for size, group in groups.items():
        step = 1 if translator.uses_tiles(*size) else batch_size
        for i in range(0, len(group), step):
            yield group[i : i + step]


def translate_files(
    translator: Translator,
    jobs: Sequence[Job],
    direction: str = "a2b",
    size: int | None = None,
    batch_size: int = 1,
    side_by_side: bool = False,
    progress: bool | None = None,
    axis: str | int | None = None,
    keep_outside: bool = False,
    variants: Sequence[Variant] = PLAIN,
) -> TranslateReport:
    """Translate every job's image and write it (see the module docstring).

    Medical inputs (NIfTI, DICOM series, ``.npy``, and 2-D images when the model records an
    intensity window) are translated slice by slice along ``axis`` (default: the model's) and
    written in their own format: see :mod:`unpaired.translate.volumes`; they keep their size,
    so ``size`` and ``side_by_side`` are refused for them. ``keep_outside``: their voxels
    outside the model's input window keep their values.

    Each image keeps its resolution unless ``size`` is given (then the shorter side becomes
    ``size``, the aspect ratio is kept, and the output has that size). Images of the same size
    are translated ``batch_size`` at a time. 16-bit grayscale inputs give 16-bit PNG/TIFF
    outputs when what is written has one channel; otherwise 8 bits (and one warning).
    ``side_by_side`` writes input | output (gray repeated to 3 channels when the other is
    color).
    Each job is written once per variant (``variants``: the extra inputs, e.g. styles, and
    the tag its output name gets). Failures are printed as ``error:`` lines and listed in the
    report; nothing raises for one bad file.
    """
    c_in, c_out = translator.channels(direction)
    written_channels = max(c_in, c_out) if side_by_side else c_out
    report = TranslateReport()
    medical = [job for job in jobs if needs_medical(job.source, translator.config, direction)]
    if medical and (size is not None or side_by_side):
        option = "--size" if size is not None else "--side-by-side"
        raise TranslateError(
            f"{option}: not available for volumes and medical images ({medical[0].source} "
            "is one); they are translated at their own size and written in their own format"
        )
    if medical:
        # First, so that a missing extra stops the command before anything is written.
        translate_medical(
            translator,
            medical,
            report,
            direction,
            batch_size,
            progress,
            axis,
            keep_outside,
            variants,
        )
        chosen = {id(job) for job in medical}
        jobs = [job for job in jobs if id(job) not in chosen]
    videos = [job for job in jobs if is_video(job.source)]
    if videos:  # frame by frame into videos of the same container: see .video
        translate_videos(
            translator,
            videos,
            report,
            direction,
            size,
            batch_size,
            side_by_side,
            progress,
            variants,
        )
        jobs = [job for job in jobs if not is_video(job.source)]
    bar = CountProgress(len(jobs) * len(variants), progress if jobs else False)

    def fail(job: Job, reason: str, outputs: int = len(variants)) -> None:
        report.failed.append((job.source, reason))
        bar.write(f"error: {reason}")
        bar.update(outputs)

    items: list[_Item] = []
    warned_bits = False
    for job in jobs:
        try:
            width, height = image_size(job.source)
            deep = is_16bit(job.source)
        except (ImageReadError, OSError) as exc:
            fail(job, str(exc))
            continue
        pixels = width * height
        if size is not None:
            height, width = short_side_size(height, width, size)
        tiled = translator.uses_tiles(height, width)
        problem = _memory_problem(
            translator,
            max(pixels, height * width),
            tiled,
            (c_in, c_out),
            1 if tiled else min(batch_size, len(jobs)),
        )
        if problem is not None:
            fail(job, f"cannot translate '{job.source}' ({width}x{height}): {problem}")
            continue
        suffix_ok = job.output.suffix.lower() in _SIXTEEN_BIT_SUFFIXES
        bits = 16 if deep and written_channels == 1 and suffix_ok else 8
        if deep and written_channels != 1 and not warned_bits:
            warned_bits = True
            warnings.warn(
                f"{job.source} (and any other 16-bit input) is written with 8 bits: the "
                f"output has {written_channels} channels and 16-bit color output is not "
                "supported",
                stacklevel=2,
            )
        items.append(_Item(job, (height, width), bits))

    try:
        for batch in _batches(items, batch_size, translator):
            loaded: list[tuple[_Item, torch.Tensor]] = []
            for item in batch:
                try:
                    loaded.append((item, read_image(item.job.source, c_in)))
                except (ImageReadError, OSError) as exc:
                    fail(item.job, str(exc))
            if not loaded:
                continue
            # Headers can lie (rare); translate one by one if the decoded sizes differ.
            same = len({tuple(x.shape) for _, x in loaded}) == 1
            groups = [loaded] if same else [[pair] for pair in loaded]
            for group in groups:
                try:
                    x = torch.stack([image for _, image in group])
                    if size is not None:
                        x = resize(x, *short_side_size(x.shape[-2], x.shape[-1], size))
                    ys = [translator.translate_unit(x, direction, **v.extras) for v in variants]
                except Exception as exc:
                    if not _out_of_memory(exc):
                        raise
                    x = ys = None  # let the tensors go before going on
                    for item, _ in group:
                        h, w = item.size
                        fail(
                            item.job,
                            f"cannot translate '{item.job.source}' ({w}x{h}): out of memory; "
                            "free memory, or translate it smaller (--size)",
                        )
                    continue
                for variant, y in zip(variants, ys, strict=True):
                    for (item, _), xi, yi in zip(group, x, y, strict=True):
                        result = _side_by_side(xi, yi) if side_by_side else yi
                        output = tagged(item.job.output, variant.tag)
                        try:
                            _write_atomic(result, output, item.bits)
                        except OSError as exc:
                            fail(item.job, f"cannot write '{output}': {_reason(exc)}", 1)
                            continue
                        report.written.append(output)
                        bar.update(1)
    finally:
        bar.close()
    return report
