"""Paired validation: MAE/PSNR/SSIM against hand-computed values and scikit-image, slice
consistency, ``unpaired evaluate --paired`` and ``--val-paired`` during training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unpaired.evaluation import evaluate_paired
from unpaired.medical.phantoms import phantom_volume
from unpaired.metrics.errors import EvalError
from unpaired.metrics.paired import (
    average,
    gaussian_window,
    mae,
    psnr,
    score_item,
    score_stack,
    ssim,
    ssim_map,
)
from unpaired.metrics.volumes import neighbour_difference, slice_consistency

from conftest import TINY, make_images, make_model


# --- slice consistency -----------------------------------------------------------------------
def test_slice_consistency_known_values_and_sign() -> None:
    # input: slices 0, 10, 20 (steps of 10); output: 0, 30, 0 (steps of 30): flicker +20
    src = np.stack([np.full((2, 3), v) for v in (0.0, 10.0, 20.0)])
    out = np.stack([np.full((2, 3), v) for v in (0.0, 30.0, 0.0)])
    assert neighbour_difference(src, axis=0) == pytest.approx(10.0)
    assert neighbour_difference(out, axis=0) == pytest.approx(30.0)
    assert slice_consistency(src, out, axis=0) == pytest.approx(20.0)
    assert slice_consistency(out, src, axis=0) == pytest.approx(-20.0)  # smoother than input
    assert slice_consistency(src, src, axis=0) == 0.0
    # along another axis: the same volume moved there gives the same figure
    assert slice_consistency(np.moveaxis(src, 0, 2), np.moveaxis(out, 0, 2), axis=2) == (
        pytest.approx(20.0)
    )


def test_slice_consistency_inside_a_mask() -> None:
    src = np.zeros((3, 1, 2))
    out = np.zeros((3, 1, 2))
    out[1, 0, 1] = 100.0  # flicker only in the column outside the mask
    out[1, 0, 0] = 4.0
    mask = np.zeros((3, 1, 2), dtype=np.uint8)
    mask[:, 0, 0] = 1
    assert slice_consistency(src, out, axis=0, mask=mask) == pytest.approx(4.0)
    assert slice_consistency(src, out, axis=0) == pytest.approx((4 + 4 + 100 + 100) / 4)


def test_slice_consistency_errors() -> None:
    with pytest.raises(EvalError, match="differs"):
        slice_consistency(np.zeros((3, 2, 2)), np.zeros((3, 2, 3)), axis=0)
    with pytest.raises(EvalError, match="at least 2 slices"):
        slice_consistency(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), axis=0)
    with pytest.raises(EvalError, match="3-D"):
        neighbour_difference(np.zeros((2, 2)), axis=0)


# --- MAE / PSNR / SSIM ----------------------------------------------------------------------
def test_gaussian_window_is_the_normalised_gaussian() -> None:
    g = gaussian_window().numpy()
    assert g.shape == (11,) and g.sum() == pytest.approx(1.0)
    raw = np.exp(-(np.arange(-5, 6) ** 2) / (2 * 1.5**2))
    np.testing.assert_allclose(g, raw / raw.sum())


def test_mae_psnr_known_values() -> None:
    out = np.array([[0.0, 1.0], [2.0, 3.0]])
    tgt = np.zeros((2, 2))
    assert mae(out, tgt) == pytest.approx(1.5)
    # MSE = (0 + 1 + 4 + 9) / 4 = 3.5, R = 10
    assert psnr(out, tgt, 10.0) == pytest.approx(10 * math.log10(100 / 3.5))
    mask = np.array([[0, 1], [0, 1]])
    assert mae(out, tgt, mask) == pytest.approx(2.0)  # (1 + 3) / 2
    assert psnr(out, tgt, 10.0, mask) == pytest.approx(10 * math.log10(100 / 5.0))
    assert psnr(tgt, tgt, 1.0) == math.inf
    assert mae(tgt, tgt) == 0.0


def test_ssim_known_values() -> None:
    # constant images p and q: variances and covariance vanish, so every window gives
    # (2 p q + C1) / (p^2 + q^2 + C1) with C1 = (0.01 R)^2
    p, q, r = 0.5, 0.25, 1.0
    c1 = (0.01 * r) ** 2
    expected = (2 * p * q + c1) / (p * p + q * q + c1)
    assert ssim(np.full((16, 16), p), np.full((16, 16), q), r) == pytest.approx(expected)
    # the same in HU with R = 400: the constants scale with R, the value does not change
    assert ssim(np.full((16, 16), 200.0), np.full((16, 16), 100.0), 400.0) == pytest.approx(
        expected
    )
    img = np.random.default_rng(0).normal(size=(20, 20))
    assert ssim(img, img, 4.0) == pytest.approx(1.0)
    # contrast inverted around a mean of 100: luminance term ~1, structure term ~-1
    assert ssim(100 + img, 100 - img, 4.0) < -0.9
    assert ssim_map(img, img, 1.0).shape == (1, 1, 10, 10)


def _skimage_ssim(x: np.ndarray, y: np.ndarray, data_range: float, **kw) -> object:
    from skimage.metrics import structural_similarity

    return structural_similarity(
        x,
        y,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        **kw,
    )


@pytest.mark.parametrize("data_range", [1.0, 255.0, 400.0])
def test_ssim_matches_scikit_image(data_range: float) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, data_range, size=(37, 29))
    y = np.clip(x + rng.normal(scale=0.1 * data_range, size=x.shape), 0, data_range)
    assert ssim(x, y, data_range) == pytest.approx(_skimage_ssim(x, y, data_range), abs=1e-4)
    # a smooth pair (high SSIM) in HU-like values
    yy, xx = np.mgrid[0:32, 0:32]
    a = -100 + 3.0 * xx + 2.0 * yy
    b = a + 10 * np.sin(xx / 4.0)
    assert ssim(a, b, data_range) == pytest.approx(_skimage_ssim(a, b, data_range), abs=1e-4)


def test_ssim_color_and_mask_match_scikit_image() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(24, 30, 3)).astype(np.float64)
    y = np.clip(x + rng.normal(scale=20, size=x.shape), 0, 255)
    expected = _skimage_ssim(x, y, 255.0, channel_axis=2)
    got = ssim(np.moveaxis(x, 2, 0)[None], np.moveaxis(y, 2, 0)[None], 255.0)
    assert got == pytest.approx(expected, abs=1e-4)
    # inside a mask: the mean of scikit-image's full map over the mask's pixels where the
    # window fits (scikit-image's mean also leaves out the 5-pixel border)
    g = rng.uniform(0, 1, size=(30, 30))
    h = np.clip(g + rng.normal(scale=0.2, size=g.shape), 0, 1)
    mask = np.zeros((30, 30), dtype=bool)
    mask[3:20, 8:27] = True
    _, full = _skimage_ssim(g, h, 1.0, full=True)
    inner = np.zeros_like(mask)
    inner[5:-5, 5:-5] = True
    assert ssim(g, h, 1.0, mask) == pytest.approx(full[mask & inner].mean(), abs=1e-4)


def test_score_stack_pools_slices_and_keeps_each() -> None:
    rng = np.random.default_rng(3)
    tgt = rng.uniform(-160, 240, size=(3, 16, 16))
    out = tgt.copy()
    out[1] += 8.0  # one slice off by 8 HU
    scores = score_stack(out, tgt, 400.0)
    assert scores.mae == pytest.approx(8.0 / 3)
    assert scores.psnr == pytest.approx(10 * math.log10(400.0**2 / (64.0 / 3)))
    assert [s["mae"] for s in scores.slices] == pytest.approx([0.0, 8.0, 0.0])
    assert scores.slices[0]["psnr"] == math.inf and scores.slices[0]["ssim"] == 1.0
    assert scores.data_range == 400.0 and scores.pixels == 3 * 16 * 16
    mask = np.zeros((3, 16, 16))
    mask[0, 4:8, 4:8] = 1  # slices 1 and 2 empty: nan there, pooled over slice 0 only
    masked = score_stack(out, tgt, 400.0, mask)
    assert masked.mae == 0.0 and math.isnan(masked.slices[1]["mae"])
    assert average([{"mae": 1.0}, {"mae": 3.0}, {"mae": math.nan}], ["mae"]) == {"mae": 2.0}


def test_paired_errors() -> None:
    with pytest.raises(EvalError, match="differs"):
        score_stack(np.zeros((4, 4)), np.zeros((4, 5)), 1.0)
    with pytest.raises(EvalError, match="data range"):
        score_stack(np.zeros((4, 4)), np.zeros((4, 4)), 0.0)
    with pytest.raises(EvalError, match="at least 11"):
        ssim_map(np.zeros((8, 20)), np.zeros((8, 20)), 1.0)
    assert math.isnan(ssim(np.zeros((8, 8)), np.zeros((8, 8)), 1.0))  # too small: no SSIM


# --- paired data, evaluate --paired ----------------------------------------------------------
def _ct_model(folder: Path, window: list[float] | None = (-160.0, 240.0)) -> Path:
    """A tiny 1-channel model folder recording a soft-tissue window for both domains."""
    path = make_model(folder, 1, 1)
    info = json.loads((path / "config.json").read_text())
    if window is not None:
        info["windows"] = {"a": list(window), "b": list(window)}
    (path / "config.json").write_text(json.dumps(info))
    return path


def _npy_pairs(root: Path, count: int = 2, slices: int = 4, size: int = 16) -> Path:
    """Phantom volumes as float32 .npy (z, y, x) in HU: src/ (contrast), tgt/ (plain), mask/
    (the body: organ labels > 0)."""
    for i in range(count):
        hu_c, labels = phantom_volume(size, slices, contrast=True, seed=i)
        hu_p, _ = phantom_volume(size, slices, contrast=False, seed=i)
        for sub, array in (("src", hu_c), ("tgt", hu_p), ("mask", (labels > 0).astype(np.uint8))):
            (root / sub / "set").mkdir(parents=True, exist_ok=True)
            np.save(root / sub / "set" / f"case_{i}.npy", array)
    return root


def test_identity_on_volumes_is_the_direct_computation(tmp_path: Path) -> None:
    root = _npy_pairs(tmp_path)
    result = evaluate_paired(
        None, root / "src", root / "tgt", root / "mask", window="soft_tissue", save=False
    )
    maes, psnrs = [], []
    for i in range(2):
        src = np.clip(np.load(root / "src" / "set" / f"case_{i}.npy"), -160, 240)
        tgt = np.clip(np.load(root / "tgt" / "set" / f"case_{i}.npy"), -160, 240)
        inside = np.load(root / "mask" / "set" / f"case_{i}.npy") > 0
        diff = (src.astype(np.float64) - tgt)[inside]
        maes.append(np.abs(diff).mean())
        psnrs.append(10 * math.log10(400.0**2 / (diff**2).mean()))
    assert result.scores["mae_a2b"] == pytest.approx(np.mean(maes), rel=1e-9)
    assert result.scores["psnr_a2b"] == pytest.approx(np.mean(psnrs), rel=1e-9)
    assert result.scores["slice_consistency_a2b"] == 0.0  # output = input
    items = result.info["items"]
    assert [i["name"] for i in items] == ["set/case_0.npy", "set/case_1.npy"]
    assert items[0]["mae"] == pytest.approx(maes[0]) and len(items[0]["slices"]) == 4
    assert result.info["data_range"] == 400.0 and result.info["units"].startswith("HU")
    assert result.info["target_clipped_to"] == [-160.0, 240.0]


def test_evaluate_paired_cli_scores_what_translate_writes(tmp_path: Path, run_cli, capsys) -> None:
    root = _npy_pairs(tmp_path)
    model = _ct_model(tmp_path / "model")
    out_json = tmp_path / "paired.json"
    argv = ["evaluate", model, "--paired", root / "src", root / "tgt", "--mask", root / "mask"]
    result = run_cli(*argv, "--output", out_json)
    assert result.code == 0, result.err
    rows = {line.split()[0]: line.split()[1:] for line in result.out.splitlines() if line}
    assert "set/case_0.npy" in rows and len(rows["mean"]) == 4  # MAE, PSNR, SSIM, consistency
    record = json.loads(out_json.read_text())
    # the same numbers from the files `unpaired translate` writes (float32 .npy: exact)
    assert run_cli("translate", model, "-i", root / "src", "-o", tmp_path / "out").code == 0
    for item in record["items"]:
        name = item["name"]
        out = np.load(next((tmp_path / "out").rglob(Path(name).name)))
        src = np.load(root / "src" / name)
        tgt = np.clip(np.load(root / "tgt" / name), -160, 240)
        inside = np.load(root / "mask" / name) > 0
        assert item["mae"] == pytest.approx(np.abs(out - tgt.astype(np.float64))[inside].mean())
        ssim_ref = [
            _skimage_ssim(out[k].astype(np.float64), tgt[k].astype(np.float64), 400.0, full=True)
            for k in range(out.shape[0])
        ]  # the unmasked mean equals scikit-image's, slice by slice:
        unmasked = score_item(out, tgt, 400.0, 0)
        assert [s["ssim"] for s in unmasked["slices"]] == pytest.approx(
            [float(r[1][5:-5, 5:-5].mean()) for r in ssim_ref], abs=1e-4
        )
        flicker = np.abs(np.diff(out.astype(np.float64), axis=0))
        inner = inside[1:] & inside[:-1]
        seen = np.clip(src.astype(np.float64), -160, 240)
        expected = flicker[inner].mean() - np.abs(np.diff(seen, axis=0))[inner].mean()
        # (translate runs slice by slice, evaluate in batches: float round-off only)
        assert item["slice_consistency"] == pytest.approx(expected, abs=1e-3)
    assert record["metrics"]["mae_a2b"] == pytest.approx(
        np.mean([i["mae"] for i in record["items"]])
    )


def test_paired_photos_in_8bit_levels(tmp_path: Path, run_cli) -> None:
    for sub, value in (("src", 10), ("tgt", 13)):
        (tmp_path / sub).mkdir()
        array = np.full((12, 14, 3), value, np.uint8)
        array[:, 7:] = 100  # the right half agrees
        Image.fromarray(array).save(tmp_path / sub / "a.png")
    (tmp_path / "mask").mkdir()
    mask = np.zeros((12, 14), np.uint8)
    mask[:, :7] = 255
    Image.fromarray(mask).save(tmp_path / "mask" / "a.png")
    result = evaluate_paired(None, tmp_path / "src", tmp_path / "tgt", save=False)
    assert result.scores["mae_a2b"] == pytest.approx(1.5)  # 3 levels on half the pixels
    assert result.scores["psnr_a2b"] == pytest.approx(10 * math.log10(255**2 / 4.5))
    masked = evaluate_paired(None, tmp_path / "src", tmp_path / "tgt", tmp_path / "mask")
    assert masked.scores["mae_a2b"] == pytest.approx(3.0)
    assert masked.info["units"].startswith("8-bit") and masked.info["data_range"] == 255.0
    assert "slice_consistency_a2b" not in masked.scores
    model = make_model(tmp_path / "model")
    res = run_cli("evaluate", model, "--paired", tmp_path / "src", tmp_path / "tgt")
    assert res.code == 0 and "a.png" in res.out


@pytest.mark.parametrize(
    ("setup", "args", "needle"),
    [
        ("missing", [], "has no target: expected"),
        ("shape", [], "a paired target must be registered"),
        ("nomask", ["--mask", "MASK"], "has no mask"),
        ("emptymask", ["--mask", "MASK"], "has no voxel inside"),
        ("", ["--window", "lung", "MODEL"], "--window: only for the identity"),
        ("", ["--direction", "both"], "--direction both"),
        ("", ["--metrics", "fid"], "--metrics: not with --paired"),
        ("", ["MODEL", "DATA"], "give no DATA"),
        ("mixed", [], "both photos and medical volumes"),
    ],
)
def test_paired_mistakes_give_one_line(tmp_path: Path, run_cli, setup, args, needle) -> None:
    root = _npy_pairs(tmp_path / "d", count=1)
    src, tgt, mask = root / "src" / "set", root / "tgt" / "set", root / "mask" / "set"
    if setup == "missing":
        (tgt / "case_0.npy").rename(tgt / "other.npy")
    elif setup == "shape":
        np.save(tgt / "case_0.npy", np.zeros((4, 16, 15), np.float32))
    elif setup == "nomask":
        (mask / "case_0.npy").unlink()
    elif setup == "emptymask":
        np.save(mask / "case_0.npy", np.zeros((4, 16, 16), np.uint8))
    elif setup == "mixed":
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(src / "photo.png")
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(tgt / "photo.png")
    model = _ct_model(tmp_path / "model")
    subst = {"MODEL": model, "MASK": root / "mask", "DATA": root}
    rest = [subst.get(a, a) for a in args]
    positional = [a for a in rest if a in (model, root)]
    options = [a for a in rest if a not in (model, root)]
    result = run_cli("evaluate", *positional, "--paired", root / "src", root / "tgt", *options)
    assert result.code == 2
    line = result.one_error_line(needle)
    if setup in ("missing", "shape", "nomask", "emptymask"):
        assert "case_0" in line  # the file is named


def test_evaluate_on_volumes_reports_slice_consistency(tmp_path: Path, run_cli) -> None:
    root = _npy_pairs(tmp_path / "d", count=2)
    data = tmp_path / "data"
    (data / "testA").mkdir(parents=True)
    (data / "testB").mkdir(parents=True)
    for i in range(2):
        for letter, sub in (("A", "src"), ("B", "tgt")):
            vol = np.load(root / sub / "set" / f"case_{i}.npy")
            np.save(data / f"test{letter}" / f"v{i}.npy", vol)
    model = _ct_model(tmp_path / "model")
    out = tmp_path / "e.json"
    argv = ["evaluate", model, data, "--metrics", "l1_cycle", "--output", out]
    assert run_cli(*argv).code == 0
    scores = json.loads(out.read_text())["metrics"]
    assert math.isfinite(scores["slice_consistency_a2b"])
    assert math.isfinite(scores["slice_consistency_b2a"])


# --- training: --val-paired, --keep-best-by --------------------------------------------------
def _train_folders(root: Path) -> tuple[list[str], list[str]]:
    """Tiny CT training folders (.npy volumes) and the --val-paired options."""
    for i in range(2):
        hu_c, _ = phantom_volume(16, 3, contrast=True, seed=i)
        hu_p, _ = phantom_volume(16, 3, contrast=False, seed=5 + i)
        for sub, array in (("a", hu_c), ("b", hu_p)):
            (root / sub).mkdir(parents=True, exist_ok=True)
            np.save(root / sub / f"v{i}.npy", array)
    val = _npy_pairs(root / "val", count=1, slices=3, size=16)
    data = ["--a", str(root / "a"), "--b", str(root / "b")]
    data += ["--channels-a", "1", "--channels-b", "1", "--image-size", "16", "--load-size", "16"]
    data += ["--window-a", "soft_tissue", "--window-b", "soft_tissue"]
    paired = ["--eval-every", "2", "--val-paired", str(val / "src"), str(val / "tgt")]
    paired += ["--val-mask", str(val / "mask"), "--keep-best-by", "mae"]
    return data, paired


def _jsonl(run: Path) -> tuple[list[dict], list[dict]]:
    """(loss records without timings, paired evaluation records without timings)."""
    losses, evals = [], []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "event" in record:
            continue
        for key in ("time", "sec_per_step", "eval_sec"):
            record.pop(key, None)
        (evals if "paired_mae" in record else losses).append(record)
    return losses, evals


def test_val_paired_logs_scores_and_keeps_the_best_by_mae(tmp_path: Path, run_cli) -> None:
    data, paired = _train_folders(tmp_path)
    runs = tmp_path / "runs"
    argv = ["train", *data, "--runs-dir", runs, "--name", "ct", "--max-steps", "5", *TINY]
    result = run_cli(*argv, *paired)
    assert result.code == 0, result.err
    run = runs / "ct"
    _, evals = _jsonl(run)
    assert [r["step"] for r in evals] == [2, 4, 5]
    for r in evals:
        assert {"paired_mae", "paired_psnr", "paired_ssim", "paired_slice_consistency"} <= set(r)
        assert "fid_a2b" not in r  # the best is picked by MAE: no FID
    best = min(evals, key=lambda r: r["paired_mae"])
    info = json.loads((run / "model_best" / "config.json").read_text())
    assert info["step"] == best["step"] and info["eval"]["paired_mae"] == best["paired_mae"]
    assert "eval step 2: paired_mae" in result.err
    # the report names the score that chose model_best/ (there is no FID to name)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert f"<th>Best model</th><td>step {best['step']}, paired MAE " in page
    # the same score from unpaired evaluate on the final model (the two paths agree)
    val = tmp_path / "val"
    res = run_cli("evaluate", run, "--paired", val / "src", val / "tgt", "--mask", val / "mask")
    assert res.code == 0, res.err
    record = json.loads(next((run / "eval").glob("step_000005*.json")).read_text())
    assert record["metrics"]["mae_a2b"] == pytest.approx(evals[-1]["paired_mae"], rel=1e-5)
    yaml_text = (run / "config.yaml").read_text()
    assert "keep_best_by: mae" in yaml_text and "val_mask:" in yaml_text


def test_exact_resume_holds_with_val_paired_on(tmp_path: Path, run_cli) -> None:
    data, paired = _train_folders(tmp_path)
    opts = [*TINY, "--log-every", "1", "--epochs", "1", "--epochs-decay", "1", *paired]
    opts += ["--set", "cyclegan.pool_size=3", "--set", "cyclegan.use_dropout=true"]
    full = tmp_path / "full"
    assert run_cli("train", *data, "--runs-dir", full, "--max-steps", "6", *opts).code == 0
    parts = tmp_path / "parts"
    assert run_cli("train", *data, "--runs-dir", parts, "--max-steps", "3", *opts).code == 0
    (run,) = parts.iterdir()
    assert run_cli("train", "--resume", run, "--max-steps", "6").code == 0
    (whole,) = full.iterdir()
    assert _jsonl(run)[0] == _jsonl(whole)[0]
    by_step = {r["step"]: r for r in _jsonl(run)[1]}
    for r in _jsonl(whole)[1]:  # the evaluations both runs made agree
        assert by_step[r["step"]]["paired_mae"] == pytest.approx(r["paired_mae"], rel=1e-9)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--eval-every", "2", "--keep-best-by", "mae"], "option keep_best_by mae: needs paired"),
        (["--val-paired", "SRC", "TGT"], "option val_source: needs eval_every"),
        (["--eval-every", "2", "--val-paired", "SRC", "NOWHERE"], "--val-paired"),
        (["--eval-every", "2", "--val-mask", "SRC"], "option val_mask: needs val_source"),
    ],
)
def test_val_paired_mistakes_give_one_line(tmp_path: Path, run_cli, extra, needle) -> None:
    data, _ = _train_folders(tmp_path)
    subst = {"SRC": tmp_path / "val" / "src", "TGT": tmp_path / "val" / "tgt"}
    subst["NOWHERE"] = tmp_path / "nowhere"
    argv = ["train", *data, "--runs-dir", tmp_path / "runs", *TINY]
    result = run_cli(*argv, *[subst.get(a, a) for a in extra])
    assert result.code == 2
    result.one_error_line(needle)
    assert not (tmp_path / "runs").exists()


def test_unset_options_leave_the_config_as_it_was(tmp_path: Path, run_cli) -> None:
    data, _ = _train_folders(tmp_path)
    result = run_cli("train", *data, "--runs-dir", tmp_path / "runs", *TINY, "--dry-run")
    assert result.code == 0
    for key in ("val_source", "val_target", "val_mask", "keep_best_by"):
        assert key not in result.out


def test_val_paired_on_photos_keeps_the_best_by_psnr(
    tiny_data: Path, tmp_path: Path, run_cli
) -> None:
    src, tgt = tiny_data / "testA", tmp_path / "tgt"
    make_images(tgt, 2, seed=9)  # same names as testA's ("img 000.png", ...)
    runs = tmp_path / "runs"
    argv = ["train", tiny_data, "--runs-dir", runs, "--max-steps", "4", *TINY]
    argv += ["--eval-every", "2", "--val-paired", src, tgt, "--keep-best-by", "psnr"]
    assert run_cli(*argv).code == 0
    _, evals = _jsonl(runs / "data")
    assert [r["step"] for r in evals] == [2, 4]
    assert "paired_slice_consistency" not in evals[0]
    best = max(evals, key=lambda r: r["paired_psnr"])
    info = json.loads((runs / "data" / "model_best" / "config.json").read_text())
    assert info["step"] == best["step"]


def test_photo_pair_errors_name_the_file_in_evaluate_and_in_training(
    tiny_data: Path, tmp_path: Path, run_cli
) -> None:
    """A target of another size than its source, or a mask with no pixel inside: one line
    naming the file, from ``evaluate --paired`` and from ``train --val-paired`` alike."""
    src = tiny_data / "testA"  # two 40x40 images
    small = tmp_path / "small"
    make_images(small, 2, size=(32, 40), seed=9)
    with pytest.raises(EvalError, match=r"target .*img 000\.png is 32x40 but its source"):
        evaluate_paired(None, src, small, save=False)
    good, empty = tmp_path / "tgt", tmp_path / "empty"
    make_images(good, 2, seed=9)
    empty.mkdir()
    for path in sorted(src.iterdir()):
        Image.new("L", (40, 40), 0).save(empty / path.name)
    with pytest.raises(EvalError, match=r"mask .*img 000\.png: has no pixel inside"):
        evaluate_paired(None, src, good, empty, save=False)
    runs = tmp_path / "runs"
    argv = ["train", tiny_data, "--runs-dir", runs, "--max-steps", "2", *TINY, "--eval-every", "2"]
    result = run_cli(*argv, "--val-paired", src, small)
    assert result.code != 0
    result.one_error_line("is 32x40 but its source", "a paired target must have its source's size")
    result = run_cli(*argv, "--val-paired", src, good, "--val-mask", empty)
    assert result.code != 0
    result.one_error_line("has no pixel inside (all zero)")
