"""What a run or model folder records, read for its model card: the model folder and the run
folder around it, ``config.json`` and ``config.yaml``, the evaluations of these weights
(``eval/*.json``, ``metrics.jsonl``, ``config.json``'s ``eval``), the sample grid and the
training device. Nothing is loaded with torch; unreadable extras are left out with a warning.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import hub
from ..pretrained import CONFIG_NAME, model_folder
from .errors import PublishError

__all__ = ["Evaluation", "RunFolder", "evaluations", "hardware", "locate", "sample_grid", "tail"]

#: Feature networks whose FID/KID are not comparable with the usual (Inception) numbers.
STAND_IN_FEATURES = {"tiny": "a small stand-in network for tests, not Inception"}


@dataclass(frozen=True)
class RunFolder:
    """Where a model's facts live: its model folder, the run folder around it (None for a
    bare model folder), ``config.json`` and the run's ``config.yaml`` (None when absent)."""

    model_dir: Path
    run_dir: Path | None
    config: dict[str, Any]
    run_config: dict[str, Any] | None


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the weights: their ``step``, scores (``fid_a2b``, ``kid_b2a``, ...),
    where it was recorded, how it was measured (one sentence) and when (Unix time)."""

    step: int | None
    scores: dict[str, float]
    where: str
    how: str
    time: float


def locate(path: str | Path) -> RunFolder:
    """The model folder of ``path`` (itself, or a run folder's ``model/``) and its run folder.

    Raises:
        PublishError: a Hub name (publish a local folder), or an unreadable ``config.json``.
        unpaired.pretrained.ModelLoadError: neither ``path`` nor ``path/model`` holds one.
    """
    if hub.is_hub(path):
        raise PublishError(f"{path}: a Hub model; give the local run or model folder instead")
    path = Path(path)
    model_dir = model_folder(path)
    if model_dir != path:
        run_dir: Path | None = path
    else:
        run_dir = path.parent if (path.parent / "config.yaml").is_file() else None
    config_path = model_dir / CONFIG_NAME
    try:
        config = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PublishError(f"{config_path}: not readable JSON ({_short(exc)})") from None
    if not isinstance(config, dict):
        raise PublishError(f"{config_path}: must hold a JSON object")
    run_config = None
    if run_dir is not None and (run_dir / "config.yaml").is_file():
        try:
            loaded = yaml.safe_load((run_dir / "config.yaml").read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            warnings.warn(
                f"{run_dir / 'config.yaml'}: unreadable ({_short(exc)}); the model card leaves "
                "out what it records",
                stacklevel=2,
            )
            loaded = None
        run_config = loaded if isinstance(loaded, dict) else None
    return RunFolder(model_dir, run_dir, config, run_config)


def sample_grid(run: RunFolder) -> Path | None:
    """The run's sample grid of the model's step when there is one, else its latest
    (``samples/step_XXXXXX.png``); None without a run folder or samples."""
    if run.run_dir is None or not (run.run_dir / "samples").is_dir():
        return None
    grids = sorted(p for p in (run.run_dir / "samples").glob("step_*.png") if p.is_file())
    step = run.config.get("step")
    if isinstance(step, int):
        exact = run.run_dir / "samples" / f"step_{step:06d}.png"
        if exact in grids:
            return exact
    return grids[-1] if grids else None


def evaluations(run: RunFolder) -> list[Evaluation]:
    """Every recorded evaluation of these weights (the model's step), oldest first."""
    step = run.config.get("step")
    found: list[Evaluation] = []
    own = run.config.get("eval")
    if isinstance(own, dict):  # model_best/: the training evaluation that chose it
        stamp = own.get("time")  # usually none: then any later evaluation comes after it
        stamp = float(stamp) if isinstance(stamp, (int, float)) else 0.0
        found.append(_training_evaluation(own, run, f"`{CONFIG_NAME}` (`eval`)", stamp))
    if run.run_dir is not None:
        found += _metrics_jsonl(run)
        found += _eval_folder(run)
    if not isinstance(step, int):  # which weights the run's evaluations measured is unknown
        return [e for e in found if CONFIG_NAME in e.where]
    return sorted((e for e in found if e.step == step), key=lambda e: e.time)


def _scores(record: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in record.items():
        if key.startswith(("fid_", "kid_")) and key != "fid_mean":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = float(value)
    return out


def _feature_note(name: Any) -> str:
    text = Path(str(name)).name if name is not None else "unknown"
    note = STAND_IN_FEATURES.get(text)
    return f"feature network `{text}`" + (
        f" ({note}: not comparable with published FID/KID)" if note else ""
    )


def _training_evaluation(
    record: Mapping[str, Any], run: RunFolder, where: str, time: float
) -> Evaluation:
    rc = run.run_config or {}
    data = rc.get("data") if isinstance(rc.get("data"), dict) else {}
    parts = ["during training"]
    if rc.get("eval_features") is not None:
        parts.append(_feature_note(rc.get("eval_features")))
    if data.get("image_size") is not None:
        parts.append(f"images at {data['image_size']} px")
    if rc.get("eval_images") is not None:
        parts.append(f"the first {rc['eval_images']} test images per domain")
    step = record.get("step")
    return Evaluation(
        step if isinstance(step, int) else None,
        _scores(record),
        where,
        ", ".join(parts),
        time,
    )


def _metrics_jsonl(run: RunFolder) -> list[Evaluation]:
    assert run.run_dir is not None
    path = run.run_dir / "metrics.jsonl"
    out: list[Evaluation] = []
    for record in _jsonl(path):
        if "event" in record or not any(k.startswith("fid_") for k in record):
            continue
        time = record.get("time")
        stamp = float(time) if isinstance(time, (int, float)) else 0.0
        out.append(_training_evaluation(record, run, "`metrics.jsonl`", stamp))
    return out


def _eval_folder(run: RunFolder) -> list[Evaluation]:
    assert run.run_dir is not None
    out: list[Evaluation] = []
    for path in sorted((run.run_dir / "eval").glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            warnings.warn(
                f"{path}: unreadable ({_short(exc)}); left out of the model card", stacklevel=2
            )
            continue
        if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
            continue
        parts = ["with `unpaired evaluate`"]
        if record.get("features") is not None:
            parts.append(_feature_note(record["features"]))
        images = record.get("images")
        if isinstance(images, dict) and images:
            counts = " and ".join(f"{n} {d}" for d, n in images.items())
            parts.append(f"{counts} test images")
        if isinstance(record.get("data"), str):
            names = [tail(p, 2) for p in record["data"].split(" | ")]
            parts.append(f"from {' and '.join(f'`{n}`' for n in names)}")
        if record.get("size") is not None:
            parts.append(f"at {record['size']} px")
        step, time = record.get("step"), record.get("time")
        out.append(
            Evaluation(
                step if isinstance(step, int) else None,
                _scores(record["metrics"]),
                f"`eval/{path.name}`",
                ", ".join(parts),
                float(time) if isinstance(time, (int, float)) else 0.0,
            )
        )
    return out


def _jsonl(path: Path) -> Iterable[dict[str, Any]]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a run killed mid-write leaves a partial last line
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _short(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(str(text).split())[:160]


def tail(path: str, parts: int = 1) -> str:
    """The last ``parts`` components of a path (local folders reduced to their names)."""
    pieces = [p for p in re.split(r"[\\/]", path.strip()) if p]
    return "/".join(pieces[-parts:]) if pieces else path


def hardware(run: RunFolder) -> str | None:
    """The device of the run's first start (``metrics.jsonl``'s start event)."""
    if run.run_dir is None:
        return None
    for record in _jsonl(run.run_dir / "metrics.jsonl"):
        if record.get("event") == "start":
            hardware = record.get("hardware") if isinstance(record.get("hardware"), dict) else {}
            device, gpu = record.get("device"), hardware.get("gpu")
            if device is None:
                return None
            text = f"`{device}`" + (f" ({gpu})" if gpu else "")
            processes = record.get("processes")
            if isinstance(processes, int) and processes > 1:
                text += f", {processes} processes"
            return text
    return None
