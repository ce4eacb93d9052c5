"""End-to-end training through the CLI, in-process: run folder, exact resume, interrupts, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from unpaired import cli, fs, load_pretrained
from unpaired.recipes import cyclegan as cyclegan_recipe
from unpaired.training import checkpoint

from conftest import TINY, make_images, sigterm_after

RESUME_OPTS = TINY + [
    "--log-every",
    "1",
    "--epochs",
    "1",
    "--epochs-decay",
    "1",
    "--set",
    "cyclegan.pool_size=3",
    "--set",
    "cyclegan.use_dropout=true",
]


def steps(run_dir: Path) -> list[dict]:
    """The step records of metrics.jsonl without the wall-clock fields."""
    out = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "event" in record:
            continue
        record.pop("time")
        record.pop("sec_per_step")
        out.append(record)
    return out


def train(*args: str) -> int:
    return cli.main(["train", *args])


def test_two_step_run_writes_the_run_folder(tiny_data: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert (
        train(
            str(tiny_data),
            "--runs-dir",
            str(runs),
            "--max-steps",
            "2",
            *TINY,
            "--log-every",
            "1",
            "--sample-every",
            "1",
        )
        == 0
    )
    run = runs / "data"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["data"]["image_size"] == 32 and config["cyclegan"]["lambda_identity"] == 0.5
    assert config["optim"]["lr"] == 2e-4  # defaults are written too
    records = steps(run)
    assert [r["step"] for r in records] == [1, 2]
    keys = {
        "step",
        "epoch",
        "lr",
        "D_A",
        "G_A",
        "cycle_A",
        "idt_A",
        "D_B",
        "G_B",
        "cycle_B",
        "idt_B",
    }
    assert keys == set(records[0])
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_000001.png",
        "step_000002.png",
    ]
    assert (run / "checkpoints" / "latest.pt").is_file()
    assert "<svg" in (run / "report.html").read_text()
    model, info = load_pretrained(run)
    assert info["generator"] == "resnet_6blocks" and info["step"] == 2
    with torch.no_grad():
        assert model.g_ab(torch.zeros(1, 3, 32, 24)).shape == (1, 3, 32, 24)


def test_resume_continues_exactly(tiny_data: Path, tmp_path: Path) -> None:
    # 7 images in B -> 7 steps per epoch; 12 steps cross the epoch boundary and the LR decay.
    full = tmp_path / "full"
    assert train(str(tiny_data), "--runs-dir", str(full), "--max-steps", "12", *RESUME_OPTS) == 0
    reference = steps(full / "data")
    assert len(reference) == 12
    assert reference[-1]["lr"] < reference[0]["lr"]  # the linear decay did start

    parts = tmp_path / "parts"
    assert train(str(tiny_data), "--runs-dir", str(parts), "--max-steps", "5", *RESUME_OPTS) == 0
    run = parts / "data"
    assert train("--resume", str(run), "--max-steps", "7") == 0  # ends on the epoch boundary
    assert train("--resume", str(run), "--max-steps", "12", "--num-workers", "1") == 0
    assert steps(run) == reference

    state_a = checkpoint.load_checkpoint(full / "data" / "checkpoints" / "latest.pt")
    state_b = checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    for name, weights in state_a["models"].items():
        for key, value in weights.items():
            assert torch.equal(value, state_b["models"][name][key]), (name, key)


def test_sigterm_saves_and_resume_matches(
    tiny_data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    full = tmp_path / "full"
    assert train(str(tiny_data), "--runs-dir", str(full), "--max-steps", "6", *RESUME_OPTS) == 0

    real_step = sigterm_after(monkeypatch, 3)
    runs = tmp_path / "runs"
    assert train(str(tiny_data), "--runs-dir", str(runs), "--max-steps", "6", *RESUME_OPTS) == 130
    err = capsys.readouterr().err
    assert f"resume with: unpaired train --resume {runs / 'data'}" in err
    assert (
        checkpoint.load_checkpoint(runs / "data" / "checkpoints" / "latest.pt")["position"]["step"]
        == 3
    )
    monkeypatch.setattr(cyclegan_recipe, "cyclegan_step", real_step)
    assert train("--resume", str(runs / "data")) == 0
    assert steps(runs / "data") == steps(full / "data")


def test_progress_bar_mode(tiny_data: Path, tmp_path: Path, capsys) -> None:
    assert (
        train(
            str(tiny_data),
            "--runs-dir",
            str(tmp_path / "r"),
            "--max-steps",
            "3",
            *TINY,
            "--progress",
            "bar",
        )
        == 0
    )
    assert "3/3" in capsys.readouterr().err  # tqdm's counter


def test_crash_during_checkpoint_write_keeps_previous(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "latest.pt"
    checkpoint.save_checkpoint(path, {"position": {"step": 1}, "w": torch.ones(3)})

    def broken_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", broken_save)
    with pytest.raises(OSError):
        checkpoint.save_checkpoint(path, {"position": {"step": 2}, "w": torch.zeros(3)})
    monkeypatch.undo()
    state = checkpoint.load_checkpoint(path)
    assert state["position"]["step"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]  # no temporary left behind
    assert path.stat().st_mode & 0o777 == 0o666 & ~fs._umask()


def test_truncated_checkpoint_is_a_clear_error(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "latest.pt").write_bytes(b"garbage")
    assert train("--resume", str(run)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: checkpoint") and "latest.pt" in err and "\n" not in err


def test_checkpoint_of_another_layout_is_a_clear_error(
    tiny_data: Path, tmp_path: Path, capsys
) -> None:
    runs = tmp_path / "runs"
    assert train(str(tiny_data), "--runs-dir", str(runs), "--max-steps", "1", *TINY) == 0
    path = runs / "data" / "checkpoints" / "latest.pt"
    state = checkpoint.load_checkpoint(path)
    del state["pools"]
    checkpoint.save_checkpoint(path, state)
    capsys.readouterr()
    assert train("--resume", str(runs / "data")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: checkpoint") and "\n" not in err


def test_unreadable_file_is_named_once_and_skipped(
    tiny_data: Path, tmp_path: Path, recwarn
) -> None:
    (tiny_data / "trainA" / "broken.png").write_bytes(b"this is not a png")
    assert train(str(tiny_data), "--runs-dir", str(tmp_path / "r"), "--max-steps", "4", *TINY) == 0
    named = [w for w in recwarn if "broken.png" in str(w.message)]
    assert len(named) == 1


def test_empty_domain_is_an_error(tiny_data: Path, tmp_path: Path, capsys) -> None:
    for p in (tiny_data / "trainB").iterdir():
        p.unlink()
    assert train(str(tiny_data), "--runs-dir", str(tmp_path / "r"), *TINY) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "trainB" in err and "\n" not in err


def test_image_smaller_than_crop_names_the_file(tiny_data: Path, tmp_path: Path, capsys) -> None:
    make_images(tiny_data / "trainA", 1, size=(20, 50), seed=9)  # "img 000.png" replaced: 8 wide
    assert (
        train(str(tiny_data), "--runs-dir", str(tmp_path / "r"), *TINY, "--preprocess", "crop") == 2
    )
    err = capsys.readouterr().err
    assert "img 000.png" in err and "crop" in err


def test_existing_run_is_not_overwritten(tiny_data: Path, tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    assert train(str(tiny_data), "--runs-dir", str(runs), "--max-steps", "1", *TINY) == 0
    before = (runs / "data" / "metrics.jsonl").read_bytes()
    assert train(str(tiny_data), "--runs-dir", str(runs), "--name", "data", *TINY) == 2
    assert "already exists" in capsys.readouterr().err
    assert (runs / "data" / "metrics.jsonl").read_bytes() == before
    # without --name a fresh folder is chosen instead
    assert train(str(tiny_data), "--runs-dir", str(runs), "--max-steps", "1", *TINY) == 0
    assert (runs / "data-2" / "model" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "cyclegan.lamda_a=1"], "did you mean cyclegan.lambda_a"),
        (["--channels-a", "1"], "lambda_identity"),
        (["--image-size", "30"], "multiple of 4"),
        (["--set", "cyclegan.generator=resnet_7"], "resnet_9blocks"),
        (["--batch-size", "0"], "batch_size"),
    ],
)
def test_bad_options_give_one_line(tiny_data: Path, tmp_path: Path, capsys, args, needle) -> None:
    assert train(str(tiny_data), "--runs-dir", str(tmp_path / "r"), *TINY, *args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_unavailable_device_makes_no_run_folder(tiny_data: Path, tmp_path: Path, capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    runs = tmp_path / "runs"
    assert train(str(tiny_data), "--runs-dir", str(runs), "--device", "cuda", *TINY) == 2
    assert "option device" in capsys.readouterr().err
    assert not (runs / "data").exists()


def test_missing_data_folder(tmp_path: Path, capsys) -> None:
    assert train(str(tmp_path / "nope"), "--runs-dir", str(tmp_path / "r")) == 2
    assert "nope" in capsys.readouterr().err


def test_two_folders_by_flag(tiny_data: Path, tmp_path: Path, capsys) -> None:
    a, b = tiny_data / "trainA", tiny_data / "trainB"
    assert train("--a", str(a), "--b", str(tmp_path / "missing"), *TINY) == 2
    assert "--b" in capsys.readouterr().err
    assert train("--a", str(a), *TINY, "--runs-dir", str(tmp_path / "r")) == 2
    assert "give both" in capsys.readouterr().err
    assert (
        train(
            "--a",
            str(a),
            "--b",
            str(b),
            "--runs-dir",
            str(tmp_path / "r"),
            "--max-steps",
            "1",
            *TINY,
        )
        == 0
    )
    config = yaml.safe_load((tmp_path / "r" / "trainA2trainB" / "config.yaml").read_text())
    assert config["data"]["dir_a"] == str(a.resolve())  # absolute: resume from anywhere


def test_resume_refuses_changes_that_break_exactness(
    tiny_data: Path, tmp_path: Path, capsys
) -> None:
    runs = tmp_path / "runs"
    assert train(str(tiny_data), "--runs-dir", str(runs), "--max-steps", "1", *TINY) == 0
    assert train("--resume", str(runs / "data"), "--image-size", "64") == 2
    assert "cannot change when resuming" in capsys.readouterr().err
    # An option the checkpoint leaves out at its default: giving that default is no change,
    # another value is.
    assert train("--resume", str(runs / "data"), "--context-slices", "1") == 2
    assert "option data.context_slices: cannot change" in capsys.readouterr().err
    assert train("--resume", str(runs / "data"), "--context-slices", "0", "--max-steps", "2") == 0


def test_grayscale_to_rgb_without_identity(tmp_path: Path) -> None:
    root = tmp_path / "gray"
    make_images(root / "trainA", 3, mode="L")
    make_images(root / "trainB", 3, seed=5)
    assert (
        train(
            str(root),
            "--runs-dir",
            str(tmp_path / "r"),
            "--max-steps",
            "2",
            *TINY,
            "--channels-a",
            "1",
            "--set",
            "cyclegan.lambda_identity=0",
        )
        == 0
    )
    model, info = load_pretrained(tmp_path / "r" / "gray")
    assert info["channels_a"] == 1
    with torch.no_grad():
        assert model.g_ab(torch.zeros(1, 1, 16, 16)).shape == (1, 3, 16, 16)


def test_dry_run_prints_config_and_writes_nothing(tiny_data: Path, tmp_path: Path, capsys) -> None:
    assert (
        train(
            str(tiny_data),
            "--runs-dir",
            str(tmp_path / "r"),
            "--dry-run",
            "--image-size",
            "128",
            "--load-size",
            "143",
        )
        == 0
    )
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["image_size"] == 128 and printed["data"]["load_size"] == 143
    assert printed["cyclegan"]["generator"] == "resnet_9blocks"
    assert not (tmp_path / "r").exists()


def test_epoch_checkpoint_is_a_copy_of_latest(tiny_data: Path, tmp_path: Path) -> None:
    """The epoch copy is latest.pt as written at the epoch's end: it loads (checksum
    verified) at that step, with the weights the final latest.pt has too."""
    runs = tmp_path / "runs"
    argv = [str(tiny_data), "--runs-dir", str(runs), "--max-steps", "7", *TINY]
    assert train(*argv, "--set", "checkpoint_every=1") == 0  # 7 steps: one epoch
    ckpt = runs / "data" / "checkpoints"
    copy = checkpoint.load_checkpoint(ckpt / "epoch_0001.pt")
    latest = checkpoint.load_checkpoint(ckpt / "latest.pt")
    assert copy["position"] == latest["position"] == {"step": 7, "epoch": 1, "batch": 0}
    for name, weights in latest["models"].items():
        for key, value in weights.items():
            assert torch.equal(value, copy["models"][name][key]), (name, key)
