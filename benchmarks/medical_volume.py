"""Time per volume translating a CT phantom (512 x 512 x 100 by default) the way ``unpaired
translate`` does: read the NIfTI, cut it into axial slices, window, translate in batches, map
back to HU, write a NIfTI like the input.

    python benchmarks/medical_volume.py                       # 512 x 512 x 100, demo-sized model
    python benchmarks/medical_volume.py --model demo-medical/runs/contrast2plain
    python benchmarks/medical_volume.py --size 64 --slices 8 --rounds 1   # a quick check
    python benchmarks/medical_volume.py --spacing 1,1,2.5     # resampled to the model's spacing

Without ``--model`` the generator is the ``unpaired demo-medical`` one (resnet_6blocks, ngf
16, one channel, soft-tissue windows) with random weights: the time does not depend on the
weights. ``--spacing`` records that voxel spacing in the model, so each volume is resampled to
it and the translation back onto its grid (the phantom is written at 0.8 x 0.8 x 2.5 mm).
Prints one JSON object: seconds per volume (median of ``--rounds`` after one warm-up) split
into read, translate (resampling included) and write, slices per second, peak RSS, threads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from unpaired import Translator
from unpaired.medical.phantoms import write_phantom_nifti
from unpaired.medical.volume import read_medical, resolve_axis
from unpaired.translate.volumes import translate_volume

WINDOW = [-160.0, 240.0]


def demo_model(folder: Path, spacing: list[float] | None) -> Path:
    """A random-weight model folder shaped like the demo's (resnet_6blocks, ngf 16, 1 ch)."""
    from unpaired.models.cyclegan import build_cyclegan
    from unpaired.pretrained import save_pretrained

    torch.manual_seed(0)
    model = build_cyclegan(
        1, 1, generator="resnet_6blocks", ngf=16, norm="instance", with_discriminators=False
    )
    info: dict[str, Any] = {
        "channels_a": 1,
        "channels_b": 1,
        "generator": "resnet_6blocks",
        "ngf": 16,
        "norm": "instance",
        "use_dropout": False,
        "preprocess": {"mode": "resize_and_crop", "load_size": 72, "image_size": 64},
        "windows": {"a": WINDOW, "b": WINDOW},
        "axis": "axial",
    }
    if spacing is not None:
        info["spacing"] = spacing
    return save_pretrained(folder, model, info)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="run or model folder (default: the demo's, random)")
    parser.add_argument("--size", type=int, default=512, help="slice height and width")
    parser.add_argument("--slices", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=4, help="slices per batch")
    parser.add_argument("--rounds", type=int, default=2, help="timed volumes (after a warm-up)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--spacing", help="X,Y,Z mm for the default model (resampling)")
    parser.add_argument("--gz", action="store_true", help="read and write .nii.gz")
    args = parser.parse_args()
    spacing = [float(v) for v in args.spacing.split(",")] if args.spacing else None
    if spacing is not None and args.model:
        parser.error("--spacing is for the default model; a model folder records its own")

    with tempfile.TemporaryDirectory(prefix="unpaired-bench-") as tmp:
        work = Path(tmp)
        suffix = ".nii.gz" if args.gz else ".nii"
        source = write_phantom_nifti(
            work / f"phantom{suffix}", args.size, args.slices, contrast=True, seed=0
        )
        model = Path(args.model) if args.model else demo_model(work / "model", spacing)
        translator = Translator.load(model, args.device, batch_size=args.batch_size)
        rounds: list[dict[str, float]] = []
        for round_index in range(args.rounds + 1):  # the first is a warm-up
            start = time.perf_counter()
            image = read_medical(source)
            read = time.perf_counter()
            axis = resolve_axis(translator.config.get("axis", "axial"), image.probe)
            values = translate_volume(translator, image, axis, batch_size=args.batch_size)
            translated = time.perf_counter()
            image.write(values, work / f"out{suffix}")
            end = time.perf_counter()
            if round_index:
                rounds.append(
                    {
                        "read": read - start,
                        "translate": translated - read,
                        "write": end - translated,
                        "total": end - start,
                    }
                )
        median = {k: round(statistics.median(r[k] for r in rounds), 3) for k in rounds[0]}
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "benchmark": "medical_volume",
        "volume": [args.size, args.size, args.slices],
        "model": str(args.model) if args.model else "demo (resnet_6blocks, ngf 16, random)",
        "spacing": translator.config.get("spacing"),
        "device": args.device,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "seconds_per_volume": median["total"],
        "seconds": median,
        "slices_per_second": round(args.slices / median["total"], 2),
        "peak_rss_mib": round(peak_kb / 1024, 1),
        "torch_threads": torch.get_num_threads(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
