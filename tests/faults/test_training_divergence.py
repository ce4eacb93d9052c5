"""Divergence, corrupted checkpoints and kills during checkpoint writes: nothing non-finite or
corrupt is used or saved, and the run goes on from the last good checkpoint."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_training_support import TINY, assert_unchanged, snapshot, step_of, temporaries

from unpaired.training import checkpoint


def step_records(run: Path) -> list[dict]:
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "event" not in record:
            out.append({k: v for k, v in record.items() if k not in ("time", "sec_per_step")})
    return out


def test_divergence_stops_and_keeps_the_last_finite_checkpoint(
    run_cli, tiny_data: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    assert run_cli("train", tiny_data, "--runs-dir", runs, "--max-steps", "2", *TINY).code == 0
    run = runs / "data"
    kept = snapshot(run / "checkpoints") | {
        f"model/{k}": v for k, v in snapshot(run / "model").items()
    }
    inputs = snapshot(tiny_data)
    with pytest.warns(UserWarning, match="learning rate"):
        result = run_cli(
            "train", "--resume", run, "--max-steps", "8", "--log-every", "1",
            "--set", "optim.lr=1e30",
        )  # fmt: skip
    assert result.code == 2
    line = result.one_error_line("training diverged", "is nan at step", str(run))
    assert "nothing after step 2 was saved" in line
    assert f"unpaired train --resume {run} --set optim.lr=" in line
    now = snapshot(run / "checkpoints") | {
        f"model/{k}": v for k, v in snapshot(run / "model").items()
    }
    assert now == kept
    assert_unchanged(tiny_data, inputs)
    assert all(
        torch.isfinite(t).all() for t in load_file(run / "model" / "model.safetensors").values()
    )
    # The way out the message gives: resume at a sane rate.
    with pytest.warns(UserWarning, match="learning rate 0.0002 -> 0.0001"):
        again = run_cli(
            "train",
            "--resume",
            run,
            "--max-steps",
            "4",
            "--log-every",
            "1",
            "--set",
            "optim.lr=1e-4",
        )
    assert again.code == 0, again.err
    state = checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert state["position"]["step"] == 4 and state["config"]["optim"]["lr"] == 1e-4
    assert state["optimizers"]["g"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    records = step_records(run)
    assert [r["step"] for r in records] == [2, 3, 4]
    assert all(r["lr"] == pytest.approx(1e-4) for r in records[1:])


def test_divergence_before_the_first_save(run_cli, tiny_data: Path, tmp_path: Path) -> None:
    # Found at the save (logging only every 100 steps): the check before every save.
    runs = tmp_path / "runs"
    result = run_cli(
        "train", tiny_data, "--runs-dir", runs, "--max-steps", "6", *TINY,
        "--set", "optim.lr=1e30", "--set", "latest_every=3",
    )  # fmt: skip
    assert result.code == 2
    run = runs / "data"
    line = result.one_error_line("training diverged", "at step 3", "no checkpoint")
    assert f"unpaired train --resume {run} --restart --set optim.lr=" in line
    assert not (run / "checkpoints" / "latest.pt").exists() and not (run / "model").exists()
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["event"] == "diverged"
    done = run_cli("train", "--resume", run, "--restart", "--set", "optim.lr=2e-4")
    assert done.code == 0, done.err
    assert step_of(run / "checkpoints" / "latest.pt") == 6


def test_flipped_byte_in_the_checkpoint_is_one_line(run_cli, tiny_data: Path, tmp_path: Path):
    runs = tmp_path / "runs"
    assert run_cli("train", tiny_data, "--runs-dir", runs, "--max-steps", "2", *TINY).code == 0
    latest = runs / "data" / "checkpoints" / "latest.pt"
    data = bytearray(latest.read_bytes())
    data[len(data) // 2] ^= 0x01  # the middle of the file: an optimizer moment or a weight
    latest.write_bytes(bytes(data))
    before = snapshot(runs / "data")
    result = run_cli("train", "--resume", runs / "data", "--max-steps", "4")
    assert result.code == 2
    result.one_error_line(str(latest), "corrupted", "checksum")
    assert_unchanged(runs / "data", before)


def test_sigkill_during_checkpoint_writes_then_exact_resume(tiny_data: Path, tmp_path: Path):
    # A checkpoint every step, killed at a random moment: the resumed run logs exactly what an
    # uninterrupted run logs, and no temporary file is left behind.
    opts = [*TINY, "--log-every", "1", "--epochs", "4", "--epochs-decay", "1"]
    opts += ["--set", "latest_every=1", "--set", "cyclegan.pool_size=3"]
    steps = "14"
    from unpaired import cli

    full = ["train", str(tiny_data), "--runs-dir", str(tmp_path / "full"), "--max-steps", steps]
    assert cli.main([*full, *opts]) == 0
    reference = step_records(tmp_path / "full" / "data")
    runs = tmp_path / "runs"
    run = runs / "data"
    argv = [sys.executable, "-m", "unpaired", "train", str(tiny_data), "--runs-dir", str(runs)]
    child = subprocess.Popen(
        [*argv, "--max-steps", "400", *opts],
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seed = random.randrange(1 << 30)
    delay = random.Random(seed).uniform(0.0, 0.4)
    try:
        deadline = time.monotonic() + 90
        while not (run / "checkpoints" / "latest.pt").exists():
            assert child.poll() is None and time.monotonic() < deadline, f"seed {seed}"
            time.sleep(0.02)
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    killed_at = step_of(run / "checkpoints" / "latest.pt")  # a complete checkpoint, always
    if killed_at >= int(steps):
        pytest.skip(f"the kill came after step {steps} (seed {seed})")
    assert cli.main(["train", "--resume", str(run), "--max-steps", steps]) == 0, f"seed {seed}"
    assert step_records(run) == reference, f"seed {seed}, killed at step {killed_at}"
    assert temporaries(run) == []
