"""``torch.export`` of a generator, saved as a ``.pt2`` file with dynamic batch, H and W."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn


def export_pt2(
    net: nn.Module,
    inputs: dict[str, torch.Tensor],
    path: Path,
    dims: dict[str, dict[int, Any]],
    metadata: dict[str, str],
) -> float:
    """Export ``net`` (eval mode) on the example ``inputs`` (by name, in call order: the
    image ``(N, C, H, W)`` first) with their dynamic ``dims`` and save it to ``path``;
    ``metadata`` goes into the archive's extra files (``<key>.txt``). Returns the max abs
    difference between the reloaded program and ``net`` on the example."""
    net = net.eval()
    args = tuple(inputs.values())
    with torch.no_grad():
        program = torch.export.export(net, args, dynamic_shapes=tuple(dims[k] for k in inputs))
        # Into memory first, then one plain write: torch's archive writer turns a full disk
        # into an anonymous RuntimeError, and its destructor then aborts the process.
        buffer = io.BytesIO()
        extra = {f"{k}.txt": v for k, v in metadata.items()}
        torch.export.save(program, buffer, extra_files=extra)
        Path(path).write_bytes(buffer.getbuffer())
        del buffer
        reloaded = torch.export.load(path).module()
        error = (reloaded(*args) - net(*args)).abs().max().item()
    return float(error)
