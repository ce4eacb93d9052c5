"""The run folder under concurrent runs, bad names, copied checkpoints, changed data and a
resume that asks for less: one line naming the folder or option, nothing overwritten."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from test_training_support import (
    TINY,
    assert_unchanged,
    dead_pid,
    snapshot,
    step_of,
)

from unpaired.training import checkpoint, rundir


def trained(run_cli, data: Path, runs: Path, steps: int = 2, *extra: str) -> Path:
    result = run_cli("train", data, "--runs-dir", runs, "--max-steps", str(steps), *TINY, *extra)
    assert result.code == 0, result.err
    return runs / data.name


def test_second_resume_of_a_running_run_refuses(run_cli, tiny_data: Path, tmp_path: Path):
    run = trained(run_cli, tiny_data, tmp_path / "runs")
    before = snapshot(run)
    with rundir.RunLock.acquire(run):  # the first resume, still running
        result = run_cli("train", "--resume", run, "--max-steps", "4")
    assert result.code == 2
    result.one_error_line(str(run), "in use by another training process", f"pid {os.getpid()}")
    assert_unchanged(run, before)
    assert run_cli("train", "--resume", run, "--max-steps", "4").code == 0  # released


def test_stale_lock_of_a_killed_run_is_taken_over(run_cli, tiny_data: Path, tmp_path: Path):
    run = trained(run_cli, tiny_data, tmp_path / "runs")
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from unpaired.training import rundir\n"
        "lock = rundir.RunLock.acquire(Path(sys.argv[1]))\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert run_cli("train", "--resume", run, "--max-steps", "3").code == 0
    assert step_of(run / "checkpoints" / "latest.pt") == 3


def test_same_name_while_another_run_holds_it(run_cli, tiny_data: Path, tmp_path: Path):
    runs = tmp_path / "runs"
    (runs / "x").mkdir(parents=True)
    with rundir.RunLock.acquire(runs / "x"):
        result = run_cli("train", tiny_data, "--runs-dir", runs, "--name", "x", *TINY)
    assert result.code == 2
    result.one_error_line(str(runs / "x"), "in use")
    assert sorted(os.listdir(runs / "x")) == [".lock"]


def test_two_processes_with_one_name(tiny_data: Path, tmp_path: Path) -> None:
    # The case: `train d1 --name x & train d2 --name x`; one trains, the other refuses,
    # and the folder's config.yaml and checkpoint describe the same run.
    other = tmp_path / "other"
    shutil.copytree(tiny_data, other)
    runs = tmp_path / "runs"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = ["--runs-dir", str(runs), "--name", "x", "--max-steps", "2", *TINY]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "unpaired", "train", str(d), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in (tiny_data, other)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    err = next(e for p, (_, e) in zip(procs, outs, strict=True) if p.returncode == 2)
    assert "Traceback" not in err
    assert "in use" in err or "already exists" in err
    run = runs / "x"
    written = yaml.safe_load((run / "config.yaml").read_text())["data"]["root"]
    assert (
        checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")["config"]["data"]["root"]
        == written
    )


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "."])
def test_name_outside_runs_dir_is_refused(run_cli, tiny_data: Path, tmp_path: Path, name):
    result = run_cli("train", tiny_data, "--runs-dir", tmp_path / "runs", "--name", name, *TINY)
    assert result.code == 2
    result.one_error_line("option name", "plain folder name")
    assert sorted(os.listdir(tmp_path)) == ["data"]


def test_restart_never_clears_a_run_with_a_checkpoint(run_cli, tiny_data: Path, tmp_path: Path):
    run = trained(run_cli, tiny_data, tmp_path / "runs")
    before = snapshot(run)
    for argv in (
        ["--resume", run, "--restart"],
        [tiny_data, "--runs-dir", tmp_path / "runs", "--name", "data", "--restart", *TINY],
    ):
        result = run_cli("train", *argv)
        assert result.code == 2
        result.one_error_line(str(run), "has a checkpoint", "--resume")
        assert_unchanged(run, before)


def test_stale_temporaries_are_cleaned_on_start(run_cli, tiny_data: Path, tmp_path: Path):
    run = trained(run_cli, tiny_data, tmp_path / "runs")
    dead = dead_pid()
    left = [
        run / "checkpoints" / f".latest.{dead}-1234abcd.part.pt",
        run / "checkpoints" / f".latest.pt.{dead}.tmp",
        run / "model" / f".model.{dead}-1234abcd.part.safetensors",  # a killed model save
        run / "samples" / f".step_000002.{dead}-1234abcd.part.png",
    ]
    for path in left:
        path.write_bytes(b"\0" * 1000)
    assert run_cli("train", "--resume", run, "--max-steps", "3").code == 0
    assert not any(p.exists() for p in left)
    assert step_of(run / "checkpoints" / "latest.pt") == 3


def test_checkpoint_copied_from_another_run_is_refused(run_cli, tiny_data: Path, tmp_path: Path):
    runs = tmp_path / "runs"
    first = trained(run_cli, tiny_data, runs)
    other_data = tmp_path / "other"
    shutil.copytree(tiny_data, other_data)
    second = trained(run_cli, other_data, runs)
    shutil.copy(first / "checkpoints" / "latest.pt", second / "checkpoints" / "latest.pt")
    before = snapshot(second)
    result = run_cli("train", "--resume", second, "--max-steps", "4")
    assert result.code == 2
    result.one_error_line(str(second / "checkpoints" / "latest.pt"), "does not belong")
    assert_unchanged(second, before)


@pytest.mark.parametrize("change", ["added", "removed"])
def test_changed_data_is_refused_unless_allowed(
    run_cli, tiny_data: Path, tmp_path: Path, change: str
):
    run = trained(run_cli, tiny_data, tmp_path / "runs")
    images = sorted((tiny_data / "trainA").iterdir())
    if change == "added":
        shutil.copy(images[0], tiny_data / "trainA" / "extra.png")
    else:
        images[-1].unlink()
    before = snapshot(run)
    result = run_cli("train", "--resume", run, "--max-steps", "4")
    assert result.code == 2
    result.one_error_line("training images changed", "domain A", "--allow-data-change")
    assert_unchanged(run, before)
    with pytest.warns(UserWarning, match="training images changed"):
        allowed = run_cli("train", "--resume", run, "--max-steps", "4", "--allow-data-change")
    assert allowed.code == 0, allowed.err
    assert step_of(run / "checkpoints" / "latest.pt") == 4


def test_resume_with_fewer_steps_than_done(run_cli, tiny_data: Path, tmp_path: Path):
    run = trained(run_cli, tiny_data, tmp_path / "runs", 4)
    before = snapshot(run)
    result = run_cli("train", "--resume", run, "--max-steps", "2")
    assert result.code == 2
    result.one_error_line("option max_steps", "at step 4 already")
    assert_unchanged(run, before)
    with pytest.warns(UserWarning, match="already at step 4, its end"):
        again = run_cli("train", "--resume", run)
    assert again.code == 0
    state = checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert state["position"]["step"] == 4 and state["config"]["max_steps"] == 4


def test_no_sample_images_is_refused_upfront(run_cli, tiny_data: Path, tmp_path: Path):
    runs = tmp_path / "runs"
    result = run_cli("train", tiny_data, "--runs-dir", runs, *TINY, "--set", "data.num_samples=0")
    assert result.code == 2
    result.one_error_line("option data.num_samples", "must be positive")
    assert not runs.exists()


def test_unavailable_cuda_names_the_option_once(run_cli, tiny_data: Path, tmp_path: Path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    runs = tmp_path / "runs"
    result = run_cli("train", tiny_data, "--runs-dir", runs, *TINY, "--device", "cuda")
    assert result.code == 2
    line = result.one_error_line("option device", "CUDA is not available")
    assert line.count("option device") == 1
    assert not (runs / "data").exists()
