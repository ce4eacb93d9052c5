"""Medical inputs: windows, DICOM series and NIfTI reading, arrays, axes, the extra's error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unpaired import config as cfg
from unpaired.medical.phantoms import CONTRAST_HU, PLAIN_HU, phantom_slice, phantom_volume
from unpaired.medical.sources import full_suffix, list_sources, source_stem
from unpaired.medical.volume import probe, read_medical, read_slice, resolve_axis
from unpaired.medical.windows import PRESETS, Window, auto_window, parse_axis, parse_window

from conftest import make_model

# --------------------------------------------------------------------------- windows


def test_window_round_trip_is_exact_at_known_values():
    window = parse_window("soft_tissue")
    assert window == Window(-160.0, 240.0)
    hu = np.array([-160.0, 40.0, 240.0, -60.0, 140.0], np.float32)
    net = window.to_net(hu)
    assert net.dtype == np.float32
    assert net.tolist() == [-1.0, 0.0, 1.0, -0.5, 0.5]
    back = window.from_net(net)
    assert back.dtype == np.float32 and back.tolist() == hu.tolist()


def test_window_clips_outside_and_inverts_inside():
    window = parse_window("-1000,400")
    hu = np.array([-3000.0, -1000.0, 400.0, 2000.0])
    assert window.to_net(hu).tolist() == [-1.0, -1.0, 1.0, 1.0]
    inside = np.random.default_rng(0).uniform(-1000, 400, 1000).astype(np.float32)
    assert np.abs(window.from_net(window.to_net(inside)) - inside).max() < 1e-3
    assert window.from_unit(window.to_unit(np.float32(-300))) == pytest.approx(-300, abs=1e-3)


def test_presets_are_the_radiology_width_and_level():
    for name, (width, level) in {
        "soft_tissue": (400, 40),
        "lung": (1500, -600),
        "bone": (1800, 400),
        "brain": (80, 40),
    }.items():
        assert PRESETS[name] == (level - width / 2, level + width / 2)
        assert parse_window(name.upper()) == Window(*PRESETS[name])
    assert parse_window([-5, 5]) == Window(-5.0, 5.0)
    assert parse_window(None) is None


@pytest.mark.parametrize("bad", ["liver", "1", "3,1", "a,b", "1,2,3"])
def test_bad_windows_are_one_line_naming_the_option(bad):
    with pytest.raises(ValueError, match=r"^option data\.window_b: ") as info:
        parse_window(bad, "data.window_b")
    assert "\n" not in str(info.value)


def test_one_window_parser_with_the_exact_messages():
    from unpaired import intensity

    assert intensity.parse_window("Soft-Tissue") == (-160.0, 240.0)
    assert intensity.parse_window(" -1000 , 400 ") == (-1000.0, 400.0)
    assert intensity.parse_window((-5, 5)) == (-5.0, 5.0) and intensity.parse_window(None) is None
    assert parse_window(Window(1.0, 2.0)) == Window(1.0, 2.0)
    assert intensity.parse_window(Window(1.0, 2.0)) == (1.0, 2.0)
    with pytest.raises(ValueError) as info:
        intensity.parse_window("300,100", "data.window_a")
    assert str(info.value) == "option data.window_a: needs lo < hi, got '300,100'"
    with pytest.raises(ValueError) as info:
        parse_window("bogus", "data.window_b")
    assert str(info.value) == (
        "option data.window_b: expected 'lo,hi' in HU or a preset "
        "(soft_tissue, lung, bone, brain), got 'bogus'"
    )
    with pytest.raises(ValueError, match=r"^option --axis: expected axial, coronal"):
        intensity.parse_axis("up", "--axis")


def test_config_validates_windows_and_axis():
    config = cfg.build_config(
        {"data": {"window_a": "lung", "window_b": "-160,240", "axis": "coronal"}}
    )
    assert (config.data.window_a, config.data.window_b, config.data.axis) == (
        "lung",
        "-160,240",
        "coronal",
    )
    assert cfg.build_config(cfg.parse_override("data.axis=2")).data.axis == 2
    with pytest.raises(cfg.ConfigError, match="^option data.window_a: "):
        cfg.build_config({"data": {"window_a": "tissue"}})
    with pytest.raises(cfg.ConfigError, match="^option data.axis: "):
        cfg.build_config({"data": {"axis": "up"}})
    assert parse_axis("1") == 1 and parse_axis("Sagittal") == "sagittal"


def test_windows_info_is_what_the_model_folder_records_and_reads_back():
    from unpaired.medical.windows import model_windows, windows_info

    info = windows_info("soft_tissue", None, "2")
    assert info == {"windows": {"a": [-160.0, 240.0], "b": None}, "axis": 2}
    windows, axis = model_windows(info)
    assert windows == {"a": Window(-160.0, 240.0), "b": None} and axis == 2
    assert model_windows({}) == ({"a": None, "b": None}, "axial")  # older model folders


def test_auto_window_uses_bit_depth_for_images_and_range_for_volumes():
    assert auto_window(np.zeros(3), "uint16") == Window(0.0, 65535.0)
    assert auto_window(np.zeros(3), "uint8") == Window(0.0, 255.0)
    assert auto_window(np.array([-1000.0, 50.0])) == Window(-1000.0, 50.0)
    assert auto_window(np.full(4, 7.0)) == Window(7.0, 8.0)


# --------------------------------------------------------------------------- phantoms


def test_phantoms_have_the_documented_values_and_labels():
    plain, labels = phantom_slice(128, contrast=False, seed=1, z=0.35)
    contrast, labels_c = phantom_slice(128, contrast=True, seed=1, z=0.35)
    assert np.array_equal(labels, labels_c)  # same anatomy in both domains
    for name, label in (("liver", 2), ("spleen", 3), ("kidney", 4), ("aorta", 5), ("bone", 6)):
        inside = labels == label
        assert inside.any(), name
        assert np.median(plain[inside]) == pytest.approx(PLAIN_HU[name], abs=5)
        assert np.median(contrast[inside]) == pytest.approx(CONTRAST_HU[name], abs=5)
    assert np.median(plain[labels == 0]) == pytest.approx(-1000, abs=5)
    volume, vlabels = phantom_volume(32, 6, contrast=True, seed=2)
    assert volume.shape == vlabels.shape == (6, 32, 32) and volume.dtype == np.float32
    assert not np.array_equal(vlabels[0], vlabels[3])  # organs change along the volume
    again, _ = phantom_volume(32, 6, contrast=True, seed=2)
    assert np.array_equal(volume, again)


# --------------------------------------------------------------------------- listing


def test_sources_list_volumes_series_and_images(tmp_path: Path):
    (tmp_path / "series" / "a").mkdir(parents=True)
    for name in ("series/a/1.dcm", "series/a/2.DCM", "v.nii.gz", "w.nii", "x.npy", "p.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in list_sources(tmp_path)]
    assert found == ["p.png", "series/a", "v.nii.gz", "w.nii", "x.npy"]
    assert full_suffix("CT.NII.GZ") == ".nii.gz" and source_stem("ct.nii.gz") == "ct"
    assert list_sources(tmp_path / "series" / "a") == [tmp_path / "series" / "a"]


# --------------------------------------------------------------------------- DICOM


def _stored_hu(hu: np.ndarray) -> np.ndarray:
    """What the phantom series stores (uint16 HU + 1024, 12 bits), back in HU."""
    return np.clip(np.rint(hu + 1024.0), 0, 4095).astype(np.float32) - 1024


def test_dicom_series_is_sorted_by_position_with_hounsfield_units(tmp_path: Path):
    pytest.importorskip("pydicom")
    from unpaired.medical.phantoms import write_phantom_dicom_series

    files = write_phantom_dicom_series(tmp_path / "s", size=32, slices=6, contrast=True, seed=4)
    assert [f.name for f in files] != sorted(f.name for f in files)  # names are shuffled
    image = read_medical(tmp_path / "s")
    hu, _ = phantom_volume(32, 6, contrast=True, seed=4)
    expected = _stored_hu(hu)[::-1]  # position order: bottom to top
    assert image.values.dtype == np.float32 and image.values.shape == (6, 32, 32)
    assert np.array_equal(image.values, expected)
    assert probe(tmp_path / "s").shape == (6, 32, 32)
    assert np.array_equal(read_slice(tmp_path / "s", 0, 2), expected[2])
    assert np.array_equal(read_slice(tmp_path / "s", 1, 5), expected[:, 5])


def test_dicom_falls_back_to_instance_number(tmp_path: Path):
    pydicom = pytest.importorskip("pydicom")
    from unpaired.medical.phantoms import write_phantom_dicom_series

    files = write_phantom_dicom_series(tmp_path / "s", size=16, slices=4, seed=5)
    for path in files:
        ds = pydicom.dcmread(path)
        del ds.ImagePositionPatient
        ds.save_as(path, enforce_file_format=True)
    expected = _stored_hu(phantom_volume(16, 4, seed=5)[0])[::-1]
    assert np.array_equal(read_medical(tmp_path / "s").values, expected)


def test_dicom_rescale_slope_is_applied(tmp_path: Path):
    pydicom = pytest.importorskip("pydicom")
    from unpaired.medical.phantoms import write_phantom_dicom_series

    path = write_phantom_dicom_series(tmp_path / "s", size=16, slices=1, seed=6)[0]
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array.astype(np.float64)
    ds.RescaleSlope, ds.RescaleIntercept = 2, -2048
    ds.save_as(path, enforce_file_format=True)
    assert np.array_equal(read_medical(path).values[0], (stored * 2 - 2048).astype(np.float32))


def test_missing_extra_is_one_line(tmp_path: Path, monkeypatch, capsys):
    pytest.importorskip("pydicom")
    from unpaired import cli
    from unpaired.medical.phantoms import write_phantom_dicom_series

    model = make_model(tmp_path / "m", 1, 1)
    write_phantom_dicom_series(tmp_path / "s", size=16, slices=2)
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom now fails
    out = tmp_path / "out"
    assert cli.main(["translate", str(model), "-i", str(tmp_path / "s"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: reading DICOM needs the medical extra: pip install 'unpaired[medical]'"
    assert not out.exists()


def test_missing_extra_message_from_the_reader(tmp_path: Path, monkeypatch):
    from unpaired.data.errors import MissingExtra

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.dcm").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(MissingExtra) as info:
        read_medical(tmp_path / "s")
    assert str(info.value) == (
        "reading DICOM needs the medical extra: pip install 'unpaired[medical]'"
    )
    monkeypatch.setitem(sys.modules, "nibabel", None)
    (tmp_path / "v.nii").write_bytes(b"x")
    with pytest.raises(MissingExtra, match="^reading NIfTI needs the medical extra"):
        read_medical(tmp_path / "v.nii")


def test_broken_dicom_is_named(tmp_path: Path):
    pytest.importorskip("pydicom")
    from unpaired.data.images import ImageReadError

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "bad.dcm").write_bytes(b"not dicom at all")
    with pytest.raises(ImageReadError, match="bad.dcm"):
        read_medical(tmp_path / "s")


# --------------------------------------------------------------------------- NIfTI, arrays


def test_nifti_read_applies_scaling_and_finds_the_axial_axis(tmp_path: Path):
    pytest.importorskip("nibabel")
    from unpaired.medical.phantoms import write_phantom_nifti

    path = write_phantom_nifti(tmp_path / "v.nii.gz", size=32, slices=5, seed=7)
    image = read_medical(path)
    hu, _ = phantom_volume(32, 5, seed=7)
    assert image.values.shape == (32, 32, 5)  # (x, y, z)
    stored = np.clip(np.rint(hu + 1024.0), -32768, 32767) - 1024  # int16 HU + 1024
    assert np.array_equal(image.values, stored.astype(np.float32).transpose(2, 1, 0))
    info = probe(path)
    assert [resolve_axis(a, info) for a in ("axial", "coronal", "sagittal")] == [2, 1, 0]
    assert resolve_axis(0, info) == 0
    assert np.array_equal(read_slice(path, 2, 3), image.values[:, :, 3])
    plain = write_phantom_nifti(tmp_path / "p.nii", size=32, slices=5, seed=7)
    assert np.array_equal(read_slice(plain, 2, 3), image.values[:, :, 3])


def test_oblique_nifti_axes_are_assigned_uniquely():
    from unpaired.medical.volume import Probe

    directions = np.array([[0.0, 0.9, 0.5], [0.0, 0.5, 0.9], [1.0, 0.0, 0.0]])
    info = Probe("nifti", (4, 4, 4), directions)
    axes = [resolve_axis(a, info) for a in ("axial", "coronal", "sagittal")]
    assert axes == [1, 0, 2]


def test_npy_and_16_bit_png_keep_their_stored_numbers(tmp_path: Path):
    array = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4) - 5
    np.save(tmp_path / "a.npy", array)
    image = read_medical(tmp_path / "a.npy")
    assert image.values.dtype == np.float32 and np.array_equal(image.values, array)
    assert resolve_axis("axial", probe(tmp_path / "a.npy")) == 0  # (z, y, x)
    png = np.array([[0, 1000], [40000, 65535]], np.uint16)
    Image.fromarray(png).save(tmp_path / "p.png")
    info = probe(tmp_path / "p.png")
    assert info.shape == (2, 2) and info.raster_dtype == "uint16"
    assert np.array_equal(read_medical(tmp_path / "p.png").values, png)
    np.save(tmp_path / "bad.npy", np.zeros((2, 2, 2, 2)))
    from unpaired.data.images import ImageReadError

    with pytest.raises(ImageReadError, match="bad.npy.*expected 2-D or 3-D"):
        read_medical(tmp_path / "bad.npy")
