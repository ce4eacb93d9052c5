"""Sample grids: the layout every family's ``write_samples`` uses, and eval mode for drawing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import torch
from torch import Tensor, nn

from ..data.stacks import centre
from ..data.transforms import to_unit

# 2.5D runs (unpaired.data.stacks): the K of the stacks being drawn; each is shown by its
# centre slice. Set around a recipe's write_samples by the run (centre_slices).
_CONTEXT: ContextVar[int] = ContextVar("context_slices", default=0)


@contextmanager
def centre_slices(context: int) -> Iterator[None]:
    """Inside, grids show stacks of ``2 * context + 1`` slices by their centre slice."""
    token = _CONTEXT.set(context)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def make_grid(rows: list[list[Tensor]], pad: int = 2, gap: int = 6, group: int = 3) -> Tensor:
    """Lay out images (C, H, W) in [-1, 1] row by row on a white canvas.

    1-channel images are shown as gray RGB; images may differ in size (each cell is as large as
    the largest image of its column). A wider ``gap`` separates every ``group`` columns, so the
    A -> B and B -> A groups read apart. Returns (3, H', W') in [0, 1]. Inside
    :func:`centre_slices`, stacks of slices (2.5D) are shown by their centre slice.
    """
    context = _CONTEXT.get()
    ncols = max(len(r) for r in rows)
    heights = [max(img.shape[-2] for img in row) for row in rows]
    widths = [max(row[c].shape[-1] for row in rows if c < len(row)) for c in range(ncols)]
    seps = [pad if (c + 1) % group else gap for c in range(ncols)]
    canvas = torch.ones(3, sum(heights) + pad * (len(rows) + 1), sum(widths) + sum(seps) + pad)
    y = pad
    for row, h in zip(rows, heights, strict=True):
        x = pad
        for c, img in enumerate(row):
            img = to_unit(centre(img.detach().float().cpu(), context))
            if img.shape[0] == 1:
                img = img.expand(3, -1, -1)
            canvas[:, y : y + img.shape[-2], x : x + img.shape[-1]] = img
            x += widths[c] + seps[c]
        y += h + pad
    return canvas


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode inside, its previous mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def write_grid(path: Path, rows: list[list[Tensor]], group: int = 3) -> Path:
    """:func:`make_grid` of ``rows`` saved as a PNG at ``path`` (atomically)."""
    from ..data.images import write_image
    from ..fs import atomic_write

    grid = make_grid(rows, group=group)
    return atomic_write(path, lambda tmp: write_image(grid, tmp), sync=False)
