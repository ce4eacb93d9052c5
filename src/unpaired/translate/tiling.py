"""Run a fully convolutional generator on images of any size: padding and overlapping tiles.

Generators need ``H`` and ``W`` to be multiples of some ``m`` (4 for the ResNet generators,
``2**num_downs`` for the U-Nets). :func:`pad_to_multiple` reflect-pads an image up to the next
multiple (and to a minimum size), the network runs, and the result is cropped back, so every
input pixel has exactly one output pixel.

Large images go through :func:`translate_tiled`: overlapping ``tile x tile`` windows, each
translated on its own, blended with a raised-cosine ramp over the overlap and normalized by the
summed weights. Memory is bounded by the tile size, not the image size.

Instance normalization (the CycleGAN default) normalizes every tile with that tile's own mean
and variance instead of the whole image's. On large tiles of natural images those statistics
are close to the global ones, and the blending hides the remaining differences at the seams;
on small tiles, or on images whose content changes a lot across the frame (sky above, grass
below), tiles can differ in tone. That is why the default tile is large (1024).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..data.transforms import pad_to_multiple

__all__ = ["pad_to_multiple", "tile_starts", "blend_window", "translate_padded", "translate_tiled"]

#: ``(N, C_in, H, W)`` in [-1, 1] -> ``(N, C_out, H, W)`` in [-1, 1], H and W valid sizes.
Network = Callable[[torch.Tensor], torch.Tensor]


def translate_padded(
    net: Network, x: torch.Tensor, multiple: int, minimum: int = 0
) -> torch.Tensor:
    """``net`` on ``(N, C, H, W)`` of any H, W: pad (see :func:`pad_to_multiple`), run, crop.

    Returns ``(N, C_out, H, W)``.
    """
    height, width = x.shape[-2:]
    y = net(pad_to_multiple(x, multiple, minimum))
    return y[..., :height, :width]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)`` with at least
    ``overlap`` pixels shared by neighbours; the last tile ends exactly at ``length``.

    Offsets step by ``tile - overlap``, so when ``length``, ``tile`` and ``overlap`` are
    multiples of ``m``, so are all offsets (the network sees the same pixel grid phase as on
    the whole image). ``tile >= length`` gives ``[0]``.
    """
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    if tile >= length:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _ramp(n: int, overlap: int, ramp_start: bool, ramp_end: bool) -> torch.Tensor:
    """1-D weights of length ``n`` for one tile side by side with others.

    Along an edge shared with another tile: weight 0 over the outer quarter of the overlap
    (where the tile's own border padding disturbs the result most), then a raised-cosine rise
    over the middle half, then 1. Two neighbours overlapping by exactly ``overlap`` get
    weights that sum to 1 everywhere; the image's own borders keep full weight.
    """
    weights = torch.ones(n, dtype=torch.float64)
    margin = overlap // 4
    ramp_len = overlap - 2 * margin
    if ramp_len > 0 and overlap <= n:
        phase = (torch.arange(ramp_len, dtype=torch.float64) + 0.5) / ramp_len
        rise = torch.cat(
            [torch.zeros(margin, dtype=torch.float64), 0.5 - 0.5 * torch.cos(math.pi * phase)]
        )
        rise = torch.cat([rise, torch.ones(margin, dtype=torch.float64)])
        if ramp_start:
            weights[:overlap] = torch.minimum(weights[:overlap], rise)
        if ramp_end:
            weights[n - overlap :] = torch.minimum(weights[n - overlap :], rise.flip(0))
    return weights


def blend_window(
    height: int, width: int, overlap: int, sides: tuple[bool, bool, bool, bool]
) -> torch.Tensor:
    """Weights ``(height, width)`` in [0, 1] for one tile: the outer product of two ramps.

    ``sides`` says which edges (top, bottom, left, right) border a neighbouring tile; only
    those fade out, so the image's own borders keep full weight.
    """
    top, bottom, left, right = sides
    rows = _ramp(height, overlap, top, bottom)
    cols = _ramp(width, overlap, left, right)
    return (rows[:, None] * cols[None, :]).float()


def translate_tiled(
    net: Network,
    x: torch.Tensor,
    out_channels: int,
    multiple: int,
    tile: int,
    overlap: int,
    batch_size: int = 1,
    minimum: int = 0,
) -> torch.Tensor:
    """``net`` on one large image ``(1, C, H, W)`` (any H, W), tile by tile.

    The image is padded to a multiple of ``multiple`` (see :func:`pad_to_multiple`); ``tile``
    is rounded down and ``overlap`` up to multiples of ``multiple`` (``2 * overlap <= tile``,
    so that every pixel gets a positive total weight); up to ``batch_size``
    tiles run together. Tile outputs are weighted by :func:`blend_window` and the sum divided
    by the summed weights, on ``x``'s device. Returns ``(1, out_channels, H, W)`` in [-1, 1].
    """
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"translate_tiled expects one image (1, C, H, W), got {tuple(x.shape)}")
    height, width = x.shape[-2:]
    tile = max(multiple, tile // multiple * multiple, minimum)
    overlap = math.ceil(overlap / multiple) * multiple
    if 2 * overlap > tile:
        raise ValueError(f"overlap ({overlap}) must be at most half the tile ({tile})")
    padded = pad_to_multiple(x, multiple, minimum)
    full_h, full_w = padded.shape[-2:]
    tile_h, tile_w = min(tile, full_h), min(tile, full_w)
    ys, xs = tile_starts(full_h, tile_h, overlap), tile_starts(full_w, tile_w, overlap)
    boxes = [(top, left) for top in ys for left in xs]

    out = torch.zeros(1, out_channels, full_h, full_w, device=x.device)
    total = torch.zeros(1, 1, full_h, full_w, device=x.device)
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i : i + batch_size]
        batch = torch.cat([padded[..., t : t + tile_h, s : s + tile_w] for t, s in chunk])
        result = net(batch)
        for (t, s), y in zip(chunk, result, strict=True):
            sides = (t > 0, t + tile_h < full_h, s > 0, s + tile_w < full_w)
            weight = blend_window(tile_h, tile_w, overlap, sides).to(x.device)
            out[..., t : t + tile_h, s : s + tile_w] += y.float() * weight
            total[..., t : t + tile_h, s : s + tile_w] += weight
    return (out / total)[..., :height, :width].to(x.dtype)
