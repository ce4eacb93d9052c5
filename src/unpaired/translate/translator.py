"""Translate images with a trained model of any family: the :class:`Translator`.

::

    from unpaired import Translator

    translator = Translator.load("runs/horse2zebra")       # run folder or its model/ folder
    zebra = translator(Image.open("horse.jpg"))            # PIL in -> PIL out, same size
    horse = translator(zebra, direction="b2a")
    styled = translator(image, style=reference)            # a MUNIT model: style inputs

Every image is translated at its own resolution: reflect-padded to the size the generator
needs (multiples of 4 for the ResNet generators), translated, cropped back. Images with more
than ``tile * tile`` pixels are translated in overlapping tiles blended without seams
(:mod:`.tiling`), so memory stays bounded for 4000 x 3000 photos; extra inputs (a MUNIT
style) are the same for every tile of an image, so the tiles agree.

What differs between families comes from the family's recipe
(:attr:`unpaired.recipes.Recipe.translation`): the network of each direction, its size rule,
and the extra inputs it takes besides the image (``inputs``), passed as keyword arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..data.convert import ImageLike, to_unit_tensor
from ..data.stacks import context_call, context_of, stack_channels
from ..data.transforms import from_unit, resize, to_unit
from ..devices import resolve_device
from ..pretrained import folder_directions, load_pretrained
from ..recipes import RECIPES, DirectionError, ExtraInput, check_direction, family_of
from .tiling import translate_padded, translate_tiled

__all__ = ["Direction", "Translator", "resolve_device", "short_side_size"]

Direction = Literal["a2b", "b2a"]

DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """``(H', W')`` with the shorter side ``size`` and the aspect ratio kept (rounded)."""
    if size <= 0:
        raise ValueError(f"option size: must be positive, got {size}")
    if height <= width:
        return size, max(1, round(width * size / height))
    return max(1, round(height * size / width)), size


class Translator:
    """The directions of a trained model (both, or the one its folder holds), ready to
    translate images of any size.

    ``"a2b"`` is the paper's G: X -> Y, ``"b2a"`` is F: Y -> X. Generators are in eval mode
    (dropout off, batch norm on running statistics) and run under
    :func:`torch.inference_mode`. A model whose family declares extra inputs (MUNIT: a
    ``style``) takes them as keyword arguments of every call; see :attr:`inputs`.

    Args:
        model: The generators bundle of a model folder (:func:`unpaired.load_pretrained`).
        config: The model folder's ``config.json`` (``model``, ``channels_a``, ...).
        device: Where the generators run.
        tile: Images with more than ``tile * tile`` pixels are translated in tiles of
            ``tile x tile``; 0 never tiles.
        overlap: Pixels shared by neighbouring tiles (at most ``tile / 2``): the outer quarter
            of each tile's share is dropped, the middle half blended with a raised cosine.
        batch_size: Tiles translated together.
    """

    def __init__(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        device: torch.device | str = "cpu",
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        batch_size: int = 1,
    ) -> None:
        if tile < 0 or overlap < 0 or (tile and 2 * overlap > tile):
            raise ValueError(
                f"option tile/overlap: need tile >= 2 * overlap >= 0 (or tile 0), "
                f"got {tile}/{overlap}"
            )
        if batch_size < 1:
            raise ValueError(f"option batch_size: must be at least 1, got {batch_size}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.config = dict(config)
        self.recipe = RECIPES.get(family_of(self.config))
        #: The directions this model translates (a folder may hold one only).
        self.directions: tuple[str, ...] = folder_directions(self.config, self.recipe)
        self.translation = self.recipe.translation(self.model, self.config)
        self.tile, self.overlap, self.batch_size = tile, overlap, batch_size
        #: 2.5D models (``config.json``'s ``context_slices`` K > 0; 0: a 2-D model): the
        #: networks map stacks of 2K+1 slices to stacks; :meth:`translate` takes a stack or a
        #: single image (replicated into a stack) and returns the centre slice.
        self.context_slices: int = context_of(self.config)

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: torch.device | str = "cpu",
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        batch_size: int = 1,
    ) -> Translator:
        """Load a model folder (``config.json`` + ``model.safetensors``) or a run folder
        holding ``model/``. A bad folder raises :class:`unpaired.pretrained.ModelLoadError`."""
        model, config = load_pretrained(path, "cpu")
        return cls(model, config, device, tile, overlap, batch_size)

    def __getattr__(self, name: str) -> Any:
        # The family's own helpers (MUNIT: random_styles(count, seed), style_of(reference)).
        translation = self.__dict__.get("translation")
        if translation is not None and name in translation.methods:
            return translation.methods[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    @property
    def inputs(self) -> Mapping[str, ExtraInput]:
        """The model's extra inputs by name (empty for CycleGAN; ``{"style": ...}`` for
        MUNIT, whose ``random(count, seed)`` draws styles)."""
        return self.translation.inputs

    @property
    def default_metrics(self) -> tuple[str, ...]:
        """What ``unpaired evaluate`` scores for this model by default."""
        return self.recipe.default_metrics

    def generator(self, direction: str) -> nn.Module:
        """The network of a direction: ``net(x, *extras)`` (what ``unpaired export`` writes)."""
        self.channels(direction)  # a direction this model does not translate: one line
        return self.translation.network(direction)

    def channels(self, direction: str) -> tuple[int, int]:
        """``(input channels, output channels)`` of a direction (one the model translates), of
        one image (a 2.5D model's network takes and gives ``2K+1`` times as many)."""
        source, target = check_direction(direction)
        if direction not in self.recipe.directions:  # a one-sided family (CUT)
            raise DirectionError(
                f"direction {direction}: this {self.recipe.name} model translates "
                f"{' and '.join(self.recipe.directions)} only"
            )
        if direction not in self.directions:  # a folder holding some directions only
            raise DirectionError(
                f"direction {direction}: this {self.recipe.name} model folder holds "
                f"{' and '.join(self.directions)} only"
            )
        return int(self.config[f"channels_{source}"]), int(self.config[f"channels_{target}"])

    def uses_tiles(self, height: int, width: int) -> bool:
        """Whether an image of ``height x width`` is translated in tiles."""
        return self.tile > 0 and height * width > self.tile * self.tile

    def extras(self, n: int, direction: str, values: Mapping[str, Any]) -> list[Tensor]:
        """The extra input tensors for ``n`` images, in the network's order, from the
        keyword ``values`` a call received (missing ones take their defaults)."""
        unknown = sorted(set(values) - set(self.inputs))
        if unknown:
            takes = ", ".join(self.inputs) or "no extra inputs"
            raise ValueError(f"option {unknown[0]}: this {self.recipe.name} model takes {takes}")
        return [
            extra.resolve(values.get(name), n, direction, self.device)
            for name, extra in self.inputs.items()
        ]

    def translate(self, x: Tensor, direction: str = "a2b", **extras: Any) -> Tensor:
        """The network on a batch at its own size.

        Args:
            x: ``(N, C_in, H, W)`` in [-1, 1], any H and W, any device; for a 2.5D model
                also a stack ``(N, (2K+1) * C_in, H, W)`` (:mod:`unpaired.data.stacks`), an
                image being replicated into a stack.
            direction: ``"a2b"`` or ``"b2a"``.
            **extras: the model's extra inputs (:attr:`inputs`), e.g. ``style=`` for MUNIT.

        Returns:
            ``(N, C_out, H, W)`` float32 in [-1, 1] on ``x``'s device (made under
            :func:`torch.inference_mode`: clone it before changing it in place).
        """
        c_in, c_out = self.channels(direction)
        # a 2.5D model: stacks (or images, replicated) in, the centre slice out
        net = context_call(self.generator(direction), self.context_slices, c_in)
        stacked = stack_channels(c_in, self.context_slices)
        if x.dim() != 4 or x.shape[1] not in (c_in, stacked):
            also = f" or stacks (N, {stacked}, H, W)" if self.context_slices else ""
            raise ValueError(
                f"direction {direction} expects (N, {c_in}, H, W) images{also}, got "
                f"{tuple(x.shape)}"
            )
        multiple, minimum = self.translation.size_rule(direction)
        height, width = x.shape[-2:]
        tensors = self.extras(x.shape[0], direction, extras)
        with torch.inference_mode():
            batch = x.to(self.device, torch.float32)
            if not self.uses_tiles(height, width):
                y = translate_padded(lambda b: net(b, *tensors), batch, multiple, minimum)
            else:
                parts = []
                for i, image in enumerate(batch):
                    own = [t[i : i + 1] for t in tensors]  # one value for every tile

                    def run(tiles: Tensor, own: list[Tensor] = own) -> Tensor:
                        n = tiles.shape[0]
                        return net(tiles, *(t.expand(n, *t.shape[1:]) for t in own))

                    parts.append(
                        translate_tiled(
                            run,
                            image[None],
                            c_out,
                            multiple,
                            self.tile,
                            self.overlap,
                            self.batch_size,
                            minimum,
                        )
                    )
                y = torch.cat(parts)
        return y.to(x.device)

    def translate_unit(
        self, x: Tensor, direction: str = "a2b", size: int | None = None, **extras: Any
    ) -> Tensor:
        """Like :meth:`translate` for images in [0, 1]: ``(N, C_in, H, W)`` in [0, 1] ->
        ``(N, C_out, H', W')`` in [0, 1]. With ``size``, images are first resized (bicubic,
        antialiased) so that their shorter side is ``size``; otherwise ``H', W' = H, W``."""
        if size is not None:
            x = resize(x, *short_side_size(x.shape[-2], x.shape[-1], size))
        return to_unit(self.translate(from_unit(x), direction, **extras))

    def translate_variants(self, x: Tensor, direction: str, count: int, seed: int = 0) -> Tensor:
        """``(N, C_in, S, S)`` in [0, 1] -> ``(N, count, C_out, S, S)`` in [0, 1]: each input
        with the same ``count`` random draws of every extra input (from ``seed``); for the
        diversity score of a multimodal model. A model without random inputs raises
        ValueError."""
        if not self.inputs:
            raise ValueError(f"a {self.recipe.name} model has no random inputs")
        draws = {name: extra.random(count, seed) for name, extra in self.inputs.items()}
        outs = [
            self.translate_unit(x, direction, **{k: v[i : i + 1] for k, v in draws.items()})
            for i in range(count)
        ]
        return torch.stack(outs, dim=1)

    def __call__(
        self, image: ImageLike, direction: str = "a2b", size: int | None = None, **extras: Any
    ) -> Any:
        """Translate one image (or a batch of tensors) and return the same kind of object.

        * ``PIL.Image.Image``: any mode; returns ``"L"``, ``"RGB"`` or (16-bit gray in,
          1 channel out) ``"I;16"``, or ``"F"`` for ``"F"`` in and 1 channel out. Transparency
          is composited on white; the pixels are used as they are (no EXIF rotation).
        * ``numpy.ndarray``: ``(H, W)`` or ``(H, W, C)`` with C in 1-4 (2 and 4 have alpha),
          dtype uint8 (0-255), uint16 (0-65535) or float (0-1). Returns the same dtype,
          ``(H, W)`` when the input was 2-D and the output has one channel, else
          ``(H, W, C_out)``.
        * ``torch.Tensor``: ``(C, H, W)`` or ``(N, C, H, W)`` **in [-1, 1]** (the networks'
          range) with the model's input channels; returns the same rank in [-1, 1], float32,
          on the input's device.

        Gray inputs are repeated to 3 channels and color inputs turned to luma (ITU-R 601)
        when the model wants the other count (NumPy and PIL only). ``size`` resizes so that
        the shorter side is ``size`` (aspect ratio kept) before translating; by default the
        output has the input's size. ``extras``: the model's extra inputs (MUNIT: ``style``,
        None for a random one, a style tensor, or a reference image of the target domain).
        """
        c_in = self.channels(direction)[0]
        x01, restore = to_unit_tensor(image, c_in)
        return restore(self.translate_unit(x01, direction, size, **extras))
