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
A model with extra inputs (MUNIT's style) takes them after the image, in the order its recipe
declares them (``image``, ``style`` ...).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.stacks import stack_channels
from ..fs import atomic_write, is_within
from ..pretrained import CONFIG_NAME, WEIGHTS_NAME, model_folder
from ..translate import Translator
from .errors import ExportError
from .onnx import export_onnx
from .pt2 import export_pt2

__all__ = ["EXPORTERS", "ExportError", "ExportResult", "dynamic_shapes", "export_model"]

#: ``(net, example inputs by name, path, dims by name, metadata) -> max abs error of the
#: reloaded file vs PyTorch``.
Exporter = Callable[
    [nn.Module, dict[str, torch.Tensor], Path, dict[str, dict[int, Any]], dict[str, str]], float
]

#: format name -> exporter.
EXPORTERS: dict[str, Exporter] = {"onnx": export_onnx, "pt2": export_pt2}


@dataclass(frozen=True)
class ExportResult:
    """Where the file went, and the largest difference from PyTorch of the check run."""

    path: Path
    max_abs_error: float


def dynamic_shapes(multiple: int, minimum: int) -> tuple[dict[int, Any], tuple[int, int, int]]:
    """Dynamic dims ``{0: batch, 2: m * h, 3: m * w}`` of the image input for a network whose
    H and W are multiples of ``m`` = ``multiple`` (at least ``minimum``), and a non-square
    example size ``(2, H, W)`` that satisfies them."""
    low = max(1, math.ceil(minimum / multiple))
    dims = {
        0: torch.export.Dim("batch", min=1, max=4096),
        2: multiple * torch.export.Dim("height_units", min=low, max=65536 // multiple),
        3: multiple * torch.export.Dim("width_units", min=low, max=65536 // multiple),
    }
    height = multiple * max(low, 256 // multiple)
    width = multiple * max(low + 1, 384 // multiple)
    return dims, (2, height, width)


def export_model(
    model_path: str | Path,
    fmt: str,
    output: str | Path,
    direction: str | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export the ``direction`` network of the model folder ``model_path`` to ``output``
    (None: the first direction the folder holds, a2b unless it holds b2a only).

    The network takes the image and then the model's extra inputs (a MUNIT style
    ``(N, style_dim, 1, 1)``), each with a dynamic batch; the image also has dynamic H and W.
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
    if output.is_dir():
        raise ExportError(f"--output {output}: is a folder; give the name of the file to write")
    folder = model_folder(model_path)
    for own in (folder, folder / CONFIG_NAME, folder / WEIGHTS_NAME):
        if is_within(own, output):  # the file itself, or a folder holding it
            raise ExportError(
                f"--output {output}: would write over the model's own {own}; inputs are never "
                "overwritten (not even with --overwrite): choose another file"
            )
    if output.exists() and not overwrite:
        raise ExportError(f"--output {output}: exists already; pass --overwrite to replace it")
    translator = Translator.load(model_path, "cpu")
    direction = direction or translator.directions[0]
    net = translator.generator(direction).eval()
    # a 2.5D model's network maps stacks of 2K+1 slices to stacks (unpaired.data.stacks)
    c_in, c_out = (
        stack_channels(c, translator.context_slices) for c in translator.channels(direction)
    )
    image_dims, (batch, height, width) = dynamic_shapes(
        *translator.translation.size_rule(direction)
    )
    generator = torch.Generator().manual_seed(0)
    inputs = {"image": torch.rand(batch, c_in, height, width, generator=generator) * 2 - 1}
    dims: dict[str, dict[int, Any]] = {"image": image_dims}
    for name, extra in translator.inputs.items():
        inputs[name] = extra.example(batch, generator)
        dims[name] = {0: image_dims[0]}
    described = ", ".join(f"{k} (N, {', '.join(map(str, t.shape[1:]))})" for k, t in inputs.items())
    metadata = {
        "unpaired.config": json.dumps(translator.config, sort_keys=True),
        "unpaired.direction": direction,
        "unpaired.io": f"{described} -> translated (N, {c_out}, H, W); images in [-1, 1]",
    }
    errors: list[float] = []
    try:
        atomic_write(output, lambda tmp: errors.append(exporter(net, inputs, tmp, dims, metadata)))
    except Exception as exc:
        cause = _os_error(exc) or _no_space(output.parent)
        if cause is None:
            raise
        # Name the file asked for, not the temporary one (which is gone).
        raise OSError(cause.errno, cause.strerror, str(output)) from None
    return ExportResult(output, errors[0])


def _no_space(folder: Path, probe_bytes: int = 1 << 20) -> OSError | None:
    """The error writing ``probe_bytes`` into ``folder`` gives (a full disk: torch.export's
    writer reports ENOSPC as an anonymous ``RuntimeError``), or None when it works."""
    probe = folder / f".unpaired-space-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * probe_bytes)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return exc
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


def _os_error(exc: BaseException | None) -> OSError | None:
    """The operating-system error behind ``exc`` (the exporters wrap it in their own), if
    any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
