"""Translate images with a trained model: the :class:`Translator`.

::

    from unpaired import Translator

    translator = Translator.load("runs/horse2zebra")       # run folder or its model/ folder
    zebra = translator(Image.open("horse.jpg"))            # PIL in -> PIL out, same size
    horse = translator(zebra, direction="b2a")

Every image is translated at its own resolution: reflect-padded to the size the generator
needs (multiples of 4 for the ResNet generators), translated, cropped back. Images with more
than ``tile * tile`` pixels are translated in overlapping tiles blended without seams
(:mod:`unpaired.tiling`), so memory stays bounded for 4000 x 3000 photos.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from .convert import ImageLike, to_unit_tensor
from .data.transforms import from_unit, resize, to_unit
from .devices import resolve_device
from .models.cyclegan import CycleGAN
from .models.generators import ResnetGenerator, UnetGenerator
from .models.munit import MUNIT
from .pretrained import load_pretrained
from .tiling import translate_padded, translate_tiled

__all__ = ["DIRECTIONS", "Direction", "Translator", "resolve_device", "short_side_size"]

Direction = Literal["a2b", "b2a"]

#: direction -> (generator attribute, config key of its input channels, of its output channels).
DIRECTIONS: dict[str, tuple[str, str, str]] = {
    "a2b": ("g_ab", "channels_a", "channels_b"),
    "b2a": ("g_ba", "channels_b", "channels_a"),
}

DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128

# Generator class -> (H and W must be multiples of this, and at least this). The ResNet's
# residual blocks reflect-pad by 1 at a quarter of the resolution, so they need 8 pixels.
_SIZE_RULES: dict[type[nn.Module], Callable[[Any], tuple[int, int]]] = {
    ResnetGenerator: lambda net: (4, 8),
    UnetGenerator: lambda net: (2**net.num_downs, 2**net.num_downs),
}


def size_rule(net: nn.Module) -> tuple[int, int]:
    """``(multiple, minimum)`` for the height and width a generator accepts."""
    rule = _SIZE_RULES.get(type(net))
    if rule is None:
        raise ValueError(f"no size rule for generator class {type(net).__name__}")
    return rule(net)


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """``(H', W')`` with the shorter side ``size`` and the aspect ratio kept (rounded)."""
    if size <= 0:
        raise ValueError(f"option size: must be positive, got {size}")
    if height <= width:
        return size, max(1, round(width * size / height))
    return max(1, round(height * size / width)), size


class Translator:
    """Both generators of a trained CycleGAN, ready to translate images of any size.

    ``g_ab`` is the paper's G: X -> Y (direction ``"a2b"``), ``g_ba`` is F: Y -> X
    (``"b2a"``). Generators are in eval mode (dropout off, batch norm on running statistics)
    and run under :func:`torch.inference_mode`.

    Args:
        model: The CycleGAN bundle (only ``g_ab`` and ``g_ba`` are used).
        config: The model folder's ``config.json`` (``channels_a``, ``channels_b``, ...).
        device: Where the generators run.
        tile: Images with more than ``tile * tile`` pixels are translated in tiles of
            ``tile x tile``; 0 never tiles.
        overlap: Pixels shared by neighbouring tiles (at most ``tile / 2``): the outer quarter
            of each tile's share is dropped, the middle half blended with a raised cosine.
        batch_size: Tiles translated together.
    """

    def __init__(
        self,
        model: CycleGAN,
        config: dict[str, Any],
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
        self.config = config
        self.tile, self.overlap, self.batch_size = tile, overlap, batch_size

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
        holding ``model/``. A bad folder raises :class:`unpaired.pretrained.ModelLoadError`.
        A MUNIT folder gives a :class:`~unpaired.munit_translate.MUNITTranslator`."""
        model, config = load_pretrained(path, "cpu")
        return cls.for_model(model, config, device, tile, overlap, batch_size)

    @classmethod
    def for_model(
        cls,
        model: nn.Module,
        config: dict[str, Any],
        device: torch.device | str = "cpu",
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        batch_size: int = 1,
    ) -> Translator:
        """The translator for ``model``: this class, or for a MUNIT model a
        :class:`~unpaired.munit_translate.MUNITTranslator` (which takes a ``style``)."""
        if isinstance(model, MUNIT) and cls is Translator:
            from .munit_translate import MUNITTranslator

            return MUNITTranslator(model, config, device, tile, overlap, batch_size)
        return cls(model, config, device, tile, overlap, batch_size)

    def generator(self, direction: str) -> nn.Module:
        """``g_ab`` for ``"a2b"``, ``g_ba`` for ``"b2a"``."""
        return getattr(self.model, self._direction(direction)[0])

    def channels(self, direction: str) -> tuple[int, int]:
        """``(input channels, output channels)`` of a direction."""
        _, key_in, key_out = self._direction(direction)
        return int(self.config[key_in]), int(self.config[key_out])

    @staticmethod
    def _direction(direction: str) -> tuple[str, str, str]:
        try:
            return DIRECTIONS[direction]
        except KeyError:
            raise ValueError(
                f"option direction: unknown {direction!r}; use {' or '.join(DIRECTIONS)}"
            ) from None

    def uses_tiles(self, height: int, width: int) -> bool:
        """Whether an image of ``height x width`` is translated in tiles."""
        return self.tile > 0 and height * width > self.tile * self.tile

    def translate(self, x: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        """The network on a batch at its own size.

        Args:
            x: ``(N, C_in, H, W)`` in [-1, 1], any H and W, any device.
            direction: ``"a2b"`` or ``"b2a"``.

        Returns:
            ``(N, C_out, H, W)`` float32 in [-1, 1] on ``x``'s device (made under
            :func:`torch.inference_mode`: clone it before changing it in place).
        """
        net = self.generator(direction)
        c_in, c_out = self.channels(direction)
        if x.dim() != 4 or x.shape[1] != c_in:
            raise ValueError(
                f"direction {direction} expects (N, {c_in}, H, W) images, got {tuple(x.shape)}"
            )
        multiple, minimum = size_rule(net)
        height, width = x.shape[-2:]
        with torch.inference_mode():
            batch = x.to(self.device, torch.float32)
            if not self.uses_tiles(height, width):
                y = translate_padded(net, batch, multiple, minimum)
            else:
                y = torch.cat(
                    [
                        translate_tiled(
                            net,
                            image[None],
                            c_out,
                            multiple,
                            self.tile,
                            self.overlap,
                            self.batch_size,
                            minimum,
                        )
                        for image in batch
                    ]
                )
        return y.to(x.device)

    def translate_unit(
        self, x: torch.Tensor, direction: str = "a2b", size: int | None = None
    ) -> torch.Tensor:
        """Like :meth:`translate` for images in [0, 1]: ``(N, C_in, H, W)`` in [0, 1] ->
        ``(N, C_out, H', W')`` in [0, 1]. With ``size``, images are first resized (bicubic,
        antialiased) so that their shorter side is ``size``; otherwise ``H', W' = H, W``."""
        if size is not None:
            x = resize(x, *short_side_size(x.shape[-2], x.shape[-1], size))
        return to_unit(self.translate(from_unit(x), direction))

    def __call__(self, image: ImageLike, direction: str = "a2b", size: int | None = None) -> Any:
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
        output has the input's size.
        """
        c_in = self.channels(direction)[0]
        x01, restore = to_unit_tensor(image, c_in)
        return restore(self.translate_unit(x01, direction, size))
