"""The text tables ``unpaired evaluate`` prints."""

from __future__ import annotations

from .common import EvalResult


def format_paired_table(result: EvalResult) -> str:
    """The items of :func:`evaluate_paired` as a text table (one row per image or volume,
    then the mean)."""
    info = result.info
    direction = info["direction"]
    keys = [
        k
        for k in ("mae", "psnr", "ssim", "slice_consistency")
        if f"{k}_{direction}" in result.scores
    ]
    heads = {"mae": "MAE", "psnr": "PSNR dB", "ssim": "SSIM", "slice_consistency": "slice cons."}
    names = [str(i["name"]) for i in info["items"]] + ["mean"]
    width = max(len(n) for n in names) + 2
    lines = ["".ljust(width) + "".join(heads[k].rjust(13) for k in keys)]
    for item in info["items"]:
        cells = [_fmt(float(item[k])) if k in item else "-" for k in keys]
        lines.append(str(item["name"]).ljust(width) + "".join(c.rjust(13) for c in cells))
    cells = [_fmt(result.scores[f"{k}_{direction}"]) for k in keys]
    lines.append("mean".ljust(width) + "".join(c.rjust(13) for c in cells))
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "nan"
    if abs(value) < 1e-12:  # 0, or round-off around it (e.g. the std of identical subsets)
        return "0"
    if 0.01 <= abs(value) < 1e5:
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{value:.3e}"


def format_table(result: EvalResult) -> str:
    """The scores as a text table: one row per value, one column per direction."""
    rows: list[str] = []
    for key in result.scores:
        base = key.rsplit("_", 1)[0]
        if base not in rows:
            rows.append(base)
    width = max([len(r) for r in rows] + [6]) + 2
    lines = ["".ljust(width) + "".join(d.rjust(12) for d in result.directions)]
    for base in rows:
        cells = [
            _fmt(result.scores[f"{base}_{d}"]) if f"{base}_{d}" in result.scores else "-"
            for d in result.directions
        ]
        lines.append(base.ljust(width) + "".join(c.rjust(12) for c in cells))
    return "\n".join(lines)
