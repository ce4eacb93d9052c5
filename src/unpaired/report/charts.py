"""Inline SVG line charts for the report: axes with round ticks, a light grid, a legend with
the last values, smoothed curves over faint raw ones, and downsampling for long series."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

from .read import Point, _is_number

# Colours chosen to stay distinguishable for common colour-vision deficiencies.
_PALETTE = ("#2563eb", "#ea580c", "#059669", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777")


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
