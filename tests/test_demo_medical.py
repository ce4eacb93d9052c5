"""``unpaired demo-medical``: the phantom data it writes (unpaired training volumes, a paired
set of the same bodies in both phases with aligned organ masks) and a smoke run of the whole
command with a couple of training steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unpaired.cli.demo_medical import DEMO_WINDOW, demo_data, write_demo_data
from unpaired.medical.phantoms import CONTRAST_HU, LABELS, PLAIN_HU

nib = pytest.importorskip("nibabel")


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_demo_data_is_paired_with_aligned_masks(tmp_path: Path) -> None:
    data = write_demo_data(tmp_path / "ct", size=32, slices=6, volumes=2, paired=2)
    assert data == demo_data(tmp_path / "ct")
    assert _names(data.train_a) == _names(data.train_b) == ["case_000.nii.gz", "case_001.nii.gz"]
    assert _names(data.source) == _names(data.target) == _names(data.masks)
    for name in _names(data.source):
        source, target = nib.load(data.source / name), nib.load(data.target / name)
        mask = nib.load(data.masks / name)
        assert source.shape == target.shape == mask.shape == (32, 32, 6)
        assert np.array_equal(source.affine, target.affine)
        assert np.array_equal(source.affine, mask.affine)
        hu_in, hu_out = source.get_fdata(), target.get_fdata()
        labels = np.asarray(mask.dataobj)
        # the same body: the organs' mean HU are the two phases' values, where the mask says
        for organ in ("liver", "kidney", "aorta"):
            inside = labels == LABELS[organ]
            if inside.sum() < 10:
                continue
            tolerance = 4 * 10.0 / np.sqrt(inside.sum())  # 4 sigma of the 10 HU noise's mean
            assert abs(hu_in[inside].mean() - CONTRAST_HU[organ]) < tolerance
            assert abs(hu_out[inside].mean() - PLAIN_HU[organ]) < tolerance
        body = labels > 0
        assert abs(hu_in[~body].mean() + 1000) < 5 and abs(hu_out[~body].mean() + 1000) < 5
    # the training domains are other bodies than the paired set
    train = nib.load(data.train_a / "case_000.nii.gz").get_fdata()
    assert not np.allclose(train, nib.load(data.source / "case_000.nii.gz").get_fdata())


def test_existing_data_is_kept_and_another_size_is_refused(tmp_path: Path) -> None:
    from unpaired.cli.demo_medical import DemoError

    data = write_demo_data(tmp_path / "ct", size=32, slices=4, volumes=1, paired=1)
    path = data.source / "case_000.nii.gz"
    before = path.read_bytes()
    write_demo_data(tmp_path / "ct", size=32, slices=4, volumes=1, paired=1)
    assert path.read_bytes() == before
    with pytest.raises(DemoError, match="holds demo phantoms of 32x32x4 voxels"):
        write_demo_data(tmp_path / "ct", size=48, slices=4)


def test_demo_medical_runs_end_to_end(tmp_path: Path, run_cli) -> None:
    out = tmp_path / "demo"
    result = run_cli(
        "demo-medical", "--output", out, "--steps", "2", "--size", "32", "--device", "cpu",
        "--progress", "lines",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    header = next(i for i, line in enumerate(lines) if "MAE (HU)" in line)
    assert "PSNR (dB)" in lines[header] and "SSIM" in lines[header]
    assert lines[header + 1].startswith("identity (before)")
    assert lines[header + 2].startswith("trained, 2 steps")
    assert "inside the body mask, in HU through the soft-tissue window [-160, 240]" in result.out
    run = out / "runs" / "contrast2plain"
    results = json.loads((run / "demo_medical.json").read_text())
    assert results["window"] == DEMO_WINDOW and results["steps"] == 2
    before, after = results["before"], results["after"]
    for scores in (before, after):
        assert set(scores) >= {"mae_a2b", "psnr_a2b", "ssim_a2b"}
        assert scores["mae_a2b"] > 0 and 0 < scores["ssim_a2b"] <= 1
    # the identity's MAE is what the phantoms' enhancement and noise make it, in HU
    assert 10 < before["mae_a2b"] < 40
    assert f"{before['mae_a2b']:.2f}" in lines[header + 1]
    # MAE inside each organ: the identity's is the enhancement (contrast - plain HU, clipped
    # to the window) plus the noise
    organs = results["structure_mae_before"]
    assert set(organs) == {"liver", "spleen", "kidney", "aorta", "bone", "rest"}
    assert organs["bone"] == 0  # 700 HU in both phases: the window's edge in both
    for organ in ("liver", "spleen", "kidney"):
        enhancement = CONTRAST_HU[organ] - PLAIN_HU[organ]
        assert abs(organs[organ] - enhancement) < 8, organ
    assert set(results["structure_mae_after"]) == set(organs)
    table = lines.index(next(line for line in lines if line.startswith("MAE (HU) inside")))
    assert lines[table + 1].startswith("identity (before)")
    info = json.loads((run / "model" / "config.json").read_text())
    assert info["windows"] == {"a": [-160.0, 240.0], "b": [-160.0, 240.0]}
    # a second run reuses the phantoms and takes a new run folder
    again = run_cli(*["demo-medical", "--output", out, "--steps", "1", "--size", "32"])
    assert again.code == 0, again.err
    assert (out / "runs" / "contrast2plain-2" / "demo_medical.json").is_file()
    bad = run_cli("demo-medical", "--output", out, "--steps", "0")
    bad.one_error_line("--steps 0: must be at least 1")
