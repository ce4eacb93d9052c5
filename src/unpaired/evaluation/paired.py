"""``unpaired evaluate --paired SRC TGT``: MAE, PSNR and SSIM of translations against
registered targets, photos in 8-bit levels, CT/MRI volumes in HU."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UnpairedError
from ..metrics.core import DIRECTION_DOMAINS
from ..metrics.errors import EvalError
from ..metrics.paired import PHOTO_RANGE
from .common import EvalResult, check_limits, finish, model_folders, output_and_device


def _load_translator(model: str | Path, device: Any):
    from ..pretrained import ModelLoadError
    from ..translate import Translator

    model_dir, run_dir = model_folders(model)
    try:
        return Translator.load(model_dir, device, tile=0), model_dir, run_dir
    except ModelLoadError as exc:
        raise EvalError(str(exc)) from None


def _photo_item(translator: Any, pair: Any, direction: str, channels: tuple[int, int]):
    """(output, target, mask or None) of a photo pair: output and target in [0, 255],
    ``(C, H, W)`` float64, the translation quantized to 8 bits, as a saved file would be (the
    identity: the source itself); the mask ``(H, W)`` bool."""
    import torch

    from ..data.convert import match_channels
    from ..data.errors import DataError
    from ..medical.paired import read_photo_pair
    from ..metrics.eval_data import quantize

    try:
        source, target, mask = read_photo_pair(pair, channels)
    except DataError as exc:
        raise EvalError(str(exc)) from None
    with torch.no_grad():
        if translator is None:
            output = match_channels(source[None], channels[1])
        else:
            output = translator.translate_unit(source[None], direction).float().cpu()
    output = quantize(output)[0] * PHOTO_RANGE
    return output.double().numpy(), (target * PHOTO_RANGE).double().numpy(), mask


def evaluate_paired(
    model: str | Path | None,
    source_dir: str | Path,
    target_dir: str | Path,
    mask_dir: str | Path | None = None,
    *,
    direction: str = "a2b",
    window: Any = None,
    data_range: float | None = None,
    keep_outside_window: bool = False,
    axis: Any = None,
    device: str = "auto",
    batch_size: int = 16,
    output: str | Path | None = None,
    save: bool = True,
) -> EvalResult:
    """Score ``model`` (a run or model folder, ``hf://`` name; None or ``"identity"``: the
    output is the input) on registered pairs: each source under ``source_dir`` is translated
    in ``direction`` and compared with the file of the same relative name under
    ``target_dir`` (inside the mask of that name under ``mask_dir``, nonzero = inside).

    Volumes (NIfTI, DICOM, ``.npy``; 2-D images when the source domain has a window) are
    translated whole as ``unpaired translate`` does and scored in HU: the target is clipped to
    the model's output window (what the model can write; not with ``keep_outside_window``,
    which gives voxels outside the input window their input values, as ``translate
    --keep-outside-window`` does); PSNR's and SSIM's data range is that window's width (or
    ``data_range``; without any window each target's own range); each volume's slice
    consistency is reported (:func:`unpaired.metrics.volumes.slice_consistency`, the source
    clipped to the input window). Photos are scored in [0, 255] (data range 255), the
    translation quantized to 8 bits. ``window`` (a preset, ``"lo,hi"``) is for the identity
    only: both sides seen through it, as a model trained with it would.

    Returns an :class:`EvalResult` whose ``scores`` are the means over the items (``mae_a2b``,
    ``psnr_a2b``, ``ssim_a2b``, ``slice_consistency_a2b``) and whose ``info["items"]`` holds
    each item's values (a volume's also per slice). Raises :class:`EvalError` /
    :class:`~unpaired.data.errors.DataError` with one line naming the file or option.
    """

    from ..medical.paired import find_pairs, is_volume_kind, prepare_pair
    from ..medical.volume import slice_view
    from ..medical.windows import parse_window
    from ..metrics.paired import PAIRED_METRICS, average, score_item
    from ..translate.volumes import direction_windows, translate_volume

    start = time.perf_counter()
    if direction not in DIRECTION_DOMAINS:
        raise EvalError(f"--direction {direction}: use a2b or b2a")
    check_limits(None, None, batch_size)
    if data_range is not None and not (data_range > 0 and math.isfinite(data_range)):
        raise EvalError(f"--data-range {data_range}: must be a positive number")
    torch_device = output_and_device(output, device)
    identity = model is None or str(model) == "identity"
    translator, run_dir, step, info_model = None, None, None, {}
    if identity:
        try:
            window_in = window_out = parse_window(window, "--window")
        except ValueError as exc:
            raise EvalError(str(exc)) from None
        model_axis: Any = "axial"
        channels = (3, 3)
    else:
        if window is not None:
            raise EvalError(
                "--window: only for the identity baseline; a model uses the windows saved with it"
            )
        translator, _, run_dir = _load_translator(model, torch_device)
        info_model, step = translator.config, translator.config.get("step")
        try:
            channels = translator.channels(direction)
            window_in, window_out, model_axis = direction_windows(info_model, direction)
        except UnpairedError as exc:
            raise EvalError(f"--{exc}") from None
        except ValueError as exc:
            raise EvalError(f"{info_model.get('run', model)} config.json: {exc}") from None
    axis = model_axis if axis is None else axis
    pairs = find_pairs(source_dir, target_dir, mask_dir)
    volumes = {is_volume_kind(p.kind) or window_in is not None for p in pairs}
    if len(volumes) > 1:
        raise EvalError(
            f"--paired {source_dir}: holds both photos and medical volumes; score them apart"
        )
    medical = volumes.pop()
    items: list[dict[str, Any]] = []
    for pair in pairs:
        record: dict[str, Any] = {
            "name": pair.name,
            "source": str(pair.source),
            "target": str(pair.target),
            "mask": None if pair.mask is None else str(pair.mask),
        }
        if medical:
            prepared = prepare_pair(
                pair, window_in, window_out, axis, keep_outside_window, data_range
            )
            if translator is None:  # the identity: the source as the model would see it
                out = prepared.seen
            else:
                out = translate_volume(
                    translator,
                    prepared.image,
                    prepared.axis,
                    direction,
                    batch_size,
                    keep_outside_window,
                )
            try:
                scores = score_item(
                    out,
                    prepared.target,
                    prepared.data_range,
                    prepared.axis,
                    prepared.mask,
                    prepared.seen,
                )
            except EvalError as exc:
                raise EvalError(f"{pair.source}: {exc}") from None
            record["slices_along"] = prepared.axis
            record["shape"] = list(slice_view(prepared.image.values, prepared.axis).shape)
        else:
            out, target, mask = _photo_item(translator, pair, direction, channels)
            scores = score_item(out, target, data_range or PHOTO_RANGE, -1, mask)
        record.update(scores)
        items.append(record)
    means = average(items, tuple(PAIRED_METRICS))
    consistency = [i["slice_consistency"] for i in items if "slice_consistency" in i]
    if consistency:
        means["slice_consistency"] = float(np.mean(consistency))
    result_scores = {f"{k}_{direction}": float(v) for k, v in means.items()}
    ranges = sorted({float(i["data_range"]) for i in items})
    notes = []
    if medical:
        units = "HU (physical units)"
        if data_range is not None:
            range_text = f"{data_range:g} (--data-range)"
        elif window_out is not None:
            range_text = f"{window_out.hi - window_out.lo:g} (the width of the output window)"
        else:
            range_text = "each target's own range (no window recorded)"
        clip = None if keep_outside_window or window_out is None else window_out.as_list()
        if clip is not None:
            notes.append(
                f"targets clipped to the output window [{clip[0]:g}, {clip[1]:g}] HU, as the "
                "model writes only that range (--keep-outside-window: not clipped)"
            )
    else:
        units, clip = "8-bit levels [0, 255]", None
        range_text = f"{data_range or PHOTO_RANGE:g}"
    info = {
        "model": "identity" if identity else str(model),
        "step": step,
        "paired": {
            "source": str(source_dir),
            "target": str(target_dir),
            "mask": None if mask_dir is None else str(mask_dir),
        },
        "direction": direction,
        "directions": [direction],
        "units": units,
        "data_range": ranges[0] if len(ranges) == 1 else ranges,
        "data_range_rule": range_text,
        "windows": {
            "input": window_in.as_list() if window_in is not None else None,
            "output": window_out.as_list() if window_out is not None else None,
        },
        "target_clipped_to": clip,
        "keep_outside_window": keep_outside_window,
        "ssim": "11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03; mean of the map over "
        "window centres (inside the mask)",
        "slice_consistency": "mean |out[k+1]-out[k]| - mean |in[k+1]-in[k]| (HU); positive: "
        "the output flickers more than the input",
        "count": len(items),
        "metrics": result_scores,
        "items": items,
        "device": str(torch_device),
        "seconds": round(time.perf_counter() - start, 1),
        "time": time.time(),
    }
    return finish(result_scores, info, [direction], notes, output, run_dir, step, save)
