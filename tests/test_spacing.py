"""Voxel spacing (``--spacing X,Y,Z``): volumes resampled on read to a common voxel size for
training, and translations resampled back onto each input's grid (shape, affine, header)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from unpaired import cli
from unpaired.config import ConfigError, build_config
from unpaired.data.errors import DataError
from unpaired.intensity import parse_spacing
from unpaired.medical.resample import model_grid, regrid_for, spacing_info
from unpaired.medical.slices import SliceIndex
from unpaired.medical.volume import probe, read_medical, resolve_axis

from conftest import TINY

nib = pytest.importorskip("nibabel")
pydicom = pytest.importorskip("pydicom")


def _count(n: int, step: float, target: float) -> int:
    """Voxels along an axis of ``n`` voxels ``step`` mm apart, resampled to ``target``."""
    return math.ceil((n - 1) * step / target - 1e-6) + 1


def _write_nifti(path: Path, values_xyz: np.ndarray, spacing: tuple[float, float, float]) -> Path:
    """A float32 NIfTI of ``values_xyz`` with an axis-aligned affine of ``spacing`` mm."""
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 30.0]
    image = nib.Nifti1Image(values_xyz.astype(np.float32), affine)
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, str(path))
    return path


def _physical(shape: tuple[int, ...], spacing: tuple[float, ...]) -> list[np.ndarray]:
    """Millimetres from the first voxel along each axis, broadcast to ``shape``."""
    axes = [np.arange(n) * s for n, s in zip(shape, spacing, strict=True)]
    return list(np.meshgrid(*axes, indexing="ij"))


def _ramp(shape: tuple[int, ...], spacing: tuple[float, ...]) -> np.ndarray:
    x, y, z = _physical(shape, spacing)
    return 2.0 * x + 3.0 * y - 1.5 * z + 40.0


def _blob(shape: tuple[int, ...], spacing: tuple[float, ...]) -> np.ndarray:
    """A smooth phantom: a wide Gaussian body of 100 HU on -100 HU (sigma 12 mm)."""
    x, y, z = _physical(shape, spacing)
    centre = [(n - 1) * s / 2 for n, s in zip(shape, spacing, strict=True)]
    r2 = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2
    return -100.0 + 200.0 * np.exp(-r2 / (2 * 12.0**2))


# ---------------------------------------------------------------------------- the option


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("1,1,2.5", (1.0, 1.0, 2.5)),
        (" 0.8 , 0.8, 3 ", (0.8, 0.8, 3.0)),
        ("1.5", (1.5, 1.5, 1.5)),
        (2, (2.0, 2.0, 2.0)),
        ([0.7, 0.7, 5], (0.7, 0.7, 5.0)),
    ],
)
def test_spacing_option_parses(value, expected) -> None:
    assert parse_spacing(value) == expected


@pytest.mark.parametrize("bad", ["1,1", "1,0,1", "a,b,c", "1,-2,3", "nan", True, "1,1,inf"])
def test_bad_spacing_is_one_line_naming_the_option(bad) -> None:
    with pytest.raises(ValueError, match=r"^option data\.spacing: expected X,Y,Z"):
        parse_spacing(bad)
    if isinstance(bad, str):
        with pytest.raises(ConfigError, match=r"^option data\.spacing: "):
            build_config({"data": {"spacing": bad}})


def test_spacing_is_left_out_of_the_config_at_its_default() -> None:
    from unpaired.config import dump_yaml

    plain = yaml.safe_load(dump_yaml(build_config({})))
    assert "spacing" not in plain["data"] and "series" not in plain["data"]
    assert spacing_info(None) == {}
    spaced = yaml.safe_load(dump_yaml(build_config({"data": {"spacing": "1,1,2"}})))
    assert spaced["data"]["spacing"] == "1,1,2"
    assert spacing_info("1,1,2") == {"spacing": [1.0, 1.0, 2.0]}


# ---------------------------------------------------------------------------- resampling


def test_nifti_spacing_comes_from_the_affine_and_sets_the_shape(tmp_path: Path) -> None:
    from unpaired.medical.phantoms import write_phantom_nifti

    path = write_phantom_nifti(tmp_path / "a.nii", size=32, slices=8, spacing=(0.8, 0.8, 2.5))
    info = probe(path)
    assert np.allclose(info.spacing, (0.8, 0.8, 2.5))
    grid = regrid_for(path, info, (1.0, 1.0, 2.0))
    assert grid.shape == (_count(32, 0.8, 1), _count(32, 0.8, 1), _count(8, 2.5, 2)) == (26, 26, 10)
    values = read_medical(path).values
    assert grid.to_target(values).shape == grid.shape
    # the same spacing: nothing to do
    assert regrid_for(path, info, (0.8, 0.8, 2.5)) is None


def test_linear_resampling_reproduces_a_ramp_exactly(tmp_path: Path) -> None:
    """Linear interpolation is exact on a linear function of position: every target voxel
    inside the volume's extent has the ramp's value at its own position."""
    shape, spacing, target = (20, 18, 7), (0.75, 0.9, 3.0), (1.0, 1.2, 2.0)
    path = _write_nifti(tmp_path / "ramp.nii", _ramp(shape, spacing), spacing)
    info = probe(path)
    grid = regrid_for(path, info, target)
    out = grid.to_target(read_medical(path).values)
    expected = _ramp(grid.shape, target)
    inside = np.ones(grid.shape, bool)
    for axis, (n, s, t) in enumerate(zip(shape, spacing, target, strict=True)):
        positions = np.arange(grid.shape[axis]) * t
        keep = positions <= (n - 1) * s + 1e-6
        inside &= keep.reshape([-1 if a == axis else 1 for a in range(3)])
    assert inside.mean() > 0.8
    assert np.abs(out - expected)[inside].max() < 1e-3


def test_resample_then_back_is_the_original_on_a_smooth_phantom(tmp_path: Path) -> None:
    shape, spacing = (40, 36, 12), (0.7, 0.7, 2.5)
    original = _blob(shape, spacing)
    path = _write_nifti(tmp_path / "blob.nii.gz", original, spacing)
    info = probe(path)
    grid = regrid_for(path, info, (1.0, 1.0, 1.0))
    values = read_medical(path).values
    back = grid.to_source(grid.to_target(values))
    assert back.shape == values.shape
    # interpolation error only: under 1 % of the blob's 200 HU contrast inside, 2 % at the
    # faces (where the target grid's last voxel replicates the edge)
    error = np.abs(back - values)
    assert error[1:-1, 1:-1, 1:-1].max() < 2.0 and error.max() < 4.0
    assert error.mean() < 0.5


def test_masks_resample_with_the_nearest_label(tmp_path: Path) -> None:
    from unpaired.medical.phantoms import write_phantom_nifti

    write_phantom_nifti(
        tmp_path / "a.nii", 32, 6, spacing=(0.8, 0.8, 2.5), mask_path=tmp_path / "m.nii"
    )
    labels = np.asarray(nib.load(str(tmp_path / "m.nii")).dataobj)
    grid = regrid_for(tmp_path / "m.nii", probe(tmp_path / "m.nii"), (1.2, 1.2, 1.0))
    out = grid.to_target(labels, nearest=True)
    assert out.dtype == labels.dtype and out.shape == grid.shape
    assert set(np.unique(out)) <= set(np.unique(labels))
    # in-plane unchanged, z 2.5 -> 1 mm: each target slice is the nearest source slice
    zgrid = regrid_for(tmp_path / "m.nii", probe(tmp_path / "m.nii"), (0.8, 0.8, 1.0))
    zout = zgrid.to_target(labels, nearest=True)
    for k in range(zout.shape[2]):
        assert np.array_equal(zout[:, :, k], labels[:, :, math.floor(k / 2.5 + 0.5)])
    back = grid.to_source(out, nearest=True)
    assert back.shape == labels.shape
    assert (back == labels).mean() > 0.9


def test_a_dicom_series_is_placed_by_its_slice_positions(tmp_path: Path) -> None:
    from unpaired.medical.phantoms import write_phantom_dicom_series

    files = write_phantom_dicom_series(tmp_path / "s", 32, 6, spacing=(0.7, 0.7), thickness=3.0)
    info = probe(tmp_path / "s")
    assert info.spacing == (3.0, 0.7, 0.7) and info.positions == (0, 3, 6, 9, 12, 15)
    grid = regrid_for(tmp_path / "s", info, (1.0, 1.0, 1.5))
    assert grid.shape == (_count(6, 3.0, 1.5), _count(32, 0.7, 1), _count(32, 0.7, 1))
    values = read_medical(tmp_path / "s").values
    out = grid.to_target(values)
    # target slice 1 lies halfway between source slices 0 and 1
    assert np.allclose(out[1], grid.to_target(values)[1])
    half = regrid_for(tmp_path / "s", info, (0.7, 0.7, 1.5)).to_target(values)
    assert np.allclose(half[1], (values[0] + values[1]) / 2, atol=1e-3)
    # a missing slice: resampling interpolates over the gap by the true positions
    files[2].unlink()
    with pytest.warns(UserWarning, match="slices missing between positions 3 to 9 mm"):
        gap = probe(tmp_path / "s")
    assert gap.positions == (0, 3, 9, 12, 15)
    with pytest.warns(UserWarning, match="slices missing"):
        kept = read_medical(tmp_path / "s").values
    regular = regrid_for(tmp_path / "s", gap, (0.7, 0.7, 3.0)).to_target(kept)
    assert regular.shape[0] == 6
    assert np.allclose(regular[2], (values[1] + values[3]) / 2, atol=1e-3)  # 6 mm: the gap


def test_files_without_a_spacing_and_tilted_series_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros((4, 8, 8), np.float32))
    with pytest.raises(DataError, match=r"v\.npy: has no voxel spacing in its header"):
        regrid_for(tmp_path / "v.npy", probe(tmp_path / "v.npy"), (1.0, 1.0, 1.0))
    with pytest.raises(DataError, match=r"config\.json spacing: expected X,Y,Z"):
        model_grid({"spacing": [1, 2]}, tmp_path / "v.npy", probe(tmp_path / "v.npy"))


# ---------------------------------------------------------------------------- the index


def _mixed_folder(root: Path) -> list[tuple[Path, tuple[float, float, float], int]]:
    """Phantoms of three spacings in one folder (as scanners write them)."""
    from unpaired.medical.phantoms import write_phantom_dicom_series, write_phantom_nifti

    made = []
    for name, spacing, slices in (
        ("a.nii", (0.8, 0.8, 2.5), 6),
        ("b.nii.gz", (0.6, 0.6, 1.25), 10),
    ):
        path = write_phantom_nifti(root / name, 32, slices, seed=len(made), spacing=spacing)
        made.append((path, spacing, slices))
    write_phantom_dicom_series(root / "series", 32, 5, seed=9, spacing=(0.9, 0.9), thickness=2.0)
    made.append((root / "series", (0.9, 0.9, 2.0), 5))
    return made


def test_a_folder_of_mixed_spacings_trains_on_one_voxel_size(tmp_path: Path) -> None:
    made = _mixed_folder(tmp_path / "ct")
    target = (1.0, 1.0, 2.0)
    index = SliceIndex(tmp_path / "ct", spacing="1,1,2")
    plain = SliceIndex(tmp_path / "ct")
    assert [s.probe.shape for s in plain.sources] == [(32, 32, 6), (32, 32, 10), (5, 32, 32)]
    expected = {
        path.name: (_count(32, s[0], 1), _count(32, s[1], 1), _count(n, s[2], 2))
        for path, s, n in made
    }
    for source in index.sources:
        size = expected[source.path.name]
        shape = source.probe.shape if source.probe.kind == "nifti" else source.probe.shape[::-1]
        assert shape == size
        assert source.probe.spacing == (target if source.probe.kind == "nifti" else target[::-1])
    assert len(index) == sum(size[2] for size in expected.values())
    # every slice is the matching slice of the whole volume resampled
    for i in range(len(index)):
        source_index, k = index.items[i]
        source = index.sources[source_index]
        whole_info = probe(source.path)
        grid = regrid_for(source.path, whole_info, target)
        whole = grid.to_target(read_medical(source.path).values)
        assert np.allclose(index.read_values(i), np.take(whole, k, axis=source.axis), atol=1e-3)
        assert source.axis == resolve_axis("axial", whole_info)


def test_training_with_a_spacing_records_it_and_translation_keeps_the_input_grid(
    tmp_path: Path,
) -> None:
    from unpaired.medical.phantoms import write_phantom_dicom_series, write_phantom_nifti

    root = tmp_path / "ct"
    write_phantom_nifti(root / "contrast" / "c0.nii", 32, 4, contrast=True, spacing=(0.8, 0.8, 2.5))
    write_phantom_nifti(root / "contrast" / "c1.nii.gz", 28, 6, contrast=True, seed=1)
    write_phantom_nifti(root / "plain" / "p0.nii", 32, 4, seed=2, spacing=(0.7, 0.7, 3.0))
    args = ["train", "--a", root / "contrast", "--b", root / "plain", "--runs-dir", root / "runs"]
    args += ["--name", "spaced", "--max-steps", "2", *TINY, "--channels-a", "1"]
    args += ["--channels-b", "1", "--load-size", "32"]
    args += ["--window-a", "soft_tissue", "--window-b", "soft_tissue", "--spacing", "1,1,2"]
    assert cli.main([str(a) for a in args]) == 0
    run = root / "runs" / "spaced"
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["spacing"] == "1,1,2"
    info = json.loads((run / "model" / "config.json").read_text())
    assert info["spacing"] == [1.0, 1.0, 2.0]

    source = write_phantom_nifti(
        tmp_path / "in" / "case.nii.gz", 30, 5, contrast=True, seed=7, spacing=(0.7, 0.75, 3.0)
    )
    out = tmp_path / "out"
    assert cli.main(["translate", str(run), "-i", str(source), "-o", str(out)]) == 0
    before, after = nib.load(source), nib.load(out / "case.nii.gz")
    assert after.shape == before.shape == (30, 30, 5)
    assert np.array_equal(after.affine, before.affine)
    assert after.header.get_zooms() == before.header.get_zooms()
    assert after.header.get_data_dtype() == before.header.get_data_dtype()

    files = write_phantom_dicom_series(tmp_path / "in2" / "s", 24, 3, seed=3, thickness=4.0)
    assert cli.main(["translate", str(run), "-i", str(tmp_path / "in2"), "-o", str(out)]) == 0
    for path in files:
        a, b = pydicom.dcmread(path), pydicom.dcmread(out / "s" / path.name)
        assert b.pixel_array.shape == a.pixel_array.shape
        assert b.ImagePositionPatient == a.ImagePositionPatient
        assert b.PixelSpacing == a.PixelSpacing

    # a run without a spacing records none (model folders stay as they were)
    args = [a for a in args if a not in ("--spacing", "1,1,2")]
    args[args.index("spaced")] = "plain"
    assert cli.main([str(a) for a in args]) == 0
    plain = root / "runs" / "plain"
    assert "spacing" not in yaml.safe_load((plain / "config.yaml").read_text())["data"]
    assert "spacing" not in json.loads((plain / "model" / "config.json").read_text())


class _Identity:
    """A stand-in translator that returns its input (in the networks' unit range)."""

    def __init__(self, config: dict) -> None:
        self.config = config

    def channels(self, direction: str) -> tuple[int, int]:
        return 1, 1

    def translate_unit(self, x: torch.Tensor, direction: str, **extras) -> torch.Tensor:
        return x


def test_identity_translation_through_a_spacing_gives_the_input_back(tmp_path: Path) -> None:
    from unpaired.translate.volumes import translate_volume

    shape, spacing = (40, 36, 10), (0.7, 0.8, 2.5)
    path = _write_nifti(tmp_path / "blob.nii", _blob(shape, spacing), spacing)
    image = read_medical(path)
    config = {"windows": {"a": [-1024.0, 1024.0], "b": [-1024.0, 1024.0]}, "axis": "axial"}
    axis = resolve_axis("axial", image.probe)
    same = translate_volume(_Identity(config), image, axis)
    assert np.abs(same - image.values).max() < 1e-3  # no spacing: the windows' round trip
    spaced = translate_volume(_Identity({**config, "spacing": [1.0, 1.0, 1.0]}), image, axis)
    assert spaced.shape == image.values.shape
    assert np.abs(spaced - image.values).max() < 4.0
    assert np.abs(spaced - image.values).mean() < 0.5
    # keep_outside: voxels outside the input window keep their exact input values
    narrow = {"a": [-50.0, 50.0], "b": [-50.0, 50.0]}
    kept = translate_volume(
        _Identity({**config, "windows": narrow, "spacing": [1, 1, 1]}),
        image,
        axis,
        keep_outside=True,
    )
    outside = (image.values < -50) | (image.values > 50)
    assert outside.any() and np.array_equal(kept[outside], image.values[outside])
