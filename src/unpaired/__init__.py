"""unpaired: unpaired image-to-image translation (CycleGAN, MUNIT, ...) in PyTorch.

Public API: :func:`train`, :class:`Translator`, :func:`load_pretrained`, :func:`save_pretrained`,
``__version__``.
"""

from __future__ import annotations

from . import medical  # noqa: E402, F401  (registers the medical folder reader with data/)
from .pretrained import load_pretrained, save_pretrained  # noqa: E402
from .training.loop import train  # noqa: E402
from .translate import Translator  # noqa: E402
from .version import __version__

__all__ = ["Translator", "__version__", "load_pretrained", "save_pretrained", "train"]
