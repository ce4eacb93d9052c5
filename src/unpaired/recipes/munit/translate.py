"""MUNIT at translation time: one direction as a two-input network, the style input, samples.

A -> B is x_{1->2} = G_2(E^c_1(x), s_2), with s_2 drawn from N(0, I), given, or E^s_2 of a
reference image of domain B (B -> A likewise). Images of any size are reflect-padded to what
the generators need (multiples of 2**n_downsample, at least ``min_size``) and cropped back;
large images are tiled with one style for the whole image, so the tiles agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from ...data.convert import to_unit_tensor
from ...data.transforms import from_unit, pad_to_multiple
from ...models.munit import MUNIT, MUNITGenerator
from ..base import ExtraInput, check_direction
from ..samples import evaluating, write_grid

__all__ = ["SAMPLE_STYLES", "MUNITTranslation", "StyleInput", "fixed_styles", "munit_samples"]

#: Styles per fixed image in the training sample grid.
SAMPLE_STYLES = 4

#: What ``style=`` accepts: None (random), a style tensor, or a reference image.
StyleLike = None | Tensor | Image.Image | np.ndarray


class MUNITTranslation(nn.Module):
    """One direction as a network of two inputs: (image, style) -> G_target(E^c_source(image), s).

    ``forward(image (N, C_in, H, W) in [-1, 1], style (N, style_dim, 1, 1))`` -> (N, C_out,
    H, W) in [-1, 1]; H and W multiples of ``multiple`` and at least ``minimum``. This is what
    ``unpaired export`` writes for MUNIT models.
    """

    def __init__(self, source: MUNITGenerator, target: MUNITGenerator) -> None:
        super().__init__()
        self.source, self.target = source, target
        self.multiple = max(source.size_multiple, target.size_multiple)
        self.minimum = max(source.min_size, target.min_size)

    def forward(self, image: Tensor, style: Tensor) -> Tensor:
        """(N, C_in, H, W), (N, style_dim, 1, 1) -> (N, C_out, H, W), all in [-1, 1]."""
        return self.target.decode(self.source.enc_content(image), style)


def generators(model: MUNIT, direction: str) -> tuple[MUNITGenerator, MUNITGenerator]:
    """(source, target) generators of a direction."""
    a, b = model.gen_a, model.gen_b
    return (a, b) if check_direction(direction)[0] == "a" else (b, a)


class StyleInput(ExtraInput):
    """The style s of the target domain: ``(N, style_dim, 1, 1)``.

    A user's ``style`` may be None (random s ~ N(0, I) from the translator's own seeded
    generator; the global torch RNG is never used), a tensor of ``style_dim`` values per image
    ((style_dim,), (style_dim, 1, 1), (1 or n, style_dim[, 1, 1])), or a reference image of
    the target domain (PIL, NumPy, or a (C, H, W) / (M, C, H, W) tensor in [-1, 1], M 1 or n)
    whose style E^s_target gives.
    """

    def __init__(self, model: MUNIT, seed: int = 0) -> None:
        self.model, self.style_dim = model, model.style_dim
        self.shape = (model.style_dim, 1, 1)
        self.rng = torch.Generator().manual_seed(seed)

    def random(self, count: int, seed: int | None = None) -> Tensor:
        """``count`` styles (count, style_dim, 1, 1) on the CPU, from ``seed`` or the input's
        own generator."""
        rng = torch.Generator().manual_seed(seed) if seed is not None else self.rng
        return torch.randn(count, self.style_dim, 1, 1, generator=rng)

    def style_of(self, reference: Tensor, direction: str, device: torch.device) -> Tensor:
        """E^s_target of reference images of the target domain: (M, C_out, H, W) in [-1, 1]
        -> (M, style_dim, 1, 1) on ``device``."""
        target = generators(self.model, direction)[1]
        if reference.dim() != 4 or reference.shape[1] != target.in_channels:
            raise ValueError(
                "style: a reference image of the target domain must be "
                f"(M, {target.in_channels}, H, W), got {tuple(reference.shape)}"
            )
        x = pad_to_multiple(reference.to(device, torch.float32), 1, target.min_size)
        with torch.inference_mode():
            return target.enc_style(x)

    def resolve(self, value: Any, n: int, direction: str, device: torch.device) -> Tensor:
        if value is None:
            codes = self.random(n)
        elif (
            isinstance(value, Tensor)
            and value.numel() % self.style_dim == 0
            and (value.dim() <= 2 or value.shape[-2:] == (1, 1))
        ):
            codes = value.detach().float().reshape(-1, self.style_dim, 1, 1)
        else:
            c_out = generators(self.model, direction)[1].in_channels
            if isinstance(value, Tensor):
                image = value if value.dim() == 4 else value[None]
            else:
                image = from_unit(to_unit_tensor(value, c_out)[0])
            codes = self.style_of(image, direction, device)
        if codes.shape[0] not in (1, n):
            raise ValueError(
                f"style: {codes.shape[0]} styles for {n} images; give 1 or {n}, each of "
                f"{self.style_dim} values ((N, {self.style_dim}, 1, 1)) or a reference image"
            )
        return codes.to(device).expand(n, -1, -1, -1)


def fixed_styles(count: int, style_dim: int, seed: int) -> Tensor:
    """``count`` styles s ~ N(0, I) of shape (count, style_dim, 1, 1) from their own seeded
    generator, so drawing them never moves the training RNG."""
    return torch.randn(count, style_dim, 1, 1, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def munit_samples(
    model: MUNIT,
    images_a: Tensor | list[Tensor],
    images_b: Tensor | list[Tensor],
    styles: int = SAMPLE_STYLES,
    seed: int = 0,
) -> list[list[Tensor]]:
    """One row per sample: [real_A, G_2(c_1, s_2^k) for k < styles, real_B, G_1(c_2, s_1^k)...].

    The same ``styles`` fixed styles (:func:`fixed_styles`) are used for every row and call.
    """
    device = next(model.gen_a.parameters()).device
    s_b = fixed_styles(styles, model.style_dim, seed).to(device)
    s_a = fixed_styles(styles, model.style_dim, seed + 1).to(device)
    rows = []
    with evaluating(model):
        for real_a, real_b in zip(images_a, images_b, strict=False):
            real_a = real_a.unsqueeze(0).to(device)
            real_b = real_b.unsqueeze(0).to(device)
            c_a = model.gen_a.encode_content(real_a).expand(styles, -1, -1, -1)
            c_b = model.gen_b.encode_content(real_b).expand(styles, -1, -1, -1)
            ab, ba = model.gen_b.decode(c_a, s_b), model.gen_a.decode(c_b, s_a)
            rows.append([real_a[0], *ab, real_b[0], *ba])
    return rows


def write_samples(path: Path, model: MUNIT, images_a: Any, images_b: Any, seed: int = 0) -> Path:
    """Save the MUNIT grid (:func:`munit_samples`) as a PNG at ``path``."""
    rows = munit_samples(model, images_a, images_b, SAMPLE_STYLES, seed)
    return write_grid(path, rows, group=SAMPLE_STYLES + 1)
