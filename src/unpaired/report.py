"""A self-contained HTML report for one training run.

``write_report(run_dir)`` reads what training leaves in ``runs/<name>/``:

- ``config.yaml``: the resolved config, shown verbatim;
- ``metrics.jsonl``: one JSON object per logged step (event lines and a truncated last line are
  tolerated; a step logged twice keeps its last values);
- ``samples/step_XXXXXX.png``: sample grids (rows real_A | fake_B | rec_A and real_B | fake_A |
  rec_B);

and writes ``run_dir/report.html``: one file with inline CSS, inline SVG charts and images embedded
as base64 data URIs, so it opens from disk with no network. It is cheap enough to be rewritten
every few hundred training steps: curves are reduced to at most ~1000 points per series and
gallery thumbnails are cached between calls.

Only the standard library, Pillow and PyYAML are used.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "REPORT_NAME",
    "read_metrics",
    "merge_steps",
    "numeric_series",
    "svg_line_chart",
    "render_report",
    "write_report",
]

REPORT_NAME = "report.html"

Point = tuple[float, float]

# Colours chosen to stay distinguishable for common colour-vision deficiencies.
_PALETTE = ("#2563eb", "#ea580c", "#059669", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777")
_SAMPLE_RE = re.compile(r"^step_(\d+)\.png$")
_GALLERY_SIZE = 8
_MAX_PARSED_LINES = 1000  # per line shape; longer logs are subsampled (see read_metrics)
_THUMB_WIDTH = 480
_thumb_cache: dict[tuple[str, int, int], str] = {}
_THUMB_CACHE_MAX = 64


# --------------------------------------------------------------------------------------------
# Reading the run folder
# --------------------------------------------------------------------------------------------


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

        with Image.open(path) as im:
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


# --------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------


def _downsample(points: Sequence[Point], max_points: int) -> tuple[list[Point], list[Point]]:
    """Reduce a series to at most ``max_points`` points.

    Returns ``(envelope, means)``: the envelope keeps each bucket's minimum and maximum in step
    order (so the faint raw line still shows the noise band) and ``means`` has one point per
    bucket (the base for smoothing). Short series come back unchanged in both.
    """
    n = len(points)
    if n <= max_points:
        pts = list(points)
        return pts, pts
    buckets = max(1, max_points // 2)
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    envelope: list[Point] = []
    means: list[Point] = []
    for b in range(buckets):
        i0 = b * n // buckets
        i1 = (b + 1) * n // buckets
        if i1 <= i0:
            continue
        seg = ys[i0:i1]
        lo = min(seg)
        hi = max(seg)
        i_lo = i0 + seg.index(lo)
        i_hi = i0 + seg.index(hi)
        if i_lo == i_hi:
            envelope.append((xs[i_lo], lo))
        elif i_lo < i_hi:
            envelope.extend(((xs[i_lo], lo), (xs[i_hi], hi)))
        else:
            envelope.extend(((xs[i_hi], hi), (xs[i_lo], lo)))
        means.append((sum(xs[i0:i1]) / (i1 - i0), sum(seg) / (i1 - i0)))
    return envelope, means


def _ema(points: Sequence[Point], weight: float | None = None) -> list[Point]:
    """Debiased exponential moving average; ``weight=None`` picks one from the series length."""
    n = len(points)
    if n == 0:
        return []
    if weight is None:
        window = max(1.0, n / 25.0)
        weight = 1.0 - 2.0 / (window + 1.0)
    weight = min(max(weight, 0.0), 0.999)
    out: list[Point] = []
    acc = 0.0
    norm = 0.0
    for x, y in points:
        acc = acc * weight + (1.0 - weight) * y
        norm = norm * weight + (1.0 - weight)
        out.append((x, acc / norm))
    return out


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * mag * (1 + 1e-9):
            return m * mag
    return 10.0 * mag


def _nice_axis(lo: float, hi: float, target: int = 5) -> tuple[float, float, list[float]]:
    """Round ``[lo, hi]`` out to tick multiples; returns ``(lo, hi, ticks)``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo, target)
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    count = int(round((end - start) / step))
    ticks = [start + i * step for i in range(count + 1)]
    return start, end, ticks


def _fmt_step_tick(v: float) -> str:
    v = round(v, 9)
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _fmt_value_tick(v: float, ticks: Sequence[float]) -> str:
    if abs(v) < 1e-15:
        return "0"
    biggest = max(abs(t) for t in ticks) or 1.0
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else biggest
    if biggest < 1e-2 or biggest >= 1e5:
        digits = max(0, math.floor(math.log10(biggest)) - math.floor(math.log10(step)))
        text = f"{v:.{digits}e}"
        mantissa, exp = text.split("e")
        return f"{mantissa}e{int(exp)}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{v:.{decimals}f}"


def _fmt_value(v: float) -> str:
    """Compact text for a metric value (tables, legends)."""
    if isinstance(v, int) or (v.is_integer() and abs(v) < 1e12):
        return f"{int(v):,}"
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e6):
        return f"{v:.3e}"
    decimals = 4 if a < 1 else 3 if a < 10 else 2 if a < 100 else 1
    return f"{v:,.{decimals}f}"


def _polyline(points: Sequence[Point], sx, sy) -> str:
    return " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)


def _percentile(sorted_vals: Sequence[float], q: float) -> float:
    i = min(len(sorted_vals) - 1, max(0, round(q * (len(sorted_vals) - 1))))
    return sorted_vals[i]


_chart_counter = 0


def svg_line_chart(
    series: Mapping[str, Sequence[Point]],
    title: str,
    *,
    width: int = 560,
    height: int = 300,
    smooth: bool = True,
    smoothing: float | None = None,
    max_points: int = 1000,
    markers: Sequence[tuple[float, str]] = (),
    colors: Mapping[str, str] | None = None,
) -> str:
    """An inline SVG line chart with axes, tick labels, a light grid and a legend.

    Args:
        series: ``{name: [(x, y), ...]}``; points need not be sorted; empty series are dropped.
        title: drawn at the top left (escaped).
        width, height: the SVG's viewBox; the element itself scales to its container's width.
        smooth: draw each series faint (class ``raw``) with a bold EMA on top; otherwise one
            solid line per series.
        smoothing: EMA weight in ``[0, 1)``; None chooses one from the number of points.
        max_points: longer series are reduced to about this many points before drawing.
        markers: ``(x, label)`` pairs drawn as dashed vertical lines (e.g. resumes).
        colors: optional ``{name: css colour}``; the default palette fills the rest.

    Returns:
        The ``<svg>`` element as a string, or a small "no data yet" SVG if nothing is plottable.
    """
    global _chart_counter
    _chart_counter += 1
    clip_id = f"clip{_chart_counter}"
    esc = html.escape

    pad_l, pad_r, pad_t, pad_b = 58, 16, 58, 36
    plot_w = width - pad_l - pad_r
    plot_h = height - pad_t - pad_b

    prepared: list[tuple[str, str, list[Point], list[Point] | None, int]] = []
    for i, (name, pts) in enumerate(series.items()):
        clean = [(float(x), float(y)) for x, y in pts if _is_number(x) and _is_number(y)]
        if any(clean[j][0] > clean[j + 1][0] for j in range(len(clean) - 1)):
            clean.sort(key=lambda p: p[0])
        if not clean:
            continue
        color = (colors or {}).get(name) or _PALETTE[i % len(_PALETTE)]
        raw, means = _downsample(clean, max_points)
        smoothed = _ema(means, smoothing) if smooth and len(clean) > 2 else None
        prepared.append((name, color, raw, smoothed, len(clean)))

    head = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{pad_l}" y="20" class="chart-title">{esc(title)}</text>'
    )
    if not prepared:
        return (
            head + f'<rect x="{pad_l}" y="{pad_t}" width="{plot_w}" height="{plot_h}" '
            f'class="plot-bg"/><text x="{pad_l + plot_w / 2}" y="{pad_t + plot_h / 2}" '
            f'text-anchor="middle" class="empty">no data yet</text></svg>'
        )

    # Legend layout decides how much room the header needs.
    legend_pos: list[tuple[float, float]] = []
    lx, ly = float(pad_l), 39.0
    for name, _, raw, _, _ in prepared:
        entry_w = 19 + 6.0 * (len(name) + len(_fmt_value(raw[-1][1]))) + 6 + 16
        if lx > pad_l and lx + entry_w > width - pad_r:
            lx, ly = float(pad_l), ly + 17
        legend_pos.append((lx, ly))
        lx += entry_w
    pad_t = int(ly) + 13
    plot_h = height - pad_t - pad_b

    xs = [p[0] for _, _, raw, _, _ in prepared for p in raw]
    x_lo, x_hi, x_ticks = _nice_axis(min(xs), max(xs), target=max(3, plot_w // 90))

    # y range: all of every smoothed line, the raw lines without their most extreme spikes.
    ys_raw = sorted(p[1] for _, _, raw, _, _ in prepared for p in raw)
    if smooth and len(ys_raw) >= 200:
        y_lo, y_hi = _percentile(ys_raw, 0.005), _percentile(ys_raw, 0.995)
    else:
        y_lo, y_hi = ys_raw[0], ys_raw[-1]
    for _, _, _, sm, _ in prepared:
        if sm:
            y_lo = min(y_lo, min(p[1] for p in sm))
            y_hi = max(y_hi, max(p[1] for p in sm))
    margin = (y_hi - y_lo) * 0.04
    nonneg = ys_raw[0] >= 0
    y_lo, y_hi, y_ticks = _nice_axis(y_lo - margin, y_hi + margin, target=5)
    if nonneg and y_lo < 0:  # don't show negative values a non-negative series never takes
        y_lo, y_hi, y_ticks = _nice_axis(0.0, y_hi, target=5)

    def sx(x: float) -> float:
        return pad_l + (x - x_lo) / (x_hi - x_lo) * plot_w

    def sy(y: float) -> float:
        return pad_t + plot_h - (y - y_lo) / (y_hi - y_lo) * plot_h

    parts = [
        head,
        f'<defs><clipPath id="{clip_id}"><rect x="{pad_l}" y="{pad_t}" width="{plot_w}" '
        f'height="{plot_h}"/></clipPath></defs>',
        f'<rect x="{pad_l}" y="{pad_t}" width="{plot_w}" height="{plot_h}" class="plot-bg"/>',
    ]
    # Grid and tick labels.
    for t in y_ticks:
        y = sy(t)
        parts.append(
            f'<line x1="{pad_l}" x2="{pad_l + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{pad_l - 8}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{esc(_fmt_value_tick(t, y_ticks))}</text>"
        )
    for t in x_ticks:
        x = sx(t)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad_t}" y2="{pad_t + plot_h}" class="grid"/>'
            f'<text x="{x:.1f}" y="{pad_t + plot_h + 18}" text-anchor="middle" class="tick">'
            f"{esc(_fmt_step_tick(t))}</text>"
        )
    parts.append(
        f'<text x="{pad_l + plot_w}" y="{height - 4}" text-anchor="end" class="axis-label">'
        "step</text>"
        f'<line x1="{pad_l}" x2="{pad_l + plot_w}" y1="{pad_t + plot_h}" y2="{pad_t + plot_h}" '
        'class="axis"/>'
        f'<line x1="{pad_l}" x2="{pad_l}" y1="{pad_t}" y2="{pad_t + plot_h}" class="axis"/>'
    )
    # Event markers.
    for mx, label in markers:
        if _is_number(mx) and x_lo <= mx <= x_hi:
            x = sx(float(mx))
            parts.append(
                f'<g class="marker"><title>{esc(label)} at step {esc(_fmt_value(mx))}</title>'
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad_t}" y2="{pad_t + plot_h}"/>'
                f'<text x="{x + 3:.1f}" y="{pad_t + 11}">{esc(label)}</text></g>'
            )
    # Lines.
    parts.append(f'<g clip-path="url(#{clip_id})">')
    for name, color, raw, sm, _ in prepared:
        cls = "raw" if sm else "line"
        if len(raw) == 1 or (not sm and len(raw) <= 60):
            parts.append(
                "".join(
                    f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.6" fill="{color}"/>'
                    for x, y in raw
                )
            )
        if len(raw) > 1:
            parts.append(
                f'<polyline class="{cls}" stroke="{color}" points="{_polyline(raw, sx, sy)}">'
                f"<title>{esc(name)}</title></polyline>"
            )
        if sm:
            parts.append(
                f'<polyline class="smooth" stroke="{color}" points="{_polyline(sm, sx, sy)}">'
                f"<title>{esc(name)} (smoothed)</title></polyline>"
            )
    parts.append("</g>")
    # Legend: name and last raw value, left to right under the title, wrapping as needed.
    for (name, color, raw, _, _), (lx, ly) in zip(prepared, legend_pos, strict=True):
        parts.append(
            f'<g class="legend"><rect x="{lx:.0f}" y="{ly - 6}" width="14" height="4" rx="2" '
            f'fill="{color}"/><text x="{lx + 19:.0f}" y="{ly}">{esc(name)}'
            f'<tspan class="legend-value" dx="6">{esc(_fmt_value(raw[-1][1]))}</tspan>'
            "</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------

_CSS = """
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--card:#fff;--accent:#2563eb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
 font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.wrap{max-width:1180px;margin:0 auto;padding:24px 20px 48px}
header.top{background:var(--card);border:1px solid var(--line);border-radius:10px;
 padding:18px 22px;margin-bottom:20px}
header.top .kicker{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
header.top h1{margin:2px 0 12px;font-size:24px;font-weight:650;word-break:break-all}
.stats{display:flex;flex-wrap:wrap;gap:10px 28px;margin:0}
.stats div{min-width:90px}
.stats dt{color:var(--muted);font-size:12px}
.stats dd{margin:0;font-size:17px;font-weight:600;font-variant-numeric:tabular-nums}
nav.toc{margin-top:14px;font-size:13px}
nav.toc a{color:var(--accent);text-decoration:none;margin-right:16px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;
 padding:16px 22px 20px;margin-bottom:20px}
section>h2{font-size:17px;margin:0 0 12px;font-weight:650;display:flex;align-items:center;gap:12px}
h3{font-size:13px;margin:18px 0 8px;color:var(--muted);font-weight:600;text-transform:uppercase;
 letter-spacing:.05em}
.note{color:var(--muted);font-style:italic;margin:6px 0}
.latest{margin:0}
.latest img{display:block;width:100%;height:auto;border:1px solid var(--line);
 border-radius:6px;image-rendering:auto;background:#fafafa}
figcaption{color:var(--muted);font-size:12.5px;margin-top:6px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:14px}
.gallery figure{margin:0}
.gallery img{display:block;width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
.gallery figcaption{text-align:center;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px}
@media (max-width:900px){.charts{grid-template-columns:minmax(0,1fr)}}
.chart-box{border:1px solid var(--line);border-radius:8px;padding:6px 6px 0}
svg.chart{display:block;font-size:11px}
svg .chart-title{font-size:13.5px;font-weight:600;fill:var(--fg)}
svg .plot-bg{fill:#fff}
svg .grid{stroke:#eef0f3;stroke-width:1}
svg .axis{stroke:#9ca3af;stroke-width:1}
svg .tick{fill:var(--muted);font-size:10.5px;font-variant-numeric:tabular-nums}
svg .axis-label{fill:var(--muted);font-size:10.5px}
svg .legend text{fill:var(--fg);font-size:11.5px}
svg .legend-value{fill:var(--muted);font-variant-numeric:tabular-nums}
svg .empty{fill:var(--muted);font-style:italic;font-size:13px}
svg polyline{fill:none;stroke-linejoin:round;stroke-linecap:round}
svg .raw{stroke-width:1;opacity:.28}
svg .smooth{stroke-width:2}
svg .line{stroke-width:1.8}
svg .marker line{stroke:#9ca3af;stroke-dasharray:4 3}
svg .marker text{fill:var(--muted);font-size:10px}
#show-raw{position:absolute;opacity:0;pointer-events:none}
#show-raw:not(:checked)~.wrap svg .raw{display:none}
label.toggle{margin-left:auto;font-size:12.5px;font-weight:500;color:var(--muted);cursor:pointer;
 display:inline-flex;align-items:center;gap:7px;user-select:none}
label.toggle .knob{width:28px;height:16px;border-radius:8px;background:#d1d5db;position:relative;
 transition:background .15s}
label.toggle .knob::after{content:"";position:absolute;top:2px;left:2px;width:12px;height:12px;
 border-radius:50%;background:#fff;transition:left .15s}
#show-raw:checked~.wrap label.toggle .knob{background:var(--accent)}
#show-raw:checked~.wrap label.toggle .knob::after{left:14px}
table.metrics{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
table.metrics th,table.metrics td{padding:6px 10px;border-bottom:1px solid var(--line);
 text-align:right}
table.metrics th:first-child,table.metrics td:first-child{text-align:left;
 font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
table.metrics thead th{color:var(--muted);font-weight:600;font-size:12px;font-family:inherit}
table.metrics tbody tr:hover{background:#f9fafb}
pre.config{background:#f8fafc;border:1px solid var(--line);border-radius:6px;padding:12px 14px;
 overflow:auto;max-height:640px;margin:0;
 font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
footer{color:var(--muted);font-size:12px;text-align:center}
"""

# Which loss keys go on which chart: (title, predicate).
_LOSS_CHARTS: tuple[tuple[str, object], ...] = (
    ("Discriminator losses", lambda k: k == "D" or k.startswith("D_")),
    ("Generator adversarial losses", lambda k: k == "G" or k.startswith("G_")),
    ("Cycle and identity losses", lambda k: k.startswith(("cycle", "idt"))),
)


def _loss_order(key: str) -> tuple[int, str]:
    """Cycle losses before identity losses, then by name (so *_A precedes *_B)."""
    return (1 if key.startswith("idt") else 0, key)


def _is_lr_key(key: str) -> bool:
    return key == "lr" or key.startswith(("lr_", "lr/"))


def _fmt_duration(seconds: float) -> str:
    s = int(round(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}d {h}h {m:02d}m"
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"


def _section(anchor: str, title: str, body: str, extra: str = "") -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}{extra}</h2>{body}</section>'


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _samples_section(run_dir: Path) -> str:
    samples_dir = run_dir / "samples"
    samples = _sample_files(samples_dir)
    if not samples:
        return _section("samples", "Samples", _note("No data yet: no sample grids saved."))
    step, latest_name = samples[-1]
    path = samples_dir / latest_name
    try:
        latest_uri = _data_uri(path.read_bytes(), "image/png")
    except OSError:
        latest_uri = None
    esc = html.escape
    rel = esc(f"samples/{path.name}", quote=True)
    body = ['<h3>Latest</h3><figure class="latest">']
    if latest_uri:
        size = _png_size(path)
        style = ""
        if size:  # small grids are shown at 2x, large ones at most at their own size
            shown = size[0] if size[0] >= 640 else min(2 * size[0], 768)
            style = f' style="max-width:{shown}px"'
        body.append(
            f'<a href="{rel}"><img id="latest-sample" src="{latest_uri}"{style} '
            f'alt="sample grid at step {step}"></a>'
        )
    else:
        body.append(_note("The latest sample grid could not be read."))
    body.append(
        f"<figcaption>Step {step:,}. Top row: real A → fake B → reconstructed A; bottom row: "
        "real B → fake A → reconstructed B.</figcaption></figure>"
    )
    picks = _spread(samples, _GALLERY_SIZE)
    body.append(f"<h3>Over training ({len(picks)} of {len(samples)})</h3><div class='gallery'>")
    for s, name in picks:
        uri = _thumbnail_uri(samples_dir / name)
        if uri is None:
            continue
        body.append(
            f'<figure><a href="{esc(f"samples/{name}", quote=True)}">'
            f'<img src="{uri}" alt="sample grid at step {s}" loading="lazy"></a>'
            f"<figcaption>step {s:,}</figcaption></figure>"
        )
    body.append("</div>")
    return _section("samples", "Samples", "".join(body))


def _chart_box(svg: str) -> str:
    return f'<div class="chart-box">{svg}</div>'


def _losses_section(series: Mapping[str, list[Point]], markers: list[tuple[float, str]]) -> str:
    charts = []
    for title, pred in _LOSS_CHARTS:
        keys = sorted((k for k in series if pred(k)), key=_loss_order)  # type: ignore[operator]
        chosen = {k: series[k] for k in keys}
        if chosen:
            charts.append(_chart_box(svg_line_chart(chosen, title, markers=markers)))
    lr = {k: v for k, v in series.items() if _is_lr_key(k)}
    if lr:
        charts.append(
            _chart_box(svg_line_chart(lr, "Learning rate", smooth=False, markers=markers))
        )
    if not charts:
        return _section("losses", "Losses", _note("No data yet: no losses logged."))
    toggle = (
        '<label class="toggle" for="show-raw"><span class="knob"></span>'
        "raw values behind smoothed curves</label>"
    )
    return _section("losses", "Losses", f'<div class="charts">{"".join(charts)}</div>', toggle)


def _metrics_section(series: Mapping[str, list[Point]]) -> str:
    table_keys = [k for k in series if k != "time"]
    if not table_keys:
        return _section("metrics", "Metrics", _note("No data yet: no metrics logged."))
    esc = html.escape
    body = []
    for prefix, title in (("fid", "FID"), ("kid", "KID")):
        chosen = {k: v for k, v in series.items() if k.lower().startswith(prefix)}
        if chosen:
            body.append(
                _chart_box(svg_line_chart(chosen, f"{title} (lower is better)", smooth=False))
            )
    if body:
        body = [f'<div class="charts">{"".join(body)}</div><h3>Last values</h3>']
    body.append(
        '<table class="metrics"><thead><tr><th>key</th><th>last</th><th>at step</th>'
        "<th>min</th><th>max</th></tr></thead><tbody>"
    )
    for key in sorted(table_keys, key=str.lower):
        pts = series[key]
        ys = [p[1] for p in pts]
        last_step, last = pts[-1]
        body.append(
            f"<tr><td>{esc(key)}</td><td>{esc(_fmt_value(last))}</td>"
            f"<td>{esc(_fmt_value(last_step))}</td><td>{esc(_fmt_value(min(ys)))}</td>"
            f"<td>{esc(_fmt_value(max(ys)))}</td></tr>"
        )
    body.append(
        "</tbody></table><p class='note'>Last values are exact; on very long logs min and max "
        "are taken over the subsample that the charts draw.</p>"
    )
    return _section("metrics", "Metrics", "".join(body))


def _config_section(config_text: str | None) -> str:
    if config_text is None:
        return _section("configuration", "Configuration", _note("No data yet: no config.yaml."))
    body = f'<pre class="config">{html.escape(config_text)}</pre>'
    return _section("configuration", "Configuration", body)


def _run_name(run_dir: Path, config_text: str | None) -> str:
    if config_text:
        try:
            import yaml

            cfg = yaml.safe_load(config_text)
        except Exception:
            cfg = None
        if isinstance(cfg, dict):
            name = cfg.get("name")
            if isinstance(name, (str, int, float)) and str(name).strip():
                return str(name)
    return run_dir.resolve().name or str(run_dir)


def render_report(run_dir: str | Path) -> str:
    """Build the report page for ``run_dir`` and return it as an HTML string."""
    run_dir = Path(run_dir)
    esc = html.escape
    try:
        config_text: str | None = (run_dir / "config.yaml").read_text(
            encoding="utf-8", errors="replace"
        )
    except OSError:
        config_text = None
    records = read_metrics(run_dir / "metrics.jsonl", max_lines=_MAX_PARSED_LINES)
    rows = merge_steps(records)
    series = numeric_series(rows)
    markers = [
        (float(r["step"]), str(r["event"]))
        for r in records
        if r.get("event") == "resume" and _is_number(r.get("step"))
    ]

    name = _run_name(run_dir, config_text)
    last = rows[-1] if rows else {}
    elapsed = _elapsed_seconds(records)
    sps = series.get("sec_per_step")
    times = series.get("time")

    stats = [
        ("Step", _fmt_value(last["step"]) if "step" in last else "–"),
        ("Epoch", _fmt_value(last["epoch"]) if _is_number(last.get("epoch")) else "–"),
        ("Elapsed", _fmt_duration(elapsed) if elapsed is not None else "–"),
        ("s / step", f"{sps[-1][1]:.3f}" if sps else "–"),
        (
            "Last log",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(times[-1][1])) if times else "–",
        ),
    ]
    stats_html = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in stats)
    generated = time.strftime("%Y-%m-%d %H:%M:%S")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(name)} · unpaired report</title>",
        f"<style>{_CSS}</style></head><body>",
        '<input type="checkbox" id="show-raw" checked aria-label="show raw values">',
        '<div class="wrap">',
        '<header class="top"><div class="kicker">unpaired · CycleGAN run report</div>',
        f"<h1>{esc(name)}</h1><dl class='stats'>{stats_html}</dl>",
        '<nav class="toc"><a href="#samples">Samples</a><a href="#losses">Losses</a>'
        '<a href="#metrics">Metrics</a><a href="#configuration">Configuration</a></nav></header>',
        _samples_section(run_dir),
        _losses_section(series, markers),
        _metrics_section(series),
        _config_section(config_text),
        f"<footer>Generated {esc(generated)} from {esc(str(run_dir))}</footer>",
        "</div></body></html>\n",
    ]
    return "".join(parts)


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` atomically and return its path.

    The page is written to a temporary file in ``run_dir`` and moved into place with
    :func:`os.replace`, so a browser (or a sync tool) never sees half a page. Missing or partial
    inputs give a page with "no data yet" notes instead of an error.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    page = render_report(run_dir).encode("utf-8")
    target = run_dir / REPORT_NAME
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".report-", suffix=".html.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(page)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the report is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target
