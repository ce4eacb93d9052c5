"""Run logging: one JSON object per line in ``metrics.jsonl`` (always), plain text or tqdm;
TensorBoard and W&B adapters (``--tensorboard``, ``--wandb``) whose packages are imported only
when asked for; the hardware a run ran on.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import platform
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from ..fs import atomic_write
from ..progress import BarOrLines


class Tracker(Protocol):
    """Anything that takes the records of ``metrics.jsonl`` (``{"step": 10, "G_A": 0.3, ...}``
    or events ``{"event": "start", ...}``)."""

    def log(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonlLogger:
    """Appends records to ``metrics.jsonl``; each write is flushed so a kill loses nothing.

    ``also``: more trackers (TensorBoard, W&B) that receive every record too.
    """

    def __init__(self, path: Path, also: Sequence[Tracker] = ()) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept for the run
        self.also = list(also)

    def log(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, allow_nan=True) + "\n")
        self._fh.flush()
        for tracker in self.also:
            tracker.log(record)

    def close(self) -> None:
        self._fh.close()
        for tracker in self.also:
            tracker.close()


class NullLogger:
    """What ranks other than 0 log to under torchrun: nothing."""

    def log(self, record: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


def _scalars(record: dict[str, Any]) -> dict[str, float]:
    """The plottable values of a step record (events and wall-clock fields left out)."""
    if "event" in record or not isinstance(record.get("step"), int):
        return {}
    return {
        k: float(v)
        for k, v in record.items()
        if k not in ("step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


class TensorBoardTracker:
    """Scalars into ``log_dir`` (``tensorboard --logdir runs/``): one tag per metric key."""

    def __init__(self, log_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # the tensorboard extra

        self.writer = SummaryWriter(log_dir=str(log_dir))

    def log(self, record: dict[str, Any]) -> None:
        for key, value in _scalars(record).items():
            self.writer.add_scalar(key, value, record["step"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbTracker:
    """Scalars to Weights & Biases; a resumed run continues the same W&B run (its id is kept
    in ``<run>/wandb_id``). Project: ``$WANDB_PROJECT`` or ``unpaired``."""

    def __init__(self, run_dir: Path, name: str, config: dict[str, Any]) -> None:
        import wandb  # the wandb extra

        id_file = run_dir / "wandb_id"
        if id_file.is_file():
            run_id = id_file.read_text().strip()
        else:
            run_id = uuid.uuid4().hex[:16]
            id_file.write_text(run_id + "\n")
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "unpaired"),
            name=name,
            id=run_id,
            resume="allow",
            dir=str(run_dir),
            config=config,
        )

    def log(self, record: dict[str, Any]) -> None:
        values = _scalars(record)
        if values:
            self.run.log(values, step=record["step"])

    def close(self) -> None:
        self.run.finish()


# option -> (module that must be importable, extra that installs it)
_EXTRAS = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb")}


def check_trackers(tensorboard: bool, wandb: bool) -> None:
    """Raise a one-line ConfigError naming the extra when an asked-for logger is missing."""
    from ..config import ConfigError

    for option, wanted in (("tensorboard", tensorboard), ("wandb", wandb)):
        module, extra = _EXTRAS[option]
        if wanted and importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"option {option}: the {module} package is not installed: "
                f"pip install 'unpaired[{extra}]'"
            )


def open_trackers(
    run_dir: Path, name: str, config: dict[str, Any], tensorboard: bool, wandb: bool
) -> list[Tracker]:
    """The extra trackers asked for (call :func:`check_trackers` first)."""
    trackers: list[Tracker] = []
    if tensorboard:
        trackers.append(TensorBoardTracker(run_dir / "tensorboard"))
    if wandb:
        trackers.append(WandbTracker(run_dir, name, config))
    return trackers


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_info(device: Any) -> dict[str, Any]:
    """What a run ran on: CPU model and cores, GPU name, torch and Python versions."""
    import torch

    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "gpu": None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
    if getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def truncate_after(path: Path, step: int) -> None:
    """Drop step records logged after ``step`` (they will be logged again, identically, by the
    resumed run), keeping events and unparsable lines out of the way. Atomic rewrite."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        if isinstance(record, dict) and record.get("step", 0) > step:
            continue
        kept.append(line)
    text = "".join(line + "\n" for line in kept)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def format_duration(seconds: float) -> str:
    """``3725`` -> ``"1h02m"``; ``75`` -> ``"1m15s"``."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


class Progress(BarOrLines):
    """A tqdm bar with ETA and current losses on a terminal, periodic log lines otherwise."""

    def __init__(self, total: int, initial: int, enabled: bool | None = None) -> None:
        super().__init__(total, initial, "step", enabled)
        self.total, self.start_step = total, initial
        self.start_time = time.perf_counter()

    def update(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(step - self.bar.n)

    def report(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        """Show the latest logged losses."""
        losses = " ".join(
            f"{k} {v:.3f}"
            for k, v in metrics.items()
            if k[0].isupper() or k.startswith(("cyc", "idt"))
        )
        if self.bar is not None:
            self.bar.set_postfix_str(losses, refresh=False)
            return
        elapsed = time.perf_counter() - self.start_time
        done = step - self.start_step
        eta = elapsed / done * (self.total - step) if done else float("nan")
        print(
            f"step {step}/{self.total} epoch {epoch} | {losses} | "
            f"{metrics.get('sec_per_step', float('nan')):.3f} s/step | ETA {format_duration(eta)}",
            file=sys.stderr,
            flush=True,
        )


class Quiet:
    """The progress output of ranks other than 0: silent."""

    def update(self, step: int) -> None:
        pass

    def report(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        pass

    def write(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass
