"""The report page: a header with the run's vital numbers, then the sections."""

from __future__ import annotations

import html
import time
from pathlib import Path

import yaml

from .charts import _fmt_value
from .read import (
    MAX_PARSED_LINES,
    _elapsed_seconds,
    _is_number,
    merge_steps,
    numeric_series,
    read_metrics,
)
from .sections import (
    _config_section,
    _fmt_duration,
    _losses_section,
    _metrics_section,
    _run_name,
    _samples_section,
)
from .style import CSS
from .summary import evaluation_section, summary_section

SECTIONS = ("Summary", "Samples", "Losses", "Metrics", "Evaluation", "Configuration")


def _parse_config(config_text: str | None) -> dict | None:
    if not config_text:
        return None
    try:
        config = yaml.safe_load(config_text)
    except yaml.YAMLError:
        return None
    return config if isinstance(config, dict) else None


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
    records = read_metrics(run_dir / "metrics.jsonl", max_lines=MAX_PARSED_LINES)
    rows = merge_steps(records)
    series = numeric_series(rows)
    markers = [
        (float(r["step"]), str(r["event"]))
        for r in records
        if r.get("event") == "resume" and _is_number(r.get("step"))
    ]

    name = _run_name(run_dir, config_text)
    config = _parse_config(config_text)
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
    toc = "".join(f'<a href="#{s.lower()}">{s}</a>' for s in SECTIONS)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(name)} · unpaired report</title>",
        f"<style>{CSS}</style></head><body>",
        '<input type="checkbox" id="show-raw" checked aria-label="show raw values">',
        '<div class="wrap">',
        '<header class="top"><div class="kicker">unpaired · run report</div>',
        f"<h1>{esc(name)}</h1><dl class='stats'>{stats_html}</dl>",
        f'<nav class="toc">{toc}</nav></header>',
        summary_section(run_dir, config, records, elapsed),
        _samples_section(run_dir),
        _losses_section(series, markers),
        _metrics_section(series),
        evaluation_section(run_dir),
        _config_section(config_text),
        f"<footer>Generated {esc(generated)} from {esc(str(run_dir))}</footer>",
        "</div></body></html>\n",
    ]
    return "".join(parts)
