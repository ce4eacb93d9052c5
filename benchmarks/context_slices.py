"""2.5D input on the phantom data: slice consistency (and paired MAE/PSNR/SSIM in HU) of
translated phantom volumes, for a 2-D model (``--context-slices 0``) and a 2.5D one (``1``).

Writes the phantom set (:func:`unpaired.medical.phantoms.write_phantom_dataset`: unpaired
contrast and plain volumes to train on, labelled contrast volumes with organ masks and their
plain twins as ground truth), trains one short CycleGAN run per K with the same steps, seed
and small model, one after the other, then scores each model with ``evaluate --paired``'s
function on the labelled volumes against their twins, inside the body (the masks' nonzero
voxels): MAE, PSNR, SSIM in HU and the slice consistency (mean ``|out[k+1] - out[k]|`` minus
the same for the input, HU; positive = flicker added). The identity (the input as the models
see it, through the window) is the "before" row. Prints one JSON object.

Everything runs on one core (``--core``, ``OMP_NUM_THREADS=1``) so that the two runs see the
same machine; wall times are reported for orientation only.

    .venv/bin/python benchmarks/context_slices.py --out /tmp/ctx --steps 400
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WINDOW = "-200,300"  # HU: every organ of both phantoms (aorta 250 with contrast) inside


def _train(data: Path, runs: Path, context: int, args: argparse.Namespace) -> float:
    """One training run in a child process (the same core); returns its wall time in s."""
    name = f"k{context}"
    argv = [sys.executable, "-m", "unpaired", "train", "--a", str(data / "contrast")]
    argv += ["--b", str(data / "plain"), "--runs-dir", str(runs), "--name", name]
    argv += ["--max-steps", str(args.steps), "--seed", str(args.seed), "--device", "cpu"]
    argv += ["--channels-a", "1", "--channels-b", "1", "--window-a", WINDOW, "--window-b", WINDOW]
    argv += ["--image-size", str(args.size), "--load-size", str(args.size), "--num-workers", "0"]
    argv += ["--context-slices", str(context), "--progress", "lines", "--log-every", "100"]
    argv += ["--sample-every", str(args.steps)]
    for option in (f"ngf={args.ngf}", f"ndf={args.ngf}", "generator=resnet_6blocks"):
        argv += ["--set", f"cyclegan.{option}"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _scores(model: Path | None, data: Path) -> dict[str, Any]:
    """Paired scores of ``model`` (None: the identity) on the labelled phantoms, in HU."""
    from unpaired.evaluation import evaluate_paired

    labelled = data / "labelled"
    start = time.perf_counter()
    result = evaluate_paired(
        model,
        labelled / "images",
        data / "truth" / "plain",
        labelled / "masks",
        window=WINDOW if model is None else None,
        device="cpu",
        save=False,
    )
    seconds = time.perf_counter() - start
    scores = {k.removesuffix("_a2b"): round(v, 4) for k, v in result.scores.items()}
    volumes = {
        item["name"]: round(float(item["slice_consistency"]), 3)
        for item in result.info["items"]
        if "slice_consistency" in item
    }
    return {**scores, "slice_consistency_per_volume": volumes, "eval_sec": round(seconds, 1)}


def _neighbour_differences(data: Path) -> dict[str, float]:
    """Mean ``|v[k+1] - v[k]|`` inside the body (HU, through the window) of the scored inputs
    and of their ground-truth twins, averaged over the volumes: the input's flicker (phantom
    noise, 10 HU per voxel, is most of it) and what a perfect translation would show."""
    import numpy as np

    from unpaired.medical.volume import read_medical, resolve_axis
    from unpaired.metrics.volumes import neighbour_difference

    lo, hi = (float(v) for v in WINDOW.split(","))
    sums = {"input": [], "truth": []}
    for source in sorted((data / "labelled" / "images").glob("*.nii.gz")):
        image = read_medical(source)
        axis = resolve_axis("axial", image.probe)
        mask = read_medical(data / "labelled" / "masks" / source.name).values
        truth = read_medical(data / "truth" / "plain" / source.name).values
        for key, values in (("input", image.values), ("truth", truth)):
            sums[key].append(neighbour_difference(np.clip(values, lo, hi), axis, mask))
    return {key: round(float(np.mean(v)), 3) for key, v in sums.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="working folder (data and runs)")
    p.add_argument("--steps", type=int, default=400, help="training steps of each run")
    p.add_argument("--size", type=int, default=64, help="phantom slice size (pixels)")
    p.add_argument("--slices", type=int, default=16, help="slices per phantom volume")
    p.add_argument("--volumes", type=int, default=6, help="training volumes per domain")
    p.add_argument("--labelled", type=int, default=3, help="scored volumes")
    p.add_argument("--ngf", type=int, default=16, help="generator and discriminator width")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--contexts", type=int, nargs="+", default=[0, 1], help="K of each run")
    p.add_argument("--core", type=int, default=1, help="CPU core to run on (-1: any)")
    args = p.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"  # before torch is imported; children inherit it
    if args.core >= 0:
        os.sched_setaffinity(0, {args.core})
    import torch

    torch.set_num_threads(1)
    from unpaired.medical.phantoms import write_phantom_dataset

    data = write_phantom_dataset(
        args.out / "data", args.volumes, args.size, args.slices, args.labelled, args.seed
    )
    runs = args.out / "runs"
    report: dict[str, Any] = {
        "setup": {
            "steps": args.steps,
            "seed": args.seed,
            "model": f"cyclegan resnet_6blocks ngf={args.ngf} ndf={args.ngf}",
            "phantoms": f"{args.volumes}+{args.volumes} training volumes "
            f"{args.size}x{args.size}x{args.slices}, {args.labelled} scored",
            "window_hu": WINDOW,
            "scored": "inside the body (mask nonzero), HU; slice_consistency: output's mean "
            "neighbouring-slice difference minus the input's (HU, positive = flicker added); "
            "neighbour_difference_hu: the inputs' and the ground truths' own (the truth's "
            "slice_consistency would be their difference)",
            "core": args.core,
        },
        "neighbour_difference_hu": _neighbour_differences(data),
        "before": _scores(None, data),
    }
    for context in args.contexts:
        if (runs / f"k{context}" / "model" / "config.json").is_file():
            train_sec = None  # trained by an earlier call: reused
        else:
            train_sec = round(_train(data, runs, context, args), 1)
        report[f"context_slices_{context}"] = {
            "train_sec": train_sec,
            **_scores(runs / f"k{context}", data),
        }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
