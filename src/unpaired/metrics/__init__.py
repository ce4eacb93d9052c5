"""Translation quality: FID, KID, cycle reconstruction and the demo's ground-truth scores.

::

    from unpaired.metrics import evaluate, format_table

    result = evaluate("runs/horse2zebra", "data/horse2zebra")   # testA/ and testB/ inside
    print(format_table(result))                                  # result.scores["fid_a2b"], ...

Modules: :mod:`.distances` (Fréchet distance, KID), :mod:`.features` (the preprocessing
protocol, the Inception network, the :class:`FeatureExtractor` protocol and a stand-in),
:mod:`.scores` (metrics by name), :mod:`.demo_truth`, :mod:`.eval_data` (test images),
:mod:`.core` (scoring a translation function), :mod:`.evaluate` (the command),
:mod:`.during_training`. Nothing here imports the optional Inception package at import time.
"""

from __future__ import annotations

from . import diversity  # noqa: F401 - registers the "diversity" metric
from .distances import feature_statistics, frechet_distance, frechet_distance_from_features, kid
from .errors import INSTALL_HINT, EvalError, MetricsUnavailable
from .evaluate import EvalResult, evaluate, format_table
from .features import FEATURES, FeatureExtractor, InceptionFeatures, TinyFeatures, build_features
from .scores import DEFAULT_METRICS, METRICS

__all__ = [
    "DEFAULT_METRICS",
    "FEATURES",
    "INSTALL_HINT",
    "METRICS",
    "EvalError",
    "EvalResult",
    "FeatureExtractor",
    "InceptionFeatures",
    "MetricsUnavailable",
    "TinyFeatures",
    "build_features",
    "evaluate",
    "feature_statistics",
    "format_table",
    "frechet_distance",
    "frechet_distance_from_features",
    "kid",
]
