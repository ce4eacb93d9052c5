"""Outputs per input: one for most models; for a model with a style input (MUNIT), one per
style asked for (``--styles N [--seed S]``: ``NAME_style0.EXT`` ...) or the style of a
reference image (``--style-image IMG``: ``NAME.EXT``). Without a style option such a model
writes one random style from seed 0 (``NAME_style0.EXT``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data.images import ImageReadError, read_image
from ..data.transforms import from_unit
from ..errors import UnpairedError
from .translator import Translator

__all__ = ["PLAIN", "TranslateError", "Variant", "style_variants", "tagged"]

STYLE = "style"


class TranslateError(UnpairedError):
    """A translate option or path that cannot work; the message names it."""


@dataclass(frozen=True)
class Variant:
    """One output per input: ``tag`` goes before the output's extension, ``extras`` are the
    extra inputs (``(1, ...)`` tensors, the same for every image)."""

    tag: str = ""
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


#: The one output of a model without extra inputs.
PLAIN = (Variant(),)


def tagged(path: Path, tag: str) -> Path:
    """``path`` with ``tag`` before its whole extension (``a.nii.gz`` -> ``a_style0.nii.gz``;
    a DICOM series folder gets it at the end of its name)."""
    if not tag:
        return path
    from ..medical.sources import full_suffix

    suffix = full_suffix(path) if path.suffix else ""
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}{tag}{suffix}")


def style_variants(
    translator: Translator,
    direction: str,
    styles: int | None = None,
    seed: int | None = None,
    style_image: str | None = None,
) -> tuple[Variant, ...]:
    """The variants the style options ask for; a one-line :class:`TranslateError` for options
    the model or each other rule out (checked before anything is written)."""
    given = [
        name
        for name, value in (("--styles", styles), ("--seed", seed), ("--style-image", style_image))
        if value is not None
    ]
    style = translator.inputs.get(STYLE)
    if style is None:
        if given:
            raise TranslateError(
                f"{given[0]}: only models with a style input have styles; this one is "
                f"{translator.recipe.name}"
            )
        return PLAIN
    if styles is not None and styles < 1:
        raise TranslateError(f"--styles {styles}: must be at least 1")
    if style_image is not None and (styles is not None or seed is not None):
        raise TranslateError("--style-image: give it alone, without --styles or --seed")
    if style_image is not None:
        if not Path(style_image).is_file():
            raise TranslateError(f"--style-image {style_image}: no such file")
        c_out = translator.channels(direction)[1]
        try:
            reference = from_unit(read_image(style_image, c_out)[None])
        except (ImageReadError, OSError) as exc:
            raise TranslateError(f"--style-image {style_image}: {exc}") from None
        code = style.resolve(reference, 1, direction, translator.device)
        return (Variant("", {STYLE: code}),)
    codes = style.random(styles or 1, seed if seed is not None else 0)
    return tuple(Variant(f"_style{k}", {STYLE: codes[k : k + 1]}) for k in range(len(codes)))
