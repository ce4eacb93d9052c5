"""Training-time preprocessing: resize, crop, flip and value scaling.

Images are float tensors of shape ``(C, H, W)``. Inputs are in [0, 1] (as returned by
:func:`unpaired.data.images.read_image`); :class:`Preprocess` returns tensors in [-1, 1], the
range the generators work in.

The preprocessing modes follow the official pytorch-CycleGAN-and-pix2pix implementation
(``--preprocess``), but all randomness comes from an explicit :class:`random.Random` passed in
by the caller, so that a data loader can be made exactly reproducible and resumable.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "pad_to_multiple",
    "PREPROCESS_MODES",
    "Preprocess",
    "from_unit",
    "resize",
    "round_to_multiple",
    "to_unit",
]

PREPROCESS_MODES: tuple[str, ...] = (
    "resize_and_crop",
    "crop",
    "scale_width",
    "scale_width_and_crop",
    "none",
)
"""Accepted values of :attr:`Preprocess.mode` (the ``preprocess`` option)."""

_CROPPING_MODES = frozenset({"resize_and_crop", "crop", "scale_width_and_crop"})
_SIZE_MULTIPLE = 4


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Map values from [-1, 1] to [0, 1] (``(x + 1) / 2``), clamped; any shape."""
    return ((x + 1.0) * 0.5).clamp(0.0, 1.0)


def from_unit(x: torch.Tensor) -> torch.Tensor:
    """Map values from [0, 1] to [-1, 1] (``x * 2 - 1``); any shape, not clamped."""
    return x * 2.0 - 1.0


def round_to_multiple(n: int, m: int = _SIZE_MULTIPLE) -> int:
    """The multiple of ``m`` nearest to ``n``, and at least ``m``.

    Ties go to the even multiple (like Python's ``round(n / m) * m``, as the official
    implementation does), e.g. ``round_to_multiple(6) == 8`` and ``round_to_multiple(10) == 8``.
    """
    if m <= 0:
        raise ValueError(f"m must be positive, got {m}")
    quotient, remainder = divmod(int(n), m)
    if 2 * remainder > m or (2 * remainder == m and quotient % 2 == 1):
        quotient += 1
    return max(m, quotient * m)


def resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize with antialiased bicubic interpolation and clamp to [0, 1].

    Args:
        image: Float tensor ``(C, H, W)`` (or a batch ``(N, C, H, W)``), values in [0, 1].
        height: Output height, positive.
        width: Output width, positive.

    Returns:
        Tensor ``(C, height, width)`` (or ``(N, C, height, width)``) in [0, 1]. When the size
        already matches, ``image`` itself is returned unchanged.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"resize target must be positive, got {height}x{width}")
    if image.dim() not in (3, 4):
        raise ValueError(
            f"resize expects a (C, H, W) or (N, C, H, W) tensor, got {tuple(image.shape)}"
        )
    if image.shape[-2] == height and image.shape[-1] == width:
        return image
    batch = image if image.dim() == 4 else image.unsqueeze(0)
    out = F.interpolate(
        batch, size=(height, width), mode="bicubic", antialias=True, align_corners=False
    ).clamp_(0.0, 1.0)
    return out if image.dim() == 4 else out.squeeze(0)


def _scaled_height(height: int, width: int, target_width: int, min_height: int) -> int:
    """Height after scaling the width to ``target_width``, at least ``min_height``."""
    return max(round(target_width * height / width), min_height)


@dataclass(frozen=True)
class Preprocess:
    """Resize / crop / flip an image and map it to [-1, 1].

    Modes (``mode``, the ``preprocess`` option):

    * ``"resize_and_crop"``: resize to ``load_size x load_size``, then random crop
      ``crop_size x crop_size``.
    * ``"crop"``: random crop ``crop_size x crop_size`` from the image as is (the image must
      be at least that large, see :meth:`min_input_size`).
    * ``"scale_width"``: scale so the width is ``load_size`` and the height is
      ``max(round(load_size * h / w), crop_size)``, then round both sides to the nearest
      multiple of 4 (see :func:`round_to_multiple`).
    * ``"scale_width_and_crop"``: scale as in ``"scale_width"`` (without the rounding), then
      random crop ``crop_size x crop_size``.
    * ``"none"``: keep the size, only resized to the nearest multiple of 4 on each side.

    Then, if ``flip``, the image is mirrored left-right with probability 1/2, and finally
    mapped from [0, 1] to [-1, 1].

    Randomness comes only from the ``rng`` argument of :meth:`__call__`, drawn in this fixed
    order: for cropping modes, the crop's top offset ``rng.randint(0, H - crop_size)`` then
    its left offset ``rng.randint(0, W - crop_size)`` (always both, even when a range holds a
    single value); then, if ``flip`` is set, one ``rng.random()`` (``< 0.5`` means flip).
    The same ``rng`` state therefore always gives the same output.
    """

    mode: str = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True

    def __post_init__(self) -> None:
        if self.mode not in PREPROCESS_MODES:
            choices = ", ".join(PREPROCESS_MODES)
            raise ValueError(
                f"option preprocess: unknown mode {self.mode!r}; choose one of: {choices}"
            )
        for name, value in (("load_size", self.load_size), ("image_size", self.crop_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"option {name}: must be a positive integer, got {value!r}")
        if self.mode in ("resize_and_crop", "scale_width_and_crop") and (
            self.crop_size > self.load_size
        ):
            raise ValueError(
                f"option image_size: the crop ({self.crop_size}) is larger than load_size "
                f"({self.load_size}) with preprocess {self.mode!r}; "
                f"set load_size >= image_size"
            )

    def min_input_size(self) -> tuple[int, int] | None:
        """Smallest ``(height, width)`` an input must have, or None when any size works.

        Only ``"crop"`` has a minimum (``(crop_size, crop_size)``); the other modes resize
        before cropping.
        """
        if self.mode == "crop":
            return (self.crop_size, self.crop_size)
        return None

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """``(H, W)`` after the deterministic resize step (before any crop): what the decoded
        cache stores (:meth:`augment` does the rest)."""
        if self.mode == "resize_and_crop":
            return self.load_size, self.load_size
        if self.mode in ("scale_width", "scale_width_and_crop"):
            new_height = _scaled_height(height, width, self.load_size, self.crop_size)
            if self.mode == "scale_width":
                return round_to_multiple(new_height), round_to_multiple(self.load_size)
            return new_height, self.load_size
        if self.mode == "none":
            return round_to_multiple(height), round_to_multiple(width)
        return height, width  # "crop"

    def _check_input(self, height: int, width: int) -> None:
        if height <= 0 or width <= 0:
            raise ValueError(f"image size must be positive, got {height}x{width} (HxW)")
        minimum = self.min_input_size()
        if minimum is not None and (height < minimum[0] or width < minimum[1]):
            raise ValueError(
                f"image of {height}x{width} (HxW) is smaller than the {minimum[0]}x{minimum[1]} "
                f"crop required by preprocess {self.mode!r}"
            )

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """The ``(H', W')`` that :meth:`__call__` produces for an input of ``height x width``.

        Raises:
            ValueError: the input is too small for ``"crop"`` (see :meth:`min_input_size`).
        """
        self._check_input(height, width)
        if self.mode in _CROPPING_MODES:
            return self.crop_size, self.crop_size
        return self.resized_size(height, width)

    def __call__(self, image: torch.Tensor, rng: random.Random) -> torch.Tensor:
        """Preprocess one image.

        Args:
            image: Float tensor ``(C, H, W)`` with values in [0, 1].
            rng: Source of all randomness (crop offsets, then flip; see the class docs).

        Returns:
            Float tensor ``(C, H', W')`` in [-1, 1], with ``(H', W')`` given by
            :meth:`output_size`.

        Raises:
            ValueError: ``image`` is not a 3-D float tensor, or is too small for ``"crop"``.
        """
        if not isinstance(image, torch.Tensor) or image.dim() != 3:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(f"Preprocess expects a (C, H, W) tensor, got {shape}")
        if not image.is_floating_point():
            raise ValueError(f"Preprocess expects a float tensor in [0, 1], got {image.dtype}")
        height, width = image.shape[-2:]
        self._check_input(height, width)

        new_height, new_width = self.resized_size(height, width)
        return self.augment(resize(image, new_height, new_width), rng)

    def augment(self, image: torch.Tensor, rng: random.Random) -> torch.Tensor:
        """The random part of :meth:`__call__`: crop, flip, then map to [-1, 1].

        Args:
            image: ``(C, H, W)`` in [0, 1], already at :meth:`resized_size`.
            rng: as in :meth:`__call__`.

        Returns:
            ``(C, H', W')`` in [-1, 1].
        """
        if self.mode in _CROPPING_MODES:
            size = self.crop_size
            top = rng.randint(0, image.shape[-2] - size)
            left = rng.randint(0, image.shape[-1] - size)
            image = image[:, top : top + size, left : left + size]

        if self.flip and rng.random() < 0.5:
            image = image.flip(-1)

        return from_unit(image.clamp(0.0, 1.0))


def _padded_length(length: int, multiple: int, minimum: int) -> int:
    return max(math.ceil(length / multiple) * multiple, minimum)


def pad_to_multiple(x: torch.Tensor, multiple: int, minimum: int = 0) -> torch.Tensor:
    """Pad ``(N, C, H, W)`` on the bottom and right so that H and W are multiples of
    ``multiple`` and at least ``minimum``.

    Reflection padding (the image mirrored at its edge, which is what the generators' own
    padding does) is used when the image is large enough for it; replication otherwise (an
    image smaller than the padding, e.g. 3 pixels wide padded to 8). Returns ``x`` unchanged
    when no padding is needed.
    """
    height, width = x.shape[-2:]
    pad_h = _padded_length(height, multiple, minimum) - height
    pad_w = _padded_length(width, multiple, minimum) - width
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
