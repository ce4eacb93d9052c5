"""Sample grids for fixed images.

CycleGAN: real_A | fake_B | rec_A and real_B | fake_A | rec_B. MUNIT: real_A | A->B in
``MUNIT_STYLES`` fixed random styles, then real_B | B->A in as many styles.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor, nn

from ..data.images import write_image
from ..data.transforms import to_unit
from ..models.cyclegan import CycleGAN
from ..models.munit import MUNIT

MUNIT_STYLES = 4


def make_grid(rows: list[list[Tensor]], pad: int = 2, gap: int = 6, group: int = 3) -> Tensor:
    """Lay out images (C, H, W) in [-1, 1] row by row on a white canvas.

    1-channel images are shown as gray RGB; images may differ in size (each cell is as large as
    the largest image of its column). A wider ``gap`` separates every ``group`` columns, so the
    A -> B and B -> A groups read apart. Returns (3, H', W') in [0, 1].
    """
    ncols = max(len(r) for r in rows)
    heights = [max(img.shape[-2] for img in row) for row in rows]
    widths = [max(row[c].shape[-1] for row in rows if c < len(row)) for c in range(ncols)]
    seps = [pad if (c + 1) % group else gap for c in range(ncols)]
    canvas = torch.ones(3, sum(heights) + pad * (len(rows) + 1), sum(widths) + sum(seps) + pad)
    y = pad
    for row, h in zip(rows, heights, strict=True):
        x = pad
        for c, img in enumerate(row):
            img = to_unit(img.detach().float().cpu())
            if img.shape[0] == 1:
                img = img.expand(3, -1, -1)
            canvas[:, y : y + img.shape[-2], x : x + img.shape[-1]] = img
            x += widths[c] + seps[c]
        y += h + pad
    return canvas


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode inside, its previous mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def translate_samples(
    model: CycleGAN, images_a: Tensor | list[Tensor], images_b: Tensor | list[Tensor]
) -> list[list[Tensor]]:
    """One row per sample: [real_A, fake_B, rec_A, real_B, fake_A, rec_B] (each (C, H, W))."""
    device = next(model.g_ab.parameters()).device
    rows = []
    with _evaluating(model):
        for real_a, real_b in zip(images_a, images_b, strict=False):
            real_a = real_a.unsqueeze(0).to(device)
            real_b = real_b.unsqueeze(0).to(device)
            fake_b = model.g_ab(real_a)
            fake_a = model.g_ba(real_b)
            rec_a = model.g_ba(fake_b)
            rec_b = model.g_ab(fake_a)
            rows.append([t[0] for t in (real_a, fake_b, rec_a, real_b, fake_a, rec_b)])
    return rows


def write_samples(
    path: Path, model: CycleGAN, images_a: Tensor | list[Tensor], images_b: Tensor | list[Tensor]
) -> Path:
    """Translate the fixed images and save the grid as a PNG at ``path``."""
    write_image(make_grid(translate_samples(model, images_a, images_b)), path)
    return path


def fixed_styles(count: int, style_dim: int, seed: int) -> Tensor:
    """``count`` styles s ~ N(0, I) of shape (count, style_dim, 1, 1) from their own seeded
    generator, so drawing them never moves the training RNG."""
    return torch.randn(count, style_dim, 1, 1, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def munit_samples(
    model: MUNIT,
    images_a: Tensor | list[Tensor],
    images_b: Tensor | list[Tensor],
    styles: int = MUNIT_STYLES,
    seed: int = 0,
) -> list[list[Tensor]]:
    """One row per sample: [real_A, G_2(c_1, s_2^k) for k < styles, real_B, G_1(c_2, s_1^k)...].

    The same ``styles`` fixed styles (:func:`fixed_styles`) are used for every row and call.
    """
    device = next(model.gen_a.parameters()).device
    s_b = fixed_styles(styles, model.style_dim, seed).to(device)
    s_a = fixed_styles(styles, model.style_dim, seed + 1).to(device)
    rows = []
    with _evaluating(model):
        for real_a, real_b in zip(images_a, images_b, strict=False):
            real_a = real_a.unsqueeze(0).to(device)
            real_b = real_b.unsqueeze(0).to(device)
            c_a = model.gen_a.encode_content(real_a).expand(styles, -1, -1, -1)
            c_b = model.gen_b.encode_content(real_b).expand(styles, -1, -1, -1)
            ab, ba = model.gen_b.decode(c_a, s_b), model.gen_a.decode(c_b, s_a)
            rows.append([real_a[0], *ab, real_b[0], *ba])
    return rows


def write_munit_samples(
    path: Path,
    model: MUNIT,
    images_a: Tensor | list[Tensor],
    images_b: Tensor | list[Tensor],
    seed: int = 0,
) -> Path:
    """Save the MUNIT grid (:func:`munit_samples`) as a PNG at ``path``."""
    rows = munit_samples(model, images_a, images_b, MUNIT_STYLES, seed)
    write_image(make_grid(rows, group=MUNIT_STYLES + 1), path)
    return path
