"""A self-contained HTML report for one training run: ``write_report(run_dir)``.

It reads what training and evaluation leave in ``runs/<name>/``:

- ``config.yaml``: the resolved config (the summary's highlights, and shown verbatim);
- ``metrics.jsonl``: one JSON object per logged step (event lines and a truncated last line are
  tolerated; a step logged twice keeps its last values); the start event's ``hardware``;
- ``samples/step_XXXXXX.png``: sample grids (rows real_A | fake_B | rec_A and real_B | fake_A |
  rec_B);
- ``eval/*.json``: the newest ``unpaired evaluate`` result; ``model_best/config.json``;

and writes ``run_dir/report.html``: one file with inline CSS, inline SVG charts and images
embedded as base64 data URIs, so it opens from disk with no network. Sections: summary (data,
config highlights, duration, hardware), samples, loss curves, metric curves and table (FID/KID
during training), the final evaluation, the config. It is cheap enough to be rewritten every few
hundred training steps: curves are reduced to at most ~1000 points per series and gallery
thumbnails are cached between calls.

Modules: :mod:`.read` (the run folder), :mod:`.charts` (SVG), :mod:`.sections`,
:mod:`.summary`, :mod:`.style` (CSS), :mod:`.page`. Only the standard library, Pillow and PyYAML
are used.
"""

from __future__ import annotations

from pathlib import Path

from ..fs import atomic_write
from .charts import svg_line_chart
from .page import render_report
from .read import merge_steps, numeric_series, read_metrics

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
    atomic_write(target, lambda tmp: tmp.write_bytes(page))
    return target
