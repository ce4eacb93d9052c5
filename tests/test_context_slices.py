"""2.5D input (``--context-slices K``): stacks of neighbouring slices with replicated edges, the
channels every family's networks get, training on phantom volumes, what the model folder
records, translation keeping the centre slice (against a direct computation), K = 0 unchanged,
and the one-line errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from unpaired import config as cfg
from unpaired.data.folders import SingleFolder
from unpaired.data.stacks import (
    centre,
    context_call,
    context_of,
    network_info,
    replicate,
    stack_indices,
)
from unpaired.data.transforms import Preprocess, from_unit, to_unit
from unpaired.pretrained import ModelLoadError, load_pretrained
from unpaired.translate import Translator

from conftest import TINY, make_images

SOFT = (-160.0, 240.0)  # the soft_tissue window, HU


# --- stacks -------------------------------------------------------------------------------
def test_stack_indices_replicate_the_edges() -> None:
    assert stack_indices(4, 1).tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]]
    assert stack_indices(3, 2).tolist() == [
        [0, 0, 0, 1, 2],
        [0, 0, 1, 2, 2],
        [0, 1, 2, 2, 2],
    ]
    assert stack_indices(1, 1).tolist() == [[0, 0, 0]]
    assert stack_indices(5, 0).tolist() == [[0], [1], [2], [3], [4]]


def test_centre_replicate_and_context_call() -> None:
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)  # C = 3
    stack = replicate(x, 1)
    assert stack.shape == (2, 9, 2, 2)
    assert torch.equal(stack[:, 6:9], x) and torch.equal(centre(stack, 1), x)
    marked = torch.cat([x * 0, x, x * 0 - 1], dim=1)  # slices -1, 0, +1 of 3 channels each
    assert torch.equal(centre(marked, 1), x)
    assert centre(x, 0) is x and replicate(x, 0) is x
    with pytest.raises(ValueError, match="multiple of 5 channels"):
        centre(torch.zeros(1, 4, 2, 2), 2)

    def net(batch: torch.Tensor) -> torch.Tensor:  # a "network" that shows what it got
        return batch * 2

    call = context_call(net, 1, 3)
    assert torch.equal(call(x), 2 * x)  # an image: replicated in, centre out
    assert torch.equal(call(marked), 2 * x)  # a stack: its centre
    assert context_call(net, 0, 3) is net


def test_config_json_context_key() -> None:
    assert context_of({}) == 0 and context_of({"context_slices": None}) == 0
    assert context_of({"context_slices": 2}) == 2
    for bad in (-1, 1.5, "1", True):
        with pytest.raises(ValueError, match="context_slices"):
            context_of({"context_slices": bad})
    info = {"channels_a": 1, "channels_b": 3, "context_slices": 2, "ngf": 4}
    assert network_info(info) == {**info, "channels_a": 5, "channels_b": 15}
    assert network_info({"channels_a": 1, "channels_b": 3}) == {"channels_a": 1, "channels_b": 3}


def _ramp_volume(folder: Path, name: str = "ramp.npy", slices: int = 4) -> Path:
    """A (slices, 8, 8) .npy volume whose slice z holds 100 * z everywhere (HU)."""
    folder.mkdir(parents=True, exist_ok=True)
    volume = np.repeat(100.0 * np.arange(slices, dtype=np.float32), 64).reshape(slices, 8, 8)
    np.save(folder / name, volume)
    return folder / name


@pytest.mark.parametrize("channels", [1, 3])
def test_dataset_items_are_stacks_with_replicated_edges(tmp_path: Path, channels: int) -> None:
    _ramp_volume(tmp_path / "vol")
    pre = Preprocess("none", 8, 8, flip=False)
    folder = SingleFolder(tmp_path / "vol", channels, pre, window="0,1000", context_slices=1)
    assert len(folder) == 4
    rng = random.Random(0)
    # slice z maps to 100 z / 1000 in [0, 1], then to [-1, 1]
    expected = {0: [0, 0, 1], 1: [0, 1, 2], 3: [2, 3, 3]}
    for z, rows in expected.items():
        item = folder.load(z, rng)
        assert item.shape == (3 * channels, 8, 8)
        values = to_unit(item)[:, 0, 0].tolist()
        want = [r / 10 for r in rows for _ in range(channels)]
        assert values == pytest.approx(want, abs=1e-6)
    plain = SingleFolder(tmp_path / "vol", channels, pre, window="0,1000")
    assert plain.load(2, rng).shape == (channels, 8, 8)


def test_folder_of_2d_images_is_refused(tmp_path: Path) -> None:
    from unpaired.data.errors import DataError

    pre = Preprocess("none", 8, 8, flip=False)
    make_images(tmp_path / "photos", 2, size=(8, 8))
    with pytest.raises(DataError, match=r"photos holds 2-D images.*context_slices 2"):
        SingleFolder(tmp_path / "photos", 3, pre, context_slices=2)
    _ramp_volume(tmp_path / "mixed")
    make_images(tmp_path / "mixed", 1, size=(8, 8), mode="L")
    with pytest.raises(DataError, match=r"img 000.png has a single slice"):
        SingleFolder(tmp_path / "mixed", 1, pre, window="0,1000", context_slices=1)


# --- training and translation ---------------------------------------------------------------
@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("nibabel")
    from unpaired.medical.phantoms import write_phantom_nifti

    root = tmp_path_factory.mktemp("ct25")
    for i in range(2):
        write_phantom_nifti(root / "a" / f"c{i}.nii.gz", 32, 3, contrast=True, seed=i)
        write_phantom_nifti(root / "b" / f"p{i}.nii.gz", 32, 3, contrast=False, seed=10 + i)
    return root


def _train(root: Path, name: str, *extra: str) -> Path:
    from unpaired import cli

    args = ["train", "--a", root / "a", "--b", root / "b", "--runs-dir", root / "runs"]
    args += ["--name", name, "--max-steps", "2", *TINY, "--load-size", "32"]
    args += ["--channels-a", "1", "--channels-b", "1", "--window-a", "soft_tissue"]
    args += ["--window-b", "soft_tissue", *extra]
    assert cli.main([str(a) for a in args]) == 0
    return root / "runs" / name


@pytest.fixture(scope="module")
def stacked(phantoms: Path) -> Path:
    return _train(phantoms, "k1", "--context-slices", "1")


def test_training_with_context_records_it(stacked: Path) -> None:
    info = json.loads((stacked / "model" / "config.json").read_text())
    assert info["context_slices"] == 1
    assert info["channels_a"] == info["channels_b"] == 1  # of one slice, as the user gave
    written = yaml.safe_load((stacked / "config.yaml").read_text())
    assert written["data"]["context_slices"] == 1
    model, _ = load_pretrained(stacked)
    # G: X -> Y and F: Y -> X map stacks of 3 slices to stacks of 3 slices
    first = next(p for p in model.g_ab.parameters() if p.dim() == 4)
    assert first.shape[1] == 3
    assert (stacked / "samples" / "step_000002.png").is_file()


def _direct(model_dir: Path, volume: np.ndarray) -> np.ndarray:
    """Each slice's stack (neighbours clipped) through G: X -> Y by hand, centre kept, in HU."""
    model, _ = load_pretrained(model_dir)
    lo, hi = SOFT
    units = (np.clip(volume, lo, hi) - lo) / (hi - lo)
    out = np.empty_like(volume)
    n = volume.shape[0]
    with torch.no_grad():
        for k in range(n):
            rows = [min(max(j, 0), n - 1) for j in (k - 1, k, k + 1)]
            x = from_unit(torch.from_numpy(units[rows]).float()[None])
            y = to_unit(model.g_ab(x))[0, 1].numpy()
            out[k] = lo + y * (hi - lo)
    return out


def test_volume_translation_equals_the_centre_of_each_stack(stacked: Path, tmp_path: Path) -> None:
    from unpaired import cli
    from unpaired.medical.phantoms import phantom_volume

    volume, _ = phantom_volume(32, 4, contrast=True, seed=5)  # (z, y, x) in HU, float32
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "v.npy", volume)
    args = ["translate", stacked, "-i", tmp_path / "in" / "v.npy", "-o", tmp_path / "out"]
    assert cli.main([str(a) for a in [*args, "--progress", "lines"]]) == 0
    got = np.load(tmp_path / "out" / "v.npy")
    assert got.shape == volume.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, _direct(stacked, volume), atol=2e-3)  # HU

    # a 2-D image given to the 2.5D model: replicated into a stack, the centre kept
    translator = Translator.load(stacked)
    assert translator.context_slices == 1 and translator.channels("a2b") == (1, 1)
    image = from_unit(torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        want = translator.model.g_ab(image.repeat(1, 3, 1, 1))[:, 1:2]
    assert torch.allclose(translator.translate(image), want, atol=1e-6)
    assert torch.allclose(translator.translate(image.repeat(1, 3, 1, 1)), want, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\) images or stacks \(N, 3, H, W\)"):
        translator.translate(torch.zeros(1, 2, 32, 32))


FAMILY_OPTIONS = {
    "munit": ["dim=4", "style_dim=2", "n_res=1", "mlp_dim=8", "n_layer_d=2"],
    "cut": ["ngf=4", "ndf=4", "num_patches=16", "nce_nc=8", "generator=resnet_6blocks"],
}


@pytest.mark.parametrize("family", sorted(FAMILY_OPTIONS))
def test_every_family_trains_and_translates_stacks(
    phantoms: Path, tmp_path: Path, family: str
) -> None:
    from unpaired import cli

    options = [a for o in FAMILY_OPTIONS[family] for a in ("--set", f"{family}.{o}")]
    run = _train(phantoms, f"k2_{family}", "--context-slices", "2", "--model", family, *options)
    translator = Translator.load(run)
    assert translator.context_slices == 2 and translator.channels("a2b") == (1, 1)
    source = phantoms / "a" / "c0.nii.gz"
    args = ["translate", run, "-i", source, "-o", tmp_path / "out", "--progress", "lines"]
    assert cli.main([str(a) for a in args]) == 0
    import nibabel as nib

    (written,) = (tmp_path / "out").glob("c0*.nii.gz")  # MUNIT: c0_style0.nii.gz
    assert nib.load(written).shape == (32, 32, 3)


def test_context_zero_changes_nothing(phantoms: Path) -> None:
    default = cfg.dump_yaml(cfg.build_config({}))
    assert "context_slices" not in default
    assert cfg.dump_yaml(cfg.build_config({"data": {"context_slices": 0}})) == default
    plain = _train(phantoms, "k0")
    zero = _train(phantoms, "k0_explicit", "--context-slices", "0")
    assert (plain / "config.yaml").read_text() == (
        (zero / "config.yaml").read_text().replace("k0_explicit", "k0")
    )
    assert "context_slices" not in (plain / "config.yaml").read_text()
    info = json.loads((plain / "model" / "config.json").read_text())
    assert "context_slices" not in info
    weights = [(run / "model" / "model.safetensors").read_bytes() for run in (plain, zero)]
    assert weights[0] == weights[1]


# --- errors --------------------------------------------------------------------------------
def test_errors(run_cli, tmp_path: Path, stacked: Path) -> None:
    result = run_cli("train", "--context-slices", "-1", "--dry-run")
    assert result.code == 2
    result.one_error_line("option data.context_slices: must be 0 or more, got -1")
    make_images(tmp_path / "a", 2)
    make_images(tmp_path / "b", 2, seed=1)
    argv = ["train", "--a", tmp_path / "a", "--b", tmp_path / "b", *TINY, "--max-steps", "1"]
    argv += ["--runs-dir", tmp_path / "runs", "--context-slices", "1"]
    result = run_cli(*argv)
    assert result.code == 2
    result.one_error_line("holds 2-D images", "context_slices 1")
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("config.json", "model.safetensors"):
        (bad / name).write_bytes((stacked / "model" / name).read_bytes())
    info = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**info, "context_slices": -2}))
    with pytest.raises(ModelLoadError, match=r"context_slices -2: must be a whole number"):
        load_pretrained(bad)
    (bad / "config.json").write_text(json.dumps({**info, "context_slices": 0}))
    with pytest.raises(ModelLoadError, match="has shape"):  # 3-slice weights, 2-D settings
        load_pretrained(bad)
