"""``torchrun --max-restarts``: a worker dies after the first checkpoint; the restarted
worker group runs the same command, finds the run folder of the first attempt and continues
from its checkpoint to the end, exactly.

The fault is injected from outside the package: a ``sitecustomize.py`` on ``PYTHONPATH``
(written by this test) makes rank 1 of the first attempt SIGKILL itself after a save.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_training_support import TINY, make_images_like, step_of

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch built without distributed"
)

KILL_AFTER_STEP = 2
SITECUSTOMIZE = f"""
import os
if os.environ.get("RANK") == "1" and os.environ.get("TORCHELASTIC_RESTART_COUNT") == "0":
    import signal
    from unpaired.training import loop

    _save = loop.Run.save

    def save(self, *args, **kwargs):
        _save(self, *args, **kwargs)
        if self.pos.step >= {KILL_AFTER_STEP}:
            os.kill(os.getpid(), signal.SIGKILL)

    loop.Run.save = save
"""


def records(run: Path) -> tuple[list[dict], list[str]]:
    steps, events = [], []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "event" in record:
            events.append(record["event"])
        else:
            steps.append({k: v for k, v in record.items() if k not in ("time", "sec_per_step")})
    return steps, events


@pytest.mark.parametrize("named", [False, True], ids=["default-name", "--name"])
def test_torchrun_restart_continues_from_the_checkpoint(tmp_path: Path, named: bool) -> None:
    data = make_images_like(tmp_path / "data", per_domain=6)  # 3 steps per epoch at 2 ranks
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    runs = tmp_path / "runs"
    (runs / "data").mkdir(parents=True)  # an older run: the default name becomes data-2
    (runs / "data" / "config.yaml").write_text("name: data\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["--max-restarts=3", "--monitor-interval=0.2", "-m", "unpaired", "train", str(data)]
    cmd += ["--runs-dir", str(runs), "--max-steps", "6", *TINY, "--log-every", "1"]
    cmd += ["--epochs", "1", "--epochs-decay", "1", "--set", "latest_every=2"]
    if named:
        cmd += ["--name", "x"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    run = runs / ("x" if named else "data-2")
    assert "torchrun restart: resuming" in done.stdout, done.stdout[-2000:]
    assert sorted(p.name for p in runs.iterdir()) == sorted(["data", run.name])
    steps, events = records(run)
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]
    assert events[0] == "start" and "resume" in events and events[-1] == "end"
    assert step_of(run / "checkpoints" / "latest.pt") == 6
