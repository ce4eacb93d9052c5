"""Images per second translating real photos: PyTorch (Translator) vs onnxruntime.

    python benchmarks/translate_speed.py --data ../shared/data/horse2zebra/testA

Reads the first ``--count`` images of ``--data``, resizes them to each ``--sizes`` square
(upscaling when larger than the files), and times, one image at a time after one warm-up image,
the best of ``--repeats`` passes (the one least disturbed by other processes):

* ``pytorch``: :meth:`unpaired.Translator.translate` (padding included), on ``--device``;
* ``onnxruntime``: the ONNX export of the same generator on the CPU execution provider
  (only when ``--device`` is cpu and the ``export`` extra is installed);
* ``pytorch_files``: ``translate_files`` end to end (decode, translate, encode PNG) at the
  files' own size, to show what the I/O adds.

The model is the CycleGAN default generator (resnet_9blocks, ngf 64, instance norm) with
random weights unless ``--model`` names a model folder; speed does not depend on the weights.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from unpaired import Translator
from unpaired.data.images import list_images, read_image
from unpaired.data.transforms import from_unit, resize
from unpaired.models.cyclegan import build_cyclegan
from unpaired.pretrained import save_pretrained


def random_model(folder: Path) -> Path:
    """Save a default-size CycleGAN (resnet_9blocks, ngf 64) with random weights."""
    torch.manual_seed(0)
    model = build_cyclegan(with_discriminators=False)
    info = {
        "channels_a": 3,
        "channels_b": 3,
        "generator": "resnet_9blocks",
        "ngf": 64,
        "norm": "instance",
        "use_dropout": False,
        "preprocess": {"mode": "resize_and_crop", "load_size": 286, "image_size": 256},
    }
    return save_pretrained(folder, model, info)


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 3)


def best_rate(
    run_once: Callable[[torch.Tensor], Any], images: list[torch.Tensor], repeats: int
) -> float:
    """Images per second, the best of ``repeats`` passes over ``images`` (one at a time) after
    one warm-up image; the best pass is the one least disturbed by other processes."""
    run_once(images[0][None])
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for image in images:
            run_once(image[None])
        best = max(best, per_second(len(images), time.perf_counter() - start))
    return best


def pytorch_runner(translator: Translator) -> Callable[[torch.Tensor], Any]:
    def run_once(x: torch.Tensor) -> Any:
        y = translator.translate(x)
        if translator.device.type == "cuda":
            torch.cuda.synchronize()
        return y

    return run_once


def onnx_runner(session: Any) -> Callable[[torch.Tensor], Any]:
    from unpaired.export.onnx import run_onnx

    return lambda x: run_onnx(session, x.numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/horse2zebra/testA")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--model", help="model folder (default: random resnet_9blocks ngf 64)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch and onnxruntime threads")
    parser.add_argument("--repeats", type=int, default=3, help="passes; the best one counts")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()

    files = list_images(args.data)[: args.count]
    work = Path(tempfile.mkdtemp(prefix="unpaired-bench-"))
    model_dir = Path(args.model) if args.model else random_model(work / "model")
    translator = Translator.load(model_dir, args.device)
    photos = [read_image(f, 3) for f in files]
    result: dict[str, Any] = {
        "benchmark": "translate_speed",
        "device": str(translator.device),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": threads,
        "model": {k: translator.config[k] for k in ("generator", "ngf", "norm")},
        "images": len(files),
        "repeats": args.repeats,
        "data": str(args.data),
        "file_size": list(photos[0].shape[-2:]),
        "sizes": {},
    }

    session = None
    if translator.device.type == "cpu":
        try:
            import onnxruntime

            from unpaired.export import export_model

            onnx_path = work / "g_ab.onnx"
            result["onnx_check_max_abs"] = export_model(model_dir, "onnx", onnx_path).max_abs_error
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            session = onnxruntime.InferenceSession(
                str(onnx_path), options, providers=["CPUExecutionProvider"]
            )
            result["onnxruntime"] = onnxruntime.__version__
        except ImportError:
            result["onnxruntime"] = None

    for size in args.sizes:
        images = [from_unit(resize(p, size, size)) for p in photos]
        rate = best_rate(pytorch_runner(translator), images, args.repeats)
        entry: dict[str, Any] = {"pytorch_img_per_s": rate}
        if session is not None:
            from unpaired.export.onnx import run_onnx

            rate = best_rate(onnx_runner(session), images, args.repeats)
            entry["onnxruntime_img_per_s"] = rate
            expected = translator.translate(images[0][None]).numpy()
            got = run_onnx(session, images[0][None].numpy())
            entry["onnxruntime_max_abs_diff"] = float(abs(got - expected).max())
        result["sizes"][str(size)] = entry

    from unpaired.translate import plan_jobs, translate_files

    jobs = plan_jobs([str(f) for f in files], work / "out")
    start = time.perf_counter()
    report = translate_files(translator, jobs, progress=False)
    result["pytorch_files_img_per_s"] = per_second(len(report.written), time.perf_counter() - start)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
