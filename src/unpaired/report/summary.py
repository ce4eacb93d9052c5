"""The report's run summary (data, config highlights, duration, hardware, best model) and the
final evaluation table (the newest ``eval/*.json`` written by ``unpaired evaluate``)."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .charts import _fmt_value
from .sections import _fmt_duration, _note, _section


def _get(config: Mapping, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _data_text(config: Mapping) -> str:
    data = config.get("data") if isinstance(config.get("data"), Mapping) else {}
    if data.get("root"):
        return str(data["root"])
    if data.get("dir_a"):
        return f"{data['dir_a']} | {data.get('dir_b')}"
    return (
        f"the demo domains ({data.get('demo_size')} px, {data.get('demo_images')} images per "
        f"domain, seed {config.get('seed')})"
    )


def _last_hardware(records: Sequence[Mapping]) -> tuple[Mapping, str | None]:
    """The ``hardware`` of the last start/resume event and its device."""
    for rec in reversed(records):
        if rec.get("event") in ("start", "resume"):
            hw = rec.get("hardware")
            return (hw if isinstance(hw, Mapping) else {}), rec.get("device")
    return {}, None


#: ``keep_best_by`` -> (the eval record's key that chose ``model_best/``, its label): the
#: evaluator's choice (training/evaluator.py BEST_KEYS), told by its own score
_BEST_BY = {
    "fid": ("fid_mean", "mean FID"),
    "mae": ("paired_mae", "paired MAE"),
    "psnr": ("paired_psnr", "paired PSNR"),
    "ssim": ("paired_ssim", "paired SSIM"),
}


def _best_model(run_dir: Path, keep_best_by: str | None) -> str | None:
    """The row: step N and the score that chose ``model_best/``; None when there is none."""
    key, label = _BEST_BY.get(keep_best_by or "fid", _BEST_BY["fid"])
    try:
        info = json.loads((run_dir / "model_best" / "config.json").read_text())
        return f"step {info['step']:,}, {label} {_fmt_value(float(info['eval'][key]))}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _rows_html(rows: Sequence[tuple[str, str]]) -> str:
    esc = html.escape
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if v)
    return f'<table class="summary"><tbody>{body}</tbody></table>'


def _model_rows(g: Callable[[str], Any]) -> list[tuple[str, str]]:
    """The family's own rows (its recipe's ``report_rows``), the schedule with the limits."""
    from ..recipes import RECIPES, family_of

    name = family_of({"model": g("model")})
    if name not in RECIPES:
        return [("Model", str(name))]
    rows = RECIPES.get(name).report_rows(g)
    return [(k, v + _limits(g) if k == "Schedule" else v) for k, v in rows]


def _limits(g: Callable[[str], Any]) -> str:
    budget = g("time_budget")
    return (
        (f", precision {g('precision')}" if g("precision") else "")
        + (f", max {g('max_steps'):,} steps" if isinstance(g("max_steps"), int) else "")
        + (f"; time budget {budget}: length and LR decay planned to fit it" if budget else "")
    )


def _weights(g: Callable[[str], Any]) -> str:
    """What the samples, evaluations and model folders use."""
    ema = g("ema")
    if ema is None:
        return ""
    return f"EMA of the generators (decay {ema}) for samples, evaluation and model/"


def _processes(records: Sequence[Mapping]) -> str:
    """`` x N processes`` when the last start/resume ran under torchrun."""
    for rec in reversed(records):
        if rec.get("event") in ("start", "resume"):
            n = rec.get("processes")
            return f" x {n} processes (torchrun)" if isinstance(n, int) and n > 1 else ""
    return ""


def summary_section(
    run_dir: Path, config: Mapping | None, records: Sequence[Mapping], elapsed: float | None
) -> str:
    """Data, model, schedule, duration and hardware of the run, as a two-column table."""
    if not config:
        return _section("summary", "Summary", _note("No data yet: no config.yaml."))
    g = lambda key: _get(config, key)  # noqa: E731
    hw, device = _last_hardware(records)
    steps = [r.get("step") for r in records if "event" not in r and isinstance(r.get("step"), int)]
    cpu = hw.get("cpu")
    if cpu and hw.get("cpu_count"):
        cpu = f"{cpu} ({hw['cpu_count']} cores, {hw.get('threads')} torch threads)"
    eval_every = g("eval_every")
    rows = [
        ("Data", _data_text(config)),
        (
            "Images",
            f"{g('data.preprocess')}: {g('data.load_size')} → {g('data.image_size')} px, "
            f"channels {g('data.channels_a')} → {g('data.channels_b')}",
        ),
        *_model_rows(g),
        ("Weights", _weights(g)),
        ("Preset", str(g("preset") or "")),
        ("Progress", f"{max(steps):,} steps" if steps else ""),
        ("Duration", _fmt_duration(elapsed) if elapsed is not None else ""),
        ("Device", str(device or g("device") or "") + _processes(records)),
        ("CPU", str(cpu or "")),
        ("GPU", str(hw.get("gpu") or "")),
        ("Software", f"torch {hw['torch']}, Python {hw.get('python')}" if hw.get("torch") else ""),
        ("Evaluation", f"every {eval_every:,} steps" if isinstance(eval_every, int) else ""),
        ("Best model", _best_model(run_dir, g("keep_best_by")) or ""),
    ]
    return _section("summary", "Summary", _rows_html(rows))


def newest_evaluation(run_dir: Path) -> tuple[Path, dict] | None:
    """The most recently written ``eval/*.json`` that parses, with its content."""
    try:
        paths = sorted((run_dir / "eval").glob("*.json"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return None
    for path in reversed(paths):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("metrics"), dict):
            return path, record
    return None


def evaluation_section(run_dir: Path) -> str:
    """The newest ``unpaired evaluate`` result as a table: metrics by direction."""
    found = newest_evaluation(run_dir)
    if found is None:
        text = "No evaluation yet: run unpaired evaluate on this run folder."
        return _section("evaluation", "Evaluation", _note(text))
    path, record = found
    esc = html.escape
    scores = {k: v for k, v in record["metrics"].items() if isinstance(v, (int, float))}
    directions = [d for d in ("a2b", "b2a") if any(k.endswith(f"_{d}") for k in scores)]
    names: list[str] = []
    for key in scores:
        base = key.rsplit("_", 1)[0]
        if base not in names:
            names.append(base)
    head = "".join(f"<th>{esc(d.replace('2', ' → ').upper())}</th>" for d in directions)
    body = []
    for base in names:
        cells = "".join(
            f"<td>{esc(_fmt_value(float(scores[f'{base}_{d}'])))}</td>"
            if f"{base}_{d}" in scores
            else "<td>–</td>"
            for d in directions
        )
        body.append(f"<tr><td>{esc(base)}</td>{cells}</tr>")
    images = record.get("images") or {}
    when = record.get("time")
    meta = [
        ("File", f"eval/{path.name}"),
        ("Model step", f"{record['step']:,}" if isinstance(record.get("step"), int) else ""),
        ("Data", str(record.get("data") or "")),
        (
            "Images",
            f"{images.get('A')} A, {images.get('B')} B at {record.get('size')} px"
            if images
            else "",
        ),
        ("Features", str(record.get("features") or "")),
        ("Protocol", str(record.get("protocol") or "")),
        ("Written", time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if when else ""),
    ]
    table = (
        f'<table class="metrics"><thead><tr><th>metric</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    note = _note(
        "FID and KID: lower is better (KID is unbiased, so it can dip below 0); cycle PSNR and "
        "the demo scores: higher is better. Compare FIDs only at equal image counts."
    )
    return _section("evaluation", "Evaluation", table + note + _rows_html(meta))
