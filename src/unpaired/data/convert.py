"""PIL images, NumPy arrays and torch tensors in and out of the :class:`~unpaired.Translator`.

:func:`to_unit_tensor` turns any supported image into a float batch ``(N, C, H, W)`` in
[0, 1] with the channel count the model wants, plus a function that turns the translated
batch back into the caller's kind of object (same type, dtype, rank). One converter is
registered per input type (:func:`functools.singledispatch`), no if/elif on types.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import singledispatch
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = ["ImageLike", "Restore", "match_channels", "to_unit_tensor"]

ImageLike = Image.Image | np.ndarray | torch.Tensor
#: ``(N, C_out, H, W)`` in [0, 1] -> the caller's kind of object.
Restore = Callable[[torch.Tensor], Any]

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as read_image and Pillow use
_INT_SCALES: dict[np.dtype, float] = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I;16S", "I;16BS", "I"})
_GRAY_MODES = frozenset({"1", "L", "LA", "La"})


def _scale(dtype: np.dtype) -> float:
    """Full-scale value of an integer dtype (1 for floats)."""
    return _INT_SCALES.get(np.dtype(dtype), 1.0)


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """``(..., C, H, W)`` in [0, 1] with C in 1-4 -> ``(..., channels, H, W)``.

    An alpha channel (C = 2 or 4) is composited onto white; then gray is repeated to 3
    channels or color turned into luma, as :func:`unpaired.data.images.read_image` does.
    """
    c = x.shape[-3]
    if c not in (1, 2, 3, 4):
        raise ValueError(f"images need 1 to 4 channels, got {c}")
    if c in (2, 4):
        alpha = x[..., -1:, :, :]
        x = x[..., :-1, :, :] * alpha + (1.0 - alpha)
        c -= 1
    if c == channels:
        return x
    if channels == 1:
        r, g, b = _LUMA
        return r * x[..., 0:1, :, :] + g * x[..., 1:2, :, :] + b * x[..., 2:3, :, :]
    return x.expand(*x.shape[:-3], 3, *x.shape[-2:]).contiguous()


@singledispatch
def to_unit_tensor(image: Any, channels: int) -> tuple[torch.Tensor, Restore]:
    """``image`` -> (batch ``(N, channels, H, W)`` float32 in [0, 1], restore function)."""
    raise TypeError(
        f"cannot translate a {type(image).__name__}; pass a PIL image, a NumPy array or a "
        "torch tensor"
    )


@to_unit_tensor.register
def _(image: np.ndarray, channels: int) -> tuple[torch.Tensor, Restore]:
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an (H, W) or (H, W, C) array with C <= 4, got {image.shape}")
    dtype = image.dtype
    if dtype in _INT_SCALES:
        values = image.astype(np.float32) / np.float32(_INT_SCALES[dtype])
    elif np.issubdtype(dtype, np.floating):
        values = np.clip(np.nan_to_num(image.astype(np.float32)), 0.0, 1.0)
    else:
        raise ValueError(f"unsupported array dtype {dtype}; use uint8, uint16 or float in [0, 1]")
    hwc = values if values.ndim == 3 else values[:, :, None]
    x = torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1)))[None]
    flat = image.ndim == 2

    def restore(y: torch.Tensor) -> np.ndarray:
        out = y[0].detach().cpu().permute(1, 2, 0).numpy()
        if flat and out.shape[2] == 1:
            out = out[:, :, 0]
        if dtype in _INT_SCALES:
            return np.round(np.clip(out, 0.0, 1.0) * _INT_SCALES[dtype]).astype(dtype)
        return out.astype(dtype)

    return match_channels(x, channels), restore


@to_unit_tensor.register
def _(image: Image.Image, channels: int) -> tuple[torch.Tensor, Restore]:
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        array: np.ndarray = np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
    elif mode == "F":
        array = np.asarray(image, dtype=np.float32)
    else:
        gray = mode in _GRAY_MODES
        alpha = image.has_transparency_data
        target = ("LA" if alpha else "L") if gray else ("RGBA" if alpha else "RGB")
        array = np.asarray(image if mode == target else image.convert(target))
    x, restore_array = to_unit_tensor(array, channels)

    def restore(y: torch.Tensor) -> Image.Image:
        out = restore_array(y)
        if out.ndim == 3 and out.shape[2] == 1:
            out = out[:, :, 0]
        if out.ndim == 3 and out.dtype != np.uint8:  # Pillow has no 16-bit / float RGB
            out = np.round(np.clip(out / _scale(out.dtype), 0.0, 1.0) * 255.0).astype(np.uint8)
        return Image.fromarray(out)

    return x, restore


@to_unit_tensor.register
def _(image: torch.Tensor, channels: int) -> tuple[torch.Tensor, Restore]:
    if image.dim() not in (3, 4) or image.shape[-3] != channels:
        raise ValueError(
            f"expected a ({channels}, H, W) or (N, {channels}, H, W) tensor in [-1, 1], "
            f"got shape {tuple(image.shape)}"
        )
    if not image.is_floating_point():
        raise ValueError(f"expected a float tensor in [-1, 1], got dtype {image.dtype}")
    batched = image.dim() == 4
    device = image.device
    x = ((image.detach().float() + 1.0) * 0.5).clamp(0.0, 1.0)

    def restore(y: torch.Tensor) -> torch.Tensor:
        out = (y * 2.0 - 1.0).to(device)
        return out if batched else out[0]

    return (x if batched else x[None]), restore
