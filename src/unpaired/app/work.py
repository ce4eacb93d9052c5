"""What the page's buttons do, without Gradio: translate an uploaded image, a batch, a volume,
and show a slice of a volume through a display window.

Every translation goes through the same code as ``unpaired translate``
(:func:`unpaired.translate.translate_files` on one job per upload, into a fresh request folder
of the app's temporary folder): images are read by the same readers (16-bit and gray kept),
translated at their own resolution (tiled when large), with the model's styles; volumes
(NIfTI, DICOM series, ``.npy``) slice by slice with the model's windows, written in their own
format with their headers. Outputs of images are PNG (16-bit when the input is 16-bit gray and
the output has one channel).

User mistakes (no file, a file that is not an image, too many pixels, a zip that unpacks too
big) raise :class:`~.errors.AppError` or another one-line
:class:`~unpaired.errors.UnpairedError`; :func:`user_message` turns any of them into the line
the page shows, with the temporary folders left out of the file names.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..fs import atomic_write
from ..intensity import PRESETS
from ..medical.sources import full_suffix, kind_of, source_stem
from ..medical.volume import probe, read_slice, resolve_axis, volume_range
from ..medical.windows import Window
from ..translate import PLAIN, Job, Variant, style_variants, tagged, translate_files
from ..translate.volumes import direction_windows
from .errors import AppError
from .models import AppModel

__all__ = [
    "DISPLAY_WINDOWS",
    "MAX_STYLES",
    "BatchResult",
    "ImageResult",
    "VolumeResult",
    "Workspace",
    "display_windows",
    "medical_source",
    "slice_image",
    "strip_paths",
    "translate_batch",
    "translate_image",
    "translate_volume",
    "user_message",
]

#: The most styles one request may ask of a model with styles.
MAX_STYLES = 8
#: A zip of a DICOM series may unpack to this many times the upload limit, no more.
UNZIP_FACTOR = 10
#: The most files a zip of a DICOM series may hold.
MAX_ZIP_FILES = 5000
#: Display windows of the volume viewer: the model's own, the presets, a custom one.
DISPLAY_WINDOWS: tuple[str, ...] = ("model", *PRESETS, "custom")
_VOLUME_HINT = (
    "upload a NIfTI volume (.nii, .nii.gz), a .npy array, the .dcm files of one DICOM series "
    "or a zip of them"
)


class Workspace:
    """The app's temporary folder: ``examples/`` (copied test images), ``gradio/`` (Gradio's
    uploads and results) and ``work/<request>/`` (one fresh folder per translation; folders
    older than ``keep_seconds`` are removed when a new one is made)."""

    def __init__(self, root: str | Path, keep_seconds: float = 3600.0) -> None:
        self.root = Path(root)
        self.keep_seconds = keep_seconds
        self.examples = self.root / "examples"
        self.gradio = self.root / "gradio"
        self.work = self.root / "work"
        for folder in (self.examples, self.gradio, self.work):
            folder.mkdir(parents=True, exist_ok=True)

    def request(self) -> Path:
        """A new, empty request folder (and old ones removed)."""
        now = time.time()
        for old in self.work.iterdir():
            try:
                if now - old.stat().st_mtime > self.keep_seconds:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue
        folder = self.work / f"{int(now)}-{secrets.token_hex(4)}"
        folder.mkdir()
        return folder


def strip_paths(text: str, root: str | Path | None) -> str:
    """``text`` with every folder inside the app's temporary folder ``root`` left out of the
    paths it names (an upload is named by its own name)."""
    if root is not None:
        for prefix in {str(root), os.path.realpath(root)}:
            text = re.sub(re.escape(prefix.rstrip("/")) + r"/(?:[^\s'\"/]*/)*", "", text)
    return text


def user_message(exc: BaseException, root: str | Path | None = None) -> str:
    """The one line the page shows for ``exc``: its message without the temporary folders
    (:func:`strip_paths`) and with the command line's option spellings in the page's
    words."""
    text = strip_paths(" ".join(str(exc).split()) or type(exc).__name__, root)
    return text.replace("--style-image ", "style reference ").replace("--styles ", "styles ")


@dataclass
class ImageResult:
    """A translated image: ``outputs`` (PNG files, one per style) with their ``captions``,
    the input's ``size`` (width, height), the ``bits`` written and the ``seconds`` taken."""

    outputs: list[Path]
    captions: list[str]
    size: tuple[int, int]
    bits: int
    seconds: float

    def summary(self, model: AppModel, direction: str) -> str:
        """One line for the page: what was translated, how, in how long."""
        width, height = self.size
        styles = f", {len(self.outputs)} styles" if len(self.outputs) > 1 else ""
        return (
            f"{width}×{height} {direction} with {model.name} ({model.family}{styles}) in "
            f"{self.seconds:.2f} s on {model.translator.device}; output {self.bits}-bit PNG"
        )


@dataclass
class BatchResult:
    """Translated images (``outputs`` with ``captions``), ``failed`` ``(name, reason)``
    pairs, the ``archive`` (a zip of every output, or None when nothing was written) and the
    ``seconds`` taken."""

    outputs: list[Path]
    captions: list[str]
    failed: list[tuple[str, str]]
    archive: Path | None
    seconds: float

    def summary(self) -> str:
        """A few lines for the page: counts, time, and each failure."""
        lines = [f"{len(self.outputs)} images written in {self.seconds:.2f} s"]
        lines += [f"- {name}: {reason}" for name, reason in self.failed]
        return "\n".join(lines)


@dataclass
class VolumeResult:
    """A translated volume: the ``source`` read and the ``output`` written (file or DICOM
    series folder), the ``download`` (the output, a series zipped), the array ``axis``
    sliced along (-1: a 2-D image), the number of ``slices``, the model's windows of the
    direction (None: each volume's own range), its ``shape`` and the ``seconds`` taken."""

    source: Path
    output: Path
    download: Path
    axis: int
    slices: int
    window_in: Window | None
    window_out: Window | None
    shape: tuple[int, ...]
    seconds: float

    def summary(self, model: AppModel, direction: str) -> str:
        shape = "×".join(str(n) for n in self.shape)
        return (
            f"{self.source.name} ({shape}) {direction} with {model.name}: {self.slices} "
            f"slices in {self.seconds:.2f} s; download: {self.download.name}"
        )


def _variants(
    model: AppModel,
    direction: str,
    styles: int | float | None,
    seed: int | float | None,
    style_image: str | Path | None,
) -> tuple[Variant, ...]:
    """The outputs per input: one for most models; for a model with a style, ``styles``
    random styles from ``seed``, or the style of the reference image ``style_image``."""
    if not model.has_style:
        return PLAIN
    if style_image:
        return style_variants(model.translator, direction, style_image=str(style_image))
    count = int(styles) if styles is not None else 1
    if not 1 <= count <= MAX_STYLES:
        raise AppError(f"styles: choose 1 to {MAX_STYLES}, got {count}")
    return style_variants(model.translator, direction, count, int(seed or 0))


def _captions(variants: Sequence[Variant], seed: int | float | None) -> list[str]:
    if len(variants) == 1 and not variants[0].tag:
        return ["output"]
    return [f"style {k} (seed {int(seed or 0)})" for k in range(len(variants))]


def _bits(path: Path) -> int:
    with Image.open(path) as image:
        return 16 if image.mode.startswith("I") else 8


def _image_source(path: str | Path | None, what: str = "image") -> Path:
    if path is None or str(path) == "":
        raise AppError(f"no {what}: upload, paste or drop one first")
    source = Path(path)
    kind = kind_of(source)
    if kind != "image":
        extra = "; volumes go in the Medical tab" if kind is not None else ""
        raise AppError(f"{source.name}: not an image file (PNG, JPEG, BMP, TIFF or WebP){extra}")
    return source


def _size(path: Path) -> tuple[int, int]:
    from ..data.images import image_size

    return image_size(path)


def translate_image(
    model: AppModel,
    image: str | Path | None,
    direction: str,
    folder: Path,
    styles: int | float | None = None,
    seed: int | float | None = None,
    style_image: str | Path | None = None,
) -> ImageResult:
    """Translate one uploaded image into ``folder`` (a fresh request folder).

    Raises:
        AppError: no image, not an image file, bad style options.
        UnpairedError: the image cannot be read (too many pixels, damaged) or translated,
            the direction is not one the model holds (one line each).
    """
    source = _image_source(image)
    model.translator.channels(direction)  # a direction the folder lacks: one line
    variants = _variants(model, direction, styles, seed, style_image)
    job = Job(source, folder / "out" / f"{source_stem(source)}.png")
    size = _size(source)
    start = time.perf_counter()
    report = translate_files(model.translator, [job], direction, progress=False, variants=variants)
    seconds = time.perf_counter() - start
    if report.failed:
        raise AppError(report.failed[0][1])
    outputs = [tagged(job.output, v.tag) for v in variants]
    return ImageResult(outputs, _captions(variants, seed), size, _bits(outputs[0]), seconds)


def _unique_outputs(sources: Sequence[Path], folder: Path) -> list[Path]:
    """``folder/<name>.png`` per source, numbered when two sources share a name."""
    taken: set[str] = set()
    outputs = []
    for source in sources:
        stem, n = source_stem(source), 1
        name = stem
        while name in taken:
            n += 1
            name = f"{stem}_{n}"
        taken.add(name)
        outputs.append(folder / f"{name}.png")
    return outputs


def _zip(files: Sequence[Path], target: Path) -> Path:
    """A zip of ``files`` (by name; a folder with its files) at ``target``, atomically."""

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                if path.is_dir():
                    for inner in sorted(path.rglob("*")):
                        if inner.is_file():
                            archive.write(inner, inner.relative_to(path.parent).as_posix())
                else:
                    archive.write(path, path.name)

    return atomic_write(target, write)


def translate_batch(
    model: AppModel,
    files: Sequence[str | Path] | None,
    direction: str,
    folder: Path,
    styles: int | float | None = None,
    seed: int | float | None = None,
    style_image: str | Path | None = None,
) -> BatchResult:
    """Translate several uploaded images into ``folder``; a file that cannot be translated
    is listed in ``failed`` and the others are still translated.

    Raises:
        AppError: no files, or not one of them could be translated (the first reason).
    """
    paths = [Path(f) for f in files or []]
    if not paths:
        raise AppError("no images: upload one or more first")
    model.translator.channels(direction)
    variants = _variants(model, direction, styles, seed, style_image)
    failed: list[tuple[str, str]] = []
    sources = []
    for path in paths:
        try:
            sources.append(_image_source(path))
        except AppError as exc:
            failed.append((path.name, str(exc)))
    jobs = [
        Job(s, out)
        for s, out in zip(sources, _unique_outputs(sources, folder / "out"), strict=True)
    ]
    start = time.perf_counter()
    report = translate_files(model.translator, jobs, direction, progress=False, variants=variants)
    seconds = time.perf_counter() - start
    failed += [(Path(s).name, reason) for s, reason in report.failed]
    written = set(report.written)
    captions = _captions(variants, seed)
    outputs, labels = [], []
    for job in jobs:
        for variant, caption in zip(variants, captions, strict=True):
            out = tagged(job.output, variant.tag)
            if out in written:
                outputs.append(out)
                labels.append(out.name if len(variants) == 1 else f"{out.name}: {caption}")
    if not outputs:
        raise AppError(failed[0][1] if failed else "nothing was translated")
    archive = _zip(outputs, folder / "translated.zip")
    return BatchResult(outputs, labels, failed, archive, seconds)


def _extract_dicom_zip(archive: Path, into: Path, max_bytes: int) -> Path:
    """The ``.dcm`` files of a zip, flattened into ``into`` (names are never used as paths:
    each file gets its index and base name), after checking the sizes its headers give."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [
                info
                for info in zf.infolist()
                if not info.is_dir()
                and full_suffix(info.filename) == ".dcm"
                and not any(p.startswith((".", "__MACOSX")) for p in info.filename.split("/"))
            ]
            if not members:
                raise AppError(f"{archive.name}: holds no .dcm files; {_VOLUME_HINT}")
            if len(members) > MAX_ZIP_FILES:
                raise AppError(
                    f"{archive.name}: holds {len(members)} .dcm files, more than the limit "
                    f"of {MAX_ZIP_FILES}"
                )
            total = sum(info.file_size for info in members)
            if total > max_bytes:
                raise AppError(
                    f"{archive.name}: unzips to {total / 2**20:.0f} MB, more than the limit of "
                    f"{max_bytes / 2**20:.0f} MB ({UNZIP_FACTOR} times the upload limit)"
                )
            into.mkdir(parents=True)
            for k, info in enumerate(members):
                name = f"{k:05d}_{info.filename.rsplit('/', 1)[-1]}"
                # ZipExtFile reads at most the header's file_size: a lying header cannot
                # unpack more than was checked above.
                with zf.open(info) as src, open(into / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise AppError(f"{archive.name}: not a readable zip file ({reason})") from None
    return into


def medical_source(files: Sequence[str | Path] | None, folder: Path, max_unzipped: int) -> Path:
    """The volume an upload holds: a NIfTI or ``.npy`` file as it is, ``.dcm`` files (or a zip
    of them, unpacking to at most ``max_unzipped`` bytes) gathered into one series folder
    under ``folder``.

    Raises:
        AppError: nothing uploaded, files that are no volume, a bad or too large zip.
    """
    paths = [Path(f) for f in files or []]
    if not paths:
        raise AppError(f"no volume: {_VOLUME_HINT}")
    kinds = [kind_of(p) if full_suffix(p) != ".zip" else "zip" for p in paths]
    if len(paths) == 1 and kinds[0] in ("nifti", "npy"):
        return paths[0]
    if len(paths) == 1 and kinds[0] == "zip":
        return _extract_dicom_zip(paths[0], folder / "in" / source_stem(paths[0]), max_unzipped)
    odd = [p.name for p, k in zip(paths, kinds, strict=True) if k != "dicom"]
    if odd and len(paths) > 1:
        raise AppError(f"{len(paths)} files: one volume at a time; {_VOLUME_HINT}")
    if odd:
        raise AppError(f"{odd[0]}: not a volume; {_VOLUME_HINT}")
    series = folder / "in" / "series"
    series.mkdir(parents=True)
    for k, path in enumerate(paths):
        shutil.copyfile(path, series / f"{k:05d}_{path.name}")
    return series


def translate_volume(
    model: AppModel,
    files: Sequence[str | Path] | None,
    direction: str,
    folder: Path,
    max_unzipped: int,
    seed: int | float | None = None,
    style_image: str | Path | None = None,
) -> VolumeResult:
    """Translate an uploaded volume (see :func:`medical_source`) into ``folder``, written in
    its own format with its headers (NIfTI, DICOM series, ``.npy``); a model with a style
    uses one style (from ``seed``, or the reference image).

    Raises:
        AppError, UnpairedError: a bad upload, a volume that cannot be read or written.
    """
    model.translator.channels(direction)
    source = medical_source(files, folder, max_unzipped)
    variants = _variants(model, direction, 1, seed, style_image)
    suffix = "" if source.is_dir() else full_suffix(source)
    output = folder / "out" / f"{source_stem(source)}_{direction}{suffix}"
    start = time.perf_counter()
    report = translate_files(
        model.translator, [Job(source, output)], direction, progress=False, variants=variants
    )
    seconds = time.perf_counter() - start
    if report.failed:
        raise AppError(report.failed[0][1])
    written = tagged(output, variants[0].tag)
    download = _zip([written], folder / f"{written.name}.zip") if written.is_dir() else written
    window_in, window_out, axis = direction_windows(model.translator.config, direction)
    info = probe(source)
    array_axis = resolve_axis(axis, info)
    slices = 1 if array_axis == -1 else info.shape[array_axis]
    return VolumeResult(
        source, written, download, array_axis, slices, window_in, window_out, info.shape, seconds
    )


def display_windows(
    choice: str, lo: float | None, hi: float | None, result: VolumeResult
) -> tuple[Window, Window]:
    """The windows the viewer shows the input and output slices through: ``"model"`` (the
    model's windows of the direction, else each volume's own range), a preset name (both),
    or ``"custom"`` (``[lo, hi]``, both).

    Raises:
        AppError: an unknown choice or a custom window without lo < hi.
    """
    if choice == "model":
        window_in = result.window_in or Window(*volume_range(result.source))
        window_out = result.window_out or Window(*volume_range(result.output))
        return window_in, window_out
    if choice in PRESETS:
        window = Window(*PRESETS[choice])
        return window, window
    if choice == "custom":
        try:
            window = Window(float(lo), float(hi))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise AppError(f"custom window: needs lo < hi, got [{lo}, {hi}]") from None
        return window, window
    raise AppError(f"window {choice!r}: choose one of {', '.join(DISPLAY_WINDOWS)}")


def slice_image(path: Path, axis: int, index: int, window: Window) -> np.ndarray:
    """Slice ``index`` along array ``axis`` of a volume through ``window``: ``(H, W)`` uint8
    (``lo`` black, ``hi`` white)."""
    values = read_slice(path, axis, index)
    return np.rint(window.to_unit(values) * 255.0).astype(np.uint8)
