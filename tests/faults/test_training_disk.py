"""A full disk or a read-only folder while training: one line naming the file, the previous
checkpoint (and model) kept, inputs untouched. Real faults on a small tmpfs where mount is
allowed; the same cases by a monkeypatched write raising the real error otherwise."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_training_support import (
    TINY,
    assert_unchanged,
    can_mount,
    enospc,
    fill,
    mounts,
    remount_read_only,
    snapshot,
    step_of,
    temporaries,
)

from unpaired import report
from unpaired.training import checkpoint


@pytest.fixture
def small_disk(tmp_path: Path):
    yield from mounts(tmp_path)


def test_checkpoint_write_on_a_full_disk(run_cli, tiny_data: Path, small_disk) -> None:
    runs = small_disk("disk", "4m") / "runs"
    assert run_cli("train", tiny_data, "--runs-dir", runs, "--max-steps", "2", *TINY).code == 0
    run = runs / "data"
    latest = run / "checkpoints" / "latest.pt"
    kept = snapshot(run / "checkpoints") | {"model": str(snapshot(run / "model"))}
    inputs = snapshot(tiny_data)
    fill(runs.parent, leave=300_000)  # room for the logs, not for a checkpoint (1.2 MB)
    result = run_cli("train", "--resume", run, "--max-steps", "4")
    assert result.code == 1
    result.one_error_line(str(latest), "disk full")
    assert snapshot(run / "checkpoints") | {"model": str(snapshot(run / "model"))} == kept
    assert step_of(latest) == 2
    assert temporaries(run / "checkpoints") == []
    assert_unchanged(tiny_data, inputs)


def test_checkpoint_write_disk_full_as_torch_reports_it(
    run_cli, tiny_data: Path, tmp_path: Path, monkeypatch
) -> None:
    # What torch.save raises on a full disk: a RuntimeError of its zip writer, no errno.
    runs = tmp_path / "runs"
    assert run_cli("train", tiny_data, "--runs-dir", runs, "--max-steps", "2", *TINY).code == 0
    run = runs / "data"
    latest = run / "checkpoints" / "latest.pt"
    before = snapshot(run / "checkpoints")

    def full(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1024 vs 986")

    monkeypatch.setattr(checkpoint.torch, "save", full)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda p: usage._replace(free=4096))
    result = run_cli("train", "--resume", run, "--max-steps", "4")
    assert result.code == 1
    result.one_error_line(str(latest), "disk full")
    monkeypatch.undo()
    assert snapshot(run / "checkpoints") == before and step_of(latest) == 2


def test_torch_write_failure_with_room_left_is_one_line(
    run_cli, tiny_data: Path, tmp_path: Path, monkeypatch
) -> None:
    runs = tmp_path / "runs"
    assert run_cli("train", tiny_data, "--runs-dir", runs, "--max-steps", "2", *TINY).code == 0
    latest = runs / "data" / "checkpoints" / "latest.pt"

    def broken(obj, f, *args, **kwargs):
        raise RuntimeError("PytorchStreamWriter failed writing file data/3: file write failed")

    monkeypatch.setattr(checkpoint.torch, "save", broken)
    result = run_cli("train", "--resume", runs / "data", "--max-steps", "4")
    assert result.code == 2
    result.one_error_line(str(latest), "could not be written")
    monkeypatch.undo()
    assert step_of(latest) == 2


def test_first_save_on_a_full_disk_then_restart(run_cli, tiny_data: Path, small_disk) -> None:
    # Item 8: the run stops before its first save; both ways back say how to go on.
    disk = small_disk("disk", "4m")
    runs = disk / "runs"
    filler = fill(disk, leave=400_000)
    result = run_cli("train", tiny_data, "--runs-dir", runs, "--max-steps", "2", *TINY)
    assert result.code == 1
    result.one_error_line("latest.pt", "disk full")
    run = runs / "data"
    assert (run / "config.yaml").is_file() and not (run / "checkpoints" / "latest.pt").exists()
    filler.unlink()
    again = run_cli("train", "--resume", run)
    assert again.code == 2
    again.one_error_line(str(run), "no checkpoint", f"unpaired train --resume {run} --restart")
    same_name = run_cli("train", tiny_data, "--runs-dir", runs, "--name", "data", *TINY)
    assert same_name.code == 2
    same_name.one_error_line(str(run), "no checkpoint", "--restart")
    done = run_cli("train", "--resume", run, "--restart", "--max-steps", "2")
    assert done.code == 0, done.err
    assert step_of(run / "checkpoints" / "latest.pt") == 2


def test_final_report_on_a_full_disk_keeps_checkpoint_and_model(
    run_cli, tiny_data: Path, tmp_path: Path, monkeypatch
) -> None:
    real = report.atomic_write

    def full_for_the_report(path, write, *args, **kwargs):
        if Path(path).name == "report.html":
            raise enospc(path)
        return real(path, write, *args, **kwargs)

    monkeypatch.setattr(report, "atomic_write", full_for_the_report)
    runs = tmp_path / "runs"
    with pytest.warns(UserWarning, match="checkpoint and model/ of step 3 are saved"):
        result = run_cli("train", tiny_data, "--runs-dir", runs, "--max-steps", "3", *TINY)
    assert result.code == 1
    result.one_error_line("report.html", "disk full")
    run = runs / "data"
    assert step_of(run / "checkpoints" / "latest.pt") == 3
    assert (run / "model" / "model.safetensors").is_file()


def test_runs_dir_read_only(run_cli, tiny_data: Path, tmp_path: Path, monkeypatch) -> None:
    if can_mount():
        ro = tmp_path / "ro"
        ro.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(ro)], check=True)
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        real_mkdir = Path.mkdir

        def read_only(self, *args, **kwargs):
            if str(self).startswith(str(ro)):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", read_only)
    try:
        inputs = snapshot(tiny_data)
        result = run_cli("train", tiny_data, "--runs-dir", ro / "runs", *TINY)
        assert result.code == 2
        result.one_error_line("option runs_dir", str(ro / "runs"), "read-only")
        assert_unchanged(tiny_data, inputs)
    finally:
        if can_mount():
            subprocess.run(["umount", "-l", str(ro)], capture_output=True)


def test_runs_dir_is_a_file(run_cli, tiny_data: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.write_text("not a folder")
    result = run_cli("train", tiny_data, "--runs-dir", runs, *TINY)
    assert result.code == 2
    result.one_error_line("option runs_dir", str(runs), "is a file")
    assert runs.read_text() == "not a folder"


def test_resume_in_a_read_only_run_folder(run_cli, tiny_data: Path, small_disk) -> None:
    disk = small_disk("disk", "4m")
    runs = disk / "runs"
    assert run_cli("train", tiny_data, "--runs-dir", runs, "--max-steps", "2", *TINY).code == 0
    run = runs / "data"
    before = snapshot(run)
    remount_read_only(disk)
    result = run_cli("train", "--resume", run, "--max-steps", "4")
    assert result.code == 2
    result.one_error_line(str(run), "read-only")
    assert_unchanged(run, before)
    assert step_of(run / "checkpoints" / "latest.pt") == 2
