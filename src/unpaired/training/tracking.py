"""Run logging: one JSON object per line in ``metrics.jsonl`` (always), plain text or tqdm."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO


class JsonlLogger:
    """Appends records to ``metrics.jsonl``; each write is flushed so a kill loses nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept for the run

    def log(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, allow_nan=True) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


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
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    os.replace(tmp, path)


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


class Progress:
    """A tqdm bar with ETA and current losses on a terminal, periodic log lines otherwise."""

    def __init__(self, total: int, initial: int, enabled: bool | None = None) -> None:
        self.total, self.start_step = total, initial
        self.start_time = time.perf_counter()
        tty = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        if tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

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

    def write(self, message: str) -> None:
        """Print a line without breaking the bar."""
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
