"""``unpaired app``: a local web page to try model folders in the browser (placeholder)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="try model folders in a local web page (needs the app extra)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
