"""Robust DICOM series reading: several series in one folder, missing slices, gantry tilt,
slices that are not one stack, uneven steps and mixed thickness, compressed transfer syntaxes
(RLE, JPEG 2000, JPEG-LS) and the ones no decoder here reads. Series are built with pydicom in
the tests, from the phantoms."""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from unpaired.data.errors import DataError
from unpaired.data.images import ImageReadError
from unpaired.medical.dicom import chosen_series, parse_series
from unpaired.medical.slices import SliceIndex
from unpaired.medical.volume import probe, read_medical

from conftest import make_model

pydicom = pytest.importorskip("pydicom")
from pydicom import uid as uids  # noqa: E402

from unpaired.medical.phantoms import phantom_volume, write_phantom_dicom_series  # noqa: E402


def _hu(seed: int, size: int, slices: int, contrast: bool = False) -> np.ndarray:
    """What a phantom series reads back as, in position order (uint16 HU + 1024 stored)."""
    hu = phantom_volume(size, slices, contrast, seed)[0][::-1]
    return (np.clip(np.rint(hu + 1024.0), 0, 4095) - 1024.0).astype(np.float32)


def _series(folder: Path, seed: int = 0, slices: int = 5, size: int = 16, **kw) -> list[Path]:
    return write_phantom_dicom_series(folder, size, slices, seed=seed, **kw)


def _edit(path: Path, **tags) -> None:
    ds = pydicom.dcmread(path)
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)


def _two_series(folder: Path, tmp: Path) -> tuple[str, str]:
    """Two phantom series (plain: 5 slices, contrast: 3) in one folder; their UIDs."""
    for name, seed, slices, contrast in (("p", 1, 5, False), ("c", 2, 3, True)):
        for path in _series(tmp / name, seed, slices, contrast=contrast):
            folder.mkdir(parents=True, exist_ok=True)
            shutil.move(path, folder / f"{name}_{path.name}")
    found = {}
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        found[path.name[0]] = ds.SeriesInstanceUID
    return found["p"], found["c"]


# ------------------------------------------------------------------------ several series


def test_a_folder_of_two_series_is_refused_naming_them(tmp_path: Path) -> None:
    plain, contrast = _two_series(tmp_path / "mixed", tmp_path)
    with pytest.raises(DataError) as info:
        probe(tmp_path / "mixed")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"DICOM folder {tmp_path / 'mixed'}: holds 2 series: ")
    assert f'{plain} "phantom plain" (5 slices)' in message
    assert f'{contrast} "phantom contrast" (3 slices)' in message
    assert "pick one with --series UID" in message
    with pytest.raises(DataError, match="holds 2 series"):
        SliceIndex(tmp_path / "mixed")
    # --series picks one, whichever way it is given
    assert probe(tmp_path / "mixed", plain).shape == (5, 16, 16)
    assert probe(tmp_path / "mixed", f"1.2.3, {contrast}").shape == (3, 16, 16)
    with chosen_series(contrast):
        assert np.array_equal(read_medical(tmp_path / "mixed").values, _hu(2, 16, 3, True))
    index = SliceIndex(tmp_path / "mixed", series=plain)
    assert len(index) == 5
    assert np.array_equal(index.read_values(4), _hu(1, 16, 5)[4])
    # a UID that is not there, or both of them: refused, naming what is there
    with pytest.raises(DataError, match="none of them is the one --series names"):
        probe(tmp_path / "mixed", "1.2.3")
    with pytest.raises(DataError, match="--series names 2 of its series"):
        probe(tmp_path / "mixed", [plain, contrast])
    assert parse_series(" a , b,") == ("a", "b") and parse_series("") is None


def test_translate_and_train_take_series(tmp_path: Path, run_cli) -> None:
    plain, _ = _two_series(tmp_path / "in" / "mixed", tmp_path)
    model = make_model(tmp_path / "m", 1, 1)
    out = tmp_path / "out"
    result = run_cli("translate", model, "-i", tmp_path / "in", "-o", out)
    assert result.code == 1
    assert "holds 2 series" in result.err and "Traceback" not in result.err
    assert not out.exists()
    result = run_cli("translate", model, "-i", tmp_path / "in", "-o", out, "--series", plain)
    assert result.code == 0, result.err
    written = sorted(p.name for p in (out / "mixed").iterdir())
    assert written == sorted(
        p.name for p in (tmp_path / "in" / "mixed").iterdir() if "p_" in p.name
    )
    # training: the same one-line refusal, before anything is trained
    args = ["train", "--a", tmp_path / "in", "--b", tmp_path / "in", "--runs-dir", tmp_path / "r"]
    args += ["--channels-a", "1", "--channels-b", "1", "--dry-run"]
    result = run_cli(*args, "--series", plain)
    assert result.code == 0 and f"series: {plain}" in result.out  # recorded in config.yaml
    result = run_cli(*args[:-1], "--max-steps", "1", "--image-size", "16", "--load-size", "16")
    result.one_error_line("holds 2 series", "--series UID")


# ------------------------------------------------------------------------ geometry


def test_missing_slices_are_a_warning_naming_the_gap(tmp_path: Path) -> None:
    files = _series(tmp_path / "s", slices=7, thickness=2.5)
    files[3].unlink()
    files[4].unlink()
    with pytest.warns(UserWarning) as caught:
        info = probe(tmp_path / "s")
    text = [str(w.message) for w in caught]
    gap = [t for t in text if "slices missing" in t]
    assert len(gap) == 1 and "\n" not in gap[0]
    assert "between positions 5 to 12.5 mm (~2 missing)" in gap[0]
    assert "the usual step is 2.5 mm" in gap[0]
    assert not any("uneven" in t for t in text)
    assert info.shape == (5, 16, 16) and info.positions == (0, 2.5, 5, 12.5, 15)
    # the slices are stacked as they are: nothing invented, nothing dropped
    with pytest.warns(UserWarning, match="slices missing"):
        values = read_medical(tmp_path / "s").values
    assert np.array_equal(values, _hu(0, 16, 7)[[0, 1, 2, 5, 6]])


def test_uneven_steps_and_mixed_thickness_are_warnings(tmp_path: Path) -> None:
    files = _series(tmp_path / "s", slices=5, thickness=2.0)
    _edit(files[2], ImagePositionPatient=[*pydicom.dcmread(files[2]).ImagePositionPatient[:2], 4.5])
    _edit(files[4], SliceThickness=1.0)
    with pytest.warns(UserWarning) as caught:
        probe(tmp_path / "s")
    text = " | ".join(str(w.message) for w in caught)
    assert "uneven slice spacing (steps from 1.5 to 2.5 mm)" in text
    assert "mixed SliceThickness (1, 2 mm)" in text


def _tilt(files: list[Path], degrees: float, thickness: float = 2.5) -> None:
    """Shift each slice's position across the slice plane, as a tilted gantry does."""
    shift = math.tan(math.radians(degrees)) * thickness
    for k, path in enumerate(files):
        ds = pydicom.dcmread(path)
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        _edit(path, ImagePositionPatient=[x, round(y + k * shift, 4), z])


def test_gantry_tilt_warns_and_refuses_3d_use(tmp_path: Path) -> None:
    files = _series(tmp_path / "ct" / "s", slices=4, thickness=2.5)
    _tilt(files, 15.0)
    with pytest.warns(UserWarning, match=r"gantry tilt of 15\.0 degrees") as caught:
        info = probe(tmp_path / "ct" / "s")
    assert len([w for w in caught if "tilt" in str(w.message)]) == 1
    assert abs(info.tilt - 15.0) < 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # slice by slice along its stack: each slice is read as it is
        assert len(SliceIndex(tmp_path / "ct")) == 4
        assert np.array_equal(read_medical(tmp_path / "ct" / "s").values, _hu(0, 16, 4))
        with pytest.raises(DataError, match=r"gantry tilt of 15\.0 degrees.*sliced across its"):
            SliceIndex(tmp_path / "ct", axis="coronal")
        with pytest.raises(DataError, match=r"cannot be resampled \(--spacing\)"):
            SliceIndex(tmp_path / "ct", spacing="1,1,1")
    # a tilt below half a degree is rounding in the positions
    straight = _series(tmp_path / "t", slices=4)
    _tilt(straight, 0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert probe(tmp_path / "t").tilt < 0.5


def test_slices_that_are_not_one_stack_are_refused(tmp_path: Path) -> None:
    files = _series(tmp_path / "s", slices=4)
    _edit(files[1], ImageOrientationPatient=[1, 0, 0, 0, 0, -1])  # a coronal slice among axials
    with pytest.raises(ImageReadError, match=f"{files[1].name}.*not parallel"):
        probe(tmp_path / "s")
    files = _series(tmp_path / "d", slices=4)
    ds = pydicom.dcmread(files[1])
    _edit(files[2], ImagePositionPatient=list(ds.ImagePositionPatient))
    with pytest.raises(ImageReadError, match="same position as"):
        read_medical(tmp_path / "d")
    # an index leaves such a series out with a warning naming it
    with pytest.warns(UserWarning, match=r"skipping .*same position"):
        with pytest.raises(DataError, match="no readable images or volumes"):
            SliceIndex(tmp_path / "d")


# ------------------------------------------------------------------------ transfer syntaxes


def _compressed(folder: Path, syntax: str) -> Path:
    """A phantom series (32 x 32, 3 slices) with every file compressed as ``syntax``."""
    from pydicom.pixels import get_encoder

    if not get_encoder(syntax).is_available:
        pytest.skip(f"no encoder for {syntax} here")
    files = _series(folder, seed=3, slices=3, size=32)
    for path in files:
        ds = pydicom.dcmread(path)
        ds.compress(syntax)
        ds.save_as(path, enforce_file_format=True)
    return folder


@pytest.mark.parametrize(
    "syntax", [uids.RLELossless, uids.JPEG2000Lossless, uids.JPEGLSLossless], ids=str
)
def test_lossless_compressed_series_read_as_the_plain_one(tmp_path: Path, syntax) -> None:
    folder = _compressed(tmp_path / "s", syntax)
    assert pydicom.dcmread(next(folder.iterdir())).file_meta.TransferSyntaxUID == syntax
    assert np.array_equal(read_medical(folder).values, _hu(3, 32, 3))
    index = SliceIndex(tmp_path)
    assert np.array_equal(index.read_values(1), _hu(3, 32, 3)[1])


def test_a_compressed_series_translates_into_an_uncompressed_one(tmp_path: Path, run_cli) -> None:
    _compressed(tmp_path / "in" / "s", uids.RLELossless)
    out = tmp_path / "out"
    result = run_cli(
        "translate", make_model(tmp_path / "m", 1, 1), "-i", tmp_path / "in", "-o", out
    )
    assert result.code == 0, result.err
    for path in (out / "s").iterdir():
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == uids.ExplicitVRLittleEndian
        assert ds.pixel_array.shape == (32, 32)


def test_an_unknown_transfer_syntax_is_refused_naming_it(tmp_path: Path, run_cli) -> None:
    files = _series(tmp_path / "in" / "s", slices=2)
    for path in files:
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = uids.UID("1.2.826.0.1.3680043.99.1")
        ds.save_as(path)
    expected = r"pixel data in an unknown transfer syntax \(1\.2\.826\.0\.1\.3680043\.99\.1\)"
    with pytest.raises(ImageReadError, match=expected + ", which no DICOM decoder reads"):
        read_medical(tmp_path / "in" / "s")
    out = tmp_path / "out"
    result = run_cli(
        "translate", make_model(tmp_path / "m", 1, 1), "-i", tmp_path / "in", "-o", out
    )
    assert result.code == 1 and "1.2.826.0.1.3680043.99.1" in result.err
    assert "Traceback" not in result.err and not out.exists()


def test_a_syntax_without_an_installed_decoder_names_what_to_install(tmp_path: Path) -> None:
    from pydicom.encaps import encapsulate
    from pydicom.pixels import get_decoder

    syntax = uids.JPEGLosslessSV1
    if get_decoder(syntax).is_available:
        pytest.skip("a JPEG lossless decoder is installed here")
    path = _series(tmp_path / "s", slices=1)[0]
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([b"\xff\xd8" + bytes(64)])
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(ImageReadError) as info:
        probe(tmp_path / "s")
    message = str(info.value)
    assert syntax.name in message and str(syntax) in message
    assert "no decoder installed; pip install python-gdcm" in message and "\n" not in message
