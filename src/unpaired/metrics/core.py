"""Score a translation function on prepared test images: the part shared by ``unpaired
evaluate`` and evaluation during training.

A translation function maps ``(N, C_in, S, S)`` in [0, 1] and a direction (``"a2b"`` /
``"b2a"``) to ``(N, C_out, S, S)`` in [0, 1]. Its outputs are quantized to 8 bits before they
are scored or translated back (the cycle), as saved files would be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from ..data.convert import match_channels
from .errors import EvalError
from .eval_data import EvalData, quantize
from .features import FeatureExtractor
from .scores import METRICS, DirectionView

__all__ = ["DIRECTION_DOMAINS", "TranslateFn", "check_metrics", "identity_translate", "score"]

TranslateFn = Callable[[Tensor, str], Tensor]

#: direction -> (source domain, target domain, the opposite direction)
DIRECTION_DOMAINS = {"a2b": ("A", "B", "b2a"), "b2a": ("B", "A", "a2b")}


def identity_translate(channels_a: int, channels_b: int) -> TranslateFn:
    """The baseline "translation" that returns its input (with the target's channel count)."""
    out_channels = {"a2b": channels_b, "b2a": channels_a}
    return lambda x, direction: match_channels(x, out_channels[direction])


def check_metrics(names: Iterable[str], demo: bool) -> list[str]:
    """Validate metric names (``--metrics``); returns them as a list."""
    names = list(names)
    for name in names:
        if name not in METRICS:
            raise EvalError(
                f"--metrics {name}: unknown metric; choose from {', '.join(METRICS.names())}"
            )
        if METRICS.get(name).needs_truth and not demo:
            raise EvalError(
                f"--metrics {name}: needs the demo data's ground truth (truth/, demo.json), "
                "which this data does not have"
            )
    if not names:
        raise EvalError("--metrics: name at least one metric")
    return names


def _translate_batches(
    translate: TranslateFn, images: Tensor, direction: str, batch_size: int
) -> Tensor:
    parts = [
        quantize(translate(images[i : i + batch_size], direction).float().cpu())
        for i in range(0, images.shape[0], batch_size)
    ]
    return torch.cat(parts)


def score(
    translate: TranslateFn,
    data: EvalData,
    directions: Sequence[str],
    metrics: Sequence[str],
    extractor: FeatureExtractor | None,
    cache: dict | None = None,
    batch_size: int = 16,
    stylize: Callable[[Tensor, str, int], Tensor] | None = None,
) -> dict[str, float]:
    """``{"<value>_<direction>": number}`` for every metric and direction, e.g. ``fid_a2b``.

    ``cache`` keeps the real images' features between calls (evaluation during training);
    ``stylize`` (models with styles) feeds the ``diversity`` metric (see ``DirectionView``).
    """
    cache = {} if cache is None else cache
    results: dict[str, float] = {}
    with torch.no_grad():
        for direction in directions:
            source_letter, target_letter, back = DIRECTION_DOMAINS[direction]
            source = data.domain(source_letter)
            view = DirectionView(
                direction,
                source,
                _translate_batches(translate, source, direction, batch_size),
                data.domain(target_letter),
                lambda fake, back=back: _translate_batches(translate, fake, back, batch_size),
                extractor,
                cache,
                data.truth.get(direction),
                batch_size,
                stylize,
            )
            for name in metrics:
                values = METRICS.get(name).compute(view)
                results.update({f"{key}_{direction}": value for key, value in values.items()})
    return results
