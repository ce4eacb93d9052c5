"""Speed and memory harness for CycleGAN training steps and inference. Prints JSON.

Each measurement runs in a fresh process (so peak resident memory is its own), and
``--compare`` alternates the configurations round by round, because only ratios measured side
by side in one run mean anything on a shared, noisy machine.

Examples::

    # our plain step at 64/128, batch 1
    python benchmarks/bench.py --sizes 64 128
    # fused vs plain step, and bf16, alternating, 3 rounds
    python benchmarks/bench.py --sizes 128 --compare plain fused bf16 --rounds 3
    # against the official implementation (a checkout of junyanz/pytorch-CycleGAN-and-pix2pix)
    python benchmarks/bench.py --sizes 64 128 --compare official plain fused --official DIR
    # inference images per second
    python benchmarks/bench.py --mode infer --sizes 256 --compare official plain --official DIR
    # CUT / FastCUT against the reference (taesungp/contrastive-unpaired-translation in DIR)
    python benchmarks/bench.py --sizes 128 256 --official-cut DIR \\
        --compare official_cut cut official_fastcut fastcut

Named configurations: ``plain`` (fp32, one network call per image set: what ``unpaired train``
does on CPU), ``fused`` (fp32 with fused passes: the CUDA default), ``bf16``, ``fp16``,
``channels_last``, ``plain_cl`` (channels_last without fused passes), ``bf16_cl`` (bf16 +
channels_last), ``compile`` (all with fused passes), and ``official``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONFIGS: dict[str, dict] = {
    "plain": {"fused": False, "precision": "fp32"},
    "fused": {"fused": True, "precision": "fp32"},
    "bf16": {"fused": True, "precision": "bf16"},
    "fp16": {"fused": True, "precision": "fp16"},
    "channels_last": {"fused": True, "precision": "fp32", "channels_last": True},
    "plain_cl": {"fused": False, "precision": "fp32", "channels_last": True},
    "bf16_cl": {"fused": True, "precision": "bf16", "channels_last": True},
    "compile": {"fused": True, "precision": "fp32", "compile": True},
    "official": {"official": True},
    # CUT / FastCUT (issue 14): ours, and the reference code (--official-cut DIR)
    "cut": {"family": "cut"},
    "fastcut": {"family": "fastcut"},
    "official_cut": {"official_cut": "CUT"},
    "official_fastcut": {"official_cut": "FastCUT"},
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ours(args: argparse.Namespace, cfg: dict):
    """(step function, flop-counting function) for our implementation."""
    import itertools

    import torch

    from unpaired.image_pool import ImagePool
    from unpaired.models.cyclegan import build_cyclegan
    from unpaired.recipes.cyclegan import CycleGANConfig, cyclegan_step
    from unpaired.recipes.steps import PRECISIONS, GradScalers, StepOptions

    device = torch.device(args.device)
    model = build_cyclegan().to(device)
    options = StepOptions(
        fused=cfg.get("fused", True),
        precision=cfg.get("precision", "fp32"),
        channels_last=cfg.get("channels_last", False),
    )
    if options.channels_last:
        model.to(memory_format=torch.channels_last)
    if cfg.get("compile"):
        for name in ("g_ab", "g_ba", "d_a", "d_b"):
            setattr(model, name, torch.compile(getattr(model, name)))
    shape = (args.batch, 3, args.size, args.size)
    x_a = torch.rand(shape, device=device) * 2 - 1
    x_b = torch.rand(shape, device=device) * 2 - 1
    if args.mode == "infer":
        model.eval()
        dtype = PRECISIONS[options.precision]
        if options.channels_last:
            x_a = x_a.contiguous(memory_format=torch.channels_last)

        @torch.inference_mode()
        def step():
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                return model.g_ab(x_a)

        return step
    g = itertools.chain(model.g_ab.parameters(), model.g_ba.parameters())
    d = itertools.chain(model.d_a.parameters(), model.d_b.parameters())
    opt_g = torch.optim.Adam(g, lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d, lr=2e-4, betas=(0.5, 0.999))
    pools = ImagePool(50), ImagePool(50)
    scalers = None
    if options.precision == "fp16":
        scalers = GradScalers(torch.amp.GradScaler(device.type), torch.amp.GradScaler(device.type))
    batch = {"A": x_a, "B": x_b}

    def step():
        return cyclegan_step(model, opt_g, opt_d, batch, *pools, CycleGANConfig(), options, scalers)

    return step


def _ours_cut(args: argparse.Namespace, family: str):
    """Our CUT / FastCUT step (reference defaults: resnet_9blocks, anti-aliased, 256 patches)."""
    import torch

    from unpaired.config import build_config
    from unpaired.recipes import RECIPES, StepContext
    from unpaired.recipes.steps import StepOptions

    recipe = RECIPES.get(family)
    config = build_config({"model": family, "data": {"image_size": args.size}})
    device = torch.device(args.device)
    model = recipe.build(config).to(device)
    shape = (args.batch, 3, args.size, args.size)
    batch = {k: torch.rand(shape, device=device) * 2 - 1 for k in "AB"}
    if args.mode == "infer":
        model.eval()

        @torch.inference_mode()
        def infer():
            return model.g_ab(batch["A"])

        return infer
    opts = recipe.optimizers(model, config)
    context = StepContext(config.section(family), StepOptions(), recipe_scalers())

    def step():
        return recipe.step(model, opts.opt_g, opts.opt_d, batch, context)

    return step


def recipe_scalers():
    from unpaired.recipes.steps import GradScalers

    return GradScalers()


def _official_cut(args: argparse.Namespace, mode: str):
    """The reference CUT code's step (CUTModel.optimize_parameters), built with its own option
    parser at its defaults for ``mode`` (CUT or FastCUT); its heads are made on a first pass."""
    sys.path.insert(0, str(Path(args.official_cut).resolve()))
    import importlib.util
    import types

    import torch

    if importlib.util.find_spec("torchvision") is None:
        # Its util module imports torchvision for image helpers the step never calls; an empty
        # stand-in keeps torchvision (and the CUDA build of torch it pulls here) out.
        sys.modules["torchvision"] = types.ModuleType("torchvision")
        sys.modules["torchvision.transforms"] = types.ModuleType("torchvision.transforms")
    from models.cut_model import CUTModel  # the reference package
    from options.train_options import TrainOptions

    line = f"--model cut --CUT_mode {mode} --gpu_ids -1 --crop_size {args.size} "
    line += f"--load_size {args.size} --batch_size {args.batch} --name bench "
    line += "--checkpoints_dir /tmp/unpaired-bench-cut "
    # Its mode defaults are set from sys.argv, not from cmd_line: give them explicitly.
    line += {
        "CUT": "--nce_idt True --lambda_NCE 1 --flip_equivariance False",
        "FastCUT": "--nce_idt False --lambda_NCE 10 --flip_equivariance True",
    }[mode]
    opt = TrainOptions(cmd_line=line).gather_options()
    opt.isTrain, opt.gpu_ids = True, []
    model = CUTModel(opt)
    shape = (args.batch, 3, args.size, args.size)
    data = {
        "A": torch.rand(shape) * 2 - 1,
        "B": torch.rand(shape) * 2 - 1,
        "A_paths": ["a"] * args.batch,
        "B_paths": ["b"] * args.batch,
    }
    model.data_dependent_initialize(data)
    model.setup(opt)
    if args.mode == "infer":
        net = model.netG.eval()
        x = data["A"]

        def infer():
            with torch.no_grad():
                return net(x)

        return infer

    def step():
        model.set_input(data)
        model.optimize_parameters()

    return step


def _official(args: argparse.Namespace):
    """The official implementation's step (CycleGANModel.optimize_parameters) or test pass."""
    sys.path.insert(0, str(Path(args.official).resolve()))
    import torch
    from models.cycle_gan_model import CycleGANModel  # the official package

    opt = argparse.Namespace(
        isTrain=args.mode == "train",
        checkpoints_dir="/tmp/unpaired-bench-official",
        name="bench",
        device=torch.device(args.device),
        preprocess="resize_and_crop",
        input_nc=3,
        output_nc=3,
        ngf=64,
        ndf=64,
        netG="resnet_9blocks",
        netD="basic",
        n_layers_D=3,
        norm="instance",
        no_dropout=True,
        init_type="normal",
        init_gain=0.02,
        lambda_identity=0.5,
        lambda_A=10.0,
        lambda_B=10.0,
        pool_size=50,
        gan_mode="lsgan",
        lr=2e-4,
        beta1=0.5,
        direction="AtoB",
        lr_policy="linear",
        epoch_count=1,
        n_epochs=100,
        n_epochs_decay=100,
        continue_train=False,
        verbose=False,
        eval=False,
    )
    model = CycleGANModel(opt)
    for name in model.model_names:  # its init_net does not always place the nets on our device
        getattr(model, "net" + name).to(args.device)
    shape = (args.batch, 3, args.size, args.size)
    data = {
        "A": torch.rand(shape) * 2 - 1,
        "B": torch.rand(shape) * 2 - 1,
        "A_paths": ["a"] * args.batch,
        "B_paths": ["b"] * args.batch,
    }
    if args.mode == "infer":
        net = model.netG_A
        net.eval()
        x = data["A"].to(args.device)

        def step():
            with torch.no_grad():  # what the official test.py does
                return net(x)

        return step

    def step():
        model.set_input(data)
        model.optimize_parameters()

    return step


def worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    cfg = CONFIGS[args.config]
    torch.manual_seed(0)
    if cfg.get("official"):
        step = _official(args)
    elif cfg.get("official_cut"):
        step = _official_cut(args, cfg["official_cut"])
    elif cfg.get("family"):
        step = _ours_cut(args, cfg["family"])
    else:
        step = _ours(args, cfg)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(args.warmup + args.steps):
        sync()
        start = time.perf_counter()
        step()
        sync()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    result = {
        "config": args.config,
        "mode": args.mode,
        "size": args.size,
        "batch": args.batch,
        "device": args.device,
        "threads": args.threads,
        "median_s": statistics.median(times),
        "per_image_s": statistics.median(times) / args.batch,
        "images_per_s": args.batch / statistics.median(times),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    if args.device.startswith("cuda"):
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    if args.flops:  # counted on the aten ops, so the official code is counted the same way
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            step()
        result["gflop"] = counter.get_total_flops() / 1e9
        result["gflops_per_s"] = result["gflop"] / result["median_s"]
        result["tflops_per_s"] = round(result["gflops_per_s"] / 1000, 2)
    print(json.dumps(result), flush=True)


def driver(args: argparse.Namespace) -> None:
    results: dict[tuple, list[dict]] = {}
    for size in args.sizes:
        for batch in args.batches:
            for _ in range(args.rounds):
                for config in args.compare:
                    cmd = [
                        sys.executable,
                        __file__,
                        "--worker",
                        "--config",
                        config,
                        "--mode",
                        args.mode,
                        "--size",
                        str(size),
                        "--batch",
                        str(batch),
                        "--device",
                        args.device,
                        "--threads",
                        str(args.threads),
                        "--steps",
                        str(args.steps),
                        "--warmup",
                        str(args.warmup),
                    ]
                    if args.official:
                        cmd += ["--official", args.official]
                    if args.official_cut:
                        cmd += ["--official-cut", args.official_cut]
                    if args.flops:
                        cmd.append("--flops")
                    out = subprocess.run(cmd, capture_output=True, text=True)
                    if out.returncode != 0:
                        print(
                            json.dumps(
                                {
                                    "config": config,
                                    "size": size,
                                    "error": out.stderr.strip().splitlines()[-1:],
                                }
                            ),
                            flush=True,
                        )
                        continue
                    record = json.loads(out.stdout.strip().splitlines()[-1])
                    print(json.dumps(record), flush=True)
                    results.setdefault((size, batch, config), []).append(record)
            base = args.compare[0]
            base_runs = results.get((size, batch, base))
            if not base_runs:
                continue
            base_s = statistics.median(r["per_image_s"] for r in base_runs)
            summary = {
                "summary": True,
                "mode": args.mode,
                "size": size,
                "batch": batch,
                "baseline": base,
            }
            for config in args.compare:
                runs = results.get((size, batch, config))
                if runs:
                    s = statistics.median(r["per_image_s"] for r in runs)
                    summary[config] = {
                        "per_image_s": round(s, 4),
                        "images_per_s": round(1 / s, 1),
                        "speedup_vs_baseline": round(base_s / s, 3),
                        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                    }
                    for key in ("peak_gpu_mb", "tflops_per_s"):  # CUDA; --flops
                        if key in runs[0]:
                            summary[config][key] = max(r[key] for r in runs)
            print(json.dumps(summary), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mode", choices=("train", "infer"), default="train")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--batches", type=int, nargs="+", default=[1])
    p.add_argument(
        "--compare",
        nargs="+",
        default=["plain"],
        choices=sorted(CONFIGS),
        help="configurations, the first is the baseline of the ratios",
    )
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--official", help="path of an official pytorch-CycleGAN-and-pix2pix checkout")
    p.add_argument(
        "--official-cut", help="path of a taesungp/contrastive-unpaired-translation checkout"
    )
    p.add_argument("--flops", action="store_true", help="count FLOPs of our step, report GFLOP/s")
    # worker-only options
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", default="plain", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=128, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if "official" in (args.compare if not args.worker else [args.config]) and not args.official:
        p.error("--official PATH is needed to run the official implementation")
    worker(args) if args.worker else driver(args)


if __name__ == "__main__":
    main()
