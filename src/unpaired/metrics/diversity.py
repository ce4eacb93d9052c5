"""Diversity of a multimodal model (MUNIT): how different the outputs for one input are.

For each of the first :data:`DIVERSITY_IMAGES` source images, the model translates it in the
same :data:`DIVERSITY_STYLES` random styles; the score is the mean, over inputs and over the
K (K - 1) / 2 pairs of outputs of one input, of the L2 distance between their features (the
FID feature network's pool features, computed with the FID protocol). 0 means the style is
ignored; larger means more varied outputs. A feature-space stand-in for LPIPS diversity
(Huang et al. 2018, Sec. 5.1), without another network to download.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import EvalError
from .eval_data import quantize
from .features import extract
from .scores import METRICS, DirectionView, Metric

__all__ = ["DIVERSITY_IMAGES", "DIVERSITY_STYLES", "pairwise_diversity"]

DIVERSITY_IMAGES = 120
DIVERSITY_STYLES = 4


def pairwise_diversity(features: Tensor) -> float:
    """Mean L2 distance between the K outputs of each input: ``(N, K, D)`` -> a number."""
    if features.dim() != 3 or features.shape[1] < 2:
        raise ValueError(f"expected (N, K >= 2, D) features, got {tuple(features.shape)}")
    k = features.shape[1]
    distances = torch.cdist(features.double(), features.double())  # (N, K, K)
    i, j = torch.triu_indices(k, k, offset=1)
    return float(distances[:, i, j].mean())


def _diversity(view: DirectionView) -> dict[str, float]:
    if view.stylize is None:
        raise EvalError("--metrics diversity: needs a model with styles (MUNIT)")
    assert view.extractor is not None
    source = view.source[:DIVERSITY_IMAGES]
    step = view.batch_size
    outputs = torch.cat(
        [
            quantize(view.stylize(source[i : i + step], view.direction, DIVERSITY_STYLES).cpu())
            for i in range(0, source.shape[0], step)
        ]
    )  # (N, K, C, S, S)
    n, k = outputs.shape[:2]
    features = extract(view.extractor, outputs.flatten(0, 1), view.batch_size).view(n, k, -1)
    return {"diversity": pairwise_diversity(features)}


METRICS.register("diversity")(Metric(_diversity, needs_features=True))
