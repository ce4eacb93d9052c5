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
        from . import ExportError

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


def run_onnx(session: Any, x: np.ndarray) -> np.ndarray:
    """Run an exported generator: ``(N, C_in, H, W)`` float32 in [-1, 1] -> ``(N, C_out, H, W)``."""
    return session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})[0]


def export_onnx(
    net: nn.Module,
    example: torch.Tensor,
    path: Path,
    dims: dict[int, Any],
    metadata: dict[str, str],
) -> float:
    """Export ``net`` (eval mode) to ONNX at ``path`` with dynamic ``dims`` (the input is named
    ``image``, the output ``translated``; ``metadata`` becomes the model's metadata_props).

    Returns the max abs difference between onnxruntime and PyTorch on ``example``.
    """
    _require()
    net = net.eval()
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(
            net,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes={"x": dims},
            dynamo=True,
            verbose=False,
        )
        program.model.metadata_props.update(metadata)
        program.save(path, external_data=False)
        expected = net(example).numpy()
    got = run_onnx(onnx_session(path), example.numpy())
    return float(np.abs(got - expected).max())
