"""``unpaired evaluate --from-folder DIR``: FID/KID of translations already written to files
(PNG or JPEG), read and prepared as :func:`~unpaired.evaluation.evaluate` prepares its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..data.images import image_size, list_images
from ..hub import is_hub
from ..metrics.core import DIRECTION_DOMAINS, check_metrics, identity_translate, score
from ..metrics.errors import EvalError
from ..metrics.eval_data import EvalData, load_folder
from ..metrics.features import FeatureExtractor, build_features
from ..metrics.scores import METRICS
from .common import (
    PROTOCOL,
    EvalResult,
    check_limits,
    eval_dirs,
    finish,
    model_folders,
    output_and_device,
)


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
    check_limits(num_images, size, batch_size)
    if direction not in DIRECTION_DOMAINS:
        raise EvalError(f"--direction {direction}: --from-folder scores one direction (a2b or b2a)")
    torch_device = output_and_device(output, device)
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
        model_dir, run_dir = model_folders(model)
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
        dir_a, dir_b, _, note = eval_dirs(Path(data) if data else None, run_dir)
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
    return finish(scores, info, [direction], notes, output, run_dir, info_model.get("step"), save)
