"""Tests for the HTML run report (unpaired.report)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from unpaired.report import (
    merge_steps,
    read_metrics,
    render_report,
    svg_line_chart,
    write_report,
)

LOSS_KEYS = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")
SECTIONS = ("Samples", "Losses", "Metrics", "Configuration")


def _metric_line(step: int, scale: float = 1.0) -> dict:
    rec: dict = {"step": step, "epoch": 1 + step // 1000, "lr": 0.0002}
    for i, key in enumerate(LOSS_KEYS):
        rec[key] = round(scale * (0.2 + 0.01 * i + 1.0 / step), 5)
    rec["sec_per_step"] = 0.12
    rec["time"] = 1764222000.0 + step * 0.12
    return rec


def _make_run(run: Path) -> list[Path]:
    """A fake run folder; returns the sample grid paths in step order."""
    (run / "samples").mkdir(parents=True)
    (run / "config.yaml").write_text(
        "name: demo_run\n"
        "data:\n  root: datasets/horse2zebra\n  note: '<script>alert(1)</script>'\n"
        "model:\n  generator: resnet_9blocks\n"
        "optim:\n  lr: 0.0002\n"
        "train:\n  epochs: 3\n",
        encoding="utf-8",
    )
    lines = [json.dumps({"event": "start", "step": 0, "time": 1764222000.0})]
    for step in range(100, 4601, 100):
        lines.append(json.dumps(_metric_line(step)))
        if step == 3000:
            lines.append(json.dumps({"event": "resume", "step": 2900, "time": 1764223000.0}))
            # The resumed run logs step 3000 again; its values must win.
            lines.append(json.dumps(_metric_line(3000, scale=2.0)))
    lines.append("   ")
    lines.append("not json at all")
    lines.append('{"step": 4700, "D_A": 0.3, "G_')  # cut short when the process was killed
    (run / "metrics.jsonl").write_text("\n".join(lines), encoding="utf-8")

    paths = []
    for i, step in enumerate((1000, 2000, 4600)):
        grid = Image.new("RGB", (48, 32), (40 * i, 120, 200 - 40 * i))
        path = run / "samples" / f"step_{step:06d}.png"
        grid.save(path)
        paths.append(path)
    (run / "samples" / "notes.txt").write_text("not a sample")
    return paths


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "demo"
    _make_run(run)
    return run


def test_read_metrics_skips_bad_lines(run_dir: Path) -> None:
    records = read_metrics(run_dir / "metrics.jsonl")
    assert all(isinstance(r, dict) for r in records)
    assert sum("event" in r for r in records) == 2
    assert not any(r.get("step") == 4700 for r in records)
    rows = merge_steps(records)
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps)) == list(range(100, 4601, 100))
    row_3000 = next(r for r in rows if r["step"] == 3000)
    assert row_3000["D_A"] == _metric_line(3000, scale=2.0)["D_A"]
    assert read_metrics(run_dir / "missing.jsonl") == []


def test_read_metrics_subsample_keeps_rare_lines(tmp_path: Path) -> None:
    lines = [json.dumps(_metric_line(step)) for step in range(1, 5001)]
    lines[1234] = json.dumps({**_metric_line(1235), "fid_a2b": 42.0})
    lines.insert(2000, json.dumps({"event": "resume", "step": 1990}))
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = read_metrics(path, max_lines=200)
    assert len(records) < 500
    assert any(r.get("fid_a2b") == 42.0 for r in records)
    assert any(r.get("event") == "resume" for r in records)
    assert records[-1]["step"] == 5000


def test_write_report_full(run_dir: Path) -> None:
    samples = sorted((run_dir / "samples").glob("step_*.png"))
    out = write_report(run_dir)
    assert out == run_dir / "report.html"
    assert out.is_file()
    page = out.read_text(encoding="utf-8")

    for heading in SECTIONS:
        assert f">{heading}</h2>" in page or f">{heading}<label" in page
    assert "demo_run" in page
    assert "<svg" in page
    for key in LOSS_KEYS + ("lr",):
        assert f">{key}<" in page
    assert "4,600" in page  # last step in the header

    # The latest grid is embedded byte for byte.
    match = re.search(r'id="latest-sample" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match, "latest sample not embedded"
    assert base64.b64decode(match.group(1)) == samples[-1].read_bytes()
    # And every grid appears in the gallery with its step.
    for step in ("1,000", "2,000", "4,600"):
        assert f"step {step}</figcaption>" in page

    # Config values are escaped, never injected.
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    # No network references: everything is inline.
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page

    # Atomic write leaves nothing behind.
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "config.yaml",
        "metrics.jsonl",
        "report.html",
        "samples",
    ]


def test_fid_keys_get_a_chart(run_dir: Path) -> None:
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write("\n" + json.dumps({"step": 4600, "fid_a2b": 61.5, "kid_a2b": 0.012}) + "\n")
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "FID" in page and "KID" in page
    assert ">fid_a2b<" in page and ">kid_a2b<" in page
    assert "61.50" in page


def test_rewrite_replaces_report(run_dir: Path) -> None:
    first = write_report(run_dir).read_text(encoding="utf-8")
    Image.new("RGB", (48, 32), (255, 0, 0)).save(run_dir / "samples" / "step_009000.png")
    second = write_report(run_dir).read_text(encoding="utf-8")
    assert first != second
    assert "step 9,000</figcaption>" in second
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".report-")]


def test_empty_folder_still_renders(tmp_path: Path) -> None:
    run = tmp_path / "empty_run"
    run.mkdir()
    out = write_report(run)
    page = out.read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert heading in page
    assert page.lower().count("no data yet") >= 4
    assert "empty_run" in page
    assert [p.name for p in run.iterdir()] == ["report.html"]


def test_broken_inputs_do_not_raise(tmp_path: Path) -> None:
    run = tmp_path / "broken"
    (run / "samples").mkdir(parents=True)
    (run / "samples" / "step_000100.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (run / "config.yaml").write_bytes(b"name: [unclosed\n\xff\xfe")
    (run / "metrics.jsonl").write_bytes(
        b'[1, 2]\n{"step": "x"}\n{"step": 1, "D_A": NaN}\n{"step": 2, "D_A": true}\n\xff\n'
    )
    page = write_report(run).read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert heading in page


def test_svg_line_chart() -> None:
    pts = [(float(i), (i % 7) / 7.0) for i in range(5000)]
    svg = svg_line_chart({"a<b": pts, "empty": []}, "Title & co")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "a&lt;b" in svg and "Title &amp; co" in svg
    assert "empty" not in svg
    # Long series are reduced to about 1000 points per polyline.
    for points in re.findall(r'points="([^"]*)"', svg):
        assert len(points.split()) <= 1000
    assert "no data yet" in svg_line_chart({}, "Nothing")


def test_summary_evaluation_and_all_sections(tmp_path: Path) -> None:
    """A real (tiny) run with evaluation during training, then ``unpaired evaluate``: the
    report has a summary with the hardware, metric curves and the final evaluation table."""
    from unpaired import cli

    from conftest import TINY, make_images

    data = tmp_path / "data"
    for sub, n, seed in (("trainA", 4, 1), ("trainB", 5, 2), ("testA", 2, 3), ("testB", 2, 4)):
        make_images(data / sub, n, seed=seed)
    runs = tmp_path / "runs"
    argv = ["train", str(data), "--runs-dir", str(runs), "--max-steps", "4", *TINY]
    argv += ["--eval-every", "2", "--set", "eval_features=tiny"]
    assert cli.main(argv) == 0
    run = runs / "data"
    assert cli.main(["evaluate", str(run), "--features", "tiny", "--metrics", "fid,l1_cycle"]) == 0
    page = write_report(run).read_text(encoding="utf-8")
    for heading in ("Summary",) + SECTIONS + ("Evaluation",):
        assert f">{heading}</h2>" in page or f">{heading}<label" in page, heading
    assert str(data) in page and "resnet_6blocks (ngf 4)" in page  # config highlights
    assert "torch 2." in page and "cores" in page  # hardware from the start event
    assert "every 2 steps" in page and "<th>Best model</th><td>step " in page
    assert "mean FID " in page.split("<th>Best model</th>")[1].split("</td>")[0]
    assert "FID (lower is better)" in page and "fid_a2b" in page  # the curve of eval records
    evaluation = page.split('id="evaluation"')[1].split("</section>")[0]
    assert "eval/step_000004.json" in evaluation and "l1_cycle" in evaluation
    assert "A → B" in evaluation and "B → A" in evaluation
    assert "No evaluation yet" in render_report(tmp_path / "nothing")


def test_summary_rows_follow_the_model_and_the_process_count() -> None:
    from unpaired import config as cfg
    from unpaired.report.summary import summary_section

    start = {"event": "start", "step": 0, "processes": 4, "device": "cuda:0", "hardware": {}}
    munit = cfg.to_dict(cfg.build_config({"model": "munit"}))
    page = summary_section(Path("."), munit, [start], None)
    assert "munit: dim 64, style 8, 4 residual blocks, MLP 256; 3-scale D (4 layers)" in page
    assert "image recon 10.0" in page and "every 100000 steps" in page
    assert "cuda:0 x 4 processes (torchrun)" in page
    cyclegan = cfg.to_dict(cfg.build_config({}))
    page = summary_section(Path("."), cyclegan, [dict(start, processes=1)], None)
    assert "cyclegan: resnet_9blocks (ngf 64)" in page and "processes" not in page
