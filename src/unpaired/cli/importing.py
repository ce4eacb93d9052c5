"""``unpaired import``: model folders from checkpoints of other projects (official
pytorch-CycleGAN-and-pix2pix generators, the CUT / FastCUT reference, NVlabs MUNIT)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="turn a CycleGAN, CUT or MUNIT checkpoint into a model folder",
        description="Turn the checkpoint of another project into a model folder (config.json "
        "+ model.safetensors) that translate, evaluate and export use. The architecture is "
        "read from the tensors; files are loaded with torch.load(weights_only=True) only. One "
        "official CycleGAN generator (latest_net_G.pth) gives a folder that translates one "
        "way (a2b; b2a for *_net_G_B.pth or --direction b2a); *_net_G_A.pth and *_net_G_B.pth "
        "together give both; a CUT generator (blur-pools) a cut folder; a MUNIT gen_*.pt a "
        "munit folder.",
    )
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SRC",
        help="checkpoint file(s): latest_net_G.pth, or *_net_G_A.pth and *_net_G_B.pth, or a "
        "CUT latest_net_G.pth, or a MUNIT gen_*.pt",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="model folder to create")
    p.add_argument(
        "--family",
        choices=("cyclegan", "cut", "fastcut", "munit"),
        help="the model family (default: inferred; a ResNet generator without blur-pools is "
        "taken for CycleGAN unless cut or fastcut)",
    )
    p.add_argument(
        "--direction",
        choices=("a2b", "b2a"),
        help="which way a single CycleGAN generator translates (default a2b; b2a for a "
        "*_net_G_B.pth file)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace OUT if it is a model folder already"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..importers import describe, import_checkpoint

    path = import_checkpoint(
        args.sources,
        args.output,
        family=args.family,
        direction=args.direction,
        overwrite=args.overwrite,
    )
    print(f"done: {path} ({describe(path)})")
    return 0
