"""Translation quality as numbers: FID, KID, cycle reconstruction, diversity and the demo's
ground-truth scores, computed from a translation function and test images. Nothing here loads
a model: :mod:`unpaired.evaluation` scores a model folder (``unpaired evaluate``) and
:mod:`unpaired.training.evaluator` the generators during training.

Modules: :mod:`.distances` (Fréchet distance, KID), :mod:`.features` (the preprocessing
protocol, the Inception network, the :class:`FeatureExtractor` protocol and a stand-in),
:mod:`.scores` (metrics by name), :mod:`.demo_truth`, :mod:`.eval_data` (test images),
:mod:`.core` (scoring a translation function), :mod:`.paired` (MAE/PSNR/SSIM against registered
targets), :mod:`.volumes` (slice consistency). Nothing here imports the optional Inception
package at import time.
"""

from __future__ import annotations

from . import diversity  # noqa: F401 - registers the "diversity" metric
from .distances import feature_statistics, frechet_distance, frechet_distance_from_features, kid
from .errors import INSTALL_HINT, EvalError, MetricsUnavailable
from .features import FEATURES, FeatureExtractor, InceptionFeatures, TinyFeatures, build_features
from .paired import PAIRED_METRICS, StackScores, score_stack
from .scores import DEFAULT_METRICS, METRICS
from .volumes import slice_consistency

__all__ = [
    "DEFAULT_METRICS",
    "FEATURES",
    "INSTALL_HINT",
    "METRICS",
    "EvalError",
    "FeatureExtractor",
    "InceptionFeatures",
    "MetricsUnavailable",
    "PAIRED_METRICS",
    "StackScores",
    "TinyFeatures",
    "build_features",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "kid",
    "score_stack",
    "slice_consistency",
]
