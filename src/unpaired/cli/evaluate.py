"""``unpaired evaluate``: FID/KID, cycle and demo scores, diversity of models with styles."""

from __future__ import annotations

import argparse
import sys

from .translate import add_max_pixels, pixel_limit


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure translation quality: FID, KID, cycle error (and the demo's truth scores)",
        description="Translate the test images of each source domain and compare them with the "
        "real test images of the target domain (FID, KID; needs the metrics extra), and with "
        "the inputs after the round trip (l1_cycle, psnr_cycle). MODEL is a run folder or its "
        "model/ folder; DATA a folder with testA/ and testB/ (default: the run's own data). "
        "Prints a table, then writes <run>/eval/step_XXXXXX.json (or --output); when that "
        "cannot be written (a read-only folder, a full disk) the table stays printed, one "
        "error line says where it could not write, and the exit status is 1. With --paired "
        "SRC_DIR TGT_DIR: MAE, PSNR and SSIM against registered targets instead.",
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="run folder or model folder")
    p.add_argument("data", nargs="?", metavar="DATA", help="folder with testA/ and testB/")
    p.add_argument(
        "--identity",
        action="store_true",
        help="score the identity baseline (output = input) instead of a model; the only "
        "positional argument is then DATA",
    )
    p.add_argument(
        "--direction",
        choices=("a2b", "b2a", "both"),
        help="a2b | b2a | both (default: both; with --paired: a2b)",
    )
    folder = p.add_argument_group(
        "already translated files",
        "score the files in a folder (e.g. what translate wrote, PNG or JPEG) against the "
        "target domain's test images with the same protocol (FID, KID); MODEL (a run or model "
        "folder, not run) gives the default size, channels and test images",
    )
    folder.add_argument(
        "--from-folder",
        metavar="DIR",
        help="the translations to score, in --direction (default a2b)",
    )
    folder.add_argument(
        "--target",
        metavar="DIR",
        help="the target domain's real test images (default: DATA's or the run's testB/ for "
        "a2b, testA/ for b2a)",
    )
    paired = p.add_argument_group(
        "paired validation",
        "score translations against registered targets: MAE, PSNR, SSIM per image or volume "
        "and their mean (volumes in HU through the model's windows, with each volume's slice "
        "consistency; photos in [0, 255]); MODEL may be omitted or 'identity' (output = input)",
    )
    paired.add_argument(
        "--paired",
        nargs=2,
        metavar=("SRC_DIR", "TGT_DIR"),
        help="sources and their targets, matched by relative folder and name",
    )
    paired.add_argument(
        "--mask", metavar="DIR", help="masks matched the same way: score inside (nonzero)"
    )
    paired.add_argument(
        "--window",
        metavar="W",
        help="identity only: see both sides through this window (a preset such as "
        "soft_tissue, or --window=LO,HI in HU), as a model trained with it would",
    )
    paired.add_argument(
        "--data-range",
        type=float,
        metavar="R",
        help="PSNR and SSIM data range (default: the output window's width in HU; 255 for photos)",
    )
    paired.add_argument(
        "--keep-outside-window",
        action="store_true",
        help="voxels outside the input window keep their input values (as in translate) and "
        "targets are not clipped to the output window",
    )
    paired.add_argument("--axis", help="slice volumes along this axis (default: the model's)")
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
    add_max_pixels(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics import EvalError

    with pixel_limit(args.max_pixels, EvalError):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate, format_table
    from ..metrics import EvalError

    if args.paired:
        return _run_paired(args)
    if args.from_folder is not None:
        return _run_folder(args)
    if args.target is not None:
        raise EvalError("--target: only with --from-folder DIR")
    for option, value in (
        ("--mask", args.mask),
        ("--window", args.window),
        ("--data-range", args.data_range),
        ("--keep-outside-window", args.keep_outside_window or None),
        ("--axis", args.axis),
    ):
        if value is not None:
            raise EvalError(f"{option}: only with --paired SRC_DIR TGT_DIR")
    model, data = args.model, args.data
    if args.identity:
        if data is not None:
            raise EvalError("--identity: give only DATA (a folder with testA/ and testB/)")
        model, data = None, model
        if data is None:
            raise EvalError("--identity: give DATA (a folder with testA/ and testB/)")
    elif model is None:
        raise EvalError("MODEL: give a run folder or model folder (or --identity DATA)")
    metrics = _metric_names(args.metrics)
    # "both": every direction the model translates (a one-sided model: a2b).
    directions = None if args.direction in (None, "both") else (args.direction,)
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
        save=False,
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
    print(format_table(result), flush=True)
    return _save(result)


def _metric_names(text: str | None) -> tuple[str, ...] | None:
    """``--metrics a,b`` as names (None: the defaults)."""
    return tuple(m.strip() for m in text.split(",") if m.strip()) if text else None


def _run_folder(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate_folder, format_table
    from ..metrics import EvalError

    if args.identity:
        raise EvalError("--identity: not with --from-folder (the folder holds the translations)")
    if args.direction == "both":
        raise EvalError("--direction both: --from-folder scores one direction (a2b or b2a)")
    for option, value in (
        ("--mask", args.mask),
        ("--window", args.window),
        ("--data-range", args.data_range),
        ("--axis", args.axis),
    ):
        if value is not None:
            raise EvalError(f"{option}: not with --from-folder")
    metrics = _metric_names(args.metrics)
    result = evaluate_folder(
        args.from_folder,
        args.model,
        args.data,
        target=args.target,
        direction=args.direction or "a2b",
        metrics=metrics,
        num_images=args.num_images,
        device=args.device,
        features=args.inception or args.features,
        size=args.size,
        batch_size=args.batch_size,
        output=args.output,
        save=False,
    )
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    info = result.info
    counts = ", ".join(f"{n} {d}" for d, n in info["images"].items())
    print(
        f"{info['from_folder']} scored against {info['data'].split(' | ')[1]} ({counts} images "
        f"at {info['size']}x{info['size']}, features {info['features']}, {info['seconds']} s)"
    )
    print(format_table(result), flush=True)
    return _save(result)


def _run_paired(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate_paired, format_paired_table
    from ..metrics import EvalError

    if args.data is not None:
        raise EvalError("--paired SRC_DIR TGT_DIR: give no DATA folder (only MODEL, or none)")
    model = None if args.identity or args.model in (None, "identity") else args.model
    if args.identity and args.model is not None:
        raise EvalError("--identity with --paired: give no MODEL")
    if args.direction == "both":
        raise EvalError("--direction both: --paired scores one direction (a2b or b2a)")
    for option, value in (("--metrics", args.metrics), ("--num-images", args.num_images)):
        if value is not None:
            raise EvalError(f"{option}: not with --paired (it scores MAE, PSNR and SSIM)")
    result = evaluate_paired(
        model,
        args.paired[0],
        args.paired[1],
        args.mask,
        direction=args.direction or "a2b",
        window=args.window,
        data_range=args.data_range,
        keep_outside_window=args.keep_outside_window,
        axis=args.axis,
        device=args.device,
        batch_size=args.batch_size,
        output=args.output,
        save=False,
    )
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    info = result.info
    print(
        f"{info['model']} (step {info['step']}) {info['direction']} on {info['count']} pairs "
        f"of {info['paired']['source']} | {info['paired']['target']}"
        + (f" inside {info['paired']['mask']}" if info["paired"]["mask"] else "")
        + f": {info['units']}, data range {info['data_range_rule']}, {info['seconds']} s"
    )
    print(format_paired_table(result), flush=True)
    return _save(result)


def _save(result) -> int:
    from ..fs import describe_os_error

    # The scores are on screen before anything is written: a read-only folder or a full disk
    # cannot lose them.
    try:
        path = result.save()
    except OSError as exc:
        print(
            f"error: cannot write the scores to {result.path} ({describe_os_error(exc)}); they "
            "are printed above only (--output FILE writes them elsewhere)",
            file=sys.stderr,
        )
        return 1
    if path is not None:
        print(f"done: {path}")
    return 0
