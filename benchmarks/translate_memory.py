"""Peak memory and time translating one large image, whole vs in tiles.

    python benchmarks/translate_memory.py --device cuda --height 3000 --width 4000

Translates a smooth random ``height x width`` image with the CycleGAN default generator
(resnet_9blocks, ngf 64, random weights) once per ``--tiles`` value (0 = the whole image at
once) and prints one JSON object: seconds, peak CUDA memory (``torch.cuda.max_memory_allocated``;
CUDA only) and the largest / mean difference of each tiled result from the whole-image one.
With random weights the differences only show that tiles and whole image run the same network;
their size says little about a trained model.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch
import torch.nn.functional as F

from unpaired import Translator
from unpaired.models.cyclegan import build_cyclegan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--tiles", type=int, nargs="+", default=[0, 1024, 512])
    parser.add_argument("--overlap", type=int, default=128)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = build_cyclegan(with_discriminators=False)
    config = {"channels_a": 3, "channels_b": 3, "generator": "resnet_9blocks", "ngf": 64}
    small = torch.rand(1, 3, args.height // 100 + 2, args.width // 100 + 2)
    x = F.interpolate(small, size=(args.height, args.width), mode="bilinear") * 2 - 1
    cuda = torch.device(args.device).type == "cuda"
    result: dict[str, Any] = {
        "benchmark": "translate_memory",
        "device": torch.cuda.get_device_name() if cuda else args.device,
        "torch": torch.__version__,
        "image": [args.height, args.width],
        "runs": [],
    }
    whole = None
    for tile in args.tiles:
        translator = Translator(model, config, args.device, tile=tile, overlap=args.overlap)
        translator.translate(x[..., :64, :64])  # warm-up (kernels, allocator)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        y = translator.translate(x)
        if cuda:
            torch.cuda.synchronize()
        run: dict[str, Any] = {"tile": tile, "seconds": round(time.perf_counter() - start, 3)}
        if cuda:
            run["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        if whole is None and tile == 0:
            whole = y
        elif whole is not None:
            diff = (y - whole).abs()
            run["max_abs_diff_vs_whole"] = round(diff.max().item(), 4)
            run["mean_abs_diff_vs_whole"] = round(diff.mean().item(), 5)
        result["runs"].append(run)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
