"""Progress output for long commands: a tqdm bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import math
import sys


class BarOrLines:
    """Holds a tqdm bar when stderr is a terminal (or ``enabled`` says so), else ``None``;
    subclasses decide what a plain line says."""

    def __init__(self, total: int, initial: int = 0, unit: str = "it", enabled: bool | None = None):
        self.bar = None
        if sys.stderr.isatty() if enabled is None else enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True)

    def write(self, message: str) -> None:
        """Print a line without breaking the bar."""
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class CountProgress(BarOrLines):
    """Counts finished items: a bar on a terminal, otherwise about 20 plain lines in all
    (``translated 40/200 slices``)."""

    def __init__(self, total: int, enabled: bool | None, unit: str = "img", noun: str = ""):
        super().__init__(total, 0, unit, enabled)
        self.total, self.done, self.noun = total, 0, noun
        self.every = max(1, math.ceil(total / 20))

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.done == self.total or self.done // self.every > (self.done - n) // self.every:
            line = f"translated {self.done}/{self.total}" + (f" {self.noun}" if self.noun else "")
            print(line, file=sys.stderr, flush=True)
