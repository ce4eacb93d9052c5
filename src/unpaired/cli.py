"""Command line: ``unpaired train``; each subcommand is a thin wrapper over a library function.

User mistakes (bad options, missing folders, unreadable files) end with one ``error:`` line and
exit status 2; an interrupted training run exits with 130 after saying how to resume.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from . import __version__
from . import config as cfg

# flag -> dotted config key; every flag defaults to None so that only flags the user typed
# override the config file (and, on --resume, the saved run).
FLAG_KEYS = {
    "name": "name",
    "runs_dir": "runs_dir",
    "image_size": "data.image_size",
    "load_size": "data.load_size",
    "preprocess": "data.preprocess",
    "channels_a": "data.channels_a",
    "channels_b": "data.channels_b",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "epochs_decay": "epochs_decay",
    "max_steps": "max_steps",
    "seed": "seed",
    "device": "device",
    "num_workers": "num_workers",
    "log_every": "log_every",
    "sample_every": "sample_every",
    "checkpoint_every": "checkpoint_every",
}


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train CycleGAN on two folders of unpaired images (or the built-in demo domains)",
        description="Train CycleGAN. DATA is a folder with trainA/ and trainB/ (testA/, testB/ "
        "give the sample images when present); without DATA or --a/--b the embedded demo "
        "domains are generated and used.",
    )
    p.add_argument("data", nargs="?", metavar="DATA", help="folder with trainA/ and trainB/")
    p.add_argument("--a", dest="dir_a", metavar="DIR", help="folder of domain A images")
    p.add_argument("--b", dest="dir_b", metavar="DIR", help="folder of domain B images")
    p.add_argument("--config", metavar="FILE", help="YAML file of options")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any option, e.g. --set cyclegan.lambda_identity=0 (repeatable)",
    )
    p.add_argument("--resume", metavar="RUN", help="continue the run in this run folder")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--name", help="run name (folder under --runs-dir)")
    p.add_argument("--runs-dir", help="where run folders go (default: runs)")
    p.add_argument("--image-size", type=int, help="training crop size (default 256)")
    p.add_argument("--load-size", type=int, help="size images are resized to before cropping")
    p.add_argument(
        "--preprocess", help="resize_and_crop | crop | scale_width | scale_width_and_crop | none"
    )
    p.add_argument("--channels-a", type=int, help="1 or 3 channels in domain A")
    p.add_argument("--channels-b", type=int, help="1 or 3 channels in domain B")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int, help="epochs at the initial learning rate")
    p.add_argument("--epochs-decay", type=int, help="epochs of linear decay to zero")
    p.add_argument("--max-steps", type=int, help="stop after this many steps in total")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto | cpu | cuda")
    p.add_argument("--num-workers", type=int, help="data loading processes")
    p.add_argument("--log-every", type=int, help="steps between metrics.jsonl lines")
    p.add_argument("--sample-every", type=int, help="steps between sample grids")
    p.add_argument("--checkpoint-every", type=int, help="epochs between kept checkpoints")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines"),
        default="auto",
        help="progress bar (bar), periodic log lines (lines), or bar on a terminal",
    )
    p.set_defaults(func=_train)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line, as a nested mapping (flags, then --set)."""
    layer: dict[str, Any] = {}
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag)
        if value is not None:
            layer = cfg.merge(layer, cfg.nested(key, value))
    if args.data is not None:
        layer = cfg.merge(layer, {"data": {"root": args.data}})
    if args.dir_a is not None or args.dir_b is not None:
        layer = cfg.merge(layer, {"data": {"dir_a": args.dir_a, "dir_b": args.dir_b}})
    for text in args.overrides:
        layer = cfg.merge(layer, cfg.parse_override(text))
    return layer


def _default_name(layer: dict[str, Any], runs_dir: Path) -> str:
    """demo / the DATA folder's name / <a>2<b>, with -2, -3... so nothing is overwritten."""
    data = layer.get("data", {})
    if data.get("root"):
        base = Path(data["root"]).resolve().name
    elif data.get("dir_a") and data.get("dir_b"):
        base = f"{Path(data['dir_a']).resolve().name}2{Path(data['dir_b']).resolve().name}"
    else:
        base = "demo"
    name, n = base, 1
    while (runs_dir / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _new_config(args: argparse.Namespace) -> cfg.TrainConfig:
    file_layer = cfg.load_yaml(args.config) if args.config else {}
    user = cfg.merge(file_layer, _overrides(args))
    data = user.get("data", {})
    is_demo = not (data.get("root") or data.get("dir_a") or data.get("dir_b"))
    layers = [cfg.DEMO_PRESET, user] if is_demo else [user]
    config = cfg.build_config(*layers)
    if "name" not in user:
        name = _default_name(user, Path(config.runs_dir))
        config = cfg.build_config(*layers, {"name": name})
    if config.data.root is not None:
        root = Path(config.data.root)
        if not root.is_dir():
            raise cfg.ConfigError(f"DATA {root}: no such folder")
    return config


def _check_folders(config: cfg.TrainConfig) -> None:
    for key in ("dir_a", "dir_b"):
        value = getattr(config.data, key)
        if value is not None and not Path(value).is_dir():
            raise cfg.ConfigError(f"--{key[-1]} {value}: no such folder")


def _train(args: argparse.Namespace) -> int:
    from .training.loop import TrainingInterrupted, resume_config, train

    if args.resume:
        if args.data or args.dir_a or args.dir_b or args.config:
            raise cfg.ConfigError(
                "--resume RUN: the run's data and config come from its checkpoint"
            )
        run_dir = Path(args.resume)
        config, state = resume_config(run_dir, _overrides(args))
    else:
        config, state, run_dir = _new_config(args), None, None
        _check_folders(config)
    if args.dry_run:
        print(cfg.dump_yaml(config), end="")
        return 0
    progress = {"auto": None, "bar": True, "lines": False}[args.progress]
    try:
        out = train(config, run_dir=run_dir, resume=state, progress=progress)
    except TrainingInterrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    print(f"done: {out} (samples in {out / 'samples'}, model in {out / 'model'})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unpaired", description="Unpaired image-to-image translation (CycleGAN)."
    )
    parser.add_argument("--version", action="version", version=f"unpaired {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from .data.folders import DataError
    from .data.images import ImageReadError
    from .pretrained import ModelLoadError
    from .training.checkpoint import CheckpointError

    return (cfg.ConfigError, DataError, ImageReadError, ModelLoadError, CheckpointError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``unpaired`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    try:
        return args.func(args)
    except _user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
