"""Training loader throughput, with and without the decoded cache. Prints JSON lines.

What one loader process delivers of ``SingleFolder.load`` (decode, resize to load size, random
crop, flip, to [-1, 1]) from JPEG files, and what it delivers once the images come from the
decoded cache (crop, flip and convert only), plus the cache's one-off build time. Workers
> 0 go through a ``DataLoader`` as training does (batch 1, the training sampler's seeds), so
the figure includes the inter-process transfer.

Examples::

    # 400 generated 256x256 JPEGs (quality 95), 286 -> 256, in-process and with 2 workers
    python benchmarks/loader_speed.py --workers 0 2
    # your own folder of images
    python benchmarks/loader_speed.py --data path/to/trainA --load 286 --crop 256
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unpaired.data.folders import SingleFolder  # noqa: E402
from unpaired.data.transforms import Preprocess  # noqa: E402


def make_jpegs(folder: Path, count: int, size: int) -> None:
    """Smooth random colour fields with some texture: JPEG sizes like photos'."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        coarse = rng.integers(0, 256, size=(size // 16, size // 16, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size, size), Image.BICUBIC)
        noise = rng.integers(-12, 13, size=(size, size, 3))
        pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=95)


class Items(Dataset):
    def __init__(self, folder: SingleFolder) -> None:
        self.folder = folder

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.folder.load(i, random.Random(i))


def measure(folder: SingleFolder, workers: int, images: int) -> float:
    """Images per second over ``images`` loads (after a short warm-up)."""
    if workers == 0:
        for i in range(8):
            folder.load(i % len(folder), random.Random(i))
        start = time.perf_counter()
        for i in range(images):
            folder.load(i % len(folder), random.Random(i))
        return images / (time.perf_counter() - start)
    loader = DataLoader(Items(folder), batch_size=1, num_workers=workers, shuffle=False)
    it = iter(loader)
    for _ in range(4 * workers):  # the workers started and their first items out
        next(it)
    start, n = time.perf_counter(), 0
    for _ in it:
        n += 1
        if n == images:
            break
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="a folder of images (default: generated JPEGs)")
    p.add_argument("--count", type=int, default=400, help="generated images")
    p.add_argument("--size", type=int, default=256, help="generated images' side")
    p.add_argument("--load", type=int, default=286)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--workers", type=int, nargs="+", default=[0])
    p.add_argument("--images", type=int, default=400, help="loads timed per measurement")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["UNPAIRED_CACHE_DIR"] = str(Path(tmp) / "cache")
        data = Path(args.data) if args.data else Path(tmp) / "jpegs"
        if not args.data:
            make_jpegs(data, args.count, args.size)
        pre = Preprocess("resize_and_crop", args.load, args.crop)
        plain = SingleFolder(data, 3, pre)
        start = time.perf_counter()
        cached = SingleFolder(data, 3, pre, cache=True)
        build = time.perf_counter() - start
        facts = {
            "images": len(plain),
            "load": args.load,
            "crop": args.crop,
            "cache_build_s": round(build, 2),
            "cache_mb": round(cached.decoded.bin_path.stat().st_size / 2**20, 1),
        }
        print(json.dumps(facts), flush=True)
        for r in range(args.rounds):  # alternate: only side-by-side ratios mean anything
            for workers in args.workers:
                speeds = {}
                for name, folder in (("decode", plain), ("cache", cached)):
                    speeds[name] = measure(folder, workers, args.images)
                row = {
                    "round": r,
                    "workers": workers,
                    "decode_img_s": round(speeds["decode"], 1),
                    "cache_img_s": round(speeds["cache"], 1),
                    "speedup": round(speeds["cache"] / speeds["decode"], 2),
                }
                if workers:
                    row["cache_img_s_per_worker"] = round(speeds["cache"] / workers, 1)
                    row["decode_img_s_per_worker"] = round(speeds["decode"] / workers, 1)
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
