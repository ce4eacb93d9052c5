"""``unpaired push``: a model folder and its model card to the Hugging Face Hub (placeholder)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "push", help="upload a model folder and a model card to the Hugging Face Hub"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
