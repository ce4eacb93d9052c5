"""Device names as users type them: ``auto``, ``cpu``, ``cuda``, ``cuda:1``."""

from __future__ import annotations

import torch


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without CUDA is a ValueError."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"{name} requested but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ValueError(f"{name!r} is not a device; use auto, cpu or cuda") from None
