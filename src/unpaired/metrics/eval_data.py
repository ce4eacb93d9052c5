"""The test images an evaluation runs on, loaded once and prepared alike for both domains.

Every image is read as the model reads it (:func:`unpaired.data.images.read_image`, with the
domain's channel count), resized with antialiased bicubic interpolation so that its shorter
side is ``size`` (by default the model's training crop), center-cropped to ``size x size``
and quantized to 8 bits, as a saved file would be. Folders of medical volumes (NIfTI, DICOM
series, ``.npy``) are read as 2-D slices through the domain's intensity window, as training
read them (:func:`unpaired.data.readers.medical_index`). The demo domains also bring their ground
truth (:mod:`unpaired.data.synthetic`): the true rendering of each test scene in the other
domain and the animal's mask, prepared the same way so that they stay pixel-aligned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..data.errors import DataError
from ..data.images import ImageReadError, list_images, read_image
from ..data.readers import SliceIndexLike, medical_index
from ..data.transforms import resize
from .errors import EvalError

__all__ = ["EvalData", "is_demo_root", "load_eval_data", "load_folder", "prepare", "quantize"]


def quantize(images: Tensor) -> Tensor:
    """Round ``[0, 1]`` values to the 256 levels of an 8-bit file (float32 in [0, 1])."""
    return (images.float().clamp(0, 1) * 255).round() / 255


def prepare(image: Tensor, size: int) -> Tensor:
    """``(C, H, W)`` in [0, 1] -> ``(C, size, size)``: shorter side to ``size``, center crop."""
    height, width = image.shape[-2:]
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    image = resize(image, new_h, new_w)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return image[:, top : top + size, left : left + size]


def load_slices(
    index: SliceIndexLike, folder: Path, channels: int, size: int
) -> tuple[Tensor, list[str]]:
    """Like :func:`load_folder` for medical inputs: the slices of ``index``, windowed;
    names are ``relative/path#slice``."""
    if len(index) < 2:
        raise EvalError(f"image folder {folder}: needs at least 2 slices, has {len(index)}")
    images = []
    try:
        for i in range(len(index)):
            images.append(quantize(prepare(index.read_tensor(i, channels), size)))
    except (DataError, ImageReadError, ValueError) as exc:
        raise EvalError(str(exc)) from None
    return torch.stack(images), [index.name(i) for i in range(len(index))]


def load_folder(
    folder: Path,
    channels: int,
    size: int,
    limit: int | None = None,
    window: object = None,
    axis: object = "axial",
) -> tuple[Tensor, list[str]]:
    """The first ``limit`` images of ``folder`` (sorted, recursive) as ``(N, channels, size,
    size)`` in [0, 1], quantized, and their paths relative to ``folder``.

    With a ``window`` (HU ``"lo,hi"``, a preset or ``[lo, hi]``), or when the folder holds
    medical volumes, the items are 2-D slices along ``axis`` (:func:`load_slices`)."""
    try:
        index = medical_index(folder, window, axis, limit)
    except (DataError, ImageReadError, ValueError) as exc:
        raise EvalError(str(exc)) from None
    if index is not None:
        return load_slices(index, folder, channels, size)
    try:
        paths = list_images(folder)
    except FileNotFoundError:
        raise EvalError(f"image folder {folder}: does not exist") from None
    if limit is not None:
        paths = paths[:limit]
    if len(paths) < 2:
        raise EvalError(f"image folder {folder}: needs at least 2 images, has {len(paths)}")
    images = []
    for path in paths:
        try:
            images.append(quantize(prepare(read_image(path, channels), size)))
        except ImageReadError as exc:
            raise EvalError(str(exc)) from None
    return torch.stack(images), [p.relative_to(folder).as_posix() for p in paths]


def is_demo_root(root: Path | None) -> bool:
    """Whether ``root`` holds the demo domains with their ground truth."""
    return root is not None and (root / "demo.json").is_file() and (root / "truth").is_dir()


@dataclass
class EvalData:
    """Prepared test images: ``a`` ``(N_a, C_a, S, S)``, ``b`` ``(N_b, C_b, S, S)`` in [0, 1].

    ``truth`` (demo only) maps a direction to ``(true renderings (N, C_out, S, S) in [0, 1],
    masks (N, 1, S, S) in [0, 1])`` of its source images.
    """

    a: Tensor
    b: Tensor
    names_a: list[str]
    names_b: list[str]
    size: int
    source: str
    truth: dict[str, tuple[Tensor, Tensor]] = field(default_factory=dict)

    def domain(self, letter: str) -> Tensor:
        return self.a if letter == "A" else self.b

    @property
    def is_demo(self) -> bool:
        return bool(self.truth)


def _load_truth(
    root: Path, letter: str, other_channels: int, size: int, names: list[str]
) -> tuple[Tensor, Tensor]:
    other = "B" if letter == "A" else "A"
    renderings, masks = [], []
    for name in names:
        truth_path = root / "truth" / f"test{letter}_as_{other}" / name
        mask_path = root / "truth" / f"masks_test{letter}" / name
        try:
            renderings.append(quantize(prepare(read_image(truth_path, other_channels), size)))
            masks.append(prepare(read_image(mask_path, 1), size))
        except (ImageReadError, FileNotFoundError) as exc:
            raise EvalError(f"demo ground truth in {root / 'truth'}: {exc}") from None
    return torch.stack(renderings), torch.stack(masks)


def load_eval_data(
    dir_a: Path,
    dir_b: Path,
    channels: tuple[int, int],
    size: int,
    limit: int | None = None,
    demo_root: Path | None = None,
    windows: tuple[object, object] = (None, None),
    axis: object = "axial",
) -> EvalData:
    """Load both domains; with ``demo_root`` (the demo's folder, ``dir_a`` being its testA/),
    also the ground truth of both directions. ``windows`` (A, B) and ``axis`` are the
    training data's medical options (``data.window_a``, ``data.window_b``, ``data.axis``)."""
    a, names_a = load_folder(Path(dir_a), channels[0], size, limit, windows[0], axis)
    b, names_b = load_folder(Path(dir_b), channels[1], size, limit, windows[1], axis)
    data = EvalData(a, b, names_a, names_b, size, f"{dir_a} | {dir_b}")
    if is_demo_root(demo_root):
        assert demo_root is not None
        data.source = str(demo_root)
        data.truth["a2b"] = _load_truth(demo_root, "A", channels[1], size, names_a)
        data.truth["b2a"] = _load_truth(demo_root, "B", channels[0], size, names_b)
    return data
