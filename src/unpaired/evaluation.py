"""``unpaired evaluate``: score a trained model (or the identity baseline) on test images.

The model translates the test images of each source domain; FID and KID compare those
translations with the real test images of the target domain, and the cycle metrics compare
F(G(x)) with x. On the demo domains the ground-truth scores are added. The numbers go to a
table on stdout and, for a run folder, to ``<run>/eval/step_XXXXXX.json`` (the command prints
the table first, then writes: a read-only run folder loses no scores, and says where it could
not write, exit status 1).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data.images import image_size, list_images
from .errors import UnpairedError
from .hub import is_hub
from .medical.windows import model_windows
from .metrics.core import DIRECTION_DOMAINS, TranslateFn, check_metrics, identity_translate, score
from .metrics.errors import EvalError
from .metrics.eval_data import EvalData, is_demo_root, load_eval_data, load_folder
from .metrics.features import INCEPTION_SIZE, FeatureExtractor, build_features
from .metrics.scores import DEFAULT_METRICS, METRICS

__all__ = [
    "EvalResult",
    "evaluate",
    "evaluate_folder",
    "evaluate_paired",
    "format_paired_table",
    "format_table",
]

PROTOCOL = (
    f"8-bit images, bicubic antialiased resize to {INCEPTION_SIZE}x{INCEPTION_SIZE}, "
    "v/128-1, float64 statistics; KID: cubic kernel, 100 subsets of min(1000, n)"
)


@dataclass
class EvalResult:
    """The scores (``{"fid_a2b": ...}``), what they were computed on, and the JSON file
    (written by :func:`evaluate`, or by :meth:`save` when it was asked not to)."""

    scores: dict[str, float]
    info: dict[str, Any]
    directions: list[str]
    path: Path | None = None
    notes: list[str] = field(default_factory=list)

    def save(self) -> Path | None:
        """Write :attr:`info` as JSON to :attr:`path` (atomically; nothing when None).
        An ``OSError`` (read-only folder, full disk) leaves no partial file."""
        if self.path is not None:
            _write_json(self.path, self.info)
        return self.path


def _model_folders(model: str | Path) -> tuple[Path, Path | None]:
    """(model folder, run folder or None) for a run folder, a model folder or ``hf://`` name
    (its snapshot: a model folder)."""
    if is_hub(model):
        from .pretrained import ModelLoadError, model_folder

        try:
            return model_folder(model), None
        except ModelLoadError as exc:
            raise EvalError(str(exc)) from None
    path = Path(model)
    if (path / "model" / "config.json").is_file():
        return path / "model", path
    if (path / "config.json").is_file():
        run = path.parent if (path.parent / "config.yaml").is_file() else None
        return path, run
    raise EvalError(f"MODEL {path}: no model here (expected config.json in it or in model/)")


def _data_dirs(data: Path | None, run_dir: Path | None) -> tuple[Path, Path, Path | None, str]:
    """(dir A, dir B, demo root or None, note) of the images to evaluate on."""
    if data is not None:
        if not data.is_dir():
            raise EvalError(f"DATA {data}: no such folder")
        if not ((data / "testA").is_dir() and (data / "testB").is_dir()):
            raise EvalError(f"DATA {data}: has no testA/ and testB/ folders")
        return data / "testA", data / "testB", data if is_demo_root(data) else None, ""
    if run_dir is None:
        raise EvalError("DATA: give a folder with testA/ and testB/ (MODEL is not a run folder)")
    from . import config as cfg
    from .data.layout import data_dirs

    try:
        saved = cfg.load_yaml(run_dir / "config.yaml")
        config = cfg.build_config(saved, {"runs_dir": str(run_dir.parent)})
    except cfg.ConfigError as exc:
        raise EvalError(f"{run_dir / 'config.yaml'}: {exc}") from None
    train_a, train_b, test_a, test_b = data_dirs(config)
    if test_a is not None and test_b is not None:
        return test_a, test_b, test_a.parent if is_demo_root(test_a.parent) else None, ""
    note = f"no testA/ and testB/ in the run's data: evaluating on {train_a} and {train_b}"
    return train_a, train_b, None, note


def _volume_consistency(
    translator: Any, folder: Path, direction: str, limit: int | None, batch_size: int
) -> float | None:
    """The mean slice consistency (:func:`unpaired.metrics.volumes.slice_consistency`, HU) of
    the translations of the 3-D volumes in ``folder`` (those among its first ``limit``
    slices), translated whole as ``unpaired translate`` does, the source seen through the input
    window; None when the folder holds no volume."""
    from .medical.paired import is_volume_kind
    from .medical.sources import kind_of, list_sources
    from .medical.volume import probe, read_medical, resolve_axis
    from .metrics.volumes import slice_consistency
    from .translate.volumes import direction_windows, translate_volume

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


def _json_path(run_dir: Path, step: Any) -> Path:
    stem = f"step_{int(step):06d}" if isinstance(step, int) else "step_unknown"
    path, n = run_dir / "eval" / f"{stem}.json", 1
    while path.exists():  # never overwrite an earlier evaluation
        n += 1
        path = run_dir / "eval" / f"{stem}-{n}.json"
    return path


def _write_json(path: Path, record: dict[str, Any]) -> None:
    from .fs import atomic_write

    text = json.dumps(record, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: p.write_text(text))


def _check_limits(num_images: int | None, size: int | None, batch_size: int | None) -> None:
    """The bounds every evaluation shares; a value below its bound is one line."""
    limits = {"--num-images": (num_images, 2), "--size": (size, 8), "--batch-size": (batch_size, 1)}
    for name, (value, low) in limits.items():
        if value is not None and value < low:
            raise EvalError(f"{name} {value}: must be at least {low}")


def _output_and_device(output: str | Path | None, device: str) -> Any:
    """Refuse an existing ``--output`` (never overwritten); the torch device of ``--device``."""
    from .translate.translator import resolve_device

    if output is not None and Path(output).exists():
        raise EvalError(f"--output {output}: exists; not overwriting it")
    try:
        return resolve_device(device)
    except ValueError as exc:
        raise EvalError(f"--device {exc}") from None


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
    from .pretrained import ModelLoadError
    from .translate import Translator

    start = time.perf_counter()
    _check_limits(num_images, size, batch_size)
    for direction in directions or ():
        if direction not in DIRECTION_DOMAINS:
            raise EvalError(f"--direction {direction}: use a2b, b2a or both")
    torch_device = _output_and_device(output, device)

    run_dir, info_model, step, held = None, {}, None, ("a2b", "b2a")
    defaults, stylize = DEFAULT_METRICS, None  # a model brings its own (its recipe says)
    windows: tuple[Any, Any] = (None, None)
    axis: Any = "axial"
    if model is not None:
        model_dir, run_dir = _model_folders(model)
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
    dir_a, dir_b, demo_root, note = _data_dirs(Path(data) if data else None, run_dir)
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
    path = Path(output) if output is not None else None
    if path is None and run_dir is not None:
        path = _json_path(run_dir, step)
    bad = [key for key, value in scores.items() if not math.isfinite(value)]
    if bad:
        notes.append(
            f"{', '.join(bad)}: not finite (the translations or their features hold NaN or "
            "infinite values)"
        )
    result = EvalResult(scores, info, list(directions), path, notes)
    if save:
        result.save()
    return result


# --- already translated files ---------------------------------------------------------------
def evaluate_folder(
    folder: str | Path,
    model: str | Path | None = None,
    data: str | Path | None = None,
    *,
    target: str | Path | None = None,
    direction: str = "a2b",
    metrics: tuple[str, ...] | None = None,
    num_images: int | None = None,
    device: str = "auto",
    features: str | FeatureExtractor = "inception",
    size: int | None = None,
    batch_size: int = 16,
    output: str | Path | None = None,
    save: bool = True,
) -> EvalResult:
    """FID/KID of translations already written to ``folder`` (``unpaired translate``'s output,
    PNG or JPEG) against the real test images of the ``direction``'s target domain, read and
    prepared exactly as :func:`evaluate` prepares its own translations (the same protocol:
    shorter side to ``size``, center crop, 8 bits).

    The target images are ``target`` (a folder), else ``data``'s testB/ (a2b) or testA/
    (b2a), else the run's own test images when ``model`` is a run folder. ``model`` (never
    run) gives the defaults of ``size`` (its training crop) and the channel count; without
    one the translations' first image sets the size. The JSON goes to ``output``, else to
    ``<run>/eval/`` for a run folder, else nowhere.
    """
    start = time.perf_counter()
    _check_limits(num_images, size, batch_size)
    if direction not in DIRECTION_DOMAINS:
        raise EvalError(f"--direction {direction}: --from-folder scores one direction (a2b or b2a)")
    torch_device = _output_and_device(output, device)
    folder = Path(folder)
    if not folder.is_dir():
        raise EvalError(f"--from-folder {folder}: no such folder")
    names = list(metrics) if metrics is not None else ["fid", "kid"]
    for name in names:
        if name in METRICS and METRICS.get(name).needs_cycle:
            raise EvalError(
                f"--metrics {name}: not with --from-folder (no model translates the files back)"
            )
    names = check_metrics(names, False)
    source_letter, target_letter, _ = DIRECTION_DOMAINS[direction]
    run_dir, info_model = None, {}
    if model is not None and data is None and not is_hub(model):
        as_data = Path(model)  # --from-folder DIR DATA: no model, only the test images
        if (as_data / "testA").is_dir() and (as_data / "testB").is_dir():
            model, data = None, as_data
    if model is not None:
        model_dir, run_dir = _model_folders(model)
        try:
            info_model = json.loads((model_dir / "config.json").read_text())
        except (OSError, ValueError) as exc:
            raise EvalError(f"MODEL {model}: cannot read its config.json ({exc})") from None
    channels = int(info_model.get(f"channels_{target_letter.lower()}", 3))
    note = ""
    if target is None:
        if data is None and run_dir is None:
            raise EvalError(
                "--from-folder: give the target images (--target DIR, a DATA folder with "
                "testA/ and testB/, or the run folder MODEL)"
            )
        dir_a, dir_b, _, note = _data_dirs(Path(data) if data else None, run_dir)
        target = dir_b if target_letter == "B" else dir_a
    target = Path(target)
    if not target.is_dir():
        raise EvalError(f"--target {target}: no such folder")
    files = list_images(folder)
    if not files:
        raise EvalError(f"--from-folder {folder}: holds no images (PNG, JPEG, ...)")
    if size is None:
        size = (info_model.get("preprocess") or {}).get("image_size")
    if size is None:
        size = min(image_size(files[0]))
    translated, _ = load_folder(folder, channels, size, num_images)
    real, _ = load_folder(target, channels, size, num_images)
    # The files stand in for the translations: the "translation" returns them as they are,
    # and score() quantizes and scores them as evaluate scores its own.
    pair = (translated, real) if source_letter == "A" else (real, translated)
    names_of = [str(i) for i in range(pair[0].shape[0])], [str(i) for i in range(pair[1].shape[0])]
    eval_data = EvalData(*pair, *names_of, size, f"{folder} | {target}")
    extractor = build_features(features, torch_device) if isinstance(features, str) else features
    scores = score(
        identity_translate(channels, channels), eval_data, [direction], names, extractor,
        batch_size=batch_size,
    )  # fmt: skip
    notes = [note] if note else []
    suffixes = sorted({p.suffix.lower() for p in files})
    if any(s in (".jpg", ".jpeg") for s in suffixes):
        notes.append(
            "JPEG files: their compression smooths high-frequency artifacts, so FID/KID can be "
            "lower than evaluate's in-memory 8-bit scores of the same model (docs/evaluation.md)"
        )
    info = {
        "model": str(model) if model is not None else None,
        "step": info_model.get("step"),
        "from_folder": str(folder),
        "file_types": suffixes,
        "data": eval_data.source,
        "size": size,
        "images": {source_letter: int(translated.shape[0]), target_letter: int(real.shape[0])},
        "features": extractor.name,
        "protocol": PROTOCOL,
        "directions": [direction],
        "metrics": scores,
        "device": str(torch_device),
        "seconds": round(time.perf_counter() - start, 1),
        "time": time.time(),
    }
    path = Path(output) if output is not None else None
    if path is None and run_dir is not None:
        path = _json_path(run_dir, info_model.get("step"))
    result = EvalResult(scores, info, [direction], path, notes)
    if save:
        result.save()
    return result


# --- paired validation ----------------------------------------------------------------------
PHOTO_RANGE = 255.0  # photos are scored in 8-bit levels


def _load_translator(model: str | Path, device: Any):
    from .pretrained import ModelLoadError
    from .translate import Translator

    model_dir, run_dir = _model_folders(model)
    try:
        return Translator.load(model_dir, device, tile=0), model_dir, run_dir
    except ModelLoadError as exc:
        raise EvalError(str(exc)) from None


def _photo_item(translator: Any, pair: Any, direction: str, channels: tuple[int, int]):
    """(output, target) of a photo pair in [0, 255], ``(C, H, W)`` float64: the translation
    quantized to 8 bits, as a saved file would be (the identity: the source itself)."""
    import torch

    from .data.convert import match_channels
    from .data.images import ImageReadError, read_image
    from .metrics.eval_data import quantize

    try:
        source = read_image(pair.source, channels[0])
        target = read_image(pair.target, channels[1])
    except ImageReadError as exc:
        raise EvalError(str(exc)) from None
    if source.shape[-2:] != target.shape[-2:]:
        raise EvalError(
            f"target {pair.target} is {target.shape[-1]}x{target.shape[-2]} but its source "
            f"{pair.source} is {source.shape[-1]}x{source.shape[-2]}; a paired target must "
            "have its source's size"
        )
    with torch.no_grad():
        if translator is None:
            output = match_channels(source[None], channels[1])
        else:
            output = translator.translate_unit(source[None], direction).float().cpu()
    output = quantize(output)[0] * PHOTO_RANGE
    return output.double().numpy(), (target * PHOTO_RANGE).double().numpy()


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
    import numpy as np

    from .medical.paired import find_pairs, is_volume_kind, prepare_pair, read_mask
    from .medical.volume import slice_view
    from .medical.windows import parse_window
    from .metrics.paired import PAIRED_METRICS, average, score_item
    from .translate.volumes import direction_windows, translate_volume

    start = time.perf_counter()
    if direction not in DIRECTION_DOMAINS:
        raise EvalError(f"--direction {direction}: use a2b or b2a")
    _check_limits(None, None, batch_size)
    if data_range is not None and not (data_range > 0 and math.isfinite(data_range)):
        raise EvalError(f"--data-range {data_range}: must be a positive number")
    torch_device = _output_and_device(output, device)
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
            out, target = _photo_item(translator, pair, direction, channels)
            mask = None
            if pair.mask is not None:
                mask = read_mask(pair.mask, target.shape[-2:], pair.source)
                if not mask.any():
                    raise EvalError(f"mask {pair.mask}: has no pixel inside (all zero)")
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
    path = Path(output) if output is not None else None
    if path is None and run_dir is not None:
        path = _json_path(run_dir, step)
    result = EvalResult(result_scores, info, [direction], path, notes)
    if save:
        result.save()
    return result


def format_paired_table(result: EvalResult) -> str:
    """The items of :func:`evaluate_paired` as a text table (one row per image or volume,
    then the mean)."""
    info = result.info
    direction = info["direction"]
    keys = [
        k
        for k in ("mae", "psnr", "ssim", "slice_consistency")
        if f"{k}_{direction}" in result.scores
    ]
    heads = {"mae": "MAE", "psnr": "PSNR dB", "ssim": "SSIM", "slice_consistency": "slice cons."}
    names = [str(i["name"]) for i in info["items"]] + ["mean"]
    width = max(len(n) for n in names) + 2
    lines = ["".ljust(width) + "".join(heads[k].rjust(13) for k in keys)]
    for item in info["items"]:
        cells = [_fmt(float(item[k])) if k in item else "-" for k in keys]
        lines.append(str(item["name"]).ljust(width) + "".join(c.rjust(13) for c in cells))
    cells = [_fmt(result.scores[f"{k}_{direction}"]) for k in keys]
    lines.append("mean".ljust(width) + "".join(c.rjust(13) for c in cells))
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "nan"
    if abs(value) < 1e-12:  # 0, or round-off around it (e.g. the std of identical subsets)
        return "0"
    if 0.01 <= abs(value) < 1e5:
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{value:.3e}"


def format_table(result: EvalResult) -> str:
    """The scores as a text table: one row per value, one column per direction."""
    rows: list[str] = []
    for key in result.scores:
        base = key.rsplit("_", 1)[0]
        if base not in rows:
            rows.append(base)
    width = max([len(r) for r in rows] + [6]) + 2
    lines = ["".ljust(width) + "".join(d.rjust(12) for d in result.directions)]
    for base in rows:
        cells = [
            _fmt(result.scores[f"{base}_{d}"]) if f"{base}_{d}" in result.scores else "-"
            for d in result.directions
        ]
        lines.append(base.ljust(width) + "".join(c.rjust(12) for c in cells))
    return "\n".join(lines)
