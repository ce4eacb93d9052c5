"""Progress output for long commands: a tqdm bar on a terminal, plain lines otherwise."""

from __future__ import annotations

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
