"""Translate with a trained MUNIT model: one content, many styles.

::

    from unpaired import Translator

    translator = Translator.load("runs/munit-demo")        # a MUNIT run: a MUNITTranslator
    out = translator(image)                                # a random style s ~ N(0, I)
    out = translator(image, style=torch.randn(8))          # a style vector (style_dim,)
    out = translator(image, style=reference)               # the style of a target-domain image
    outs = [translator(image, style=s) for s in translator.random_styles(4, seed=0)]

A -> B is x_{1->2} = G_2(E^c_1(x), s_2), with s_2 drawn from N(0, I), given, or E^s_2 of a
reference image of domain B (B -> A likewise). Images of any size are reflect-padded to what
the generators need (multiples of 2**n_downsample, at least ``min_size``) and cropped back.
MUNIT is never tiled: its instance and AdaIN statistics are over the whole image.

``unpaired translate MODEL --styles N [--seed S]`` writes ``NAME_style0.EXT`` ... per input,
the k-th style the same for every input; ``--style-image IMG`` writes ``NAME.EXT`` in IMG's
style (:func:`translate_with_styles`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from .convert import ImageLike, to_unit_tensor
from .data.images import ImageReadError, read_image
from .data.transforms import from_unit, resize, to_unit
from .fs import atomic_write
from .inference import DEFAULT_OVERLAP, Translator, short_side_size
from .models.munit import MUNIT, MUNITGenerator
from .tiling import pad_to_multiple, translate_padded
from .translate_files import Job, TranslateError, TranslateReport

__all__ = ["MUNITTranslation", "MUNITTranslator", "check_style_options", "translate_with_styles"]

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


class MUNITTranslator(Translator):
    """A :class:`~unpaired.Translator` for MUNIT models; every call takes a ``style``.

    Args:
        model: the MUNIT bundle (``gen_a``, ``gen_b``; discriminators unused).
        config: the model folder's ``config.json``.
        device: where the generators run.
        tile, overlap: accepted for the common signature; MUNIT is never tiled.
        batch_size: images translated together.
        seed: seed of the private generator that draws ``style=None`` styles (the global
            torch RNG is never used).
    """

    #: What ``unpaired evaluate`` scores by default (the cycle metrics need a fixed style).
    default_metrics = ("fid", "kid", "diversity")

    def __init__(
        self,
        model: MUNIT,
        config: dict[str, Any],
        device: torch.device | str = "cpu",
        tile: int = 0,
        overlap: int = DEFAULT_OVERLAP,  # noqa: ARG002 - never tiled
        batch_size: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(model, config, device, 0, 0, batch_size)
        self.style_dim = model.style_dim
        self.rng = torch.Generator().manual_seed(seed)

    def generator(self, direction: str) -> MUNITTranslation:
        """The direction as a two-input network (:class:`MUNITTranslation`)."""
        source, target = self._generators(direction)
        return MUNITTranslation(source, target)

    def _generators(self, direction: str) -> tuple[MUNITGenerator, MUNITGenerator]:
        self._direction(direction)  # a one-line ValueError for a bad name
        a, b = self.model.gen_a, self.model.gen_b
        return (a, b) if direction == "a2b" else (b, a)

    def uses_tiles(self, height: int, width: int) -> bool:  # noqa: ARG002
        """Never: MUNIT's normalisation statistics are over the whole image."""
        return False

    def random_styles(self, count: int, seed: int | None = None) -> Tensor:
        """``count`` styles s ~ N(0, I): (count, style_dim, 1, 1) float32 on the CPU, from
        ``seed`` (reproducible) or the translator's own generator."""
        rng = torch.Generator().manual_seed(seed) if seed is not None else self.rng
        return torch.randn(count, self.style_dim, 1, 1, generator=rng)

    def style_of(self, reference: Tensor, direction: str = "a2b") -> Tensor:
        """E^s_target of reference images of the target domain: (M, C_out, H, W) in [-1, 1]
        -> (M, style_dim, 1, 1) on the translator's device."""
        target = self._generators(direction)[1]
        _, c_out = self.channels(direction)
        if reference.dim() != 4 or reference.shape[1] != c_out:
            raise ValueError(
                f"style: a reference image of the target domain must be (M, {c_out}, H, W), "
                f"got {tuple(reference.shape)}"
            )
        x = pad_to_multiple(reference.to(self.device, torch.float32), 1, target.min_size)
        with torch.inference_mode():
            return target.enc_style(x)

    def styles_for(self, style: StyleLike, n: int, direction: str = "a2b") -> Tensor:
        """``style`` as (n, style_dim, 1, 1) on the translator's device.

        None draws n random styles; a tensor of ``style_dim`` values per sample ((style_dim,),
        (style_dim, 1, 1), (1 or n, style_dim[, 1, 1])) is used as is (one style for all when
        it has one); an image (PIL, NumPy, or a (C, H, W) / (M, C, H, W) tensor in [-1, 1] of
        the target domain, M 1 or n) gives its style.
        """
        if style is None:
            codes = self.random_styles(n)
        elif (
            isinstance(style, Tensor)
            and style.numel() % self.style_dim == 0
            and (style.dim() <= 2 or style.shape[-2:] == (1, 1))
        ):
            codes = style.detach().float().reshape(-1, self.style_dim, 1, 1)
        else:
            _, c_out = self.channels(direction)
            if isinstance(style, Tensor):
                image = style if style.dim() == 4 else style[None]
            else:
                image = from_unit(to_unit_tensor(style, c_out)[0])
            codes = self.style_of(image, direction)
        if codes.shape[0] not in (1, n):
            raise ValueError(
                f"style: {codes.shape[0]} styles for {n} images; give 1 or {n}, each of "
                f"{self.style_dim} values ((N, {self.style_dim}, 1, 1)) or a reference image"
            )
        return codes.to(self.device).expand(n, -1, -1, -1)

    def translate(self, x: Tensor, direction: str = "a2b", style: StyleLike = None) -> Tensor:
        """``(N, C_in, H, W)`` in [-1, 1], any H and W -> ``(N, C_out, H, W)`` float32 in
        [-1, 1] on ``x``'s device, in the ``style`` :meth:`styles_for` describes."""
        net = self.generator(direction)
        c_in, _ = self.channels(direction)
        if x.dim() != 4 or x.shape[1] != c_in:
            raise ValueError(
                f"direction {direction} expects (N, {c_in}, H, W) images, got {tuple(x.shape)}"
            )
        codes = self.styles_for(style, x.shape[0], direction)
        with torch.inference_mode():
            batch = x.to(self.device, torch.float32)
            y = translate_padded(lambda b: net(b, codes), batch, net.multiple, net.minimum)
        return y.to(x.device)

    def translate_unit(
        self,
        x: Tensor,
        direction: str = "a2b",
        size: int | None = None,
        style: StyleLike = None,
    ) -> Tensor:
        """Like :meth:`translate` for images in [0, 1] (resized first with ``size``)."""
        if size is not None:
            x = resize(x, *short_side_size(x.shape[-2], x.shape[-1], size))
        return to_unit(self.translate(from_unit(x), direction, style))

    def translate_styles(self, x: Tensor, direction: str, count: int, seed: int = 0) -> Tensor:
        """``(N, C_in, S, S)`` in [0, 1] -> ``(N, count, C_out, S, S)`` in [0, 1]: each input
        in the same ``count`` random styles (from ``seed``); for the diversity score."""
        codes = self.random_styles(count, seed)
        outs = [self.translate_unit(x, direction, style=codes[k : k + 1]) for k in range(count)]
        return torch.stack(outs, dim=1)

    def __call__(
        self,
        image: ImageLike,
        direction: str = "a2b",
        size: int | None = None,
        style: StyleLike = None,
    ) -> Any:
        """Translate like :meth:`Translator.__call__`, in ``style`` (see :meth:`styles_for`)."""
        c_in = self.channels(direction)[0]
        x01, restore = to_unit_tensor(image, c_in)
        return restore(self.translate_unit(x01, direction, size, style))


def check_style_options(
    translator: Translator, styles: int | None, seed: int | None, style_image: str | None
) -> None:
    """One-line :class:`TranslateError` for style options a model or each other rule out."""
    given = [
        name
        for name, value in (("--styles", styles), ("--seed", seed), ("--style-image", style_image))
        if value is not None
    ]
    if given and not isinstance(translator, MUNITTranslator):
        raise TranslateError(f"{given[0]}: only MUNIT models have styles; this one is CycleGAN")
    if styles is not None and styles < 1:
        raise TranslateError(f"--styles {styles}: must be at least 1")
    if style_image is not None and (styles is not None or seed is not None):
        raise TranslateError("--style-image: give it alone, without --styles or --seed")
    if style_image is not None and not Path(style_image).is_file():
        raise TranslateError(f"--style-image {style_image}: no such file")


def _outputs(job: Job, count: int | None) -> list[Path]:
    if count is None:
        return [job.output]
    out = job.output
    return [out.with_name(f"{out.stem}_style{k}{out.suffix}") for k in range(count)]


def _write(image: Tensor, path: Path) -> None:
    from .data.images import write_image

    atomic_write(path, lambda tmp: write_image(image, tmp), sync=False)


def translate_with_styles(
    translator: MUNITTranslator,
    jobs: Sequence[Job],
    direction: str = "a2b",
    styles: int | None = None,
    seed: int | None = None,
    style_image: str | None = None,
    size: int | None = None,
    overwrite: bool = False,
) -> TranslateReport:
    """Write every job's image in ``styles`` random styles (``NAME_styleK.EXT``; the k-th style
    the same for every input, drawn from ``seed``, default 0), or in the style of
    ``style_image`` (``NAME.EXT``). Default: 1 random style.

    Raises :class:`TranslateError` before anything is written for existing outputs (unless
    ``overwrite``), an unreadable style image, or volumes; an unreadable input is reported
    and skipped.
    """
    from .medical.translate import needs_medical

    c_in, c_out = translator.channels(direction)
    for job in jobs:
        if needs_medical(job.source, translator.config, direction):
            raise TranslateError(
                f"--input {job.source}: volumes and medical images are not translated with "
                "MUNIT models yet"
            )
    count = None if style_image is not None else (styles or 1)
    if not overwrite:
        existing = [p for job in jobs for p in _outputs(job, count) if p.exists()]
        if existing:
            raise TranslateError(
                f"--output: {len(existing)} output file(s) exist already (first: "
                f"{existing[0]}); pass --overwrite to replace them"
            )
    if style_image is not None:
        try:
            reference = from_unit(read_image(style_image, c_out)[None])
        except (ImageReadError, OSError) as exc:
            raise TranslateError(f"--style-image {style_image}: {exc}") from None
        codes = translator.style_of(reference, direction)
    else:
        codes = translator.random_styles(count or 1, seed if seed is not None else 0)
    report = TranslateReport()
    for job in jobs:
        try:
            x = read_image(job.source, c_in)[None]
        except (ImageReadError, OSError) as exc:
            report.failed.append((job.source, str(exc)))
            print(f"error: {exc}", file=sys.stderr)
            continue
        if size is not None:
            x = resize(x, *short_side_size(x.shape[-2], x.shape[-1], size))
        for k, path in enumerate(_outputs(job, count)):
            y = translator.translate_unit(x, direction, style=codes[k : k + 1])
            try:
                _write(y[0], path)
            except OSError as exc:
                report.failed.append((job.source, f"cannot write '{path}': {exc}"))
                print(f"error: cannot write '{path}': {exc}", file=sys.stderr)
                continue
            report.written.append(path)
    return report
