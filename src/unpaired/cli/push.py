"""``unpaired push``: a model folder and its model card to the Hugging Face Hub."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "push",
        help="upload a model folder and a model card to the Hugging Face Hub",
        description="Upload the model of a run folder (its model/) or of a model folder to a "
        "Hugging Face Hub repository, created if needed: config.json, model.safetensors, a "
        "model card README.md made from what the folders record, and the run's latest sample "
        "grid as sample.png. Nothing else (no checkpoints, no training state). The model is "
        "loaded first; one that does not load is not uploaded. Needs the hub extra and a "
        "login (hf auth login, or HF_TOKEN). Load it back with hf://OWNER/NAME.",
    )
    p.add_argument("model", metavar="RUN_OR_MODEL", help="run folder or model folder")
    p.add_argument("repo_id", metavar="OWNER/NAME", help="the Hub repository")
    p.add_argument(
        "--private", action="store_true", help="create the repository private (if it is new)"
    )
    p.add_argument(
        "--revision",
        metavar="BRANCH",
        help="commit to this branch, created if needed (default: the main branch)",
    )
    p.add_argument("--message", metavar="MSG", help="the commit message")
    p.add_argument(
        "--license", metavar="ID", help="a Hub license id for the card (mit, apache-2.0, ...)"
    )
    p.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        metavar="ID",
        help="a Hub dataset id the model was trained on, for the card (repeatable)",
    )
    p.add_argument(
        "--dry-run",
        metavar="DIR",
        help="write what would be uploaded into DIR (a new folder) and stop before any "
        "network call",
    )
    p.set_defaults(func=run)


def _listing(folder: Path) -> list[str]:
    return [
        f"  {p.name}  ({p.stat().st_size:,} bytes)" for p in sorted(folder.iterdir()) if p.is_file()
    ]


def run(args: argparse.Namespace) -> int:
    from ..hub import check_repo_id
    from ..publish import prepare_upload, push
    from ..publish.push import check_revision

    check_repo_id(args.repo_id)
    check_revision(args.revision)
    if args.dry_run is not None:
        staged = prepare_upload(
            args.model,
            args.dry_run,
            repo_id=args.repo_id,
            license=args.license,
            datasets=args.datasets,
        )
        print(f"dry run: would upload to {args.repo_id}:")
        print("\n".join(_listing(staged)))
        print(f"nothing was uploaded; the files are in {staged}")
        return 0
    url = push(
        args.model,
        args.repo_id,
        private=args.private,
        revision=args.revision,
        commit_message=args.message,
        license=args.license,
        datasets=args.datasets,
    )
    print(f"uploaded to {url}")
    name = f"hf://{args.repo_id}" + (f"@{args.revision}" if args.revision else "")
    print(f"load it with: unpaired translate {name} --input ... --output ...")
    return 0
