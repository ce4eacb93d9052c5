"""Two processes with gloo on the CPU, launched exactly as the README says:
``torchrun --standalone --nproc_per_node=2 -m unpaired train ...``.

(a) after 3 steps the ranks hold bit-identical weights; (b) 2 ranks at batch 1 match one
process at batch 2 over the same images; (c) a 2-rank run resumed mid-epoch continues exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from unpaired import cli
from unpaired.training import checkpoint
from unpaired.training.loop import weights_digest

from conftest import TINY, make_images, records

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch built without distributed"
)


@pytest.fixture
def even_data(tmp_path: Path) -> Path:
    """6 images per domain: 3 steps per epoch at 2 ranks x batch 1 and at 1 process x batch 2."""
    root = tmp_path / "data"
    make_images(root / "trainA", 6, seed=1)
    make_images(root / "trainB", 6, seed=2)
    make_images(root / "testA", 2, seed=3)
    return root


def torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 -m unpaired train ARGS`` (2 threads in all)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={nproc}", "-m", "unpaired", "train", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def latest(run_dir: Path) -> dict:
    return checkpoint.load_checkpoint(run_dir / "checkpoints" / "latest.pt")


OPTS = [*TINY, "--log-every", "1", "--epochs", "1", "--epochs-decay", "1"]
RESUME = [*OPTS, "--set", "cyclegan.pool_size=3", "--set", "cyclegan.use_dropout=true"]


def test_ranks_identical_and_resume_exact(even_data: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    done = torchrun(str(even_data), "--runs-dir", str(full), "--max-steps", "5", *RESUME)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("done:") == 1  # rank 0 alone reports
    run = full / "data"
    reference = records(run)
    assert [r["step"] for r in reference] == [1, 2, 3, 4, 5]
    state = latest(run)
    assert state["world_size"] == 2 and len(state["other_ranks"]) == 1
    # (a) every rank's weights hash to the same digest, the one of the saved weights
    from unpaired.models.cyclegan import CycleGAN, build_cyclegan

    model: CycleGAN = build_cyclegan(generator="resnet_6blocks", ngf=4, ndf=4, use_dropout=True)
    for name, sd in state["models"].items():
        getattr(model, name).load_state_dict(sd)
    digests = {state["weights_sha256"], state["other_ranks"][0]["weights_sha256"]}
    assert digests == {weights_digest(model)}
    # the ranks kept their own pools (different draws, different contents)
    pool_0 = state["pools"]["a"]["images"]
    pool_1 = state["other_ranks"][0]["pools"]["a"]["images"]
    assert len(pool_0) == len(pool_1) == 3
    assert not all(torch.equal(x, y) for x, y in zip(pool_0, pool_1, strict=True))

    # (c) 2 steps, then resume to 5 (mid-epoch, across the epoch boundary), still 2 ranks
    parts = tmp_path / "parts"
    first = torchrun(str(even_data), "--runs-dir", str(parts), "--max-steps", "2", *RESUME)
    assert first.returncode == 0, first.stderr[-3000:]
    again = torchrun("--resume", str(parts / "data"), "--max-steps", "5")
    assert again.returncode == 0, again.stderr[-3000:]
    assert records(parts / "data") == reference
    resumed = latest(parts / "data")
    for name, weights in state["models"].items():
        for key, value in weights.items():
            assert torch.equal(value, resumed["models"][name][key]), (name, key)


def test_two_ranks_match_one_process_at_double_batch(even_data: Path, tmp_path: Path) -> None:
    # No pool and no dropout: then per-rank batch 1 x 2 ranks is the same math as batch 2
    # (instance norm is per sample; DDP averages the two ranks' gradients).
    opts = [*OPTS, "--set", "cyclegan.pool_size=0"]
    two, one = tmp_path / "two" / "data", tmp_path / "one" / "data"
    done = torchrun(str(even_data), "--runs-dir", str(two.parent), "--max-steps", "1", *opts)
    assert done.returncode == 0, done.stderr[-3000:]
    args = [str(even_data), "--runs-dir", str(one.parent), "--batch-size", "2", *opts]
    assert cli.main(["train", *args, "--max-steps", "1"]) == 0
    # After one Adam step, exp_avg = (1 - beta1) * gradient: the averaged gradients of the
    # 2 ranks equal the batch-2 gradient, tensor by tensor, within fp32 accuracy. That accuracy
    # is set by the batch-1 gradients: against a float64 reference, the fp32 gradient of a
    # batch of 2 is off by 5e-6 but each batch-1 gradient by 1e-3 (measured on these images),
    # hence 5e-3. The conv biases before instance norm have a true gradient of 0 and hold
    # rounding noise only, hence the small absolute term.
    for key in ("g", "d"):
        ga = latest(two)["optimizers"][key]["state"]
        gb = latest(one)["optimizers"][key]["state"]
        assert ga.keys() == gb.keys()
        total = torch.cat([v["exp_avg"].flatten() for v in gb.values()]).norm()
        for index in gb:
            a, b = ga[index]["exp_avg"], gb[index]["exp_avg"]
            assert (a - b).norm() <= 5e-3 * b.norm() + 1e-6 * total, (key, index)
    # The losses of the next steps stay together. Not exactly: Adam's first steps move each
    # weight by about lr * sign(gradient), so rounding noise in a near-zero gradient flips a
    # few signs, and those differences grow (measured: 4e-7 at step 1, 1e-3 at step 2, 3e-3 at
    # step 3).
    done = torchrun("--resume", str(two), "--max-steps", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    assert cli.main(["train", "--resume", str(one), "--max-steps", "3"]) == 0
    got, want = records(two), records(one)
    assert [r["step"] for r in got] == [r["step"] for r in want] == [1, 2, 3]
    for g, w, rel in zip(got, want, (1e-5, 1e-2, 1e-2), strict=True):
        for key in ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"):
            assert g[key] == pytest.approx(w[key], rel=rel), (g["step"], key)


def test_user_error_is_one_line_from_rank_0(tmp_path: Path) -> None:
    done = torchrun(str(tmp_path / "missing"), "--runs-dir", str(tmp_path / "runs"), *TINY)
    assert done.returncode != 0
    assert done.stderr.count(f"error: DATA {tmp_path / 'missing'}: no such folder") == 1
    assert not (tmp_path / "runs").exists()
