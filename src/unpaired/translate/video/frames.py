"""Frames and time: decoded frames -> ``(N, 3, H, W)`` tensors in [0, 1] and back to
``(N, H, W, 3)`` uint8 (padded to even sizes where the encoder needs it), input | output side
by side, output timestamps kept strictly increasing (:class:`_Clock`) and the frames-done
progress line with its ETA (:class:`_FrameProgress`).
"""

from __future__ import annotations

import sys
import time
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from ...progress import CountProgress


# --- progress ------------------------------------------------------------------------------
class _FrameProgress(CountProgress):
    """Frames done / total: a tqdm bar (with its ETA) on a terminal, else about 20 lines
    ``translated 40/200 frames of clip.mp4 (ETA 1m 20s)``."""

    def __init__(self, total: int, enabled: bool | None, name: str) -> None:
        super().__init__(total, enabled, unit="frame", noun=f"frames of {name}")
        self.start, self.shown = time.monotonic(), 0

    def update(self, n: int) -> None:
        if self.bar is not None:
            super().update(n)
            return
        before, self.done = self.done, self.done + n
        if self.done == self.total or self.done // self.every > before // self.every:
            line = f"translated {self.done}/{self.total} {self.noun}"
            if 0 < self.done < self.total:
                left = (time.monotonic() - self.start) / self.done * (self.total - self.done)
                minutes, seconds = divmod(round(left), 60)
                line += f" (ETA {minutes}m {seconds:02d}s)" if minutes else f" (ETA {seconds}s)"
            print(line, file=sys.stderr, flush=True)
            self.shown = self.done

    def close(self) -> None:
        # The total was an estimate (from the duration) when the container does not store
        # the frame count: the last line says how many there were.
        if self.bar is None and self.done != self.total and self.shown != self.done:
            print(f"translated {self.done} {self.noun}", file=sys.stderr, flush=True)
        super().close()


# --- frames --------------------------------------------------------------------------------
def _to_batch(frames: list[Any], width: int, height: int) -> torch.Tensor:
    """Decoded frames -> ``(N, 3, height, width)`` float32 in [0, 1] (RGB through the
    frame's own color matrix and range; a frame of another size is scaled to the first's)."""
    arrays = [f.to_ndarray(format="rgb24", width=width, height=height) for f in frames]
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return batch.float().div_(255.0)


def _to_rgb24(y: torch.Tensor, even: bool) -> np.ndarray:
    """``(N, C, H, W)`` in [0, 1], C 1 or 3 -> ``(N, H', W', 3)`` uint8; with ``even``, an odd
    H or W gets one more row or column (the last one repeated)."""
    y = y.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    if y.shape[1] == 1:
        y = y.expand(-1, 3, -1, -1)
    rgb = y.permute(0, 2, 3, 1).contiguous().numpy()
    if even and (rgb.shape[1] % 2 or rgb.shape[2] % 2):
        rgb = np.pad(rgb, ((0, 0), (0, rgb.shape[1] % 2), (0, rgb.shape[2] % 2), (0, 0)), "edge")
    return rgb


def _side_by_side(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(N, C_in, H, W)`` | ``(N, C_out, H, W)`` -> ``(N, max C, H, 2W)``."""
    channels = max(x.shape[1], y.shape[1])
    return torch.cat([t.expand(-1, channels, -1, -1) for t in (x, y)], dim=3)


class _Clock:
    """Output timestamps in the input's time base: the decoded ones, made up from the frame
    rate where a frame has none, and kept strictly increasing (encoders require it)."""

    def __init__(self, time_base: Fraction, rate: Fraction) -> None:
        self.step = max(1, round(1 / (rate * time_base)))
        self.last: int | None = None

    def __call__(self, frame: Any) -> tuple[int, int]:
        """``(pts, duration)`` of a decoded frame."""
        pts = frame.pts
        if pts is None:
            pts = 0 if self.last is None else self.last + self.step
        elif self.last is not None and pts <= self.last:
            pts = self.last + 1
        self.last = pts
        return pts, int(frame.duration or self.step)
