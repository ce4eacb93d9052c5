"""Read-only folders and full disks under export, evaluate, translate and augment: one line
naming the file, no traceback, inputs unchanged; evaluate shows its scores before writing.

Real faults where the machine allows them: a tmpfs mounted read-only (or remounted read-only
after it is filled) and a tmpfs of a few kB for a full disk, when the tests run as root and
``mount`` works. Otherwise the rename that puts a file in place (``os.replace``, which every
write goes through: :func:`unpaired.fs.atomic_write`) raises the real ``OSError`` (EROFS or
ENOSPC) for paths in that folder.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import assert_unchanged, make_images, make_model, snapshot

TESTS = Path(__file__).parents[1]


def _mount(*args: str) -> bool:
    try:
        result = subprocess.run(["mount", *args], capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


@pytest.fixture(scope="session")
def can_mount(tmp_path_factory: pytest.TempPathFactory) -> bool:
    """Whether this machine lets the tests mount a tmpfs (root, and mount allowed);
    ``UNPAIRED_FAULTS_NO_MOUNT=1`` tries the monkeypatched fallback instead."""
    if os.environ.get("UNPAIRED_FAULTS_NO_MOUNT") or os.geteuid() != 0:
        return False
    if shutil.which("mount") is None:
        return False
    probe = tmp_path_factory.mktemp("mount-probe")
    if not _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)):
        return False
    subprocess.run(["umount", str(probe)], check=True)
    return True


#: (folder, kind) -> a folder where writes fail; fill(folder) runs before it turns read-only.
Faulty = Callable[..., Path]


@pytest.fixture
def faulty(can_mount: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Faulty]:
    """``faulty(folder, kind, fill=None)``: ``folder`` made read-only (``kind="ro"``, after
    ``fill(folder)`` wrote what it holds) or a full disk (``kind="full"``)."""
    mounted: list[Path] = []

    def make(folder: Path, kind: str, fill: Callable[[Path], object] | None = None) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if can_mount:
            size = "size=8k" if kind == "full" else "size=4m"
            assert _mount("-t", "tmpfs", "-o", size, "tmpfs", str(folder))
            mounted.append(folder)
            if fill is not None:
                fill(folder)
            if kind == "ro":
                assert _mount("-o", "remount,ro", str(folder))
            return folder
        if fill is not None:
            fill(folder)
        code = errno.EROFS if kind == "ro" else errno.ENOSPC
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if os.path.realpath(dst).startswith(os.path.realpath(folder) + os.sep):
                raise OSError(code, os.strerror(code), str(src))
            return real_replace(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "replace", replace)
        return folder

    yield make
    for folder in reversed(mounted):
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _no_leftovers(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if ".part" in p.name], list(folder.rglob("*"))


@pytest.mark.parametrize("kind", ["ro", "full"])
def test_export_into_a_read_only_or_full_folder_is_one_line(
    run_cli, tmp_path: Path, faulty: Faulty, kind: str
) -> None:
    model = make_model(tmp_path / "model")
    before = snapshot(model)
    target = faulty(tmp_path / "dest", kind)
    result = run_cli("export", model, "--format", "pt2", "-o", target / "g.pt2")
    assert result.code == 1
    words = "read-only" if kind == "ro" else "disk full"
    result.one_error_line(str(target / "g.pt2"), words)
    assert not (target / "g.pt2").exists()
    _no_leftovers(target)
    assert_unchanged(model, before)


def _run_folder(tmp_path: Path) -> Callable[[Path], object]:
    def fill(run: Path) -> None:
        make_model(run / "model")
        make_images(run / "data" / "testA", 2, size=(32, 32), seed=1)
        make_images(run / "data" / "testB", 2, size=(32, 32), seed=2)

    return fill


def test_evaluate_on_a_read_only_run_folder_prints_the_scores_first(
    run_cli, tmp_path: Path, faulty: Faulty
) -> None:
    run = faulty(tmp_path / "run", "ro", _run_folder(tmp_path))
    before = snapshot(run)
    result = run_cli("evaluate", run, run / "data", "--metrics", "l1_cycle,psnr_cycle")
    assert result.code == 1
    assert "l1_cycle" in result.out and "psnr_cycle" in result.out  # the table is there
    result.one_error_line(str(run / "eval"), "read-only", "printed above")
    assert_unchanged(run, before)


def test_evaluate_output_into_a_full_disk_prints_the_scores_first(
    run_cli, tmp_path: Path, faulty: Faulty, tiny_data: Path
) -> None:
    model = make_model(tmp_path / "model")
    full = faulty(tmp_path / "full", "full", lambda d: (d / "filler").write_bytes(b"x" * 8192))
    result = run_cli(
        "evaluate", model, tiny_data, "--metrics", "l1_cycle", "--output", full / "s.json"
    )
    assert result.code == 1
    assert "l1_cycle" in result.out
    result.one_error_line(str(full / "s.json"), "disk full")
    _no_leftovers(full)


def test_translate_into_a_read_only_folder_names_each_file(
    run_cli, tmp_path: Path, faulty: Faulty
) -> None:
    model = make_model(tmp_path / "model")
    make_images(tmp_path / "in", 2, size=(24, 24))
    before = snapshot(tmp_path / "in")
    out = faulty(tmp_path / "out", "ro")
    result = run_cli("translate", model, "-i", tmp_path / "in", "-o", out)
    assert result.code == 1
    assert "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 3 and all("read-only" in e.lower() for e in errors[:2]), errors
    assert "img 000.png" in errors[0] and "img 001.png" in errors[1]
    assert_unchanged(tmp_path / "in", before)


def test_augment_onto_a_full_disk_is_one_line_per_file(
    run_cli, tmp_path: Path, faulty: Faulty
) -> None:
    model = make_model(tmp_path / "model")
    make_images(tmp_path / "set" / "images", 1, size=(24, 24))
    shutil.copytree(tmp_path / "set" / "images", tmp_path / "set" / "masks")
    before = snapshot(tmp_path / "set")
    out = faulty(tmp_path / "aug", "full", lambda d: (d / "filler").write_bytes(b"x" * 8192))
    result = run_cli(
        "augment", model, "--images", tmp_path / "set" / "images", "--masks",
        tmp_path / "set" / "masks", "-o", out,
    )  # fmt: skip
    assert result.code == 1
    assert "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert errors and "img 000.png" in errors[0] and "disk full" in errors[0], errors
    _no_leftovers(out)
    assert_unchanged(tmp_path / "set", before)


def test_model_folder_on_a_full_disk_names_the_weights_file(tmp_path: Path, faulty: Faulty) -> None:
    """safetensors' own writer raises a SafetensorError on a full disk; the model folder is
    serialised in memory and written as bytes, so it is an OSError naming the weights file,
    which the command line prints as one line; nothing half-written is left."""
    from unpaired.fs import describe_os_error
    from unpaired.models.cyclegan import build_cyclegan
    from unpaired.pretrained import save_pretrained

    target = faulty(tmp_path / "dest", "full")
    model = build_cyclegan(3, 3, "resnet_6blocks", ngf=8, with_discriminators=False)
    info = {"channels_a": 3, "channels_b": 3, "generator": "resnet_6blocks", "ngf": 8}
    info |= {"norm": "instance", "use_dropout": False}
    with pytest.raises(OSError) as caught:
        save_pretrained(target / "model", model, info)
    assert describe_os_error(caught.value) == (
        f"{target / 'model' / 'model.safetensors'}: disk full (no space left on the device)"
    )
    assert not (target / "model" / "model.safetensors").exists()
    _no_leftovers(target)
