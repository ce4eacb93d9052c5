"""``torch.export`` of a generator, saved as a ``.pt2`` file with dynamic batch, H and W."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


def export_pt2(
    net: nn.Module,
    example: torch.Tensor,
    path: Path,
    dims: dict[int, Any],
    metadata: dict[str, str],
) -> float:
    """Export ``net`` (eval mode) on ``example`` ``(N, C, H, W)`` with the dynamic ``dims``
    and save it to ``path``; ``metadata`` goes into the archive's extra files
    (``<key>.txt``). Returns the max abs difference between the reloaded program and ``net``
    on ``example``."""
    net = net.eval()
    with torch.no_grad():
        program = torch.export.export(net, (example,), dynamic_shapes={"x": dims})
        torch.export.save(program, path, extra_files={f"{k}.txt": v for k, v in metadata.items()})
        reloaded = torch.export.load(path).module()
        error = (reloaded(example) - net(example)).abs().max().item()
    return float(error)
