"""``unpaired evaluate MODEL [DATA]``: the model translates the test images of each source
domain; FID and KID compare those translations with the real test images of the target
domain, the cycle metrics compare F(G(x)) with x, and volumes add their slice consistency."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data.images import image_size, list_images
from ..errors import UnpairedError
from ..medical.windows import model_windows
from ..metrics.core import DIRECTION_DOMAINS, TranslateFn, check_metrics, identity_translate, score
from ..metrics.errors import EvalError
from ..metrics.eval_data import EvalData, load_eval_data
from ..metrics.features import FeatureExtractor, build_features
from ..metrics.scores import DEFAULT_METRICS, METRICS
from .common import (
    PROTOCOL,
    EvalResult,
    check_limits,
    eval_dirs,
    finish,
    model_folders,
    output_and_device,
)


def _volume_consistency(
    translator: Any, folder: Path, direction: str, limit: int | None, batch_size: int
) -> float | None:
    """The mean slice consistency (:func:`unpaired.metrics.volumes.slice_consistency`, HU) of
    the translations of the 3-D volumes in ``folder`` (those among its first ``limit``
    slices), translated whole as ``unpaired translate`` does, the source seen through the input
    window; None when the folder holds no volume."""
    from ..medical.paired import is_volume_kind
    from ..medical.sources import kind_of, list_sources
    from ..medical.volume import probe, read_medical, resolve_axis
    from ..metrics.volumes import slice_consistency
    from ..translate.volumes import direction_windows, translate_volume

    window_in, _, axis = direction_windows(translator.config, direction)
    values, seen_slices = [], 0
    for path in list_sources(folder):
        if limit is not None and seen_slices >= limit:
            break
        if not is_volume_kind(kind_of(path)):
            continue
        try:
            array_axis = resolve_axis(axis, probe(path))
            image = read_medical(path) if array_axis != -1 else None
        except (UnpairedError, ValueError, OSError) as exc:
            raise EvalError(f"{path}: {exc}") from None
        if image is None or image.values.shape[array_axis] < 2:
            seen_slices += 1
            continue
        seen_slices += image.values.shape[array_axis]
        output = translate_volume(translator, image, array_axis, direction, batch_size)
        source = image.values
        if window_in is not None:
            source = np.clip(source, window_in.lo, window_in.hi)
        values.append(slice_consistency(source, output, array_axis))
    return float(np.mean(values)) if values else None


def evaluate(
    model: str | Path | None,
    data: str | Path | None = None,
    *,
    directions: tuple[str, ...] | None = None,
    metrics: tuple[str, ...] | None = None,
    num_images: int | None = None,
    device: str = "auto",
    features: str | FeatureExtractor = "inception",
    size: int | None = None,
    batch_size: int = 16,
    output: str | Path | None = None,
    save: bool = True,
) -> EvalResult:
    """Evaluate ``model`` (a run or model folder; None: the identity baseline) on ``data``
    (a folder with testA/ and testB/; None: the run's own data), in ``directions`` (None:
    every direction the model translates; both for the identity).

    ``metrics`` defaults to fid, kid, l1_cycle, psnr_cycle (the identity: fid, kid), plus
    ``demo`` on the demo data. ``features`` is a registered feature network, a TorchScript
    file or an extractor object. Raises :class:`EvalError` for user mistakes. ``save=False``:
    the JSON file is chosen but not written (call :meth:`EvalResult.save`).
    """
    from ..pretrained import ModelLoadError
    from ..translate import Translator

    start = time.perf_counter()
    check_limits(num_images, size, batch_size)
    for direction in directions or ():
        if direction not in DIRECTION_DOMAINS:
            raise EvalError(f"--direction {direction}: use a2b, b2a or both")
    torch_device = output_and_device(output, device)

    run_dir, info_model, step, held = None, {}, None, ("a2b", "b2a")
    defaults, stylize = DEFAULT_METRICS, None  # a model brings its own (its recipe says)
    windows: tuple[Any, Any] = (None, None)
    axis: Any = "axial"
    if model is not None:
        model_dir, run_dir = model_folders(model)
        try:
            translator = Translator.load(model_dir, torch_device, tile=0)
        except ModelLoadError as exc:
            raise EvalError(str(exc)) from None
        info_model = translator.config
        step = info_model.get("step")
        try:
            recorded, axis = model_windows(info_model)
        except ValueError as exc:
            raise EvalError(f"{model_dir / 'config.json'}: {exc}") from None
        windows = (recorded["a"], recorded["b"])
        translate: TranslateFn = translator.translate_unit
        defaults = translator.default_metrics
        if directions is None:
            directions = translator.directions
        for direction in directions:
            try:
                translator.channels(direction)
            except UnpairedError as exc:
                raise EvalError(f"--{exc}") from None
        stylize = translator.translate_variants if translator.inputs else None
        held = translator.directions
        channels = (int(info_model["channels_a"]), int(info_model["channels_b"]))
    else:
        channels = (3, 3)
        translate = identity_translate(*channels)
    directions = directions or ("a2b", "b2a")
    dir_a, dir_b, demo_root, note = eval_dirs(Path(data) if data else None, run_dir)
    if size is None:
        size = (info_model.get("preprocess") or {}).get("image_size")
    if size is None:  # the identity: the first image's shorter side
        first = list_images(dir_a)[:1]
        size = min(image_size(first[0])) if first else 256
    notes = []
    one_way = [d for d in directions if DIRECTION_DOMAINS[d][2] not in held]
    if metrics is None:
        base = defaults if model is not None else ("fid", "kid")
        kept = tuple(n for n in base if not (one_way and METRICS.get(n).needs_cycle))
        if kept != base:  # no way back: the cycle metrics cannot be computed
            notes.append(
                f"cycle metrics left out: the model folder holds {' and '.join(held)} only"
            )
        base = kept
        metrics = (*base, "demo") if demo_root is not None else base
    names = check_metrics(metrics, demo_root is not None)
    cyclic = [n for n in names if METRICS.get(n).needs_cycle]
    if one_way and cyclic:
        raise EvalError(
            f"--metrics {cyclic[0]}: translates back, but the model folder holds "
            f"{' and '.join(held)} only"
        )
    extractor = None
    if any(METRICS.get(n).needs_features for n in names):
        extractor = (
            build_features(features, torch_device) if isinstance(features, str) else features
        )
    eval_data: EvalData = load_eval_data(
        dir_a, dir_b, channels, size, num_images, demo_root, windows, axis
    )
    scores = score(
        translate, eval_data, directions, names, extractor, batch_size=batch_size, stylize=stylize
    )
    if model is not None:  # volumes: how much the translation flickers along the slices
        for direction in directions:
            source_dir = dir_a if DIRECTION_DOMAINS[direction][0] == "A" else dir_b
            value = _volume_consistency(translator, source_dir, direction, num_images, batch_size)
            if value is not None:
                scores[f"slice_consistency_{direction}"] = value
    notes = ([note] if note else []) + notes
    if extractor is not None and 1 in channels:
        notes.append("FID/KID: 1-channel images are repeated to 3 channels for the feature network")
    if any(w is not None for w in windows):
        shown = ", ".join(
            f"{d} [{w.lo:g}, {w.hi:g}]" for d, w in zip("AB", windows, strict=True) if w
        )
        notes.append(f"slices are windowed as in training: {shown} (HU)")
    info = {
        "model": str(model) if model is not None else "identity",
        "step": step,
        "data": eval_data.source,
        "size": size,
        "images": {"A": int(eval_data.a.shape[0]), "B": int(eval_data.b.shape[0])},
        "features": extractor.name if extractor is not None else None,
        "protocol": PROTOCOL,
        "channels": {"A": channels[0], "B": channels[1]},
        "gray_repeated_to_rgb": extractor is not None and 1 in channels,
        "windows": {d: (w.as_list() if w else None) for d, w in zip("AB", windows, strict=True)},
        "directions": list(directions),
        "metrics": scores,
        "device": str(torch_device),
        "seconds": round(time.perf_counter() - start, 1),
        "time": time.time(),
    }
    bad = [key for key, value in scores.items() if not math.isfinite(value)]
    if bad:
        notes.append(
            f"{', '.join(bad)}: not finite (the translations or their features hold NaN or "
            "infinite values)"
        )
    return finish(scores, info, list(directions), notes, output, run_dir, step, save)
