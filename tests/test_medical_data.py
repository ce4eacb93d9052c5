"""Training and evaluation data from folders of volumes: 1-channel slices in [-1, 1]."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from unpaired import cli
from unpaired.data.folders import DataError, SingleFolder, UnpairedDataset, fixed_images
from unpaired.data.transforms import Preprocess
from unpaired.medical.windows import Window

from conftest import make_model

SOFT = Window(-160.0, 240.0)


def test_folder_of_volumes_is_a_dataset_of_slices(tmp_path: Path):
    pytest.importorskip("nibabel")
    pytest.importorskip("pydicom")
    from unpaired.medical.phantoms import (
        phantom_volume,
        write_phantom_dicom_series,
        write_phantom_nifti,
    )

    folder = tmp_path / "contrast"
    write_phantom_nifti(folder / "a.nii.gz", size=32, slices=6, contrast=True, seed=1)
    write_phantom_nifti(folder / "b.nii", size=32, slices=4, contrast=True, seed=2)
    write_phantom_dicom_series(folder / "c", size=32, slices=5, contrast=True, seed=3)
    pre = Preprocess("resize_and_crop", load_size=36, crop_size=32, flip=True)
    domain = SingleFolder(folder, 1, pre, window="soft_tissue")
    assert len(domain) == 6 + 4 + 5
    assert domain.output_sizes() == {(32, 32)}
    for index in (0, 7, 14):
        x = domain[(index, 123)]
        assert x.shape == (1, 32, 32) and x.dtype == torch.float32
        assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.05
    # Without augmentation, item 2 is axial slice 2 of a.nii.gz through the window.
    exact = SingleFolder(folder, 1, Preprocess("none", 32, 32, flip=False), window="soft_tissue")
    hu, _ = phantom_volume(32, 6, contrast=True, seed=1)
    stored = (np.clip(np.rint(hu + 1024.0), -32768, 32767) - 1024).astype(np.float32)
    expected = torch.from_numpy(SOFT.to_net(stored[2].T))[None]
    assert torch.allclose(exact[(2, 0)], expected, atol=1e-5)
    # Three-channel models see the slice repeated; a batch of both domains has the shapes.
    rgb = SingleFolder(folder, 3, pre, window="-1000,400", axis="axial")
    pair = UnpairedDataset(domain, rgb)[(1, 9, 5)]
    assert pair["A"].shape == (1, 32, 32) and pair["B"].shape == (3, 32, 32)
    assert torch.equal(pair["B"][0], pair["B"][2])
    assert fixed_images(domain, 2).shape == (2, 1, 32, 32)


def test_axis_choice_and_max_images(tmp_path: Path):
    folder = tmp_path / "v"
    folder.mkdir()
    np.save(folder / "vol.npy", np.zeros((4, 16, 24), np.int16))  # (z, y, x)
    pre = Preprocess("none", 16, 16, flip=False)
    assert len(SingleFolder(folder, 1, pre)) == 4
    coronal = SingleFolder(folder, 1, pre, axis="coronal")
    assert len(coronal) == 16 and coronal.sizes[0] == (4, 24)
    assert len(SingleFolder(folder, 1, pre, axis=2)) == 24
    assert len(SingleFolder(folder, 1, pre, max_images=3)) == 3
    with pytest.raises(DataError, match="option window"):
        SingleFolder(folder, 1, pre, window="nope")
    crop = Preprocess("crop", 16, 16, flip=False)
    with pytest.raises(DataError, match="smaller than the 16x16 crop"):
        SingleFolder(folder, 1, crop, axis="coronal")


def test_without_the_medical_reader_volumes_are_a_clear_error(tmp_path: Path, monkeypatch):
    from unpaired.data import readers

    folder = tmp_path / "v"
    folder.mkdir()
    np.save(folder / "vol.npy", np.zeros((4, 16, 16), np.int16))
    pre = Preprocess("none", 16, 16, flip=False)
    assert "medical" in readers.FOLDER_READERS  # import unpaired registers it
    monkeypatch.setattr(readers.FOLDER_READERS, "_items", {})
    with pytest.raises(DataError, match=r"^folder .*: medical inputs .* import unpaired\.medical"):
        SingleFolder(folder, 1, pre)
    with pytest.raises(DataError, match="not registered"):
        readers.medical_index(tmp_path, window="lung")
    assert readers.medical_index(tmp_path / "missing") is None


def test_data_layout_names_the_missing_train_folder(tmp_path: Path):
    from unpaired.data.layout import resolve_data_dirs

    (tmp_path / "trainA").mkdir()
    options = {"runs_dir": tmp_path, "demo_size": 16, "demo_images": 2, "seed": 0}
    with pytest.raises(DataError) as info:
        resolve_data_dirs(tmp_path, **options)
    assert str(info.value) == (
        f"data folder {tmp_path}: has no trainB/ (expected trainA/ and trainB/)"
    )
    (tmp_path / "trainB").mkdir()
    (tmp_path / "testA").mkdir()
    assert resolve_data_dirs(tmp_path, **options) == (
        tmp_path / "trainA",
        tmp_path / "trainB",
        tmp_path / "testA",
        None,
    )
    assert resolve_data_dirs(None, "a", "b", **options) == (Path("a"), Path("b"), None, None)


def test_image_folder_with_a_window_reads_raw_16_bit_values(tmp_path: Path):
    from PIL import Image

    folder = tmp_path / "png"
    folder.mkdir()
    Image.fromarray(np.full((8, 8), 1000, np.uint16)).save(folder / "a.png")
    pre = Preprocess("none", 8, 8, flip=False)
    windowed = SingleFolder(folder, 1, pre, window="0,2000")
    assert torch.allclose(windowed[(0, 0)], torch.zeros(1, 8, 8))
    plain = SingleFolder(folder, 1, pre)  # no window: the image path, value / 65535
    assert plain.slices is None
    assert torch.allclose(plain[(0, 0)], torch.full((1, 8, 8), 1000 / 65535 * 2 - 1))


def test_a_stray_volume_keeps_photos_in_color(tmp_path: Path):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(folder / "red.png")
    np.save(folder / "stray.npy", np.zeros((8, 8), np.float32))
    domain = SingleFolder(folder, 3, Preprocess("none", 8, 8, flip=False))
    assert len(domain) == 2 and domain.slices is not None
    red = domain[(0, 0)]
    assert red[:, 0, 0].tolist() == [1.0, -1.0, -1.0]


def test_evaluate_on_volume_folders_says_gray_is_repeated(tmp_path: Path, capsys):
    pytest.importorskip("nibabel")
    from unpaired.medical.phantoms import write_phantom_nifti

    model = make_model(tmp_path / "model", 1, 1)
    info = json.loads((model / "config.json").read_text())
    info["windows"] = {"a": [-160, 240], "b": [-160, 240]}
    (model / "config.json").write_text(json.dumps(info))
    data = tmp_path / "data"
    for i in range(2):
        for letter, contrast in (("A", True), ("B", False)):
            path = data / f"test{letter}" / f"c{i}.nii.gz"
            write_phantom_nifti(path, size=32, slices=3, contrast=contrast, seed=i + 7 * contrast)
    output = tmp_path / "eval.json"
    args = ["evaluate", str(model), str(data), "--features", "tiny", "--output", str(output)]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert "1-channel images are repeated to 3 channels" in captured.err
    assert "windowed as in training: A [-160, 240], B [-160, 240]" in captured.err
    assert "6 A and 6 B test images" in captured.out
    record = json.loads(output.read_text())
    assert record["gray_repeated_to_rgb"] is True
    assert record["windows"] == {"A": [-160.0, 240.0], "B": [-160.0, 240.0]}
    assert np.isfinite(record["metrics"]["fid_a2b"])


def test_phantom_dataset_for_the_demo(tmp_path: Path):
    pytest.importorskip("nibabel")
    from unpaired.medical.phantoms import write_phantom_dataset

    root = write_phantom_dataset(tmp_path / "ct", volumes=2, size=16, slices=3, labelled=1)
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.nii.gz"))
    assert names == [
        "contrast/case_000.nii.gz",
        "contrast/case_001.nii.gz",
        "labelled/images/case_000.nii.gz",
        "labelled/masks/case_000.nii.gz",
        "plain/case_000.nii.gz",
        "plain/case_001.nii.gz",
        "truth/plain/case_000.nii.gz",
    ]
    assert len(SingleFolder(root / "plain", 1, Preprocess("none", 16, 16, False))) == 6
