"""ONNX export of a generator (dynamic batch, H, W), checked with onnxruntime.

onnx, onnxscript and onnxruntime are optional (the ``export`` extra) and imported only inside
these functions.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

INPUT_NAME = "image"
OUTPUT_NAME = "translated"
_MISSING = "ONNX export needs onnx, onnxscript and onnxruntime: pip install 'unpaired[export]'"


def _require() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        from .errors import ExportError

        raise ExportError(_MISSING) from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's chatter (warnings about optional torchvision ops and the like)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def onnx_session(path: str | Path) -> Any:
    """An onnxruntime CPU session for ``path``."""
    _require()
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(session: Any, x: np.ndarray, **extras: np.ndarray) -> np.ndarray:
    """Run an exported direction: ``(N, C_in, H, W)`` float32 in [-1, 1] (and the model's
    extra inputs by name, e.g. ``style=`` (N, style_dim, 1, 1)) -> ``(N, C_out, H, W)``."""
    feeds = {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)}
    feeds |= {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in extras.items()}
    return session.run([OUTPUT_NAME], feeds)[0]


def export_onnx(
    net: nn.Module,
    inputs: dict[str, torch.Tensor],
    path: Path,
    dims: dict[str, dict[int, Any]],
    metadata: dict[str, str],
) -> float:
    """Export ``net`` (eval mode) to ONNX at ``path``. ``inputs`` are the example inputs by
    name in call order (``image`` first, then the model's extra inputs), ``dims`` their
    dynamic dimensions; the output is named ``translated``; ``metadata`` becomes the model's
    metadata_props.

    Returns the max abs difference between onnxruntime and PyTorch on the example.
    """
    _require()
    net = net.eval()
    args = tuple(inputs.values())
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(
            net,
            args,
            input_names=list(inputs),
            output_names=[OUTPUT_NAME],
            dynamic_shapes=tuple(dims[k] for k in inputs),
            dynamo=True,
            verbose=False,
        )
        program.model.metadata_props.update(metadata)
        program.save(path, external_data=False)
        expected = net(*args).numpy()
    image, *extras = (t.numpy() for t in args)
    got = run_onnx(onnx_session(path), image, **dict(zip(list(inputs)[1:], extras, strict=True)))
    return float(np.abs(got - expected).max())
