"""Export one generator of a trained model for use without this package.

Formats (:data:`EXPORTERS`, picked by name):

* ``onnx`` (:mod:`.onnx`): an ONNX graph with dynamic batch, height and width, checked against
  PyTorch with onnxruntime right after export. Needs the ``export`` extra
  (``pip install 'unpaired[export]'``).
* ``pt2`` (:mod:`.pt2`): a :func:`torch.export.export` program saved with
  :func:`torch.export.save`; load it with ``torch.export.load(path).module()``.

Either way the exported network maps ``(N, C_in, H, W)`` float32 in [-1, 1] to
``(N, C_out, H, W)`` in [-1, 1]; H and W must be multiples of the generator's size multiple
(4 and at least 8 for the ResNet generators; pad first, as :mod:`unpaired.tiling` does).
The model folder's ``config.json`` and the direction travel inside the file as metadata.
A MUNIT model's direction takes the style as a second input (see :mod:`.munit`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import UnpairedError
from ..fs import atomic_write
from ..inference import Translator, size_rule
from ..munit_translate import MUNITTranslator
from .onnx import export_onnx
from .pt2 import export_pt2

__all__ = ["EXPORTERS", "ExportError", "ExportResult", "dynamic_shapes", "export_model"]

#: ``(net, example, path, dims, metadata) -> max abs error of the reloaded file vs PyTorch``.
Exporter = Callable[[nn.Module, torch.Tensor, Path, dict[int, Any], dict[str, str]], float]

#: format name -> exporter.
EXPORTERS: dict[str, Exporter] = {"onnx": export_onnx, "pt2": export_pt2}


class ExportError(UnpairedError):
    """An export that cannot be done (missing extra, existing output, unknown format)."""


@dataclass(frozen=True)
class ExportResult:
    """Where the file went, and the largest difference from PyTorch of the check run."""

    path: Path
    max_abs_error: float


def dynamic_shapes(net: nn.Module) -> tuple[dict[int, Any], torch.Size]:
    """Dynamic dims ``{0: batch, 2: m * h, 3: m * w}`` for a generator (``m`` its size
    multiple) and a non-square example size ``(2, H, W)`` that satisfies them."""
    multiple, minimum = size_rule(net)
    low = max(1, math.ceil(minimum / multiple))
    dims = {
        0: torch.export.Dim("batch", min=1, max=4096),
        2: multiple * torch.export.Dim("height_units", min=low, max=65536 // multiple),
        3: multiple * torch.export.Dim("width_units", min=low, max=65536 // multiple),
    }
    height = multiple * max(low, 256 // multiple)
    width = multiple * max(low + 1, 384 // multiple)
    return dims, torch.Size((2, height, width))


def export_model(
    model_path: str | Path,
    fmt: str,
    output: str | Path,
    direction: str = "a2b",
    overwrite: bool = False,
) -> ExportResult:
    """Export the ``direction`` generator of the model folder ``model_path`` to ``output``.

    The file is written under a temporary name and renamed, so a failed export leaves nothing.

    Raises:
        ExportError: unknown format, ``output`` exists (and not ``overwrite``), or the
            format's optional packages are missing.
        unpaired.pretrained.ModelLoadError: a bad model folder.
    """
    exporter = EXPORTERS.get(fmt)
    if exporter is None:
        raise ExportError(f"--format {fmt}: unknown; choose one of: {', '.join(EXPORTERS)}")
    output = Path(output)
    if output.exists() and not overwrite:
        raise ExportError(f"--output {output}: exists already; pass --overwrite to replace it")
    translator = Translator.load(model_path, "cpu")
    if isinstance(translator, MUNITTranslator):  # the style is a second input
        from .munit import export_munit

        errors: list = []
        atomic_write(
            output, lambda tmp: errors.append(export_munit(translator, fmt, tmp, direction))
        )
        return ExportResult(output, errors[0])
    net = translator.generator(direction)
    c_in, c_out = translator.channels(direction)
    dims, (batch, height, width) = dynamic_shapes(net)
    generator = torch.Generator().manual_seed(0)
    example = torch.rand(batch, c_in, height, width, generator=generator) * 2 - 1
    metadata = {
        "unpaired.config": json.dumps(translator.config, sort_keys=True),
        "unpaired.direction": direction,
        "unpaired.io": f"(N, {c_in}, H, W) in [-1, 1] -> (N, {c_out}, H, W) in [-1, 1]",
    }
    errors: list = []
    atomic_write(output, lambda tmp: errors.append(exporter(net, example, tmp, dims, metadata)))
    return ExportResult(output, errors[0])
