"""Command line: ``unpaired train | translate | augment | export | evaluate | import | push |
app | demo-medical``, thin wrappers over the library functions.

User mistakes (bad options, missing folders, unreadable files) end with one ``error:`` line and
exit status 2; an interrupted training run exits with 130 after saying how to resume;
``translate`` exits with 1 when some images could not be read (each named in an error line).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from ..errors import UnpairedError
from ..fs import describe_os_error
from ..version import __version__
from . import app, demo_medical, evaluate, export, importing, push, train, translate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unpaired", description="Unpaired image-to-image translation (CycleGAN, MUNIT, CUT)."
    )
    parser.add_argument("--version", action="version", version=f"unpaired {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    train.add_parser(sub)
    translate.add_parser(sub)
    translate.add_augment_parser(sub)
    export.add_parser(sub)
    evaluate.add_parser(sub)
    importing.add_parser(sub)
    push.add_parser(sub)
    app.add_parser(sub)
    demo_medical.add_parser(sub)
    return parser


# Options whose value may start with a minus sign (a window in HU: -160,240), which argparse
# would otherwise take for an option.
NEGATIVE_VALUE_OPTIONS = ("--window-a", "--window-b", "--window")


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
    except UnpairedError as exc:
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one rank says it
            print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # The machine said no (a read-only folder, a full disk, a path that is a file): one
        # line naming the file, not a traceback; nothing was overwritten (writes are atomic).
        if os.environ.get("RANK", "0") == "0":
            print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
