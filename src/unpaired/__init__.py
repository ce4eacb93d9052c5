"""unpaired: unpaired image-to-image translation (CycleGAN) in PyTorch.

Public API: :func:`train`, :func:`load_pretrained`, :func:`save_pretrained`, ``__version__``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .pretrained import load_pretrained, save_pretrained  # noqa: E402
from .training.loop import train  # noqa: E402

__all__ = ["__version__", "load_pretrained", "save_pretrained", "train"]
