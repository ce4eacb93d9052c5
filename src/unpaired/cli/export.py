"""``unpaired export``: ONNX or torch.export files of a trained model."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
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
        "--direction",
        choices=("a2b", "b2a"),
        default=None,
        help="A->B or B->A (default: A->B, or the one direction the model folder holds)",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export import export_model

    result = export_model(args.model, args.fmt, args.output, args.direction, args.overwrite)
    print(f"done: {result.path} (max abs difference from PyTorch {result.max_abs_error:.2e})")
    return 0
