"""Write the fixtures of tests/test_compat.py with the OLD code (see README.txt).

Run from the repository root with PYTHONPATH pointing at the src/ of a checkout of the commit
that is to write them, e.g.::

    PYTHONPATH=/tmp/before/src OMP_NUM_THREADS=1 .venv/bin/python \\
        tests/data/compat_v0_1/write_fixtures.py --work /tmp/compat_work/write

For each family it trains, in WORK/<family>/ (data/ drawn by tests/test_compat.py's
make_compat_data), the run stopped after K steps (runs/<family>) and the same run without a
break to N steps (full/<family>), checks that the old code itself resumes the K-step run to
exactly the N-step one, translates the test image with the K-step model, and copies what the
test needs next to this script. The runs are started through ``unpaired.train`` (the public
API) rather than the CLI only so that the checkpoints record the data folder as the relative
path ``data``: the CLI would record its absolute path on this machine. The config is checked
to be the CLI's otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for test_compat's images and options

from test_compat import (  # noqa: E402
    FAMILIES,
    FLAGS,
    STYLE_SEED,
    STYLES,
    TEST_IMAGE,
    K,
    N,
    make_compat_data,
    step_records,
)

import unpaired  # noqa: E402
from unpaired import cli  # noqa: E402
from unpaired import config as cfg  # noqa: E402
from unpaired.cli import train as cli_train  # noqa: E402


def config_for(family: str, runs_dir: str, max_steps: int) -> cfg.TrainConfig:
    """The CLI's config for ``unpaired train data --runs-dir RUNS_DIR --name FAMILY
    --max-steps MAX_STEPS FLAGS``, except that data.root stays the relative path "data"."""
    argv = ["train", "data", "--runs-dir", runs_dir, "--name", family]
    args = cli.build_parser().parse_args([*argv, "--max-steps", str(max_steps), *FLAGS[family]])
    config = cfg.build_config(cli_train._overrides(args))
    ours, theirs = cfg.to_dict(config), cfg.to_dict(cli_train._new_config(args))
    assert ours["data"]["root"] == "data"
    assert theirs["data"]["root"] == str(Path("data").resolve())
    ours["data"]["root"] = theirs["data"]["root"]
    assert ours == theirs, "the API config differs from the CLI's"
    return config


def write_family(family: str, work: Path, out: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.chdir(work)
    make_compat_data(Path("data"))
    run = unpaired.train(config_for(family, "runs", K), progress=False)
    full = unpaired.train(config_for(family, "full", N), progress=False)
    assert [r["step"] for r in step_records(full / "metrics.jsonl")] == list(range(1, N + 1))

    translated = Path("translated")
    argv = ["translate", str(run / "model"), "-i", f"data/{TEST_IMAGE}", "-o", str(translated)]
    argv += ["--device", "cpu", "--progress", "lines"]
    if family == "munit":
        argv += ["--styles", str(STYLES), "--seed", str(STYLE_SEED)]
    assert cli.main(argv) == 0

    # The old code's own exact resume, on this machine: a copy of the K-step run resumed to N
    # logs the N-step run's losses and ends with its weights, bit for bit.
    check = shutil.copytree(run, Path("check") / family)
    assert cli.main(["train", "--resume", str(check), "--max-steps", str(N)]) == 0
    assert step_records(check / "metrics.jsonl") == step_records(full / "metrics.jsonl")
    a, b = (
        load_file(check / "model" / "model.safetensors"),
        load_file(full / "model" / "model.safetensors"),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    dest = out / family
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "run" / "checkpoints").mkdir(parents=True)
    for name in ("config.yaml", "metrics.jsonl"):
        shutil.copy2(run / name, dest / "run" / name)
    shutil.copytree(run / "model", dest / "run" / "model")
    packed = gzip.compress((run / "checkpoints" / "latest.pt").read_bytes(), 9, mtime=0)
    (dest / "run" / "checkpoints" / "latest.pt.gz").write_bytes(packed)
    shutil.copy2(full / "metrics.jsonl", dest / "uninterrupted_metrics.jsonl")
    shutil.copytree(translated, dest / "translated")
    print(f"{family}: wrote {dest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder")
    parser.add_argument("--out", type=Path, default=HERE, help="fixture folder (default: here)")
    args = parser.parse_args()
    work, out = args.work.resolve(), args.out.resolve()
    print(f"unpaired {unpaired.__version__} from {unpaired.__file__}")
    old_src = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0]
    assert old_src and unpaired.__file__.startswith(str(Path(old_src).resolve())), (
        "run with PYTHONPATH=<old checkout>/src"
    )
    torch.set_num_threads(1)
    for family in FAMILIES:
        write_family(family, work / family, out)
    sizes = {
        str(p.relative_to(out)): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()
    }
    print(json.dumps(sizes, indent=1), sum(sizes.values()))


if __name__ == "__main__":
    main()
