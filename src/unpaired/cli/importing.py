"""``unpaired import``: model folders from checkpoints of other projects (placeholder)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="turn a CycleGAN, CUT or MUNIT checkpoint into a model folder"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
