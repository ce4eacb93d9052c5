"""``unpaired train``: options to config, run name, resume, and torchrun."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .. import config as cfg

# flag -> dotted config key; every flag defaults to None so that only flags the user typed
# override the config file (and, on --resume, the saved run).
FLAG_KEYS = {
    "name": "name",
    "runs_dir": "runs_dir",
    "model": "model",
    "preset": "preset",
    "image_size": "data.image_size",
    "load_size": "data.load_size",
    "preprocess": "data.preprocess",
    "channels_a": "data.channels_a",
    "channels_b": "data.channels_b",
    "window_a": "data.window_a",
    "window_b": "data.window_b",
    "axis": "data.axis",
    "context_slices": "data.context_slices",
    "spacing": "data.spacing",
    "series": "data.series",
    "cache_decoded": "data.cache_decoded",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "epochs_decay": "epochs_decay",
    "max_steps": "max_steps",
    "time_budget": "time_budget",
    "seed": "seed",
    "device": "device",
    "num_workers": "num_workers",
    "log_every": "log_every",
    "sample_every": "sample_every",
    "checkpoint_every": "checkpoint_every",
    "precision": "precision",
    "eval_every": "eval_every",
    "keep_best": "keep_best",
    "keep_best_by": "keep_best_by",
    "ema": "ema",
    "tensorboard": "tensorboard",
    "wandb": "wandb",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train CycleGAN or MUNIT on two folders of unpaired images (or the built-in demo)",
        description="Train CycleGAN (or MUNIT with --model munit). DATA is a folder with "
        "trainA/ and trainB/ (testA/, testB/ give the sample images when present); without DATA "
        "or --a/--b the embedded demo domains are generated and used. Several GPUs or machines: "
        "torchrun --nproc_per_node=N -m unpaired train ... (--batch-size is per process).",
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
    p.add_argument(
        "--restart",
        action="store_true",
        help="start over in an existing run folder that has no checkpoint (a run that stopped "
        "before its first save): --resume RUN --restart starts it from its config.yaml, "
        "--name NAME --restart with the options given; a folder with a checkpoint is never "
        "cleared",
    )
    p.add_argument(
        "--allow-data-change",
        action="store_true",
        help="resume although the training images changed since the checkpoint (files added, "
        "removed or replaced): the run goes on, no longer exactly as it would have",
    )
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--name", help="run name (folder under --runs-dir)")
    p.add_argument("--runs-dir", help="where run folders go (default: runs)")
    p.add_argument(
        "--model",
        help="model family: cyclegan (default) | munit (multimodal: several styles per input) "
        "| any registered recipe",
    )
    p.add_argument(
        "--preset",
        metavar="NAME",
        help="a named set of options under yours: official (the defaults) | quick (CycleGAN: "
        "the best translations a CPU or a small GPU gives in a time budget, 1h unless "
        "--time-budget, --max-steps or --epochs says otherwise)",
    )
    p.add_argument("--image-size", type=int, help="training crop size (default 256)")
    p.add_argument("--load-size", type=int, help="size images are resized to before cropping")
    p.add_argument(
        "--preprocess", help="resize_and_crop | crop | scale_width | scale_width_and_crop | none"
    )
    p.add_argument("--channels-a", type=int, help="1 or 3 channels in domain A")
    p.add_argument("--channels-b", type=int, help="1 or 3 channels in domain B")
    for side in ("a", "b"):
        p.add_argument(
            f"--window-{side}",
            metavar="LO,HI|PRESET",
            help=f"intensity window of domain {side.upper()} for CT/MRI, in HU: e.g. -160,240, "
            "or soft_tissue | lung | bone | brain",
        )
    p.add_argument(
        "--axis", help="slice volumes along: axial (default) | coronal | sagittal | 0 | 1 | 2"
    )
    p.add_argument(
        "--context-slices",
        type=int,
        metavar="K",
        help="2.5D: feed each slice of a volume with its K neighbours on each side as extra "
        "channels (edges replicate); translation keeps the centre slice (default 0: 2-D)",
    )
    p.add_argument(
        "--spacing",
        metavar="X,Y,Z",
        help="resample volumes on read to this voxel size in mm, e.g. 1,1,2.5 (linear; the "
        "model records it and translation resamples back onto each input's grid)",
    )
    p.add_argument(
        "--series",
        metavar="UID",
        help="DICOM: the SeriesInstanceUID to read in a folder holding several series "
        "(comma-separated for several folders)",
    )
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int, help="epochs at the initial learning rate")
    p.add_argument("--epochs-decay", type=int, help="epochs of linear decay to zero")
    p.add_argument("--max-steps", type=int, help="stop after this many steps in total")
    p.add_argument(
        "--time-budget",
        metavar="DURATION",
        help="train for about this long (45m, 2h, 1h30m, 90s): the run measures its speed, "
        "plans its steps and decays the LR to zero within the budget (instead of the epochs)",
    )
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto | cpu | cuda")
    p.add_argument("--num-workers", type=int, help="data loading processes")
    p.add_argument(
        "--cache-decoded",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="decode the training images once, at load size, into a memory-mapped cache "
        "($UNPAIRED_CACHE_DIR, else ~/.cache/unpaired/decoded) so the loader only crops and "
        "flips (default: on for GPU runs)",
    )
    p.add_argument("--log-every", type=int, help="steps between metrics.jsonl lines")
    p.add_argument("--sample-every", type=int, help="steps between sample grids")
    p.add_argument("--checkpoint-every", type=int, help="epochs between kept checkpoints")
    p.add_argument("--precision", help="fp32 (default) | bf16 | fp16 autocast")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines"),
        default="auto",
        help="progress bar (bar), periodic log lines (lines), or bar on a terminal",
    )
    p.add_argument(
        "--eval-every",
        type=int,
        metavar="N",
        help="FID/KID on the test images every N steps, into metrics.jsonl (metrics extra)",
    )
    p.add_argument(
        "--keep-best",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the model with the lowest mean FID in model_best/ (default: on with "
        "--eval-every)",
    )
    p.add_argument(
        "--val-paired",
        nargs=2,
        metavar=("SRC", "TGT"),
        help="paired validation with --eval-every: translate SRC (domain A) and score MAE, "
        "PSNR, SSIM against the registered targets in TGT (same relative names; volumes in HU) "
        "into metrics.jsonl",
    )
    p.add_argument(
        "--val-mask", metavar="DIR", help="score --val-paired inside these masks (nonzero)"
    )
    p.add_argument(
        "--keep-best-by",
        choices=("fid", "mae", "psnr", "ssim"),
        help="what picks model_best/: fid (default) or a --val-paired score (then FID/KID are "
        "not computed)",
    )
    p.add_argument(
        "--ema",
        type=float,
        metavar="DECAY",
        help="keep an exponential moving average of the generators' weights (e.g. 0.999, with "
        "a warm-up) and use it for samples, evaluation, model_best/ and model/ (default: off)",
    )
    p.add_argument(
        "--tensorboard",
        action="store_const",
        const=True,
        help="also log to TensorBoard in <run>/tensorboard (tensorboard extra)",
    )
    p.add_argument(
        "--wandb", action="store_const", const=True, help="also log to W&B (wandb extra)"
    )
    p.set_defaults(func=run)


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
    paired = dict(zip(("val_source", "val_target"), args.val_paired or (), strict=False))
    if args.val_mask is not None:
        paired["val_mask"] = args.val_mask
    for key, value in paired.items():
        path = Path(value)
        if not path.is_dir():
            option = "--val-mask" if key == "val_mask" else "--val-paired"
            raise cfg.ConfigError(f"{option} {path}: no such folder")
        # absolute, so --resume works from any directory
        layer = cfg.merge(layer, {key: str(path.resolve())})
    for text in args.overrides:
        layer = cfg.merge(layer, cfg.parse_override(text))
    return layer


def _base_name(layer: dict[str, Any]) -> str:
    """demo / the DATA folder's name / <a>2<b>."""
    data = layer.get("data", {})
    if data.get("root"):
        return Path(data["root"]).resolve().name or "run"
    if data.get("dir_a") and data.get("dir_b"):
        return f"{Path(data['dir_a']).resolve().name}2{Path(data['dir_b']).resolve().name}"
    return "demo"


def _default_name(layer: dict[str, Any], runs_dir: Path) -> str:
    """:func:`_base_name` with -2, -3... so nothing is overwritten (what a dry run shows; a
    real run takes its folder atomically, see rundir.claim_new)."""
    base = _base_name(layer)
    name, n = base, 1
    while (runs_dir / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _new_config(args: argparse.Namespace) -> tuple[cfg.TrainConfig, list[dict[str, Any]], str]:
    """The config of a new run, its layers, and the base of its name ("" when --name or the
    config file gave one)."""
    file_layer = cfg.load_yaml(args.config) if args.config else {}
    user = cfg.merge(file_layer, _overrides(args))
    data = user.get("data", {})
    folders = {}
    for key, label in (("root", "DATA"), ("dir_a", "--a"), ("dir_b", "--b")):
        if data.get(key):
            path = Path(data[key])
            if not path.is_dir():
                raise cfg.ConfigError(f"{label} {path}: no such folder")
            folders[key] = str(path.resolve())  # so --resume works from any directory
    from ..recipes import configure, demo_preset

    layers = [user, {"data": folders}] if folders else [demo_preset(), user]
    config = configure(*layers)
    if "name" in user:
        return config, layers, ""
    name = _default_name(user, Path(config.runs_dir))
    return configure(*layers, {"name": name}), layers, _base_name(user)


def run(args: argparse.Namespace) -> int:
    from ..training import distributed

    # Under torchrun: one process per GPU (or CPU slot); a no-op when run directly.
    where = distributed.setup()
    try:
        return _train_here(args, where)
    finally:
        distributed.teardown()


def _train_here(args: argparse.Namespace, where: Any) -> int:
    from ..training import distributed
    from ..training.loop import TrainingInterrupted, train

    if args.resume and (args.data or args.dir_a or args.dir_b or args.config):
        raise cfg.ConfigError("--resume RUN: the run's data and config come from its checkpoint")
    # Rank 0 takes the run folder (name, lock) and reads the checkpoint, then hands the result
    # to the others (their disks may not have it); its lock is held until the run ends.
    with ExitStack() as held:
        config, state, run_dir = distributed.share(lambda: _prepare(args, held), where)
        if args.dry_run:
            if where.is_main:
                print(cfg.dump_yaml(config), end="")
            return 0
        progress = {"auto": None, "bar": True, "lines": False}[args.progress]
        try:
            out = train(
                config,
                run_dir=run_dir,
                resume=state,
                progress=progress,
                locked=True,
                allow_data_change=args.allow_data_change,
            )
        except TrainingInterrupted as exc:
            if where.is_main:
                print(str(exc), file=sys.stderr)
            return 130
    if where.is_main:
        print(f"done: {out} (samples in {out / 'samples'}, model in {out / 'model'})")
    return 0


def _prepare(args: argparse.Namespace, held: ExitStack) -> tuple[Any, dict | None, Path | None]:
    """(config, checkpoint or None, run folder) on rank 0; the folder locked in ``held``
    (nothing is made or locked for a dry run)."""
    from ..recipes import configure
    from ..training import rundir
    from ..training.loop import resume_config

    if args.resume:
        run_dir = Path(args.resume)
        if args.restart:
            return _restart(args, run_dir, held)
        if not args.dry_run:
            held.enter_context(rundir.lock_existing(run_dir))
        config, state = resume_config(run_dir, _overrides(args))
        return config, state, run_dir
    config, layers, base = _new_config(args)
    if args.dry_run:
        return config, None, None
    runs_dir = Path(config.runs_dir)
    if rundir.elastic_restart():
        found = _elastic_continue(config, runs_dir, base, held)
        if found is not None:
            return found
    name, lock = rundir.claim_new(
        runs_dir, base or str(config.name), explicit=not base, restart=args.restart
    )
    held.enter_context(lock)
    if lock.created:
        rundir.mark_elastic(runs_dir / name)
    if name != config.name:
        config = configure(*layers, {"name": name})
    return config, None, runs_dir / name


def _restart(args: argparse.Namespace, run_dir: Path, held: ExitStack):
    """``--resume RUN --restart``: start a run without a checkpoint over, from step 0, with the
    options of its config.yaml (and any given now)."""
    from ..recipes import configure
    from ..training import rundir

    held.enter_context(rundir.lock_existing(run_dir))
    if rundir.checkpoint_files(run_dir):
        raise rundir.RunFolderError(
            f"--restart: run folder {run_dir} has a checkpoint; continue it with --resume "
            f"{run_dir} (a trained run is never cleared)"
        )
    if not (run_dir / "config.yaml").is_file():
        raise rundir.RunFolderError(
            f"--restart: run folder {run_dir} has no config.yaml to start over from; start a "
            f"new run there with: unpaired train DATA --runs-dir {run_dir.parent} --name "
            f"{run_dir.name} --restart"
        )
    layer = cfg.load_yaml(run_dir / "config.yaml")
    where = {"name": run_dir.name, "runs_dir": str(run_dir.parent)}
    config = configure(layer, _overrides(args), where)
    if not args.dry_run:
        rundir.clear_run(run_dir)
    return config, None, run_dir


def _elastic_continue(config: Any, runs_dir: Path, base: str, held: ExitStack):
    """A worker group that ``torchrun --max-restarts`` restarted runs the same command again:
    continue the folder the first attempt made, from its checkpoint (or from step 0 when it
    had none yet). None: no such folder (a new run)."""
    from ..training import rundir
    from ..training.loop import resume_config

    name = rundir.find_elastic(runs_dir, base) if base else str(config.name)
    run_dir = runs_dir / name if name else None
    if run_dir is None or not run_dir.is_dir():
        return None
    # The failed attempt's rank 0 may still be exiting: wait for its lock.
    held.enter_context(rundir.lock_existing(run_dir, wait=60))
    overrides = cfg.merge(cfg.to_dict(config), {"name": name})
    if (run_dir / "checkpoints" / "latest.pt").is_file():
        config, state = resume_config(run_dir, overrides)
        print(f"torchrun restart: resuming {run_dir} from step {state['position']['step']}")
        return config, state, run_dir
    from ..recipes import configure

    rundir.clear_run(run_dir)
    return configure(overrides), None, run_dir
