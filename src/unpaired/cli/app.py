"""``unpaired app``: a local web page to try model folders in the browser (extra ``app``)."""

from __future__ import annotations

import argparse

from .translate import add_tile


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "app",
        help="try model folders in a local web page (needs the app extra)",
        description="Serve a local web page (Gradio) to translate images, batches and medical "
        "volumes with the given models: pick a model and a direction, upload, paste or drop "
        "an image, see input and output side by side, download the PNG. It listens on "
        "127.0.0.1 (this machine only) unless --host says otherwise; uploads and results stay "
        "in a temporary folder removed when the app stops (Ctrl-C). Needs the app extra: "
        'pip install "unpaired[app]".',
    )
    p.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="run folders or model folders (CycleGAN, MUNIT, CUT; one or two directions)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 lets "
        "anyone on the network use it)",
    )
    p.add_argument("--port", type=int, default=7860, help="port (default 7860; 0: a free one)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument(
        "--max-upload-mb",
        type=int,
        default=50,
        metavar="MB",
        help="refuse uploaded files over MB megabytes (default 50)",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=50_000_000,
        metavar="N",
        help="refuse images of more than N pixels (width x height; default 50 million)",
    )
    add_tile(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..app import serve

    return serve(
        args.models,
        host=args.host,
        port=args.port,
        device=args.device,
        max_upload_mb=args.max_upload_mb,
        max_pixels=args.max_pixels,
        tile=args.tile,
    )
