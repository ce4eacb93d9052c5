"""No command writes over one of its inputs, with or without --overwrite (real paths compared:
symlinks to input files and folders included)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import assert_unchanged, make_images, make_model, snapshot

TESTS = Path(__file__).parents[1]


MUNIT = Path(__file__).parents[1] / "data" / "compat_v0_1" / "munit" / "run" / "model"


def _labelled(root: Path) -> tuple[Path, Path]:
    """``root/images`` (2 PNGs) and ``root/masks`` (their masks, same names)."""
    make_images(root / "images", 2, size=(24, 24), seed=1)
    for image in sorted((root / "images").iterdir()):
        (root / "masks").mkdir(parents=True, exist_ok=True)
        Image.new("L", (24, 24), 1).save(root / "masks" / image.name)
    return root / "images", root / "masks"


def test_augment_output_holding_the_inputs_is_refused_even_with_overwrite(
    run_cli, tmp_path: Path
) -> None:
    # The reported case: --images ct/lab/images --masks ct/lab/masks --output ct/lab.
    model = make_model(tmp_path / "model")
    images, masks = _labelled(tmp_path / "ct" / "lab")
    before = snapshot(tmp_path / "ct")
    result = run_cli(
        "augment", model, "--images", images, "--masks", masks, "-o", tmp_path / "ct" / "lab",
        "--overwrite", "--progress", "lines",
    )  # fmt: skip
    assert result.code == 2
    result.one_error_line("--images", str(images), "never overwritten")
    assert_unchanged(tmp_path / "ct", before)


def test_augment_output_that_links_to_the_inputs_parent_is_refused(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    images, masks = _labelled(tmp_path / "ct" / "lab")
    (tmp_path / "elsewhere").symlink_to(tmp_path / "ct" / "lab")
    before = snapshot(tmp_path / "ct")
    result = run_cli(
        "augment", model, "--images", images, "--masks", masks, "-o", tmp_path / "elsewhere",
        "--overwrite",
    )  # fmt: skip
    assert result.code == 2
    result.one_error_line("--images", "never overwritten")
    assert_unchanged(tmp_path / "ct", before)


@pytest.mark.parametrize("which", ["masks/img 000.png", "manifest.jsonl"])
def test_augment_output_file_linked_to_an_input_is_refused(
    run_cli, tmp_path: Path, which: str
) -> None:
    model = make_model(tmp_path / "model")
    images, masks = _labelled(tmp_path / "set")
    out = tmp_path / "aug"
    (out / "masks").mkdir(parents=True)
    victim = images / "img 001.png"
    (out / which).symlink_to(victim)
    before = snapshot(tmp_path / "set")
    result = run_cli(
        "augment", model, "--images", images, "--masks", masks, "-o", out, "--overwrite"
    )
    assert result.code == 2
    result.one_error_line(str(out / which), f"write over the input {victim}")
    assert_unchanged(tmp_path / "set", before)
    assert (out / which).is_symlink()


def test_translate_output_folder_linked_to_the_input_folder_is_refused(
    run_cli, tmp_path: Path
) -> None:
    model = make_model(tmp_path / "model")
    make_images(tmp_path / "in", 2)
    (tmp_path / "out").symlink_to(tmp_path / "in")
    before = snapshot(tmp_path / "in")
    out = tmp_path / "out"
    result = run_cli("translate", model, "-i", tmp_path / "in", "-o", out, "--overwrite")
    assert result.code == 2
    result.one_error_line("--output", "input folder")
    assert_unchanged(tmp_path / "in", before)


def test_translate_output_file_linked_to_an_input_is_refused(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    sources = make_images(tmp_path / "in", 2)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / sources[0].name).symlink_to(sources[1])
    before = snapshot(tmp_path / "in")
    result = run_cli(
        "translate", model, "-i", *sources, "-o", tmp_path / "out", "--overwrite"
    )  # fmt: skip
    assert result.code == 2
    result.one_error_line(f"write over the input {sources[1]}")
    assert_unchanged(tmp_path / "in", before)


def test_translate_styled_output_name_that_is_an_input_is_refused(run_cli, tmp_path: Path) -> None:
    # A MUNIT model writes NAME_style0.png: one that links to an input is never replaced.
    model = shutil.copytree(MUNIT, tmp_path / "munit")
    first, second = make_images(tmp_path / "src", 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / f"{first.stem}_style0.png").symlink_to(second)
    before = snapshot(tmp_path / "src")
    result = run_cli("translate", model, "-i", tmp_path / "src", "-o", out, "--overwrite")
    assert result.code == 2
    result.one_error_line(f"_style0.png would write over the input {second}")
    assert_unchanged(tmp_path / "src", before)


@pytest.mark.parametrize("target", ["model.safetensors", "config.json", "."])
def test_export_over_the_models_own_files_is_refused(run_cli, tmp_path: Path, target: str) -> None:
    model = make_model(tmp_path / "model")
    before = snapshot(model)
    result = run_cli("export", model, "--format", "pt2", "-o", model / target, "--overwrite")
    assert result.code == 2
    result.one_error_line("--output")
    assert_unchanged(model, before)


def test_export_through_a_link_to_the_weights_is_refused(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    (tmp_path / "g.pt2").symlink_to(model / "model.safetensors")
    before = snapshot(model)
    result = run_cli("export", model, "--format", "pt2", "-o", tmp_path / "g.pt2", "--overwrite")
    assert result.code == 2
    result.one_error_line("--output", "model.safetensors")
    assert_unchanged(model, before)


def test_evaluate_output_linked_to_an_input_is_refused(run_cli, tiny_data: Path, tmp_path):
    model = make_model(tmp_path / "model")
    victim = next((tiny_data / "testA").iterdir())
    (tmp_path / "scores.json").symlink_to(victim)
    before = snapshot(tiny_data)
    result = run_cli(
        "evaluate", model, tiny_data, "--metrics", "l1_cycle", "--output", tmp_path / "scores.json"
    )
    assert result.code == 2
    result.one_error_line("--output", "exists")
    assert_unchanged(tiny_data, before)


def test_augment_over_the_original_nifti_scans_is_refused(run_cli, tmp_path: Path) -> None:
    # The report's exact case: NIfTI scans and masks, --output their parent, --overwrite.
    pytest.importorskip("nibabel")
    import json

    from unpaired.medical.phantoms import write_phantom_nifti

    model = make_model(tmp_path / "model", 1, 1, norm="none")
    config = json.loads((model / "config.json").read_text())
    config["windows"] = {"a": [-160, 240], "b": [-160, 240]}
    (model / "config.json").write_text(json.dumps(config))
    lab = tmp_path / "ct" / "lab"
    write_phantom_nifti(
        lab / "images" / "c0.nii.gz", size=16, slices=2, mask_path=lab / "masks" / "c0.nii.gz"
    )
    before = snapshot(tmp_path / "ct")
    result = run_cli(
        "augment", model, "--images", lab / "images", "--masks", lab / "masks", "-o", lab,
        "--overwrite",
    )  # fmt: skip
    assert result.code == 2
    result.one_error_line("--images", "never overwritten")
    assert_unchanged(tmp_path / "ct", before)
