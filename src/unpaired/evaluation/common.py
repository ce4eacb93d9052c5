"""What every evaluation shares: the protocol line, the result, where the model, its run
folder and the test images are, where the JSON goes, and the bounds of the options."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..hub import is_hub
from ..metrics.errors import EvalError
from ..metrics.eval_data import is_demo_root
from ..metrics.features import INCEPTION_SIZE

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
            write_json(self.path, self.info)
        return self.path


def model_folders(model: str | Path) -> tuple[Path, Path | None]:
    """(model folder, run folder or None) for a run folder, a model folder or ``hf://`` name
    (its snapshot: a model folder)."""
    if is_hub(model):
        from ..pretrained import ModelLoadError, model_folder

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


def eval_dirs(data: Path | None, run_dir: Path | None) -> tuple[Path, Path, Path | None, str]:
    """(dir A, dir B, demo root or None, note) of the images to evaluate on."""
    if data is not None:
        if not data.is_dir():
            raise EvalError(f"DATA {data}: no such folder")
        if not ((data / "testA").is_dir() and (data / "testB").is_dir()):
            raise EvalError(f"DATA {data}: has no testA/ and testB/ folders")
        return data / "testA", data / "testB", data if is_demo_root(data) else None, ""
    if run_dir is None:
        raise EvalError("DATA: give a folder with testA/ and testB/ (MODEL is not a run folder)")
    from .. import config as cfg
    from ..data.layout import data_dirs

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


def json_path(run_dir: Path, step: Any) -> Path:
    stem = f"step_{int(step):06d}" if isinstance(step, int) else "step_unknown"
    path, n = run_dir / "eval" / f"{stem}.json", 1
    while path.exists():  # never overwrite an earlier evaluation
        n += 1
        path = run_dir / "eval" / f"{stem}-{n}.json"
    return path


def write_json(path: Path, record: dict[str, Any]) -> None:
    from ..fs import atomic_write

    text = json.dumps(record, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: p.write_text(text))


def finish(
    scores: dict[str, float],
    info: dict[str, Any],
    directions: list[str],
    notes: list[str],
    output: str | Path | None,
    run_dir: Path | None,
    step: Any,
    save: bool,
) -> EvalResult:
    """The result of an evaluation. Its JSON goes to ``output``, else to a new
    ``<run>/eval/step_XXXXXX.json`` for a run folder, else nowhere; it is written now unless
    ``save`` is False (then :meth:`EvalResult.save` writes it)."""
    path = Path(output) if output is not None else None
    if path is None and run_dir is not None:
        path = json_path(run_dir, step)
    result = EvalResult(scores, info, directions, path, notes)
    if save:
        result.save()
    return result


def check_limits(num_images: int | None, size: int | None, batch_size: int | None) -> None:
    """The bounds every evaluation shares; a value below its bound is one line."""
    limits = {"--num-images": (num_images, 2), "--size": (size, 8), "--batch-size": (batch_size, 1)}
    for name, (value, low) in limits.items():
        if value is not None and value < low:
            raise EvalError(f"{name} {value}: must be at least {low}")


def output_and_device(output: str | Path | None, device: str) -> Any:
    """Refuse an existing ``--output`` (never overwritten); the torch device of ``--device``."""
    from ..translate.translator import resolve_device

    if output is not None and Path(output).exists():
        raise EvalError(f"--output {output}: exists; not overwriting it")
    try:
        return resolve_device(device)
    except ValueError as exc:
        raise EvalError(f"--device {exc}") from None
