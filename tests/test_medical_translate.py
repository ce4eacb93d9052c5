"""Volumes in, volumes out: ``unpaired translate`` on NIfTI, DICOM, .npy and 16-bit PNG, and
``unpaired augment`` on a labelled set."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unpaired import Translator, cli
from unpaired.medical.windows import Window

from conftest import make_model

SOFT = Window(-160.0, 240.0)


def medical_model(folder: Path, windows: dict | None = None, axis: str = "axial") -> Path:
    """A tiny random 1-channel model whose config.json records windows, as training does."""
    model = make_model(folder, 1, 1, norm="none", init_gain=0.1)
    info = json.loads((model / "config.json").read_text())
    info["windows"] = windows if windows is not None else {"a": [-160, 240], "b": [-160, 240]}
    info["axis"] = axis
    (model / "config.json").write_text(json.dumps(info))
    return model


def translate(*args: str) -> int:
    return cli.main(["translate", *args, "--progress", "lines"])


def expected_slice(model: Path, hu: np.ndarray, window: Window = SOFT) -> np.ndarray:
    """One (H, W) slice through the generator directly: window, G, inverse window."""
    translator = Translator.load(model)
    x = torch.from_numpy(window.to_net(hu))[None, None]
    return window.from_net(translator.translate(x)[0, 0].numpy())


def test_nifti_volume_keeps_shape_affine_header_and_hu_range(tmp_path: Path, capsys):
    nib = pytest.importorskip("nibabel")
    from unpaired.medical.phantoms import write_phantom_nifti

    model = medical_model(tmp_path / "model")
    source = write_phantom_nifti(tmp_path / "in" / "ct.nii.gz", size=32, slices=6, seed=1)
    out = tmp_path / "out"
    assert (
        translate(str(model), "-i", str(tmp_path / "in"), "-o", str(out), "--batch-size", "4") == 0
    )
    assert "translated 6/6 slices" in capsys.readouterr().err
    result = out / "ct.nii.gz"
    before, after = nib.load(source), nib.load(result)
    assert after.shape == before.shape == (32, 32, 6)
    assert np.array_equal(after.affine, before.affine)
    assert after.get_data_dtype() == before.get_data_dtype() == np.int16
    assert (after.dataobj.slope, after.dataobj.inter) == (1.0, -1024.0)
    raw_before = gzip.decompress(source.read_bytes())
    raw_after = gzip.decompress(result.read_bytes())
    assert raw_after[:352] == raw_before[:352]  # the whole header, byte for byte
    hu = after.get_fdata()
    assert hu.min() >= -160 and hu.max() <= 240 and hu.std() > 1
    assert np.array_equal(hu, np.rint(hu))  # integers stored through slope/intercept
    # Slice 3 (axial = third array axis) is what the generator makes of input slice 3.
    direct = expected_slice(model, before.get_fdata(dtype=np.float32)[:, :, 3])
    assert np.abs(hu[:, :, 3] - direct).max() <= 1.0


def test_dicom_series_keeps_geometry_and_gets_new_uids(tmp_path: Path):
    pydicom = pytest.importorskip("pydicom")
    from unpaired.medical.phantoms import write_phantom_dicom_series
    from unpaired.medical.volume import read_medical

    model = medical_model(tmp_path / "model")
    files = write_phantom_dicom_series(tmp_path / "in" / "case1", size=32, slices=5, seed=2)
    out = tmp_path / "out"
    assert translate(str(model), "-i", str(tmp_path / "in"), "-o", str(out)) == 0
    written = sorted((out / "case1").iterdir())
    assert [p.name for p in written] == sorted(p.name for p in files)
    series_uids, sop_uids = set(), set()
    for path in files:
        a, b = pydicom.dcmread(path), pydicom.dcmread(out / "case1" / path.name)
        for tag in (
            "ImagePositionPatient",
            "ImageOrientationPatient",
            "PixelSpacing",
            "SliceThickness",
            "Rows",
            "Columns",
            "RescaleSlope",
            "RescaleIntercept",
            "StudyInstanceUID",
            "FrameOfReferenceUID",
            "BitsStored",
            "PixelRepresentation",
        ):
            assert a.get(tag) == b.get(tag), tag
        assert b.SeriesInstanceUID != a.SeriesInstanceUID
        assert b.SOPInstanceUID != a.SOPInstanceUID
        assert b.file_meta.MediaStorageSOPInstanceUID == b.SOPInstanceUID
        assert b.pixel_array.dtype == np.uint16
        series_uids.add(b.SeriesInstanceUID)
        sop_uids.add(b.SOPInstanceUID)
    assert len(series_uids) == 1 and len(sop_uids) == len(files)
    source, result = read_medical(tmp_path / "in" / "case1"), read_medical(out / "case1")
    assert result.values.shape == source.values.shape
    assert result.values.min() >= -160 and result.values.max() <= 240
    direct = expected_slice(model, source.values[2])
    assert np.abs(result.values[2] - direct).max() <= 1.0


def test_16_bit_png_and_npy_come_back_in_their_format_and_dtype(tmp_path: Path):
    model = medical_model(tmp_path / "model", {"a": [0, 4000], "b": [0, 4000]})
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 4000, (24, 40), dtype=np.uint16)).save(tmp_path / "s.png")
    volume = rng.integers(-1000, 1000, (3, 16, 24)).astype(np.int16)
    np.save(tmp_path / "v.npy", volume)
    np.save(tmp_path / "f.npy", rng.uniform(0, 4000, (16, 16)).astype(np.float32))
    out = tmp_path / "out"
    args = ["-i", str(tmp_path / "s.png"), str(tmp_path / "v.npy"), str(tmp_path / "f.npy")]
    assert translate(str(model), *args, "-o", str(out)) == 0
    with Image.open(out / "s.png") as img:
        assert img.mode == "I;16" and img.size == (40, 24)
    translated = np.load(out / "v.npy")
    assert translated.dtype == np.int16 and translated.shape == (3, 16, 24)
    assert translated.min() >= 0 and translated.max() <= 4000
    floats = np.load(out / "f.npy")
    assert floats.dtype == np.float32 and floats.shape == (16, 16)


def test_volume_translation_refuses_size_and_needs_overwrite(tmp_path: Path, capsys):
    model = medical_model(tmp_path / "model")
    np.save(tmp_path / "v.npy", np.zeros((2, 16, 16), np.int16))
    out = tmp_path / "out"
    assert translate(str(model), "-i", str(tmp_path / "v.npy"), "-o", str(out), "--size", "8") == 2
    assert "--size: not available for volumes" in capsys.readouterr().err
    assert not out.exists()
    assert translate(str(model), "-i", str(tmp_path / "v.npy"), "-o", str(out)) == 0
    assert translate(str(model), "-i", str(tmp_path / "v.npy"), "-o", str(out)) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert translate(str(model), "-i", str(tmp_path / "v.npy"), "-o", str(out), "--overwrite") == 0


def test_model_without_windows_maps_each_volume_by_its_range(tmp_path: Path):
    model = make_model(tmp_path / "model", 1, 1)  # no windows, no axis recorded
    volume = np.linspace(-500, 500, 2 * 16 * 16, dtype=np.float32).reshape(2, 16, 16)
    np.save(tmp_path / "v.npy", volume)
    assert translate(str(model), "-i", str(tmp_path / "v.npy"), "-o", str(tmp_path / "o")) == 0
    out = np.load(tmp_path / "o" / "v.npy")
    assert out.shape == volume.shape and out.min() >= -500 and out.max() <= 500


# --------------------------------------------------------------------------- augment


def augment(*args: str) -> int:
    return cli.main(["augment", *args, "--progress", "lines"])


def _labelled_pngs(root: Path, n: int = 2) -> None:
    rng = np.random.default_rng(1)
    for i in range(n):
        sub = root / "images" / "site1"
        sub.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 3000, (20, 28), dtype=np.uint16)
        Image.fromarray(image).save(sub / f"case{i}.png")
        masks = root / "masks" / "site1"
        masks.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 4, (20, 28), dtype=np.uint8)).save(masks / f"case{i}.png")


def test_augment_writes_images_unchanged_masks_and_a_manifest(tmp_path: Path):
    model = medical_model(tmp_path / "model", {"a": [0, 3000], "b": [0, 3000]})
    _labelled_pngs(tmp_path / "set")
    out = tmp_path / "aug"
    images, masks = str(tmp_path / "set" / "images"), str(tmp_path / "set" / "masks")
    assert augment(str(model), "--images", images, "--masks", masks, "-o", str(out)) == 0
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["output"] for r in records] == ["images/site1/case0.png", "images/site1/case1.png"]
    for record in records:
        mask_in, mask_out = Path(record["mask_source"]), out / record["mask"]
        assert mask_out.read_bytes() == mask_in.read_bytes()
        with Image.open(out / record["output"]) as img, Image.open(record["source"]) as src:
            assert img.size == src.size and img.mode == "I;16"
        assert record["direction"] == "a2b" and record["model"] == str(model.resolve())
        assert record["windows"] == {"a": [0.0, 3000.0], "b": [0.0, 3000.0]}
    # Again: outputs exist, so --overwrite is needed.
    assert augment(str(model), "--images", images, "--masks", masks, "-o", str(out)) == 2
    assert augment(str(model), "--images", images, "--masks", masks, "-o", str(out),
                   "--overwrite", "--direction", "b2a") == 0  # fmt: skip


def test_augment_volumes_with_nifti_masks(tmp_path: Path):
    pytest.importorskip("nibabel")
    from unpaired.medical.phantoms import write_phantom_nifti

    model = medical_model(tmp_path / "model")
    for i in range(2):
        write_phantom_nifti(
            tmp_path / "images" / f"c{i}.nii.gz",
            size=32,
            slices=4,
            contrast=True,
            seed=i,
            mask_path=tmp_path / "masks" / f"c{i}.nii.gz",
        )
    out = tmp_path / "aug"
    assert augment(str(model), "--images", str(tmp_path / "images"), "--masks",
                   str(tmp_path / "masks"), "-o", str(out), "--batch-size", "4") == 0  # fmt: skip
    for i in range(2):
        name = f"c{i}.nii.gz"
        assert (out / "masks" / name).read_bytes() == (tmp_path / "masks" / name).read_bytes()
        assert (out / "images" / name).is_file()
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 2


def test_augment_rejects_a_mismatched_mask_naming_both_files(tmp_path: Path, capsys):
    model = medical_model(tmp_path / "model", {"a": [0, 3000], "b": [0, 3000]})
    _labelled_pngs(tmp_path / "set")
    bad_mask = tmp_path / "set" / "masks" / "site1" / "case1.png"
    Image.fromarray(np.zeros((20, 27), np.uint8)).save(bad_mask)
    out = tmp_path / "aug"
    images = tmp_path / "set" / "images"
    args = ["--images", str(images), "--masks", str(tmp_path / "set" / "masks"), "-o", str(out)]
    assert augment(str(model), *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: mask ")
    assert str(bad_mask) in err and str(images / "site1" / "case1.png") in err
    assert "20x27" in err and "20x28" in err
    assert not out.exists()  # detected before anything is written
    bad_mask.unlink()
    assert augment(str(model), *args) == 2
    err = capsys.readouterr().err
    assert f"image {images / 'site1' / 'case1.png'} has no mask" in err
    assert not out.exists()
