"""Reading a run folder for the report: ``metrics.jsonl`` (tolerant of bad lines, subsampled
when very long), the sample grids and their thumbnails."""

from __future__ import annotations

import base64
import io
import itertools
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

Point = tuple[float, float]

_SAMPLE_RE = re.compile(r"^step_(\d+)\.png$")
MAX_PARSED_LINES = 1000  # per line shape; longer logs are subsampled (see read_metrics)
_THUMB_WIDTH = 480
_thumb_cache: dict[tuple[str, int, int], str] = {}
_THUMB_CACHE_MAX = 64


def _parse_line(line: bytes) -> dict | None:
    try:
        obj = json.loads(line)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return obj if isinstance(obj, dict) else None


def _pick_lines(lines: Sequence[bytes], per_shape: int) -> list[int]:
    """Indices of the lines worth parsing when a log is too long to parse whole.

    Lines are grouped by "shape" (their number of ``"`` characters, i.e. roughly their set of
    string keys), so lines with rare keys (evaluations such as ``fid_*``, events) are kept even
    when they are few. Each shape keeps at most ``per_shape`` lines evenly spread over the file,
    always including its last one. The file's last 16 lines are always kept.
    """
    n_lines = len(lines)
    shapes = list(map(bytes.count, lines, itertools.repeat(b'"')))
    picked = set(range(max(0, n_lines - 16), n_lines))
    rare: set[int] = set()
    for shape, n in Counter(shapes).items():
        if n <= per_shape:
            rare.add(shape)
            continue
        idx = list(itertools.compress(range(n_lines), map(shape.__eq__, shapes)))
        picked.update(idx[(j * (n - 1)) // (per_shape - 1)] for j in range(per_shape))
    if rare:
        picked.update(itertools.compress(range(n_lines), map(rare.__contains__, shapes)))
    return sorted(picked)


def read_metrics(path: str | Path, *, max_lines: int | None = None) -> list[dict]:
    """Return the JSON objects in a JSON-lines file, in file order.

    Blank lines, lines that do not parse (e.g. a last line cut short when the process was killed)
    and lines that are not JSON objects are skipped. A missing file gives ``[]``.

    With ``max_lines`` set and a longer file, only a subsample is parsed (to keep the report cheap
    on logs of 100k+ lines): at most ``max_lines`` lines of each line shape, evenly spaced (see
    :func:`_pick_lines`), the last lines of the file, and the line before each event (so the
    elapsed time stays right). Curves drawn from it look the same; the last values are exact.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    lines = data.splitlines()
    if max_lines is None or len(lines) <= max_lines:
        return [obj for line in lines if line.strip() and (obj := _parse_line(line)) is not None]
    parsed: dict[int, dict] = {}
    for i in _pick_lines(lines, max(2, max_lines)):
        obj = _parse_line(lines[i])
        if obj is not None:
            parsed[i] = obj
    for i in [i for i, obj in parsed.items() if "event" in obj]:
        if i > 0 and i - 1 not in parsed and (obj := _parse_line(lines[i - 1])) is not None:
            parsed[i - 1] = obj
    return [parsed[i] for i in sorted(parsed)]


def _is_number(value: object) -> bool:
    """True for a finite int or float (bools excluded)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)  # type: ignore[arg-type]
    if kind is int:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def merge_steps(records: Iterable[Mapping]) -> list[dict]:
    """Metric records (not events) merged per step and sorted by step.

    A record counts if it has a numeric ``step`` and no ``event`` key. When a step appears more
    than once (a resumed run logs it again), later values win key by key.
    """
    by_step: dict[int, dict] = {}
    for rec in records:
        if "event" in rec:
            continue
        step = rec.get("step")
        if not _is_number(step):
            continue
        key = int(step)
        merged = by_step.get(key)
        if merged is None:
            by_step[key] = dict(rec)
        else:
            merged.update(rec)
    return [by_step[k] for k in sorted(by_step)]


def numeric_series(rows: Sequence[Mapping]) -> dict[str, list[Point]]:
    """``{key: [(step, value), ...]}`` for every finite numeric key except ``step``."""
    series: dict[str, list[Point]] = {}
    for row in rows:
        step = float(row["step"])
        for key, value in row.items():
            if key == "step" or not _is_number(value):
                continue
            pts = series.get(key)
            if pts is None:
                series[key] = [(step, float(value))]
            else:
                pts.append((step, float(value)))
    return series


def _elapsed_seconds(records: Sequence[Mapping]) -> float | None:
    """Training wall time: the sum of each session's span, sessions split at start/resume events."""
    total = 0.0
    first: float | None = None
    last: float | None = None
    seen = False
    for rec in records:
        t = rec.get("time")
        if rec.get("event") in ("start", "resume") and first is not None and last is not None:
            total += last - first
            first = last = None
        if not _is_number(t):
            continue
        seen = True
        if first is None:
            first = float(t)
        last = float(t)
    if first is not None and last is not None:
        total += last - first
    return max(total, 0.0) if seen else None


def _sample_files(samples_dir: Path) -> list[tuple[int, str]]:
    """``(step, file name)`` for every ``step_XXXXXX.png`` in ``samples_dir``, sorted by step."""
    try:
        names = os.listdir(samples_dir)
    except OSError:
        return []
    match = _SAMPLE_RE.match
    return sorted((int(m.group(1)), name) for name in names if (m := match(name)))


def _spread(items: Sequence, k: int) -> list:
    """Up to ``k`` items evenly spaced over ``items``, always including the first and the last."""
    n = len(items)
    if n <= k:
        return list(items)
    if k == 1:
        return [items[-1]]
    idx = sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})
    return [items[i] for i in idx]


def _png_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG's header, or None if it is not a readable PNG."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _thumbnail_uri(path: Path) -> str | None:
    """A downscaled JPEG of ``path`` as a data URI (cached on path, size and mtime); None if bad."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    cached = _thumb_cache.get(key)
    if cached is not None:
        return cached
    try:
        from PIL import Image

        with Image.open(path, formats=["PNG"]) as im:  # the grids this package wrote
            im.load()
            img = im.convert("RGB")
        if img.width > _THUMB_WIDTH:
            height = max(1, round(img.height * _THUMB_WIDTH / img.width))
            img = img.resize((_THUMB_WIDTH, height), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
    except Exception:  # a half-written or corrupt PNG: leave it out rather than fail the report
        return None
    uri = _data_uri(buf.getvalue(), "image/jpeg")
    if len(_thumb_cache) >= _THUMB_CACHE_MAX:
        _thumb_cache.pop(next(iter(_thumb_cache)))
    _thumb_cache[key] = uri
    return uri
