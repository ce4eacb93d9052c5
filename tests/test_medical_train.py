"""The medical workflow end to end through the CLI: train on a folder of phantom NIfTI volumes
(contrast) and a folder of phantom DICOM series (non-contrast) with HU windows, then translate
a NIfTI volume and a DICOM series with the trained model, and augment a labelled set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unpaired import cli
from unpaired.training import checkpoint, loop
from unpaired.training.assemble import build_data

from conftest import TINY

pytest.importorskip("nibabel")
pydicom = pytest.importorskip("pydicom")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from unpaired.medical.phantoms import write_phantom_dicom_series, write_phantom_nifti

    root = tmp_path_factory.mktemp("ct")
    for i in range(2):
        write_phantom_nifti(root / "contrast" / f"c{i}.nii.gz", 32, 4, contrast=True, seed=i)
        write_phantom_dicom_series(root / "plain" / f"series{i}", 32, 4, seed=10 + i)
    args = ["train", "--a", str(root / "contrast"), "--b", str(root / "plain")]
    args += ["--runs-dir", str(root / "runs"), "--name", "ct", "--max-steps", "2", *TINY]
    args += ["--channels-a", "1", "--channels-b", "1", "--load-size", "32"]
    args += ["--window-a", "soft_tissue", "--window-b", "-160,240"]
    assert cli.main(args) == 0
    return root / "runs" / "ct"


def test_training_records_the_windows_in_the_model(trained: Path) -> None:
    info = json.loads((trained / "model" / "config.json").read_text())
    assert info["windows"] == {"a": [-160.0, 240.0], "b": [-160.0, 240.0]}
    assert info["axis"] == "axial"
    assert info["channels_a"] == info["channels_b"] == 1
    state = checkpoint.load_checkpoint(trained / "checkpoints" / "latest.pt")
    assert state["position"] == {"step": 2, "epoch": 0, "batch": 2}
    assert (trained / "samples" / "step_000002.png").is_file()


def test_a_folder_of_volumes_is_a_dataset_of_slices(trained: Path) -> None:
    config, _ = loop.resume_config(trained, {})
    dataset, sampler, (sample_a, _) = build_data(config)
    # 2 volumes x 4 axial slices in each domain: 8 slices, one epoch of 8 steps
    assert len(dataset.domain_a) == len(dataset.domain_b) == sampler.epoch_size == 8
    assert sample_a.shape[1:] == (1, 32, 32)
    assert sample_a.min() >= -1 and sample_a.max() <= 1


def test_trained_model_translates_a_nifti_volume(trained: Path, tmp_path: Path) -> None:
    import nibabel as nib

    from unpaired.medical.phantoms import write_phantom_nifti

    source = write_phantom_nifti(tmp_path / "in" / "case.nii.gz", 32, 5, contrast=True, seed=7)
    out = tmp_path / "out"
    assert cli.main(["translate", str(trained), "-i", str(source), "-o", str(out)]) == 0
    before, after = nib.load(source), nib.load(out / "case.nii.gz")
    assert after.shape == before.shape == (32, 32, 5)
    assert np.array_equal(after.affine, before.affine)
    assert after.header.get_zooms() == before.header.get_zooms()
    hu = np.asarray(after.get_fdata())
    assert hu.min() >= -160.5 and hu.max() <= 240.5  # the window's range, in HU


def test_trained_model_translates_a_dicom_series(trained: Path, tmp_path: Path) -> None:
    from unpaired.medical.phantoms import write_phantom_dicom_series

    files = write_phantom_dicom_series(tmp_path / "in" / "s", 32, 3, seed=20)
    out = tmp_path / "out"
    args = ["translate", str(trained), "-i", str(tmp_path / "in"), "-o", str(out)]
    assert cli.main([*args, "--direction", "b2a"]) == 0
    for path in files:
        a, b = pydicom.dcmread(path), pydicom.dcmread(out / "s" / path.name)
        for tag in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows"):
            assert a.get(tag) == b.get(tag), tag
        assert a.SeriesInstanceUID != b.SeriesInstanceUID
        hu = b.pixel_array * float(b.RescaleSlope) + float(b.RescaleIntercept)
        assert hu.min() >= -160.5 and hu.max() <= 240.5


def test_trained_model_augments_a_labelled_set(trained: Path, tmp_path: Path) -> None:
    import nibabel as nib

    from unpaired.medical.phantoms import write_phantom_nifti

    for i in range(2):
        write_phantom_nifti(tmp_path / "images" / f"c{i}.nii.gz", 32, 3, contrast=True,
                            seed=30 + i, mask_path=tmp_path / "masks" / f"c{i}.nii.gz")  # fmt: skip
    out = tmp_path / "aug"
    args = ["augment", str(trained), "--images", str(tmp_path / "images")]
    assert cli.main([*args, "--masks", str(tmp_path / "masks"), "-o", str(out)]) == 0
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == 2
    assert manifest[0]["windows"] == {"a": [-160.0, 240.0], "b": [-160.0, 240.0]}
    assert manifest[0]["keep_outside_window"] is False
    for i in range(2):
        name = f"c{i}.nii.gz"
        mask = tmp_path / "masks" / name
        assert (out / "masks" / name).read_bytes() == mask.read_bytes()
        image = nib.load(out / "images" / name)
        assert image.shape == nib.load(mask).shape
        assert np.array_equal(image.affine, nib.load(tmp_path / "images" / name).affine)


def test_keep_outside_window_passes_air_and_bone_through(trained: Path, tmp_path: Path) -> None:
    import nibabel as nib

    from unpaired.medical.phantoms import write_phantom_nifti

    source = write_phantom_nifti(tmp_path / "in" / "case.nii.gz", 32, 3, contrast=True, seed=8)
    out = tmp_path / "out"
    args = ["translate", str(trained), "-i", str(source), "-o", str(out)]
    assert cli.main([*args, "--keep-outside-window"]) == 0
    before = np.asarray(nib.load(source).get_fdata())
    after = np.asarray(nib.load(out / "case.nii.gz").get_fdata())
    outside = (before < -160) | (before > 240)
    assert outside.any() and (~outside).any()  # air and bone, and soft tissue
    assert np.array_equal(after[outside], before[outside])
    assert after[~outside].min() >= -160.5 and after[~outside].max() <= 240.5
