"""The report's sections: samples, losses, metrics and configuration."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

from .charts import _fmt_value, svg_line_chart
from .read import Point, _data_uri, _png_size, _sample_files, _spread, _thumbnail_uri

_GALLERY_SIZE = 8

_LOSS_CHARTS: tuple[tuple[str, object], ...] = (
    ("Discriminator losses", lambda k: k == "D" or k.startswith("D_")),
    ("Generator adversarial losses", lambda k: k == "G" or k.startswith("G_")),
    ("Cycle and identity losses", lambda k: k.startswith(("cycle", "idt"))),
    ("Reconstruction losses", lambda k: k.startswith("recon")),
)


# Evaluation curves (logged with --eval-every): (key prefix, chart title).
_METRIC_CHARTS = (
    ("fid", "FID (lower is better)"),
    ("kid", "KID (lower is better)"),
    ("demo_stripe_score", "Demo stripe score (1 = the truth's stripe contrast)"),
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
    for prefix, title in _METRIC_CHARTS:
        chosen = {
            k: v for k, v in series.items() if k.lower().startswith(prefix) and "_std" not in k
        }
        if chosen:
            body.append(_chart_box(svg_line_chart(chosen, title, smooth=False)))
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
