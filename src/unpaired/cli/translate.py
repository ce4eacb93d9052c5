"""``unpaired translate`` (images, volumes, styles) and ``unpaired augment``."""

from __future__ import annotations

import argparse
import sys

from ..translate.translator import DEFAULT_OVERLAP, DEFAULT_TILE


def add_max_pixels(p: argparse.ArgumentParser) -> None:
    """--max-pixels (translate, augment, evaluate)."""
    p.add_argument(
        "--max-pixels",
        type=int,
        metavar="N",
        help="open images of up to N pixels (width x height); larger ones are refused as "
        "possible decompression bombs (default: Pillow's limit, about 89 million)",
    )


def add_tile(p: argparse.ArgumentParser) -> None:
    """--tile (translate, app)."""
    p.add_argument(
        "--tile",
        type=int,
        default=DEFAULT_TILE,
        metavar="N",
        help=f"translate images with more than N*N pixels in N x N tiles (default {DEFAULT_TILE}; "
        "0: never tile)",
    )


def pixel_limit(value: int | None, error: type[Exception]):
    """The image pixel limit ``--max-pixels`` asks for, for the command's duration."""
    from ..data.images import pixel_limit as limit

    if value is not None and value < 1:
        raise error(f"--max-pixels {value}: must be at least 1")
    return limit(value)


def add_output_options(p: argparse.ArgumentParser) -> None:
    """--keep-outside-window, --overwrite, --device, --progress and --max-pixels, as
    translate and augment share them."""
    p.add_argument(
        "--keep-outside-window",
        action="store_true",
        help="volumes: voxels outside the model's input window (e.g. air and bone around a "
        "soft-tissue window) keep their values instead of the window's edges",
    )
    p.add_argument(
        "--series",
        metavar="UID",
        help="DICOM: the SeriesInstanceUID to read in a folder holding several series "
        "(comma-separated for several folders; without it such a folder is refused, naming "
        "its series)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines"),
        default="auto",
        help="progress bar (bar), a few plain lines (lines), or bar on a terminal",
    )
    add_max_pixels(p)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate",
        help="translate image files, folders, medical volumes and videos with a trained model",
        description="Translate images at their own resolution (large ones in blended tiles). "
        "MODEL is a run folder or its model/ folder. Each output keeps the file's path "
        "relative to the folder it was found under, its name and its format. Medical volumes "
        "(NIfTI .nii/.nii.gz, DICOM series folders, .npy) are translated slice by slice with "
        "the model's intensity windows and written back in their own format, geometry and "
        "data type (needs the medical extra for DICOM and NIfTI). Video files named as inputs "
        "(.mp4 .m4v .mov .mkv .webm .avi) are translated frame by frame into a video of the "
        "same container, size, frame rate, timestamps and audio (needs the video extra).",
    )
    p.add_argument("model", metavar="MODEL", help="run folder or model folder")
    p.add_argument(
        "-i",
        "--input",
        dest="inputs",
        nargs="+",
        required=True,
        metavar="PATH",
        help="image files, volumes, video files, folders (searched recursively for images and "
        "volumes; a folder of .dcm files is one DICOM series) or quoted glob patterns",
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
    add_tile(p)
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
    add_style_options(p)
    add_output_options(p)
    p.set_defaults(func=run)


def add_style_options(p: argparse.ArgumentParser) -> None:
    """--styles, --seed and --style-image (models with a style input, e.g. MUNIT)."""
    p.add_argument(
        "--styles",
        type=int,
        metavar="N",
        help="models with styles (MUNIT): N outputs per input, NAME_style0.EXT ..., in N "
        "random styles (default 1)",
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="models with styles (MUNIT): seed of the random styles (default 0)",
    )
    p.add_argument(
        "--style-image",
        metavar="IMG",
        help="models with styles (MUNIT): translate into the style of IMG, an image of the "
        "target domain",
    )


def run(args: argparse.Namespace) -> int:
    from ..medical.dicom import chosen_series
    from ..translate import TranslateError

    with pixel_limit(args.max_pixels, TranslateError), chosen_series(args.series):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ..translate import (
        TranslateError,
        Translator,
        check_videos,
        is_video,
        plan_jobs,
        style_variants,
        translate_files,
    )

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
    device, axis, progress = _run_options(args)
    planned = plan_jobs(args.inputs, args.output, overwrite=True)  # bad paths fail before loading
    videos = [job.source for job in planned if is_video(job.source)]
    check_videos(videos)  # a missing extra or a file that is no video fails before loading too
    translator = Translator.load(args.model, device, args.tile, args.overlap, args.batch_size)
    variants = style_variants(translator, args.direction, args.styles, args.seed, args.style_image)
    jobs = plan_jobs(args.inputs, args.output, args.overwrite, variants)
    report = translate_files(
        translator,
        jobs,
        direction=args.direction,
        size=args.size,
        batch_size=args.batch_size,
        side_by_side=args.side_by_side,
        progress=progress,
        axis=axis,
        keep_outside=args.keep_outside_window,
        variants=variants,
    )
    noun = "inputs" if videos else "images"
    if report.failed:
        print(
            f"error: {len(report.failed)} of {len(jobs)} {noun} could not be translated "
            f"(named above); {len(report.written)} written to {args.output}",
            file=sys.stderr,
        )
        return 1
    clips = sum(1 for path in report.written if is_video(path))
    done = [f"{len(report.written) - clips} images"] if len(report.written) > clips else []
    done += [f"{clips} video{'s' * (clips != 1)}"] if clips else []
    print(f"done: {' and '.join(done) or '0 images'} in {args.output}")
    return 0


def _run_options(args: argparse.Namespace) -> tuple[object, str | int | None, bool | None]:
    """(device, slicing axis or None, progress mode) from the options translate and augment
    share; a bad value is one error line."""
    from ..translate import TranslateError
    from ..translate.translator import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise TranslateError(f"--device {exc}") from None
    progress = {"auto": None, "bar": True, "lines": False}[args.progress]
    return device, _axis_option(args.axis), progress


def _axis_option(text: str | None) -> str | int | None:
    """``--axis`` as a slicing axis (None: the model's); a bad value is one error line."""
    from ..intensity import parse_axis
    from ..translate import TranslateError

    if text is None:
        return None
    try:
        return parse_axis(text, "--axis")
    except ValueError as exc:
        raise TranslateError(str(exc).removeprefix("option ")) from None


def add_augment_parser(sub: argparse._SubParsersAction) -> None:
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
    add_style_options(p)
    add_output_options(p)
    p.set_defaults(func=run_augment)


def run_augment(args: argparse.Namespace) -> int:
    from ..medical.dicom import chosen_series
    from ..translate import TranslateError

    with pixel_limit(args.max_pixels, TranslateError), chosen_series(args.series):
        return _run_augment(args)


def _run_augment(args: argparse.Namespace) -> int:
    from ..translate import TranslateError, Translator, style_variants
    from ..translate.augment import augment, plan_augment

    if args.batch_size < 1:
        raise TranslateError(f"--batch-size {args.batch_size}: must be at least 1")
    device, axis, progress = _run_options(args)
    plan_augment(args.images, args.masks, args.output, args.overwrite)  # fail before loading
    translator = Translator.load(args.model, device, batch_size=args.batch_size)
    variants = style_variants(translator, args.direction, args.styles, args.seed, args.style_image)
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
        keep_outside=args.keep_outside_window,
        variants=variants,
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
