"""Export one direction of a MUNIT model with the style as an explicit second input.

The exported network is :class:`~unpaired.munit_translate.MUNITTranslation`:
``image`` ``(N, C_in, H, W)`` float32 in [-1, 1] and ``style`` ``(N, style_dim, 1, 1)`` float32
(s ~ N(0, I) for a random style) -> ``translated`` ``(N, C_out, H, W)`` in [-1, 1], with
dynamic N, H and W (H and W multiples of 2**n_downsample, at least the generator's
``min_size``). Checked against PyTorch right after export, as for CycleGAN.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..munit_translate import MUNITTranslation, MUNITTranslator

__all__ = ["MUNIT_EXPORTERS", "export_munit", "run_munit_onnx"]

INPUT_NAMES = ("image", "style")
OUTPUT_NAME = "translated"

#: ``(net, (image, style), path, dynamic shapes, metadata) -> max abs error vs PyTorch``.
StyledExporter = Callable[
    [nn.Module, tuple[torch.Tensor, torch.Tensor], Path, dict[str, Any], dict[str, str]], float
]


def run_munit_onnx(session: Any, image: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Run an exported MUNIT direction with onnxruntime: image, style -> translated."""
    feeds = {
        INPUT_NAMES[0]: np.ascontiguousarray(image, dtype=np.float32),
        INPUT_NAMES[1]: np.ascontiguousarray(style, dtype=np.float32),
    }
    return session.run([OUTPUT_NAME], feeds)[0]


def _onnx(
    net: nn.Module,
    inputs: tuple[torch.Tensor, torch.Tensor],
    path: Path,
    dims: dict[str, Any],
    metadata: dict[str, str],
) -> float:
    from .onnx import _quiet, _require, onnx_session

    _require()
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(
            net,
            inputs,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_shapes=dims,
            dynamo=True,
            verbose=False,
        )
        program.model.metadata_props.update(metadata)
        program.save(path, external_data=False)
        expected = net(*inputs).numpy()
    got = run_munit_onnx(onnx_session(path), *(t.numpy() for t in inputs))
    return float(np.abs(got - expected).max())


def _pt2(
    net: nn.Module,
    inputs: tuple[torch.Tensor, torch.Tensor],
    path: Path,
    dims: dict[str, Any],
    metadata: dict[str, str],
) -> float:
    with torch.no_grad():
        program = torch.export.export(net, inputs, dynamic_shapes=dims)
        torch.export.save(program, path, extra_files={f"{k}.txt": v for k, v in metadata.items()})
        reloaded = torch.export.load(path).module()
        return float((reloaded(*inputs) - net(*inputs)).abs().max())


#: format name -> exporter of a two-input MUNIT direction.
MUNIT_EXPORTERS: dict[str, StyledExporter] = {"onnx": _onnx, "pt2": _pt2}


def export_munit(translator: MUNITTranslator, fmt: str, path: Path, direction: str) -> float:
    """Write the ``direction`` translation of ``translator``'s model to ``path`` in ``fmt``;
    returns the max abs difference of the reloaded file from PyTorch on a random example."""
    net: MUNITTranslation = translator.generator(direction).eval()
    c_in, c_out = translator.channels(direction)
    m = net.multiple
    low = max(1, math.ceil(net.minimum / m))
    batch = torch.export.Dim("batch", min=1, max=4096)
    dims = {
        "image": {
            0: batch,
            2: m * torch.export.Dim("height_units", min=low, max=65536 // m),
            3: m * torch.export.Dim("width_units", min=low, max=65536 // m),
        },
        "style": {0: batch},
    }
    generator = torch.Generator().manual_seed(0)
    height, width = m * max(low, 64 // m), m * max(low + 1, 96 // m)
    image = torch.rand(2, c_in, height, width, generator=generator) * 2 - 1
    style = torch.randn(2, translator.style_dim, 1, 1, generator=generator)
    metadata = {
        "unpaired.config": json.dumps(translator.config, sort_keys=True),
        "unpaired.direction": direction,
        "unpaired.io": f"image (N, {c_in}, H, W) in [-1, 1], style (N, {translator.style_dim}, "
        f"1, 1) -> (N, {c_out}, H, W) in [-1, 1]",
    }
    return MUNIT_EXPORTERS[fmt](net, (image, style), path, dims, metadata)
