"""2.5D inputs: each slice of a volume with its K neighbours on each side, as channels.

A model trained with ``context_slices`` K (``data.context_slices``, ``--context-slices``) sees
*stacks*: for slice k of a volume of n slices along the slicing axis, the 2K+1 slices
``k-K, ..., k+K``, indices clipped to ``[0, n-1]`` (at the edges the first or last slice is
replicated). Each slice keeps its C channels (1 for CT, 3 for an RGB model) and the slices
follow each other: channel ``j * C + c`` of a stack is channel c of slice ``k - K + j``, so
the centre slice is channels ``K * C .. K * C + C - 1``.

Both sides of the networks work on stacks (G: X -> Y maps a stack of A to a stack of B, F:
Y -> X back; the cycle and the discriminators see stacks), so every model family trains
unchanged with ``(2K+1) * C`` channels. Translation keeps the centre slice of the output
(:func:`centre`). A 2-D image given to a 2.5D model is replicated into a stack
(:func:`replicate`): the model then sees a volume without change along the slice axis.

K = 0 is the plain 2-D model: every function here is then the identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "CONTEXT_KEY",
    "centre",
    "context_call",
    "context_of",
    "network_info",
    "replicate",
    "stack_channels",
    "stack_indices",
    "unit_stacks",
]

#: The ``config.json`` key of a model folder that records K (absent: 0, a 2-D model).
CONTEXT_KEY = "context_slices"


def stack_channels(channels: int, context: int) -> int:
    """Channels of a stack: ``(2 * context + 1) * channels``."""
    return (2 * context + 1) * channels


def stack_indices(count: int, context: int) -> np.ndarray:
    """``(count, 2 * context + 1)`` int64: row k holds the slice indices of slice k's stack,
    ``k - context .. k + context`` clipped to ``[0, count - 1]`` (edges replicate)."""
    if count < 1 or context < 0:
        raise ValueError(f"stack_indices: need count >= 1 and context >= 0, got {count}, {context}")
    offsets = np.arange(-context, context + 1)
    return np.clip(np.arange(count)[:, None] + offsets[None, :], 0, count - 1)


def unit_stacks(units: np.ndarray, indices: np.ndarray, channels: int) -> Tensor:
    """Stacks of slices already in [0, 1]: ``units`` ``(n, H, W)``, ``indices`` rows of
    :func:`stack_indices` ``(b, 2K+1)`` -> float32 ``(b, (2K+1) * channels, H, W)``, each
    slice repeated to ``channels`` in place (slice-major, as in the module docstring)."""
    x = torch.from_numpy(np.ascontiguousarray(units[indices], dtype=np.float32))
    return x.repeat_interleave(channels, dim=1) if channels > 1 else x


def replicate(x: Tensor, context: int) -> Tensor:
    """A 2-D image as a stack of itself: ``(..., C, H, W)`` -> ``(..., (2K+1) * C, H, W)``."""
    if context == 0:
        return x
    return torch.cat([x] * (2 * context + 1), dim=-3)


def centre(x: Tensor, context: int) -> Tensor:
    """The centre slice of stacks: ``(..., (2K+1) * C, H, W)`` -> ``(..., C, H, W)``."""
    if context == 0:
        return x
    width = 2 * context + 1
    if x.shape[-3] % width:
        raise ValueError(
            f"a stack of {width} slices needs a multiple of {width} channels, got {tuple(x.shape)}"
        )
    channels = x.shape[-3] // width
    return x[..., context * channels : (context + 1) * channels, :, :]


def context_call(fn: Callable[..., Tensor], context: int, channels: int) -> Callable[..., Tensor]:
    """A network on stacks as a function of images or stacks: ``fn(x, *extras)`` with ``x``
    ``(N, channels, H, W)`` (replicated into a stack) or ``(N, (2K+1) * channels, H, W)``;
    returns the centre slice of ``fn``'s output stack. ``fn`` itself when K is 0."""
    if context == 0:
        return fn

    def call(x: Tensor, *extras: Tensor) -> Tensor:
        if x.shape[-3] == channels:
            x = replicate(x, context)
        return centre(fn(x, *extras), context)

    return call


def context_of(info: Mapping[str, Any]) -> int:
    """K of a model folder's ``config.json`` (``"context_slices"``; absent or null: 0).

    Raises:
        ValueError: not a whole number of 0 or more (the message names the key).
    """
    value = info.get(CONTEXT_KEY)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{CONTEXT_KEY} {value!r}: must be a whole number, 0 or more")
    return value


def network_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """``info`` with the channels the networks have: ``channels_a`` / ``channels_b`` (the
    channels of one slice, as ``config.json`` records them) times ``2K+1``."""
    context = context_of(info)
    out = dict(info)
    if context:
        for key in ("channels_a", "channels_b"):
            if key in out:
                out[key] = stack_channels(int(out[key]), context)
    return out
