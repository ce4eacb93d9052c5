"""Command line: ``unpaired train | translate | augment | export | evaluate``, thin wrappers
over the library functions.

User mistakes (bad options, missing folders, unreadable files) end with one ``error:`` line and
exit status 2; an interrupted training run exits with 130 after saying how to resume;
``translate`` exits with 1 when some images could not be read (each named in an error line).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from . import __version__
from . import config as cfg
from .inference import DEFAULT_OVERLAP, DEFAULT_TILE

# flag -> dotted config key; every flag defaults to None so that only flags the user typed
# override the config file (and, on --resume, the saved run).
FLAG_KEYS = {
    "name": "name",
    "runs_dir": "runs_dir",
    "model": "model",
    "image_size": "data.image_size",
    "load_size": "data.load_size",
    "preprocess": "data.preprocess",
    "channels_a": "data.channels_a",
    "channels_b": "data.channels_b",
    "window_a": "data.window_a",
    "window_b": "data.window_b",
    "axis": "data.axis",
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
    "precision": "precision",
    "eval_every": "eval_every",
    "keep_best": "keep_best",
    "tensorboard": "tensorboard",
    "wandb": "wandb",
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
    p.add_argument(
        "--model", help="cyclegan (default) | munit (multimodal: several styles per input)"
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
        "--tensorboard",
        action="store_const",
        const=True,
        help="also log to TensorBoard in <run>/tensorboard (tensorboard extra)",
    )
    p.add_argument(
        "--wandb", action="store_const", const=True, help="also log to W&B (wandb extra)"
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
    folders = {}
    for key, label in (("root", "DATA"), ("dir_a", "--a"), ("dir_b", "--b")):
        if data.get(key):
            path = Path(data[key])
            if not path.is_dir():
                raise cfg.ConfigError(f"{label} {path}: no such folder")
            folders[key] = str(path.resolve())  # so --resume works from any directory
    layers = [user, {"data": folders}] if folders else [cfg.DEMO_PRESET, user]
    config = cfg.build_config(*layers)
    if "name" not in user:
        name = _default_name(user, Path(config.runs_dir))
        config = cfg.build_config(*layers, {"name": name})
    return config


def _train(args: argparse.Namespace) -> int:
    from .training import distributed

    # Under torchrun: one process per GPU (or CPU slot); a no-op when run directly.
    where = distributed.setup()
    try:
        return _train_here(args, where)
    finally:
        distributed.teardown()


def _train_here(args: argparse.Namespace, where: Any) -> int:
    from .training import distributed
    from .training.loop import TrainingInterrupted, resume_config, train

    if args.resume:
        if args.data or args.dir_a or args.dir_b or args.config:
            raise cfg.ConfigError(
                "--resume RUN: the run's data and config come from its checkpoint"
            )
        run_dir = Path(args.resume)
        # Rank 0 reads the checkpoint and hands it to the others (their disks may not have it).
        config, state = distributed.share(lambda: resume_config(run_dir, _overrides(args)), where)
    else:
        # Rank 0 picks the run name (the next free demo-N), so all ranks agree on it.
        config, state, run_dir = distributed.share(lambda: _new_config(args), where), None, None
    if args.dry_run:
        if where.is_main:
            print(cfg.dump_yaml(config), end="")
        return 0
    progress = {"auto": None, "bar": True, "lines": False}[args.progress]
    try:
        out = train(config, run_dir=run_dir, resume=state, progress=progress)
    except TrainingInterrupted as exc:
        if where.is_main:
            print(str(exc), file=sys.stderr)
        return 130
    if where.is_main:
        print(f"done: {out} (samples in {out / 'samples'}, model in {out / 'model'})")
    return 0


def _add_translate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate",
        help="translate image files, folders and medical volumes with a trained model",
        description="Translate images at their own resolution (large ones in blended tiles). "
        "MODEL is a run folder or its model/ folder. Each output keeps the file's path "
        "relative to the folder it was found under, its name and its format. Medical volumes "
        "(NIfTI .nii/.nii.gz, DICOM series folders, .npy) are translated slice by slice with "
        "the model's intensity windows and written back in their own format, geometry and "
        "data type (needs the medical extra for DICOM and NIfTI).",
    )
    p.add_argument("model", metavar="MODEL", help="run folder or model folder")
    p.add_argument(
        "-i",
        "--input",
        dest="inputs",
        nargs="+",
        required=True,
        metavar="PATH",
        help="image files, volumes, folders (searched recursively; a folder of .dcm files is "
        "one DICOM series) or quoted glob patterns",
    )
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--axis",
        help="cut volumes into slices along axial | coronal | sagittal | 0 | 1 | 2 (default: "
        "the axis the model was trained on, else axial)",
    )
    p.add_argument(
        "--direction", choices=("a2b", "b2a"), default="a2b", help="A->B (default) or B->A"
    )
    p.add_argument(
        "--size",
        type=int,
        metavar="S",
        help="resize so the shorter side is S (aspect ratio kept) before translating; the "
        "output has that size (default: each image at its own size)",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=DEFAULT_TILE,
        metavar="N",
        help=f"translate images with more than N*N pixels in N x N tiles (default {DEFAULT_TILE}; "
        "0: never tile)",
    )
    p.add_argument(
        "--overlap",
        type=int,
        default=DEFAULT_OVERLAP,
        metavar="PX",
        help=f"pixels shared by neighbouring tiles, blended (default {DEFAULT_OVERLAP})",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=1,
        metavar="N",
        help="same-size images (or tiles) per batch",
    )
    p.add_argument("--side-by-side", action="store_true", help="write input | output")
    p.add_argument(
        "--styles",
        type=int,
        metavar="N",
        help="MUNIT models: N outputs per input, NAME_style0.EXT ..., in N random styles "
        "(default 1)",
    )
    p.add_argument(
        "--seed", type=int, metavar="S", help="MUNIT models: seed of the random styles (default 0)"
    )
    p.add_argument(
        "--style-image",
        metavar="IMG",
        help="MUNIT models: translate into the style of IMG, an image of the target domain",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines"),
        default="auto",
        help="progress bar (bar), a few plain lines (lines), or bar on a terminal",
    )
    p.set_defaults(func=_translate)


def _translate(args: argparse.Namespace) -> int:
    from .inference import Translator, resolve_device
    from .translate_files import TranslateError, plan_jobs, translate_files

    for name, value, low in (
        ("--size", args.size, 1),
        ("--tile", args.tile, 0),
        ("--overlap", args.overlap, 0),
        ("--batch-size", args.batch_size, 1),
    ):
        if value is not None and value < low:
            raise TranslateError(f"{name} {value}: must be at least {low}")
    if args.tile and 2 * args.overlap > args.tile:
        raise TranslateError(
            f"--overlap {args.overlap}: must be at most half of --tile {args.tile}"
        )
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise TranslateError(f"--device {exc}") from None
    axis = _axis_option(args.axis)
    jobs = plan_jobs(args.inputs, args.output, overwrite=args.overwrite)
    translator = Translator.load(args.model, device, args.tile, args.overlap, args.batch_size)
    progress = {"auto": None, "bar": True, "lines": False}[args.progress]
    from .munit_translate import MUNITTranslator, check_style_options, translate_with_styles

    check_style_options(translator, args.styles, args.seed, args.style_image)
    if isinstance(translator, MUNITTranslator):  # a model with styles
        if args.side_by_side:
            raise TranslateError("--side-by-side: not available for MUNIT models yet")
        report = translate_with_styles(
            translator,
            jobs,
            args.direction,
            args.styles,
            args.seed,
            args.style_image,
            args.size,
            args.overwrite,
        )
    else:
        report = translate_files(
            translator,
            jobs,
            direction=args.direction,
            size=args.size,
            batch_size=args.batch_size,
            side_by_side=args.side_by_side,
            progress=progress,
            axis=axis,
        )
    if report.failed:
        print(
            f"error: {len(report.failed)} of {len(jobs)} images could not be translated "
            f"(named above); {len(report.written)} written to {args.output}",
            file=sys.stderr,
        )
        return 1
    print(f"done: {len(report.written)} images in {args.output}")
    return 0


def _axis_option(text: str | None) -> str | int | None:
    """``--axis`` as a slicing axis (None: the model's); a bad value is one error line."""
    from .medical.windows import parse_axis
    from .translate_files import TranslateError

    if text is None:
        return None
    try:
        return parse_axis(text, "--axis")
    except ValueError as exc:
        raise TranslateError(str(exc).removeprefix("option ")) from None


def _add_augment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "augment",
        help="translate a labelled image set and keep its masks (segmentation augmentation)",
        description="Translate every image under --images into OUTPUT/images/ (same relative "
        "names, size, format; volumes slice by slice with the model's windows) and copy its "
        "mask unchanged into OUTPUT/masks/, with OUTPUT/manifest.jsonl listing each pair. A "
        "mask has its image's relative folder and name with any supported extension; every "
        "image needs one of the same size, checked before anything is written.",
    )
    p.add_argument("model", metavar="MODEL", help="run folder or model folder")
    p.add_argument("--images", required=True, metavar="DIR", help="folder of images/volumes")
    p.add_argument("--masks", required=True, metavar="DIR", help="folder of their masks")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--direction", choices=("a2b", "b2a"), default="a2b", help="A->B (default) or B->A"
    )
    p.add_argument(
        "--axis",
        help="cut volumes along axial | coronal | sagittal | 0 | 1 | 2 (default: the model's)",
    )
    p.add_argument("--batch-size", type=int, default=1, metavar="N", help="slices per batch")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines"),
        default="auto",
        help="progress bar (bar), a few plain lines (lines), or bar on a terminal",
    )
    p.set_defaults(func=_augment)


def _augment(args: argparse.Namespace) -> int:
    from .inference import Translator, resolve_device
    from .medical.augment import augment, plan_augment
    from .translate_files import TranslateError

    if args.batch_size < 1:
        raise TranslateError(f"--batch-size {args.batch_size}: must be at least 1")
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise TranslateError(f"--device {exc}") from None
    axis = _axis_option(args.axis)
    plan_augment(args.images, args.masks, args.output, args.overwrite)  # fail before loading
    translator = Translator.load(args.model, device, batch_size=args.batch_size)
    progress = {"auto": None, "bar": True, "lines": False}[args.progress]
    report = augment(
        translator,
        args.model,
        args.images,
        args.masks,
        args.output,
        direction=args.direction,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=progress,
        axis=axis,
    )
    total = len(report.written) + len(report.failed)
    if report.failed:
        print(
            f"error: {len(report.failed)} of {total} images could not be translated (named "
            f"above); {len(report.written)} pairs written to {args.output}",
            file=sys.stderr,
        )
        return 1
    print(f"done: {len(report.written)} images and masks in {args.output} ({report.manifest})")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export one generator to ONNX or torch.export (.pt2)",
        description="Export the generator of one direction. The file maps (N, C, H, W) in "
        "[-1, 1] to (N, C', H, W) in [-1, 1] with dynamic N, H and W (H and W multiples of 4 "
        "for the ResNet generators).",
    )
    p.add_argument("model", metavar="MODEL", help="run folder or model folder")
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("onnx", "pt2"),
        default="onnx",
        help="onnx (needs the export extra) or pt2 (torch.export); default onnx",
    )
    p.add_argument(
        "--direction", choices=("a2b", "b2a"), default="a2b", help="A->B (default) or B->A"
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from .export import export_model

    result = export_model(args.model, args.fmt, args.output, args.direction, args.overwrite)
    print(f"done: {result.path} (max abs difference from PyTorch {result.max_abs_error:.2e})")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure translation quality: FID, KID, cycle error (and the demo's truth scores)",
        description="Translate the test images of each source domain and compare them with the "
        "real test images of the target domain (FID, KID; needs the metrics extra), and with "
        "the inputs after the round trip (l1_cycle, psnr_cycle). MODEL is a run folder or its "
        "model/ folder; DATA a folder with testA/ and testB/ (default: the run's own data). "
        "Prints a table and writes <run>/eval/step_XXXXXX.json.",
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="run folder or model folder")
    p.add_argument("data", nargs="?", metavar="DATA", help="folder with testA/ and testB/")
    p.add_argument(
        "--identity",
        action="store_true",
        help="score the identity baseline (output = input) instead of a model; the only "
        "positional argument is then DATA",
    )
    p.add_argument("--direction", choices=("a2b", "b2a", "both"), default="both")
    p.add_argument(
        "--metrics",
        metavar="LIST",
        help="comma-separated: fid, kid, l1_cycle, psnr_cycle, demo (default: all that apply)",
    )
    p.add_argument("--num-images", type=int, metavar="N", help="first N test images per domain")
    p.add_argument(
        "--size",
        type=int,
        metavar="S",
        help="images are resized so the shorter side is S and center-cropped to S x S "
        "(default: the model's training crop size)",
    )
    p.add_argument(
        "--inception",
        metavar="FILE",
        help="another TorchScript Inception file ((N, 3, 299, 299) in [-1, 1) -> (N, 2048))",
    )
    p.add_argument(
        "--features",
        default="inception",
        help="feature network for FID/KID: inception (default) or tiny (a stand-in for smoke "
        "tests; its numbers mean nothing perceptually)",
    )
    p.add_argument("--batch-size", type=int, default=16, metavar="N")
    p.add_argument("--output", metavar="FILE", help="write the JSON here instead")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from .metrics import EvalError, evaluate, format_table

    model, data = args.model, args.data
    if args.identity:
        if data is not None:
            raise EvalError("--identity: give only DATA (a folder with testA/ and testB/)")
        model, data = None, model
        if data is None:
            raise EvalError("--identity: give DATA (a folder with testA/ and testB/)")
    elif model is None:
        raise EvalError("MODEL: give a run folder or model folder (or --identity DATA)")
    metrics = None
    if args.metrics:
        metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    directions = ("a2b", "b2a") if args.direction == "both" else (args.direction,)
    result = evaluate(
        model,
        data,
        directions=directions,
        metrics=metrics,
        num_images=args.num_images,
        device=args.device,
        features=args.inception or args.features,
        size=args.size,
        batch_size=args.batch_size,
        output=args.output,
    )
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    info = result.info
    images = info["images"]
    print(
        f"{info['model']} (step {info['step']}) on {info['data']}: {images['A']} A and "
        f"{images['B']} B test images at {info['size']}x{info['size']}, "
        f"features {info['features']}, {info['seconds']} s"
    )
    print(format_table(result))
    if result.path is not None:
        print(f"done: {result.path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unpaired", description="Unpaired image-to-image translation (CycleGAN)."
    )
    parser.add_argument("--version", action="version", version=f"unpaired {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_translate(sub)
    _add_augment(sub)
    _add_export(sub)
    _add_evaluate(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from .data.folders import DataError
    from .data.images import ImageReadError
    from .export import ExportError
    from .metrics.errors import EvalError
    from .pretrained import ModelLoadError
    from .training.checkpoint import CheckpointError
    from .translate_files import TranslateError

    return (
        cfg.ConfigError,
        DataError,
        ImageReadError,
        ModelLoadError,
        CheckpointError,
        TranslateError,
        ExportError,
        EvalError,
    )


# Options whose value may start with a minus sign (a window in HU: -160,240), which argparse
# would otherwise take for an option.
NEGATIVE_VALUE_OPTIONS = ("--window-a", "--window-b")


def _glue_negative_values(argv: list[str]) -> list[str]:
    """``--window-a -160,240`` -> ``--window-a=-160,240``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        following = argv[i + 1] if i + 1 < len(argv) else ""
        if token in NEGATIVE_VALUE_OPTIONS and following[:1] == "-" and following[1:2].isdigit():
            out.append(f"{token}={following}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``unpaired`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(_glue_negative_values(sys.argv[1:] if argv is None else argv))
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    try:
        return args.func(args)
    except _user_errors() as exc:
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one rank says it
            print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
