"""How much memory translating an image takes, and how much the machine has: checked before
a large image is read, so that it fails at once with its name instead of hours of swapping
or a ``MemoryError`` deep in NumPy.

The estimate is rough and on the low side (the copies of the image a translation holds at
once: the decoded file, the input and output tensors, the blend weights of tiles, the written
codes; plus the network's activations for one tile or the whole image); it only refuses what
cannot fit.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["available_memory", "format_bytes", "translation_bytes"]

#: Bytes per pixel and channel (input + output) for the image copies held at once.
BYTES_PER_CHANNEL_PIXEL = 12
#: Bytes per pixel the network's activations need at the least.
NETWORK_BYTES_PER_PIXEL = 256


def translation_bytes(
    height: int, width: int, channels_in: int, channels_out: int, network_pixels: int
) -> int:
    """Rough memory (bytes) to read, translate and write one ``height x width`` image whose
    network runs on ``network_pixels`` pixels at a time (a tile, or the whole image)."""
    pixels = height * width
    return (
        pixels * (channels_in + channels_out) * BYTES_PER_CHANNEL_PIXEL
        + network_pixels * NETWORK_BYTES_PER_PIXEL
    )


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _cgroup_available() -> int | None:
    """What a container's memory limit (cgroup v2) still allows, if it has one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
    except OSError:
        return None
    if limit == "max":
        return None
    try:
        return max(0, int(limit) - int(used))
    except ValueError:
        return None


def available_memory() -> int | None:
    """Bytes of memory available to this process now (the machine's available memory, or
    its container's limit if lower); None when the system does not say."""
    found = [n for n in (_meminfo_available(), _cgroup_available()) if n is not None]
    return min(found) if found else None


def format_bytes(n: float) -> str:
    """``1.5 GB``, ``320 MB``, ``12 kB``."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"
