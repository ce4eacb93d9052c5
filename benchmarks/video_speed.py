"""Frames per second and peak memory translating video files (``unpaired translate clip.mp4``).

    python benchmarks/video_speed.py --device cuda                       # 256x256 and 720p
    python benchmarks/video_speed.py --model runs/x/model --seconds 10 --memory-seconds 120

Makes its own synthetic clips (moving gradients and shapes, a 440 Hz tone; H.264 + AAC .mp4 at
``--fps``) of ``--seconds`` at each ``--sizes`` and translates each with
:func:`unpaired.translate.translate_video` in a fresh child process that does only that
(load the model, translate, write), so its peak resident memory (``ru_maxrss``) is the
translation's own. ``--memory-seconds`` adds a long clip at the last size: if memory is
bounded, its peak is about the short clip's. Prints one JSON object: per clip the size,
frames, clip seconds, wall seconds, frames per second and peak RSS (MiB).

The model is ``--model`` (a model or run folder) or, by default, a demo-size CycleGAN
(resnet_6blocks, ngf 24, random weights: speed and memory do not depend on the weights).
On a CPU, keep ``--seconds`` and ``--memory-seconds`` small: a 720p frame takes seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def make_clip(path: Path, width: int, height: int, seconds: float, fps: int) -> int:
    """A synthetic H.264 + AAC clip: a drifting color gradient, a moving bright disc and a
    440 Hz tone (48 kHz stereo). Returns the frame count."""
    import av

    frames = max(1, round(seconds * fps))
    rate = 48000
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "20"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=rate)
        sound.layout = "stereo"
        done, total = 0, round(seconds * rate)
        for i in range(frames):
            t = i / fps
            cx = (0.5 + 0.35 * np.sin(2 * np.pi * t / 4)) * width
            cy = (0.5 + 0.35 * np.cos(2 * np.pi * t / 3)) * height
            disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < (0.12 * min(width, height)) ** 2
            image = np.stack(
                [
                    (xx / width * 255 + 40 * t) % 256,
                    (yy / height * 255 + 25 * t) % 256,
                    np.full_like(xx, 128 + 100 * np.sin(t)),
                ],
                axis=-1,
            )
            image[disc] = (250, 240, 200)
            frame = av.VideoFrame.from_ndarray(image.astype(np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
            while done < total * (i + 1) // frames:
                n = min(1024, total - done)
                tone = 0.3 * np.sin(2 * np.pi * 440 * (done + np.arange(n)) / rate)
                piece = av.AudioFrame.from_ndarray(
                    np.repeat(tone[None].astype(np.float32), 2, axis=0), "fltp", "stereo"
                )
                piece.sample_rate, piece.pts = rate, done
                out.mux(sound.encode(piece))
                done += n
        out.mux(video.encode())
        out.mux(sound.encode())
    return frames


def demo_model(folder: Path) -> Path:
    """A demo-size CycleGAN model folder (resnet_6blocks, ngf 24) with random weights."""
    import torch

    from unpaired.models.cyclegan import build_cyclegan
    from unpaired.pretrained import save_pretrained

    torch.manual_seed(0)
    model = build_cyclegan(3, 3, generator="resnet_6blocks", ngf=24, with_discriminators=False)
    info = {
        "channels_a": 3,
        "channels_b": 3,
        "generator": "resnet_6blocks",
        "ngf": 24,
        "norm": "instance",
        "use_dropout": False,
    }
    return save_pretrained(folder, model, info)


def child(args: argparse.Namespace) -> None:
    """Only the translation: load, translate the clip, report wall time and peak RSS."""
    import torch

    from unpaired.translate import Translator, translate_video

    if args.threads:
        torch.set_num_threads(args.threads)
    translator = Translator.load(args.model, args.device, batch_size=args.batch_size)
    start = time.perf_counter()
    translate_video(translator, args.clip, [args.out], batch_size=args.batch_size, progress=False)
    if translator.device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"wall_s": wall, "peak_rss_mib": round(peak, 1)}))


def measure(args: argparse.Namespace, model: Path, work: Path, size: str, seconds: float):
    """Make a clip of ``size`` (``WxH``) and ``seconds``, translate it in a child process."""
    width, height = (int(v) for v in size.lower().split("x"))
    clip = work / f"clip_{width}x{height}_{seconds:g}s.mp4"
    frames = make_clip(clip, width, height, seconds, args.fps)
    out = work / "out" / clip.name
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    command = [
        sys.executable, __file__, "--child", "--model", str(model), "--clip", str(clip),
        "--out", str(out), "--device", args.device, "--batch-size", str(args.batch_size),
        "--threads", str(args.threads),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the translation of {clip.name} failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "size": [width, height],
        "frames": frames,
        "clip_seconds": seconds,
        "wall_s": round(report["wall_s"], 2),
        "frames_per_s": round(frames / report["wall_s"], 2),
        "peak_rss_mib": report["peak_rss_mib"],
        "output_mib": round(out.stat().st_size / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model or run folder (default: a demo-size CycleGAN)")
    parser.add_argument("--sizes", nargs="+", default=["256x256", "1280x720"], metavar="WxH")
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length per size")
    parser.add_argument(
        "--memory-seconds",
        type=float,
        default=120.0,
        help="a long clip at the last size for the memory figure (0: none)",
    )
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clip", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import av
    import torch

    from unpaired.devices import resolve_device

    device = resolve_device(args.device)
    result: dict[str, Any] = {
        "benchmark": "video_speed",
        "device": torch.cuda.get_device_name() if device.type == "cuda" else str(device),
        "torch": torch.__version__,
        "av": av.__version__,
        "cpus": len(os.sched_getaffinity(0)),
        "batch_size": args.batch_size,
        "fps": args.fps,
        "clips": [],
    }
    with tempfile.TemporaryDirectory(prefix="video_speed_") as tmp:
        work = Path(tmp)
        model = Path(args.model) if args.model else demo_model(work / "model")
        result["model"] = str(args.model or "demo-size CycleGAN (resnet_6blocks, ngf 24)")
        for size in args.sizes:
            result["clips"].append(measure(args, model, work, size, args.seconds))
        if args.memory_seconds > 0:
            long = measure(args, model, work, args.sizes[-1], args.memory_seconds)
            result["clips"].append(long)
            short = result["clips"][len(args.sizes) - 1]
            result["memory_growth_mib"] = round(long["peak_rss_mib"] - short["peak_rss_mib"], 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
