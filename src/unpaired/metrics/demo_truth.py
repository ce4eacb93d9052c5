"""Ground-truth scores on the demo domains, where the right answer is known pixel for pixel.

:mod:`unpaired.data.synthetic` renders each test scene in both coats with the animal's mask,
so a translation can be compared with the truth. Three numbers per direction:

``demo_stripe_score``
    How far the coat's stripe contrast moved from the input towards the truth: inside the
    animal (the mask >= 0.5, eroded by 2 pixels so the 5 x 5 windows see only coat), the local
    contrast is the standard deviation of luma in a 5 x 5 window, summed over the animal's
    pixels and over the images; the score is ``(C(output) - C(input)) / (C(truth) - C(input))``.
    0 for the identity (nothing changed), 1 when the coat has exactly the true amount of
    stripe contrast; for A -> B the fraction of stripes gained, for B -> A the fraction of
    stripe contrast removed. It counts stripes wherever they are, not only at the true
    positions (any zebra pattern is a correct answer for a generator).
``demo_coat_psnr``
    PSNR (dB, images in [0, 1]) against the true rendering over the animal's pixels (mask
    >= 0.5): rewards stripes at the true positions and the true coat colours.
``demo_background_psnr``
    PSNR over the pixels outside the mask (mask = 0), where the truth equals the input: how
    well the background was kept (100 dB, the cap, when untouched).

PSNRs are computed per image, capped at 100 dB, and averaged over the images.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["PSNR_CAP", "demo_scores", "local_contrast", "masked_psnr"]

PSNR_CAP = 100.0
_LUMA = (0.299, 0.587, 0.114)
_WINDOW = 5
_ERODE = 2


def luma(images: Tensor) -> Tensor:
    """``(N, 1 or 3, H, W)`` in [0, 1] -> ``(N, 1, H, W)`` ITU-R 601 luma."""
    if images.shape[1] == 1:
        return images
    r, g, b = _LUMA
    return r * images[:, 0:1] + g * images[:, 1:2] + b * images[:, 2:3]


def local_contrast(gray: Tensor, window: int = _WINDOW) -> Tensor:
    """Standard deviation of ``(N, 1, H, W)`` values in each ``window x window`` neighbourhood."""
    pool = lambda t: F.avg_pool2d(  # noqa: E731
        t, window, stride=1, padding=window // 2, count_include_pad=False
    )
    mean = pool(gray)
    return (pool(gray * gray) - mean * mean).clamp(min=0).sqrt()


def _interior(mask: Tensor, margin: int = _ERODE) -> Tensor:
    """Pixels with mask >= 0.5 whose whole ``(2 margin + 1)``-square lies inside too."""
    outside = (mask < 0.5).float()
    return F.max_pool2d(outside, 2 * margin + 1, stride=1, padding=margin) == 0


def masked_psnr(x: Tensor, y: Tensor, where: Tensor) -> float:
    """Mean over images of the PSNR (dB, peak 1) of ``x`` vs ``y`` ``(N, C, H, W)`` on the
    pixels where ``where`` ``(N, 1, H, W)`` is true; images with no such pixel are skipped;
    NaN when none has any. Each image's PSNR is capped at :data:`PSNR_CAP`."""
    weight = where.expand_as(x).double()
    count = weight.sum((1, 2, 3))
    squared = ((x.double() - y.double()) ** 2 * weight).sum((1, 2, 3))
    valid = count > 0
    if not bool(valid.any()):
        return math.nan
    mse = squared[valid] / count[valid]
    psnr = (-10 * torch.log10(mse.clamp(min=10 ** (-PSNR_CAP / 10)))).clamp(max=PSNR_CAP)
    return float(psnr.mean())


def demo_scores(source: Tensor, output: Tensor, truth: Tensor, mask: Tensor) -> dict[str, float]:
    """The three scores above for one direction.

    Args:
        source: the input test images ``(N, C_in, H, W)`` in [0, 1].
        output: their translations ``(N, C_out, H, W)`` in [0, 1].
        truth: the true renderings in the target domain ``(N, C_out, H, W)`` in [0, 1].
        mask: the animal masks ``(N, 1, H, W)`` in [0, 1].
    """
    inside = _interior(mask)

    def contrast(images: Tensor) -> Tensor:
        return (local_contrast(luma(images.double())) * inside).sum()

    c_in, c_out, c_truth = contrast(source), contrast(output), contrast(truth)
    span = c_truth - c_in
    stripe = float((c_out - c_in) / span) if abs(float(span)) > 1e-12 else math.nan
    return {
        "demo_stripe_score": stripe,
        "demo_coat_psnr": masked_psnr(output, truth, mask >= 0.5),
        "demo_background_psnr": masked_psnr(output, truth, mask <= 0),
    }
