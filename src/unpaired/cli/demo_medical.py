"""``unpaired demo-medical``: the medical quick start, on CT-like phantoms made in code.

1. Writes ``OUTPUT/ct/`` (:func:`write_demo_data`): unpaired training volumes (``contrast/``,
   ``plain/``: different bodies) and a registered paired set of other bodies, each in both
   phases, with organ masks (``labelled/images/`` contrast, ``truth/plain/`` their
   non-contrast twins, ``labelled/masks/`` nonzero inside the body). Files already there are
   kept (the same command reuses them); nothing is downloaded.
2. Scores the identity on the paired set: MAE, PSNR and SSIM in HU inside the body, both sides
   through the soft-tissue window (:func:`unpaired.evaluation.evaluate_paired`), and the MAE
   inside each organ (:func:`structure_mae`).
3. Trains CycleGAN contrast -> plain for ``--steps`` steps with a small model (a few minutes
   on 2 CPU cores at the defaults) into ``OUTPUT/runs/contrast2plain[-N]``.
4. Scores the trained model the same way, prints both and writes them to
   ``<run>/demo_medical.json``.

The training settings are the ones that made the paired scores improve within a few hundred
steps on these phantoms: many bodies per domain (16; with 6, the discriminators learn the
bodies' outlines and the generator bends the body to them), slices at their own size (no
resize before the crop) and a strong identity term (``lambda_identity`` 3).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UnpairedError

__all__ = ["DEMO_WINDOW", "DemoData", "add_parser", "demo_data", "run", "write_demo_data"]

DEMO_WINDOW = "soft_tissue"
"""Both phases are seen through the soft-tissue window, [-160, 240] HU (W400 / L40)."""

DEMO_SLICES = 16
"""Slices per phantom volume."""

DEMO_VOLUMES = 16
"""Training volumes per domain (different bodies in each)."""

DEMO_PAIRED = 3
"""Volumes of the paired set (other bodies, both phases, with masks)."""

RUN_BASE = "contrast2plain"
RESULTS_NAME = "demo_medical.json"


class DemoError(UnpairedError):
    """A bad option of ``demo-medical`` (one line)."""


@dataclass(frozen=True)
class DemoData:
    """The folders of a demo dataset under ``root`` (see the module docstring)."""

    root: Path

    @property
    def train_a(self) -> Path:
        """Contrast-enhanced training volumes (domain A)."""
        return self.root / "contrast"

    @property
    def train_b(self) -> Path:
        """Non-contrast training volumes of other bodies (domain B)."""
        return self.root / "plain"

    @property
    def source(self) -> Path:
        """The paired set's contrast volumes."""
        return self.root / "labelled" / "images"

    @property
    def target(self) -> Path:
        """Their non-contrast twins (same bodies, same names): the ground truth."""
        return self.root / "truth" / "plain"

    @property
    def masks(self) -> Path:
        """Their organ labels (same names; nonzero inside the body)."""
        return self.root / "labelled" / "masks"


def demo_data(root: str | Path) -> DemoData:
    """The demo folders under ``root`` (nothing is written)."""
    return DemoData(Path(root))


def write_demo_data(
    root: str | Path,
    size: int = 64,
    slices: int = DEMO_SLICES,
    volumes: int = DEMO_VOLUMES,
    paired: int = DEMO_PAIRED,
    seed: int = 0,
) -> DemoData:
    """Write the demo's phantoms under ``root`` (gzipped NIfTI, int16 HU with scaling,
    axial slices along the third axis, 0.8 x 0.8 x 2.5 mm): ``volumes`` training volumes per
    phase and ``paired`` registered pairs with masks, ``size`` x ``size`` x ``slices`` each.
    Files that exist are kept.

    Raises:
        DemoError: ``root`` holds phantoms of another size (from an earlier run with other
            options).
        MissingExtra: nibabel is not installed.
    """
    from ..medical.phantoms import write_phantom_dataset
    from ..medical.volume import probe

    data = demo_data(root)
    existing = sorted(data.source.glob("*.nii.gz")) if data.source.is_dir() else []
    if existing:
        shape = probe(existing[0]).shape
        if tuple(shape) != (size, size, slices):
            raise DemoError(
                f"--output {data.root.parent}: holds demo phantoms of {shape[0]}x{shape[1]}x"
                f"{shape[2]} voxels; use another --output for --size {size}"
            )
    write_phantom_dataset(data.root, volumes, size, slices, paired, seed)
    return data


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-medical",
        help="medical quick start: CT phantoms, contrast -> non-contrast, paired MAE in HU",
        description="Write CT-like phantoms (contrast and non-contrast volumes, and a paired "
        "set of the same bodies in both phases with organ masks; nothing is downloaded), "
        "score the identity on the paired set, train CycleGAN contrast -> non-contrast for a "
        "few hundred steps, and print the paired MAE, PSNR and SSIM in HU inside the body "
        "before and after (through the soft-tissue window). Needs the medical extra.",
    )
    p.add_argument(
        "--output",
        default="demo-medical",
        metavar="DIR",
        help="where the phantoms (DIR/ct) and the run (DIR/runs) go (default: demo-medical)",
    )
    p.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    p.add_argument(
        "--size", type=int, default=64, help="phantom slices are SIZE x SIZE (default 64)"
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines"),
        default="auto",
        help="training progress: a bar, periodic lines, or a bar on a terminal",
    )
    p.set_defaults(func=run)


def _free_name(runs: Path) -> str:
    name, n = RUN_BASE, 1
    while (runs / name).exists():
        n += 1
        name = f"{RUN_BASE}-{n}"
    return name


def _train_argv(data: DemoData, runs: Path, name: str, args: argparse.Namespace) -> list[str]:
    """The ``unpaired train`` command of the demo: a small ResNet CycleGAN (ngf 16, ndf 32),
    slices at their own size (flipped, not resized), identity term weighted 3."""
    per_epoch = len(list(data.train_a.glob("*.nii.gz"))) * DEMO_SLICES
    epochs = max(2, math.ceil(args.steps / max(per_epoch, 1)))
    argv = ["train", "--a", str(data.train_a), "--b", str(data.train_b)]
    argv += ["--runs-dir", str(runs), "--name", name, "--max-steps", str(args.steps)]
    argv += ["--epochs", str(epochs // 2), "--epochs-decay", str(epochs - epochs // 2)]
    argv += ["--channels-a", "1", "--channels-b", "1", "--image-size", str(args.size)]
    argv += ["--load-size", str(args.size)]
    argv += ["--window-a", DEMO_WINDOW, "--window-b", DEMO_WINDOW]
    argv += ["--device", args.device, "--progress", args.progress, "--num-workers", "0"]
    argv += ["--log-every", str(max(1, min(50, args.steps))), "--sample-every", str(args.steps)]
    for option in ("generator=resnet_6blocks", "ngf=16", "ndf=32", "lambda_identity=3"):
        argv += ["--set", f"cyclegan.{option}"]
    return argv


ROWS = (("mae", "MAE (HU)", "{:.2f}"), ("psnr", "PSNR (dB)", "{:.2f}"), ("ssim", "SSIM", "{:.4f}"))
_WIDTH = 9  # of each score column


def _row(label: str, scores: dict[str, float]) -> str:
    cells = [fmt.format(scores[f"{key}_a2b"]).rjust(_WIDTH) for key, _, fmt in ROWS]
    consistency = scores.get("slice_consistency_a2b")
    cells.append(("-" if consistency is None else f"{consistency:+.2f}").rjust(22))
    return f"{label:<22}" + "  ".join(cells)


def _table(rows: list[tuple[str, dict[str, float]]]) -> str:
    header = f"{'':<22}" + "  ".join(title.rjust(_WIDTH) for _, title, _ in ROWS)
    header += "  " + "slice consistency (HU)"
    return "\n".join([header, *(_row(label, scores) for label, scores in rows)])


def structure_mae(translator: Any, data: DemoData, window: tuple[float, float]) -> dict[str, float]:
    """MAE in HU inside each labelled structure of the paired set (all voxels of all its
    volumes pooled), scored as :func:`~unpaired.evaluation.evaluate_paired` scores: the target
    clipped to the output ``window``; ``translator`` None: the identity, the source seen
    through ``window``. Keys: the organs of :data:`~unpaired.medical.phantoms.LABELS` and
    ``"rest"`` (the body's fat and muscle)."""
    import numpy as np

    from ..medical.phantoms import LABELS
    from ..medical.volume import read_medical, resolve_axis
    from ..translate.volumes import translate_volume

    lo, hi = window
    names = {label: name for name, label in LABELS.items() if label > 1}
    names[LABELS["body"]] = "rest"
    sums = {name: [0.0, 0] for name in names.values()}
    for source in sorted(data.source.glob("*.nii.gz")):
        image = read_medical(source)
        if translator is None:
            out = np.clip(image.values, lo, hi)
        else:
            axis = resolve_axis(translator.config.get("axis", "axial"), image.probe)
            out = translate_volume(translator, image, axis)
        error = np.abs(out - np.clip(read_medical(data.target / source.name).values, lo, hi))
        labels = read_medical(data.masks / source.name).values
        for label, name in names.items():
            inside = labels == label
            sums[name][0] += float(error[inside].sum())
            sums[name][1] += int(inside.sum())
    return {name: total / count for name, (total, count) in sums.items() if count}


def _structure_table(rows: list[tuple[str, dict[str, float]]]) -> str:
    names = list(rows[0][1])
    header = f"{'MAE (HU) inside':<22}" + "  ".join(f"{n:>7}" for n in names)
    lines = [header]
    for label, values in rows:
        lines.append(f"{label:<22}" + "  ".join(f"{values[n]:7.1f}" for n in names))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate_paired
    from ..fs import atomic_write
    from ..intensity import parse_window
    from ..translate.translator import Translator, resolve_device
    from . import build_parser

    if args.steps < 1:
        raise DemoError(f"--steps {args.steps}: must be at least 1")
    if args.size < 32 or args.size % 4:
        raise DemoError(f"--size {args.size}: must be a multiple of 4, at least 32")
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise DemoError(f"--device {exc}") from None
    window = parse_window(DEMO_WINDOW)
    assert window is not None
    output = Path(args.output)
    data = write_demo_data(output / "ct", size=args.size)
    print(
        f"phantoms in {data.root}: contrast/ and plain/ (training, different bodies), "
        f"labelled/images -> truth/plain (the paired set: the same bodies in both phases) "
        f"with labelled/masks"
    )
    common = {"mask_dir": data.masks, "device": args.device, "save": False}
    before = evaluate_paired(None, data.source, data.target, window=DEMO_WINDOW, **common)
    organs_before = structure_mae(None, data, window)
    runs = output / "runs"
    name = _free_name(runs)
    train_args = build_parser().parse_args(_train_argv(data, runs, name, args))
    code = train_args.func(train_args)
    if code != 0:
        return code
    run_dir = runs / name
    after = evaluate_paired(run_dir, data.source, data.target, **common)
    organs_after = structure_mae(Translator.load(run_dir, device), data, window)
    rows = [("identity (before)", before.scores), (f"trained, {args.steps} steps", after.scores)]
    info = after.info
    lo, hi = info["windows"]["output"]
    print(
        f"\npaired validation: {info['count']} volumes, contrast -> non-contrast, inside the "
        f"body mask, in HU through the soft-tissue window [{lo:g}, {hi:g}]; PSNR and SSIM "
        f"over a data range of {info['data_range']:g} HU"
    )
    print(_table(rows))
    print()
    print(_structure_table([(rows[0][0], organs_before), (rows[1][0], organs_after)]))
    results: dict[str, Any] = {
        "steps": args.steps,
        "size": args.size,
        "window": DEMO_WINDOW,
        "paired": {"source": str(data.source), "target": str(data.target), "mask": str(data.masks)},
        "before": before.scores,
        "after": after.scores,
        "structure_mae_before": organs_before,
        "structure_mae_after": organs_after,
        "evaluation": {k: v for k, v in info.items() if k != "items"},
    }
    path = run_dir / RESULTS_NAME
    text = json.dumps(results, indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))
    print(f"model: {run_dir / 'model'}; scores: {path}")
    print(f"next: unpaired translate {run_dir} -i {data.source} -o {output / 'translated'}")
    return 0
